"""Two CPU processes under DistributedDataParallel (gloo) end with identical parameters."""

import contextlib
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from tests.test_train import TinyShapes, tiny_config
from train.cgan import CGANTask
from train.loop import train
from train.vae import VAETask


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_rank(rank: int, world_size: int, port: int, tmp_path, model: str) -> None:
    """One torchrun-like process: the environment torchrun would set, then the real training loop."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    task_class = CGANTask if model == "cgan" else VAETask
    config = tiny_config(tmp_path, model=model, steps=3, log_every=1, eval_every=100)
    try:
        # each rank sees different images (DistributedSampler), so equal weights mean synced gradients
        task = train(config, task_class, TinyShapes(count=16), None)
    finally:
        dist.destroy_process_group()
    save_file({f"{name}.{key}": value.contiguous() for name, module in task.modules.items()
               for key, value in module.state_dict().items()}, tmp_path / f"rank{rank}.safetensors")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cgan", "vae"])
def test_two_gloo_processes_end_with_identical_parameters(tmp_path, model):
    mp.spawn(run_rank, args=(2, free_port(), tmp_path, model), nprocs=2, join=True)
    rank0, rank1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    initial = initial_state(model)
    assert any(not torch.equal(rank0[key], initial[key]) for key in rank0), "training did not move"
    # only rank 0 writes outputs
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 3


def initial_state(model: str) -> dict:
    """Parameters as train() initialises them (same seed), before any step."""
    config = tiny_config(Path("unused"), model=model)
    torch.manual_seed(config.seed)
    task = (CGANTask if model == "cgan" else VAETask)(config, torch.device("cpu"), contextlib.nullcontext, lambda m: m)
    return {f"{name}.{key}": value for name, module in task.modules.items()
            for key, value in module.state_dict().items()}
