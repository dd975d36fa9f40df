"""torchrun: which process this is, and the points where all processes wait for each other.

Without WORLD_SIZE (a plain `python`), there is one process and every helper does nothing."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_distributed():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def barrier(world):
    if world > 1:
        dist.barrier()


def finish_distributed(world):
    if world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
