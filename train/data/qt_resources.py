"""The files inside a Qt binary resource file (``.rcc``, as written by Qt's ``rcc --binary``).

    read_resources(data) -> {"/folder/name.ext": bytes}

Layout (format versions 1-3): a 20-byte header (``qres``, version, then the offsets of the tree,
the data and the names, big-endian u32; version 3 adds a u32 of flags), a tree of fixed-size
nodes (14 bytes; 22 from version 2, which adds a u64 modification time) whose first node is the
root folder, a names block (u16 length, u32 hash, UTF-16BE characters) and a data block (u32 size,
then the bytes; a zlib-compressed file starts with its u32 uncompressed size). Files compressed
with zstd (a flag Qt 6 may set) cannot be read without that codec and raise QtResourceError.
"""

from __future__ import annotations

import struct
import zlib

MAGIC = b"qres"
COMPRESSED, DIRECTORY, COMPRESSED_ZSTD = 0x01, 0x02, 0x04


class QtResourceError(ValueError):
    """The bytes are not a Qt resource file this reader understands."""


def read_resources(data: bytes) -> dict[str, bytes]:
    """Every file of a Qt binary resource file -> {path: contents}, paths "/a/b.ext" as Qt names
    them (":/a/b.ext"). Raises QtResourceError on anything that is not such a file."""
    if len(data) < 20 or data[:4] != MAGIC:
        raise QtResourceError("not a Qt resource file (no 'qres' header)")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    if version not in (1, 2, 3):
        raise QtResourceError(f"unknown Qt resource format version {version}")
    node_size = 14 if version == 1 else 22
    if max(tree, payload, names) >= len(data):
        raise QtResourceError("Qt resource offsets point past the end of the file")

    def name_at(offset: int) -> str:
        start = names + offset
        (length,) = struct.unpack(">H", data[start:start + 2])
        return data[start + 6:start + 6 + 2 * length].decode("utf-16-be")

    def node(index: int) -> tuple:
        start = tree + index * node_size
        if start + 14 > len(data):
            raise QtResourceError(f"tree node {index} lies past the end of the file")
        return struct.unpack(">IHII", data[start:start + 14])

    def contents(offset: int, flags: int) -> bytes:
        start = payload + offset
        (size,) = struct.unpack(">I", data[start:start + 4])
        blob = data[start + 4:start + 4 + size]
        if flags & COMPRESSED_ZSTD:
            raise QtResourceError("a file is zstd-compressed; this reader handles zlib only")
        if flags & COMPRESSED:
            try:
                return zlib.decompress(blob[4:])
            except zlib.error as error:
                raise QtResourceError(f"a compressed file does not inflate: {error}") from None
        return blob

    files: dict[str, bytes] = {}
    pending = [(0, "")]
    seen = set()
    while pending:
        index, path = pending.pop()
        if index in seen:
            raise QtResourceError("the resource tree loops")
        seen.add(index)
        name_offset, flags, a, b = node(index)
        here = path if index == 0 else f"{path}/{name_at(name_offset)}"
        if flags & DIRECTORY:
            pending.extend((b + k, here) for k in range(a))
        else:
            # a file node: u16 country, u16 language, then u32 data offset (here in b)
            files[here] = contents(b, flags)
    return files
