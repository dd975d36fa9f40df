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
from pathlib import Path

import torch
import torch.distributed as dist

from . import checkpoint
from .config import Config
from .data import TokenData, prepare
from .device import autocast_for, check_fits, describe_precision, grad_scaler, resolve_device  # noqa: F401
from .errors import UserError
from .io import append_jsonl
from .model import build_model
from .objectives import ar_loss_sum, draw_noise, evaluate, masked_positions, mdlm_loss_sum, mdlm_normalizer
from .rundir import RunDirError, checkpoint_state, drop_optimizer_state, resume_or_start, sync_metrics, write_run_files
from .runlock import run_lock
from .schedule import lr_at


class TrainingError(UserError, RuntimeError):
    """The run cannot go on (it diverged, or its device is missing); the message says what to do."""


def noise_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def train(cfg: Config, paradigm: str, run_dir, data_dir=None, log=print, stop_at: int | None = None) -> dict:
    """Train (or resume) one model; returns a summary of the run. `stop_at` pauses it at that step with a
    checkpoint (the steps and schedule still those of cfg): a run the same call later continues."""
    if paradigm not in ("ar", "mdlm"):
        raise ValueError(f"paradigm must be 'ar' or 'mdlm', got {paradigm!r}")
    run_dir = Path(run_dir)
    data_dir = Path(data_dir) if data_dir else run_dir / "data"
    rank, world = _init_distributed()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {world} processes")
    device = resolve_device(cfg)
    check_fits(cfg, device)
    if device.type == "cuda":
        if world > 1:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    # One process (one torchrun job) per run directory: a second one would duplicate every metrics row.
    lock = run_lock(run_dir, f"training {paradigm}", log=log) if rank == 0 else nullcontext()
    with lock:
        return _train(cfg, paradigm, run_dir, data_dir, device, rank, world, log, stop_at)


def _train(cfg, paradigm, run_dir, data_dir, device, rank, world, log, stop_at=None) -> dict:
    is_main = rank == 0
    if is_main:
        prepare(cfg, data_dir, log=log)
    _barrier(world)
    data = TokenData(data_dir, train_chunks=cfg.train_chunks)
    if data.seq_len != cfg.seq_len:
        raise RunDirError(f"data in {data_dir} has seq_len {data.seq_len}, the config {cfg.seq_len}")

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, paradigm, vocab_size=data.codec.vocab_size).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        weight_decay=cfg.weight_decay,
        fused=device.type == "cuda",
    )
    state, records, damaged = resume_or_start(cfg, paradigm, run_dir, model, optimizer, data, log)
    _barrier(world)  # every rank has read the run directory before rank 0 rewrites it
    if is_main:
        for bad in damaged:  # aside, so that the next save does not keep it as prev
            os.replace(bad, bad.with_name(bad.name + ".damaged"))
        write_run_files(cfg, paradigm, run_dir, model, data, records, log)
    start = state["step"]
    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    if start >= end:
        log(f"[{paradigm}] {run_dir} is already {'complete' if end == cfg.steps else 'at'} ({start} steps)")
        _finish_distributed(world)
        return _summary(state, run_dir)
    if cfg.warmup_steps > cfg.steps:
        log(
            f"[{paradigm}] warning: warmup_steps ({cfg.warmup_steps}) > steps ({cfg.steps}): the learning "
            f"rate never reaches lr ({cfg.lr:g}); it peaks at {lr_at(cfg.steps - 1, cfg):.3g}"
        )
    log(
        f"[{paradigm}] training {run_dir}: steps {start + 1}..{end} of {cfg.steps}, {model.n_params():,} parameters, "
        f"{cfg.batch_size} x {cfg.seq_len} tokens per step"
        f"{f' in {cfg.grad_accum} micro-batches' if cfg.grad_accum > 1 else ''}, on {device}, "
        f"precision {describe_precision(cfg, device)}"
    )
    last_good = start or None  # the step of the checkpoint on disk a resume would start from

    fwd = model
    if cfg.compile and device.type == "cuda":
        fwd = torch.compile(model)
    if world > 1:
        fwd = torch.nn.parallel.DistributedDataParallel(
            fwd, device_ids=[device.index] if device.type == "cuda" else None
        )
    autocast = autocast_for(cfg, device)
    scaler = grad_scaler(cfg, device)
    if state.get("grad_scaler"):
        scaler.load_state_dict(state["grad_scaler"])
    val_batches = data.val_batches(cfg.batch_size, cfg.eval_batches, device)
    tokens_per_step = cfg.batch_size * cfg.seq_len
    metrics_path = run_dir / "metrics.jsonl"

    loss_sum = torch.tensor(state["window_loss_sum"], dtype=torch.float32, device=device)
    window_steps = state["window_steps"]
    window_time = 0.0
    t_last = time.perf_counter()
    model.train()
    for step in range(start, end):
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        tokens = data.train_batch(step, cfg.batch_size, cfg.seed, device, rank, world)
        per = tokens.shape[0] // cfg.grad_accum
        for i in range(cfg.grad_accum):  # micro-batches: their losses sum to the whole batch's
            part = tokens[i * per : (i + 1) * per]
            sync = nullcontext() if world == 1 or i == cfg.grad_accum - 1 else fwd.no_sync()
            with sync:
                with autocast:
                    if paradigm == "ar":  # every row has seq_len - 1 targets: the mean of means is the mean
                        s, n = ar_loss_sum(fwd, part)
                        loss = s / (n * cfg.grad_accum)
                    else:
                        loss = _mdlm_step_loss(fwd, part, cfg, step, rank, world, model.mask_id, i)
                scaler.scale(loss).backward()
            loss_sum += loss.detach().float()
        scaler.unscale_(optimizer)  # clip the true gradient (no-ops unless fp16)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        window_steps += 1
        done = step + 1

        is_eval = done % cfg.eval_every == 0 or done == cfg.steps
        is_ckpt = done % cfg.checkpoint_every == 0 or done in (cfg.steps, end)
        if not (is_eval or is_ckpt or done % cfg.log_every == 0):
            continue
        # Only here do we wait for the device: reading the loss synchronises.
        if device.type == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        window_time += now - t_last
        state["train_time"] += now - t_last
        if world > 1:
            dist.all_reduce(loss_sum)
            loss_sum /= world
        mean_loss = loss_sum.item() / window_steps
        if not math.isfinite(mean_loss):
            raise _diverged(paradigm, f"non-finite training loss ({mean_loss})", done, run_dir, last_good)
        record = None
        if done % cfg.log_every == 0 or is_eval:
            record = {
                "step": done,
                "train_loss": mean_loss,
                "lr": lr,
                "tokens_per_s": window_steps * tokens_per_step / max(window_time, 1e-9),
                "train_time_s": state["train_time"],
                "tokens_seen": done * tokens_per_step,
            }
            loss_sum.zero_()
            window_steps, window_time = 0, 0.0
        if is_eval and is_main:
            t_eval = time.perf_counter()
            with autocast:
                val = evaluate(
                    model, paradigm, val_batches, draws=cfg.eval_draws, eps=cfg.mdlm_eps, mdlm_loss=cfg.mdlm_loss
                )
            record.update(val)
            record["eval_time_s"] = time.perf_counter() - t_eval
            if val["val_loss"] < state["best_val"]:
                state["best_val"], state["best_step"] = val["val_loss"], done
                checkpoint.save(run_dir / "best.safetensors", model, checkpoint_state(state, cfg, paradigm, data, done))
        state["step"] = done
        state["window_loss_sum"], state["window_steps"] = loss_sum.item(), window_steps
        if scaler.is_enabled():
            state["grad_scaler"] = scaler.state_dict()
        if record is not None and is_main:
            records.append(record)
            append_jsonl(metrics_path, record)
            _print_progress(paradigm, record, cfg, state)
        if is_ckpt and is_main:
            if not checkpoint.all_finite(model):  # never call a NaN model the last good checkpoint
                raise _diverged(paradigm, "non-finite weights", done, run_dir, last_good)
            checkpoint.save(
                run_dir / "last.safetensors",
                model,
                {**checkpoint_state(state, cfg, paradigm, data, done), "metrics": records},
                optimizer,
                keep_previous=True,
            )
            last_good = done
        _barrier(world)
        t_last = time.perf_counter()

    if is_main:  # metrics.jsonl deleted or edited while training: the rows are all in `records`
        sync_metrics(metrics_path, records, log, paradigm)
        if state["step"] >= cfg.steps and not cfg.keep_optimizer_state:
            drop_optimizer_state(run_dir, log)
    _finish_distributed(world)
    return _summary(state, run_dir)


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


def _mdlm_step_loss(fwd, tokens, cfg, step, rank, world, mask_id, micro=0):
    """Noise for the global batch, this rank's micro-batch of it, normalised by the global count (so
    the micro-batches of all ranks sum to the loss of the whole batch)."""
    t, u = draw_noise(
        noise_generator(cfg.seed, step),
        cfg.batch_size,
        cfg.seq_len,
        cfg.mdlm_eps,
        stratified=cfg.mdlm_time_sampling == "stratified",
    )
    mask = masked_positions(t, u)
    norm = mdlm_normalizer(mask, cfg.mdlm_loss)
    per = cfg.batch_size // world // cfg.grad_accum
    first = rank * (cfg.batch_size // world) + micro * per
    sl = slice(first, first + per)
    t, mask = _to(t[sl], tokens.device), _to(mask[sl], tokens.device)
    total = mdlm_loss_sum(fwd, tokens, t, mask, cfg.mdlm_loss, cfg.mdlm_eps, mask_id)
    return total * (world / norm)


def _to(x, device):
    """Host-to-device copy that does not stall the GPU queue (pinned, non-blocking)."""
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x


def _print_progress(paradigm, rec, cfg, state):
    eta = state["train_time"] / rec["step"] * (cfg.steps - rec["step"])
    msg = (
        f"[{paradigm}] step {rec['step']:>6}/{cfg.steps} | loss {rec['train_loss']:.4f} | "
        f"lr {rec['lr']:.2e} | {rec['tokens_per_s']:,.0f} tok/s | eta {eta / 60:.1f} min"
    )
    if "val_loss" in rec:
        msg += f" | val {rec['val_loss']:.4f}"
        if "val_nelbo" in rec:
            msg += f" (nelbo {rec['val_nelbo']:.4f})"
    print(msg, flush=True)


def _summary(state, run_dir) -> dict:
    return {
        "run_dir": str(run_dir),
        "steps": state["step"],
        "best_val": state["best_val"],
        "best_step": state["best_step"],
        "train_time_s": state["train_time"],
    }


def _init_distributed():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _barrier(world):
    if world > 1:
        dist.barrier()


def _finish_distributed(world):
    if world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
