"""One training loop for both paradigms, resumable bit-exactly after any interruption.

Every random choice is a pure function of (seed, step): the data order (a permutation per epoch)
and the MDLM masking noise (a generator seeded per step). So a checkpoint only needs the weights,
the optimizer moments and a few numbers, and a run killed at any moment and re-run with the same
command continues to exactly the weights an uninterrupted run reaches (on CPU; GPU kernels are not
bit-deterministic). Run directory layout:

    config.json        the full config the run was started with (a resume must match it)
    metrics.jsonl      one JSON object per logged step; eval steps carry the validation fields
    last.safetensors   weights + optimizer + state, every checkpoint_every steps and at the end
    prev.safetensors   the checkpoint before last: the fallback when last is damaged
    best.safetensors   weights of the best validation loss so far
    .lock              while a process trains here (see arche.runlock)

The checkpoint is the truth: its state holds the config and every metrics row up to its step, and
carries a checksum. A start compares the config with both config.json and the checkpoint (a changed
setting is refused, even with config.json deleted), falls back to prev when last is damaged, and
rewrites config.json and metrics.jsonl (atomically) only where they differ from what the checkpoint
says, so a kill at any moment of a start or of a finished run loses nothing.

Under `torchrun`, each rank takes its slice of the same global batch and noise, and the losses are
normalised by global counts, so N processes compute what one process would. Only rank 0 writes.
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist

from . import checkpoint
from .checkpoint import CheckpointError
from .config import RESUMABLE_KEYS, Config, config_diff
from .data import TokenData, prepare
from .device import autocast_for, check_fits, describe_precision, grad_scaler, resolve_device  # noqa: F401
from .errors import UserError
from .io import append_jsonl, atomic_write, read_jsonl
from .model import build_model
from .objectives import ar_loss_sum, draw_noise, evaluate, masked_positions, mdlm_loss_sum, mdlm_normalizer
from .runlock import run_lock


class TrainingError(UserError, RuntimeError):
    """The run cannot go on (it diverged, or its device is missing); the message says what to do."""


class RunDirError(UserError, ValueError):
    """A run directory made with another paradigm, config or data, or one that cannot be read."""


def lr_at(step: int, cfg: Config) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio * lr at the last step; or, with
    lr_schedule="wsd", a constant lr until decay_start(cfg), then linear decay to min_lr_ratio * lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "wsd":
        start = decay_start(cfg)
        if step < start:
            return cfg.lr
        progress = (step - start + 1) / (cfg.steps - start)
        return cfg.lr * (1 - (1 - cfg.min_lr_ratio) * min(1.0, progress))
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def decay_start(cfg: Config) -> int:
    """The first step of a wsd run's decay: the last decay_fraction of its steps decay, the rest is warmup
    and a constant lr. A run of more steps has the same lr up to here, which is what lets one long run
    branch into the decays of shorter ones (arche.repetition)."""
    return max(cfg.warmup_steps, cfg.steps - max(1, round(cfg.decay_fraction * cfg.steps)))


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
    state, records, damaged = _resume_or_start(cfg, paradigm, run_dir, model, optimizer, data, log)
    _barrier(world)  # every rank has read the run directory before rank 0 rewrites it
    if is_main:
        for bad in damaged:  # aside, so that the next save does not keep it as prev
            os.replace(bad, bad.with_name(bad.name + ".damaged"))
        _write_run_files(cfg, paradigm, run_dir, model, data, records, log)
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
                checkpoint.save(run_dir / "best.safetensors", model, _ckpt_state(state, cfg, paradigm, data, done))
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
                {**_ckpt_state(state, cfg, paradigm, data, done), "metrics": records},
                optimizer,
                keep_previous=True,
            )
            last_good = done
        _barrier(world)
        t_last = time.perf_counter()

    if is_main:  # metrics.jsonl deleted or edited while training: the rows are all in `records`
        _sync_metrics(metrics_path, records, log, paradigm)
        if state["step"] >= cfg.steps and not cfg.keep_optimizer_state:
            drop_optimizer_state(run_dir, log)
    _finish_distributed(world)
    return _summary(state, run_dir)


def drop_optimizer_state(run_dir, log=print) -> None:
    """The disk policy of keep_optimizer_state=False, for a finished run: one file of weights is left
    (4 bytes per parameter instead of 28). best.safetensors keeps the best weights (what sampling
    loads); last.safetensors keeps the state and metrics only, or the weights when the last step is
    the best (best is then removed: sampling falls back to last); prev.safetensors goes. Nothing a
    finished run is used for needs the optimizer: it cannot be resumed into a longer run (the config
    would differ) and `fork` starts from unfinished trunks."""
    run_dir = Path(run_dir)
    last, best = run_dir / "last.safetensors", run_dir / "best.safetensors"
    tensors, meta = checkpoint.read(last)
    state = json.loads(meta["state"])
    if not state.get("optimizer_dropped"):
        state.pop("format", None)
        state["optimizer_dropped"] = True
        keep_best = best.exists() and state.get("best_step") != state["step"]
        weights = {} if keep_best else {k: v for k, v in tensors.items() if k.startswith("model.")}
        checkpoint.write(last, weights, state, None)
        log(
            f"[{state.get('paradigm')}] {run_dir}: finished; optimizer state dropped, weights kept in "
            f"{'best' if keep_best else 'last'}.safetensors only (keep_optimizer_state=False)"
        )
        if not keep_best:
            best.unlink(missing_ok=True)
    checkpoint.previous(last).unlink(missing_ok=True)


def fork(src_dir, dst_dir, cfg: Config, paradigm: str, log=print) -> int:
    """Start the run `cfg` in `dst_dir` from the last checkpoint of the run in `src_dir`; returns its step.

    Allowed only when the two runs would have computed the same thing up to that step: their configs
    differ in length alone (steps, eval_every and bookkeeping) and their learning rates agree at every
    step before it (a wsd run of more steps, paused before this run's decay). Data order and MDLM noise
    are functions of (seed, step), so `train(cfg, paradigm, dst_dir)` then ends where a run of `cfg`
    from scratch would (tests/test_repetition.py checks it bit for bit on CPU). A dst_dir that already
    has a checkpoint is left alone."""
    dst = Path(dst_dir)
    if (dst / "last.safetensors").exists():
        return checkpoint.read_state(dst / "last.safetensors")["step"]
    src = Path(src_dir) / "last.safetensors"
    tensors, meta = checkpoint.read(src)
    state = json.loads(meta["state"])
    if state.get("paradigm") != paradigm:
        raise RunDirError(f"{src} holds a {state.get('paradigm')} run, not {paradigm}")
    diff = config_diff(state["config"], cfg.to_dict(), ignore=RESUMABLE_KEYS | {"steps", "eval_every"})
    if diff:
        lines = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
        raise RunDirError(f"cannot fork {src} into {dst}: the configs differ in more than length ({lines})")
    step, old = state["step"], Config(**{**Config().to_dict(), **state["config"]})
    if step > cfg.steps:
        raise RunDirError(f"cannot fork {src} at step {step} into a run of {cfg.steps} steps")
    bad = next((s for s in range(step) if lr_at(s, old) != lr_at(s, cfg)), None)
    if bad is not None:
        raise RunDirError(
            f"cannot fork {src} at step {step}: its learning rate differs from the new run's "
            f"at step {bad} ({lr_at(bad, old):.3g} vs {lr_at(bad, cfg):.3g})"
        )
    dst.mkdir(parents=True, exist_ok=True)
    state.pop("format", None)
    state.update(config=cfg.to_dict(), forked_from={"run_dir": str(src_dir), "step": step})
    checkpoint.write(dst / "last.safetensors", tensors, state, json.loads(meta["param_groups"]))
    log(f"[{paradigm}] {dst}: forked from {src_dir} at step {step}")
    return step


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
    t, u = draw_noise(noise_generator(cfg.seed, step), cfg.batch_size, cfg.seq_len, cfg.mdlm_eps)
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


def _resume_or_start(cfg, paradigm, run_dir, model, optimizer, data, log):
    """(state, metrics rows, damaged checkpoint files) to start from: those of the last good checkpoint,
    or a fresh start. Refuses a run directory of another paradigm or config, per config.json and per
    the checkpoint itself."""
    try:
        recorded = read_config_json(run_dir)
    except RunDirError as e:
        log(f"[{paradigm}] {e}; it is rebuilt from the checkpoint and the config")
        recorded = None
    if recorded is not None:
        _refuse_mismatch(run_dir, "config.json", recorded.get("paradigm"), recorded.get("config", {}), cfg, paradigm)
    state, damaged = _load_last_good(cfg, paradigm, run_dir, model, optimizer, log)
    if state is None:
        return (
            {
                "step": 0,
                "best_val": float("inf"),
                "best_step": None,
                "train_time": 0.0,
                "window_loss_sum": 0.0,
                "window_steps": 0,
            },
            [],
            [],
        )
    if state["data_hash"] != data.manifest["content_hash"]:
        raise RunDirError(f"the checkpoint in {run_dir} was trained on other data than {data.dir}")
    records = state.pop("metrics", None)
    if records is None:  # a checkpoint from before the rows were kept in it: trust the file up to its step
        records = [r for r in read_jsonl(run_dir / "metrics.jsonl") or [] if r.get("step", 0) <= state["step"]]
    log(f"[{paradigm}] resuming {run_dir} from step {state['step']}")
    return state, records, damaged


def _load_last_good(cfg, paradigm, run_dir, model, optimizer, log):
    """(state, damaged files): last.safetensors loaded, or prev.safetensors when last is damaged (with
    a log line); (None, []) when the directory has no checkpoint; CheckpointError naming the files
    when none is good."""
    last = run_dir / "last.safetensors"
    damaged = []
    for path in (last, checkpoint.previous(last)):
        if not path.exists():
            continue
        try:
            saved = checkpoint.read_state(path)
        except CheckpointError as e:
            damaged.append((path, e))
            continue
        _refuse_mismatch(run_dir, path.name, saved.get("paradigm"), saved.get("config", {}), cfg, paradigm)
        try:
            if saved.get("optimizer_dropped") and saved.get("step", 0) >= cfg.steps:
                # finished under keep_optimizer_state=False: nothing to train, maybe no weights in the file
                tensors, meta = checkpoint.read(path)
                state = json.loads(meta["state"])
                if tensors:
                    checkpoint.load(path, model)
            else:
                state = checkpoint.load(path, model, optimizer)
            if not checkpoint.all_finite(model):
                raise CheckpointError(f"checkpoint {path} holds non-finite weights")
        except CheckpointError as e:
            damaged.append((path, e))
            continue
        for bad, err in damaged:
            log(f"[{paradigm}] {err}; moving it to {bad.name}.damaged, resuming from {path.name} instead")
        return state, [bad for bad, _ in damaged]
    if damaged:
        raise CheckpointError(
            f"{run_dir} cannot be resumed: "
            + "; ".join(str(e) for _, e in damaged)
            + f". No good checkpoint is left: delete {run_dir} (or use another --run-dir) "
            "to train from scratch"
        )
    return None, []


def _refuse_mismatch(run_dir, source, old_paradigm, old_config, cfg, paradigm) -> None:
    if old_paradigm not in (None, paradigm):
        raise RunDirError(
            f"{run_dir} holds a {old_paradigm.upper()} run (per its {source}); it cannot be "
            f"resumed as {paradigm.upper()}. Use another --run-dir."
        )
    diff = config_diff(old_config, cfg.to_dict())
    if diff:
        lines = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
        raise RunDirError(
            f"{run_dir} was started with a different config ({lines}; per its {source}); "
            "resume with the same settings or use another --run-dir"
        )


def read_config_json(run_dir) -> dict | None:
    """A run directory's config.json, None when it has none; RunDirError naming it when damaged."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None
    try:
        recorded = json.loads(path.read_text())
        if not isinstance(recorded, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        raise RunDirError(f"{path} is damaged ({e})") from None
    return recorded


def _write_run_files(cfg, paradigm, run_dir, model, data, records, log) -> None:
    """config.json, the tokenizer, and metrics.jsonl as of the checkpoint we start from; each written
    (atomically) only when it differs, so restarting a finished run writes nothing."""
    _write_if_changed(
        run_dir / "config.json",
        json.dumps(
            {
                "paradigm": paradigm,
                "config": cfg.to_dict(),
                "vocab_size": data.codec.vocab_size,
                "n_params": model.n_params(),
            },
            indent=2,
            sort_keys=True,
        ),
    )
    # The tokenizer travels with the weights, so a model directory is self-contained for sampling.
    _write_if_changed(run_dir / "vocab.json", json.dumps(data.codec.to_dict(), sort_keys=True))
    _sync_metrics(run_dir / "metrics.jsonl", records, log, paradigm)


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, text)


def _sync_metrics(path: Path, records: list[dict], log, paradigm) -> None:
    """Make metrics.jsonl hold exactly `records` (rows after the checkpoint and half-written lines
    go; rows lost from the file come back), saying so when rows had gone missing."""
    text = "".join(json.dumps(r) + "\n" for r in records)
    try:
        if path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        if not records:
            return
    rows = read_jsonl(path) or []
    if rows[: len(records)] != records:
        log(f"[{paradigm}] {path} lacked rows of the run; rewritten from the checkpoint's {len(records)} rows")
    atomic_write(path, text)


def _ckpt_state(state, cfg, paradigm, data, step) -> dict:
    return {
        **state,
        "step": step,
        "paradigm": paradigm,
        "config": cfg.to_dict(),
        "vocab_size": data.codec.vocab_size,
        "data_hash": data.manifest["content_hash"],
    }


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


def read_metrics(run_dir) -> list[dict]:
    """The rows of RUN/metrics.jsonl (a line being written is skipped); [] when there is none."""
    return read_jsonl(Path(run_dir) / "metrics.jsonl") or []


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
