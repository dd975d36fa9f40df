"""One training loop for both paradigms, resumable bit-exactly after any interruption.

Every random choice is a pure function of (seed, step): the data order (a permutation per epoch)
and the MDLM masking noise (a generator seeded per step). So a checkpoint only needs the weights,
the optimizer moments and a few numbers, and a run killed at any moment and re-run with the same
command continues to exactly the weights an uninterrupted run reaches (on CPU; GPU kernels are not
bit-deterministic). What a run directory holds, and when it may be resumed, is arche.rundir's; one
process trains in a directory at a time (its .lock, arche.runlock).

Under `torchrun`, each rank takes its slice of the same global batch and noise, and the losses are
normalised by global counts, so N processes compute what one process would. Only rank 0 writes.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from . import checkpoint
from .config import Config
from .device import check_fits, describe_precision, resolve_device
from .distributed import barrier, finish_distributed, init_distributed
from .errors import UserError
from .io import append_jsonl
from .objectives import ar_loss_sum, held_out_losses, mdlm_step_loss
from .progress import Progress
from .rundir import checkpoint_state, drop_optimizer_state, sync_metrics
from .runlock import run_lock
from .schedule import lr_at
from .tracking import check_tracker, open_tracker
from .trainrun import TrainingRun, open_run


class TrainingError(UserError, RuntimeError):
    """The run cannot go on (it diverged, or its device is missing); the message says what to do."""


def train(
    cfg: Config, paradigm: str, run_dir, data_dir=None, log=print, stop_at: int | None = None, on_row=None
) -> dict:
    """Train (or resume) one model; returns a summary of the run. `stop_at` pauses it at that step with a
    checkpoint (the steps and schedule still those of cfg): a run the same call later continues. `on_row`,
    when given, is called with each metrics row and the run directory (a notebook's live curve)."""
    if paradigm not in ("ar", "mdlm"):
        raise ValueError(f"paradigm must be 'ar' or 'mdlm', got {paradigm!r}")
    run_dir = Path(run_dir)
    data_dir = Path(data_dir) if data_dir else run_dir / "data"
    rank, world = init_distributed()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {world} processes")
    device = resolve_device(cfg)
    check_fits(cfg, device)
    check_tracker(cfg.log_to)  # a tracker that is not installed fails here, not after the first steps
    if device.type == "cuda":
        if world > 1:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    # One process (one torchrun job) per run directory: a second one would duplicate every metrics row.
    lock = run_lock(run_dir, f"training {paradigm}", log=log) if rank == 0 else nullcontext()
    with lock:
        return _train(cfg, paradigm, run_dir, data_dir, device, rank, world, log, stop_at, on_row)


@dataclass
class _Window:
    """The training loss and time since the last logged row."""

    loss_sum: torch.Tensor
    steps: int
    seconds: float = 0.0


def _train(cfg, paradigm, run_dir, data_dir, device, rank, world, log, stop_at=None, on_row=None) -> dict:
    run = open_run(cfg, paradigm, run_dir, data_dir, device, rank, world, log)
    run.on_row = on_row
    start = run.state["step"]
    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    if start >= end:
        log(f"[{paradigm}] {run_dir} is already {'complete' if end == cfg.steps else 'at'} ({start} steps)")
        if run.is_main and start >= cfg.steps and not cfg.keep_optimizer_state:
            drop_optimizer_state(run_dir, log)  # finishes a clean-up a kill interrupted (idempotent)
        finish_distributed(world)
        return _summary(run.state, run_dir)
    _announce(run, start, end)
    run.last_good = start or None
    window = _Window(
        torch.tensor(run.state["window_loss_sum"], dtype=torch.float32, device=device), run.state["window_steps"]
    )
    tracker = open_tracker(cfg.log_to, run_dir, paradigm, cfg.to_dict()) if run.is_main else None
    try:
        _loop(run, start, end, window, tracker)
    finally:
        if tracker is not None:
            tracker.close()
    if run.is_main:  # metrics.jsonl deleted or edited while training: the rows are all in `records`
        sync_metrics(run_dir / "metrics.jsonl", run.records, log, paradigm)
        if run.state["step"] >= cfg.steps and not cfg.keep_optimizer_state:
            drop_optimizer_state(run_dir, log)
    finish_distributed(world)
    return _summary(run.state, run_dir)


def _loop(run: TrainingRun, start: int, end: int, window: _Window, tracker) -> None:
    """Steps start..end-1; at each logging step a metrics row (and the tracker's copy of it), at each
    evaluation step the validation loss, at each checkpoint step last.safetensors."""
    cfg, device, paradigm = run.cfg, run.device, run.paradigm
    t_last = time.perf_counter()
    # A live line between the logged rows (arche.progress), to the step this call stops at; it reads no
    # tensor, so it never syncs the device. Closed when the loop ends or fails.
    run.model.train()
    with Progress(paradigm, end, start=start, target="auto" if run.is_main else None) as progress:
        for step in range(start, end):
            lr = lr_at(step, cfg)
            _optimizer_step(run, step, lr, window)
            done = step + 1
            progress.update(done)
            is_eval = done % cfg.eval_every == 0 or done == cfg.steps
            is_ckpt = done % cfg.checkpoint_every == 0 or done in (cfg.steps, end)
            if not (is_eval or is_ckpt or done % cfg.log_every == 0):
                continue
            # Only here do we wait for the device: reading the loss synchronises.
            if device.type == "cuda":
                torch.cuda.synchronize()
            now = time.perf_counter()
            window.seconds += now - t_last
            run.state["train_time"] += now - t_last
            record = _log_row(run, done, lr, window, is_eval)
            if is_eval and run.is_main:
                _evaluate(run, record, done, progress)
            _keep_state(run, done, window)
            if record is not None and run.is_main:
                run.records.append(record)
                append_jsonl(run.run_dir / "metrics.jsonl", record)
                if tracker is not None:
                    tracker.log(record)
                if run.on_row is not None:
                    run.on_row(record, run.run_dir)
                progress.note = f"loss {record['train_loss']:.4f}"  # the live line's, until the next row
                progress.write(_progress_line(paradigm, record, cfg, run.state))
            if is_ckpt and run.is_main:
                _save_last(run, done)
            barrier(run.world)
            t_last = time.perf_counter()


def _announce(run: TrainingRun, start: int, end: int) -> None:
    cfg, paradigm = run.cfg, run.paradigm
    if cfg.warmup_steps > cfg.steps:
        run.log(
            f"[{paradigm}] warning: warmup_steps ({cfg.warmup_steps}) > steps ({cfg.steps}): the learning "
            f"rate never reaches lr ({cfg.lr:g}); it peaks at {lr_at(cfg.steps - 1, cfg):.3g}"
        )
    run.log(
        f"[{paradigm}] training {run.run_dir}: steps {start + 1}..{end} of {cfg.steps}, "
        f"{run.model.n_params():,} parameters, {cfg.batch_size} x {cfg.seq_len} tokens per step"
        f"{f' in {cfg.grad_accum} micro-batches' if cfg.grad_accum > 1 else ''}, on {run.device}, "
        f"precision {describe_precision(cfg, run.device)}"
    )


def _optimizer_step(run: TrainingRun, step: int, lr: float, window: _Window) -> None:
    """One step: the batch of `step` in micro-batches, the gradient clipped, the weights updated."""
    cfg = run.cfg
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    tokens = run.data.train_batch(step, cfg.batch_size, cfg.seed, run.device, run.rank, run.world)
    per = tokens.shape[0] // cfg.grad_accum
    for i in range(cfg.grad_accum):  # micro-batches: their losses sum to the whole batch's
        part = tokens[i * per : (i + 1) * per]
        sync = nullcontext() if run.world == 1 or i == cfg.grad_accum - 1 else run.fwd.no_sync()
        with sync:
            with run.autocast:
                if run.paradigm == "ar":  # every row has seq_len - 1 targets: the mean of means is the mean
                    s, n = ar_loss_sum(run.fwd, part)
                    loss = s / (n * cfg.grad_accum)
                else:
                    loss = mdlm_step_loss(run.fwd, part, cfg, step, run.rank, run.world, run.model.mask_id, i)
            run.scaler.scale(loss).backward()
        window.loss_sum += loss.detach().float()
    run.scaler.unscale_(run.optimizer)  # clip the true gradient (no-ops unless fp16)
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.optimizer.zero_grad(set_to_none=True)
    window.steps += 1


def _log_row(run: TrainingRun, done: int, lr: float, window: _Window, is_eval: bool) -> dict | None:
    """The metrics row at step `done` (None between logging steps); stops a diverged run."""
    cfg = run.cfg
    if run.world > 1:
        dist.all_reduce(window.loss_sum)
        window.loss_sum /= run.world
    mean_loss = window.loss_sum.item() / window.steps
    if not math.isfinite(mean_loss):
        raise _diverged(run.paradigm, f"non-finite training loss ({mean_loss})", done, run.run_dir, run.last_good)
    if not (done % cfg.log_every == 0 or is_eval):
        return None
    tokens_per_step = cfg.batch_size * cfg.seq_len
    record = {
        "step": done,
        "train_loss": mean_loss,
        "lr": lr,
        "tokens_per_s": window.steps * tokens_per_step / max(window.seconds, 1e-9),
        "train_time_s": run.state["train_time"],
        "tokens_seen": done * tokens_per_step,
    }
    window.loss_sum.zero_()
    window.steps, window.seconds = 0, 0.0
    return record


def _evaluate(run: TrainingRun, record: dict, done: int, progress: Progress) -> None:
    """The validation loss into `record`, each batch counted on the live line; a new best is saved as
    best.safetensors."""
    cfg = run.cfg
    last = next((r["eval_time_s"] for r in reversed(run.records) if "eval_time_s" in r), 0.0)
    if last > 10:  # an MDLM evaluation at paper scale runs for minutes: say so before, not only after
        progress.write(f"[{run.paradigm}] step {done}: evaluating (the last evaluation took {last:.0f} s)")
    t_eval = time.perf_counter()
    with run.autocast:
        val = held_out_losses(
            run.model,
            run.paradigm,
            _counted(run.val_batches, progress, done),
            draws=cfg.eval_draws,
            eps=cfg.mdlm_eps,
            mdlm_loss=cfg.mdlm_loss,
        )
    record.update(val)
    record["eval_time_s"] = time.perf_counter() - t_eval
    if val["val_loss"] < run.state["best_val"]:
        run.state["best_val"], run.state["best_step"] = val["val_loss"], done
        state = checkpoint_state(run.state, cfg, run.paradigm, run.data, done)
        checkpoint.save(run.run_dir / "best.safetensors", run.model, state)


def _counted(batches, progress: Progress, done: int):
    """The validation batches, each one counted in the live line's note."""
    for i, tokens in enumerate(batches):
        progress.update(done, note=f"evaluating: batch {i + 1}/{len(batches)}")
        yield tokens


def _keep_state(run: TrainingRun, done: int, window: _Window) -> None:
    """What the next checkpoint records of the loop (so a resume continues the loss window exactly)."""
    run.state["step"] = done
    run.state["window_loss_sum"], run.state["window_steps"] = window.loss_sum.item(), window.steps
    if run.scaler.is_enabled():
        run.state["grad_scaler"] = run.scaler.state_dict()


def _save_last(run: TrainingRun, done: int) -> None:
    if not checkpoint.all_finite(run.model):  # never call a NaN model the last good checkpoint
        raise _diverged(run.paradigm, "non-finite weights", done, run.run_dir, run.last_good)
    checkpoint.save(
        run.run_dir / "last.safetensors",
        run.model,
        {**checkpoint_state(run.state, run.cfg, run.paradigm, run.data, done), "metrics": run.records},
        run.optimizer,
        keep_previous=True,
    )
    run.last_good = done


def _diverged(paradigm, what, step, run_dir, last_good) -> TrainingError:
    kept = (
        f"The last good checkpoint (step {last_good}) is kept in {run_dir}"
        if last_good
        else "No checkpoint was written before it"
    )
    return TrainingError(
        f"[{paradigm}] training diverged: {what} at step {step}; stopped. {kept}. The run is deterministic, "
        f"so resuming it would diverge at the same step again. Start over with other settings (a lower lr, "
        f"more warmup_steps, a smaller grad_clip) in a new run directory (--run-dir), or delete {run_dir} "
        f"first: a run directory keeps the config it was started with"
    )


def _progress_line(paradigm, rec, cfg, state) -> str:
    eta = state["train_time"] / rec["step"] * (cfg.steps - rec["step"])
    msg = (
        f"[{paradigm}] step {rec['step']:>6}/{cfg.steps} | loss {rec['train_loss']:.4f} | "
        f"lr {rec['lr']:.2e} | {rec['tokens_per_s']:,.0f} tok/s | eta {eta / 60:.1f} min"
    )
    if "val_loss" in rec:
        msg += f" | val {rec['val_loss']:.4f}"
        if "val_nelbo" in rec:
            msg += f" (nelbo {rec['val_nelbo']:.4f})"
    return msg


def _summary(state, run_dir) -> dict:
    return {
        "run_dir": str(run_dir),
        "steps": state["step"],
        "best_val": state["best_val"],
        "best_step": state["best_step"],
        "train_time_s": state["train_time"],
    }
