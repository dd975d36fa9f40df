"""One training run opened: the data prepared, the model and optimizer built, the run directory's
checkpoint loaded (or a fresh start), and what the loop of arche.train holds between steps."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .batches import TokenData
from .config import Config
from .data import prepare
from .device import autocast_for, grad_scaler
from .distributed import barrier
from .model import build_model
from .rundir import RunDirError, resume_or_start, write_run_files


def make_optimizer(cfg: Config, model: torch.nn.Module, device: torch.device) -> torch.optim.Optimizer:
    """AdamW as both references use it (the lr is set per step by the schedule); fused kernels on CUDA."""
    return torch.optim.AdamW(
        model.parameters(),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        weight_decay=cfg.weight_decay,
        fused=device.type == "cuda",
    )


@dataclass
class TrainingRun:
    """What one training run holds between steps."""

    cfg: Config
    paradigm: str
    run_dir: Path
    device: torch.device
    rank: int
    world: int
    log: object
    data: TokenData
    model: torch.nn.Module
    fwd: torch.nn.Module  # the model as the step calls it (compiled, DDP-wrapped)
    optimizer: torch.optim.Optimizer
    scaler: object
    autocast: object
    state: dict  # what a checkpoint keeps: step, best_val, train_time, the loss window...
    records: list  # every metrics row so far
    val_batches: list
    last_good: int | None = None  # the step of the checkpoint on disk a resume would start from
    on_row: object = None  # called with each metrics row and the run directory (train's on_row)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def open_run(cfg, paradigm, run_dir, data_dir, device, rank, world, log) -> TrainingRun:
    """The data prepared, the model and optimizer built, and the run directory's checkpoint loaded."""
    if rank == 0:
        prepare(cfg, data_dir, log=log)
    barrier(world)
    data = TokenData(data_dir, train_chunks=cfg.train_chunks)
    if data.seq_len != cfg.seq_len:
        raise RunDirError(f"data in {data_dir} has seq_len {data.seq_len}, the config {cfg.seq_len}")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, paradigm, vocab_size=data.codec.vocab_size).to(device)
    optimizer = make_optimizer(cfg, model, device)
    state, records, damaged = resume_or_start(cfg, paradigm, run_dir, model, optimizer, data, log)
    barrier(world)  # every rank has read the run directory before rank 0 rewrites it
    if rank == 0:
        for bad in damaged:  # aside, so that the next save does not keep it as prev
            os.replace(bad, bad.with_name(bad.name + ".damaged"))
        write_run_files(cfg, paradigm, run_dir, model, data, records, log)
    fwd = model
    if cfg.compile and device.type == "cuda":
        fwd = torch.compile(model)
    if world > 1:
        fwd = torch.nn.parallel.DistributedDataParallel(
            fwd, device_ids=[device.index] if device.type == "cuda" else None
        )
    scaler = grad_scaler(cfg, device)
    if state.get("grad_scaler"):
        scaler.load_state_dict(state["grad_scaler"])
    val_batches = data.val_batches(cfg.batch_size, cfg.eval_batches, device)
    return TrainingRun(
        cfg,
        paradigm,
        run_dir,
        device,
        rank,
        world,
        log,
        data,
        model,
        fwd,
        optimizer,
        scaler,
        autocast_for(cfg, device),
        state,
        records,
        val_batches,
    )
