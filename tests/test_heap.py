"""recon.heap: glibc heap tuning and trimming, checked on this process's real resident memory."""

import ctypes
import os

import pytest

from recon import heap

needs_glibc = pytest.mark.skipif(heap._glibc() is None, reason="needs glibc")

PAGE = os.sysconf("SC_PAGE_SIZE")


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def _libc():
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    return libc


@needs_glibc
def test_tune_heap_is_accepted():
    assert heap.tune_heap() is True


@needs_glibc
def test_release_free_memory_gives_freed_heap_pages_back():
    libc = _libc()
    # 96 MB in 32 KB blocks (below the mmap threshold, so on the heap), every page touched.
    blocks = [libc.malloc(32 * 1024) for _ in range(3072)]
    assert all(blocks)
    for block in blocks:
        ctypes.memset(block, 1, 32 * 1024)
    keep = blocks.pop()  # the last block pins the heap's top: free() alone cannot shrink it
    for block in blocks:
        libc.free(block)
    before = _resident_mb()
    assert heap.release_free_memory() is True
    after = _resident_mb()
    libc.free(keep)
    assert before - after > 64, (before, after)  # most of the 96 MB went back to the system


def test_release_free_memory_frees_dropped_meshes_held_by_cycles():
    import gc
    import weakref

    import trimesh

    enabled = gc.isenabled()
    gc.disable()  # no automatic collection in between: only release_free_memory may free it
    try:
        mesh = trimesh.creation.box()
        mesh.visual.face_colors = [200, 100, 50, 255]  # visuals point back at the mesh: a cycle
        alive = weakref.ref(mesh)
        del mesh
        assert alive() is not None  # reference counting alone cannot free it
        heap.release_free_memory()
        assert alive() is None
    finally:
        if enabled:
            gc.enable()


def test_freeze_long_lived_exempts_objects_alive_now():
    import gc

    gc.unfreeze()
    try:
        alive = [object()]  # a container the collector tracks
        assert any(o is alive for o in gc.get_objects())
        assert heap.freeze_long_lived() > 1000
        assert not any(o is alive for o in gc.get_objects())  # out of the collector's sight
    finally:
        gc.unfreeze()
