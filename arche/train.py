"""One training loop for both paradigms, resumable bit-exactly after any interruption.

Every random choice is a pure function of (seed, step): the data order (a permutation per epoch)
and the MDLM masking noise (a generator seeded per step). So a checkpoint only needs the weights,
the optimizer moments and a few numbers, and a run killed at any moment and re-run with the same
command continues to exactly the weights an uninterrupted run reaches (on CPU; GPU kernels are not
bit-deterministic). Run directory layout:

    config.json        the full config the run was started with (a resume must match it)
    metrics.jsonl      one JSON object per logged step; eval steps carry the validation fields
    last.safetensors   weights + optimizer + state, every checkpoint_every steps and at the end
    best.safetensors   weights of the best validation loss so far

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
from .config import Config, config_diff
from .data import TokenData, prepare
from .model import build_model
from .objectives import ar_loss_sum, draw_noise, evaluate, masked_positions, mdlm_loss_sum, mdlm_normalizer


class TrainingError(RuntimeError):
    pass


def lr_at(step: int, cfg: Config) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio * lr at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def resolve_device(cfg: Config) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def autocast_for(cfg: Config, device: torch.device):
    """bf16 autocast on CUDA, fp32 on CPU (unless `precision` says otherwise)."""
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def noise_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def train(cfg: Config, paradigm: str, run_dir, data_dir=None, log=print) -> dict:
    """Train (or resume) one model; returns a summary of the finished run."""
    if paradigm not in ("ar", "mdlm"):
        raise ValueError(f"paradigm must be 'ar' or 'mdlm', got {paradigm!r}")
    run_dir = Path(run_dir)
    data_dir = Path(data_dir) if data_dir else run_dir / "data"
    rank, world = _init_distributed()
    is_main = rank == 0
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {world} processes")
    device = resolve_device(cfg)
    if device.type == "cuda":
        if world > 1:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    if is_main:
        prepare(cfg, data_dir, log=log)
        run_dir.mkdir(parents=True, exist_ok=True)
    _barrier(world)
    data = TokenData(data_dir)
    if data.seq_len != cfg.seq_len:
        raise ValueError(f"data in {data_dir} has seq_len {data.seq_len}, the config {cfg.seq_len}")

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, paradigm, vocab_size=data.codec.vocab_size).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                  weight_decay=cfg.weight_decay, fused=device.type == "cuda")
    state = _resume_or_start(cfg, paradigm, run_dir, model, optimizer, data, log)
    _barrier(world)  # every rank has read the run directory before rank 0 rewrites it
    if is_main:
        _write_run_files(cfg, paradigm, run_dir, model, data, state["step"])
    start = state["step"]
    if start >= cfg.steps:
        log(f"[{paradigm}] {run_dir} is already complete ({start} steps)")
        _finish_distributed(world)
        return _summary(state, run_dir)

    fwd = model
    if cfg.compile and device.type == "cuda":
        fwd = torch.compile(model)
    if world > 1:
        fwd = torch.nn.parallel.DistributedDataParallel(fwd, device_ids=[device.index] if device.type == "cuda" else None)
    autocast = autocast_for(cfg, device)
    val_batches = data.val_batches(cfg.batch_size, cfg.eval_batches, device)
    tokens_per_step = cfg.batch_size * cfg.seq_len
    metrics_path = run_dir / "metrics.jsonl"

    loss_sum = torch.tensor(state["window_loss_sum"], dtype=torch.float32, device=device)
    window_steps = state["window_steps"]
    window_time = 0.0
    t_last = time.perf_counter()
    model.train()
    for step in range(start, cfg.steps):
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        tokens = data.train_batch(step, cfg.batch_size, cfg.seed, device, rank, world)
        with autocast:
            if paradigm == "ar":
                s, n = ar_loss_sum(fwd, tokens)
                loss = s / n
            else:
                loss = _mdlm_step_loss(fwd, tokens, cfg, step, rank, world, model.mask_id)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_sum += loss.detach().float()
        window_steps += 1
        done = step + 1

        is_eval = done % cfg.eval_every == 0 or done == cfg.steps
        is_ckpt = done % cfg.checkpoint_every == 0 or done == cfg.steps
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
            raise TrainingError(
                f"[{paradigm}] non-finite training loss ({mean_loss}) at step {done}; stopped. The last good "
                f"checkpoint (step {state['step']}) is kept in {run_dir / 'last.safetensors'}")
        record = None
        if done % cfg.log_every == 0 or is_eval:
            record = {"step": done, "train_loss": mean_loss, "lr": lr,
                      "tokens_per_s": window_steps * tokens_per_step / max(window_time, 1e-9),
                      "train_time_s": state["train_time"], "tokens_seen": done * tokens_per_step}
            loss_sum.zero_()
            window_steps, window_time = 0, 0.0
        if is_eval and is_main:
            t_eval = time.perf_counter()
            with autocast:
                val = evaluate(model, paradigm, val_batches, seed=cfg.seed + 7919, eps=cfg.mdlm_eps,
                               mdlm_loss=cfg.mdlm_loss)
            record.update(val)
            record["eval_time_s"] = time.perf_counter() - t_eval
            if val["val_loss"] < state["best_val"]:
                state["best_val"], state["best_step"] = val["val_loss"], done
                checkpoint.save(run_dir / "best.safetensors", model, _ckpt_state(state, cfg, paradigm, data, done))
        state["step"] = done
        state["window_loss_sum"], state["window_steps"] = loss_sum.item(), window_steps
        if record is not None and is_main:
            _append_metrics(metrics_path, record)
            _print_progress(paradigm, record, cfg, state)
        if is_ckpt and is_main:
            checkpoint.save(run_dir / "last.safetensors", model, _ckpt_state(state, cfg, paradigm, data, done), optimizer)
        _barrier(world)
        t_last = time.perf_counter()

    _finish_distributed(world)
    return _summary(state, run_dir)


def _mdlm_step_loss(fwd, tokens, cfg, step, rank, world, mask_id):
    """Noise for the global batch, this rank's slice, normalised by the global count."""
    t, u = draw_noise(noise_generator(cfg.seed, step), cfg.batch_size, cfg.seq_len, cfg.mdlm_eps)
    mask = masked_positions(t, u)
    norm = mdlm_normalizer(mask, cfg.mdlm_loss)
    per = cfg.batch_size // world
    sl = slice(rank * per, (rank + 1) * per)
    t, mask = _to(t[sl], tokens.device), _to(mask[sl], tokens.device)
    total = mdlm_loss_sum(fwd, tokens, t, mask, cfg.mdlm_loss, cfg.mdlm_eps, mask_id)
    return total * (world / norm)


def _to(x, device):
    """Host-to-device copy that does not stall the GPU queue (pinned, non-blocking)."""
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x


def _resume_or_start(cfg, paradigm, run_dir, model, optimizer, data, log) -> dict:
    """Refuse a run directory of another paradigm or config; load its last checkpoint if any."""
    config_path, last = run_dir / "config.json", run_dir / "last.safetensors"
    if config_path.exists():
        old = json.loads(config_path.read_text())
        if old.get("paradigm", paradigm) != paradigm:
            raise ValueError(f"{run_dir} holds a {old['paradigm'].upper()} run; it cannot be resumed as "
                             f"{paradigm.upper()}. Use another --run-dir.")
        diff = config_diff(old.get("config", {}), cfg.to_dict())
        if diff:
            lines = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"{run_dir} was started with a different config ({lines}); "
                             "resume with the same settings or use another --run-dir")
    if not last.exists():
        return {"step": 0, "best_val": float("inf"), "best_step": None, "train_time": 0.0,
                "window_loss_sum": 0.0, "window_steps": 0}
    saved = checkpoint.read_state(last)
    if saved["paradigm"] != paradigm:
        raise ValueError(f"checkpoint {last} is a {saved['paradigm'].upper()} model, not {paradigm.upper()}")
    state = checkpoint.load(last, model, optimizer)
    if state["data_hash"] != data.manifest["content_hash"]:
        raise ValueError(f"checkpoint {last} was trained on other data than {data.dir}")
    log(f"[{paradigm}] resuming {run_dir} from step {state['step']}")
    return state


def _write_run_files(cfg, paradigm, run_dir, model, data, step) -> None:
    """config.json, the tokenizer, and metrics.jsonl cut back to the checkpoint we start from."""
    _truncate_metrics(run_dir / "metrics.jsonl", step)
    (run_dir / "config.json").write_text(json.dumps({"paradigm": paradigm, "config": cfg.to_dict(),
                                                     "vocab_size": data.codec.vocab_size,
                                                     "n_params": model.n_params()}, indent=2, sort_keys=True))
    # The tokenizer travels with the weights, so a model directory is self-contained for sampling.
    (run_dir / "vocab.json").write_text(json.dumps(data.codec.to_dict(), sort_keys=True))


def _ckpt_state(state, cfg, paradigm, data, step) -> dict:
    return {**state, "step": step, "paradigm": paradigm, "config": cfg.to_dict(),
            "vocab_size": data.codec.vocab_size, "data_hash": data.manifest["content_hash"]}


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop lines written after the checkpoint we resume from (and any half-written line)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("step", 0) <= step:
            keep.append(line)
    path.write_text("".join(line + "\n" for line in keep))


def _append_metrics(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()


def _print_progress(paradigm, rec, cfg, state):
    eta = state["train_time"] / rec["step"] * (cfg.steps - rec["step"])
    msg = (f"[{paradigm}] step {rec['step']:>6}/{cfg.steps} | loss {rec['train_loss']:.4f} | "
           f"lr {rec['lr']:.2e} | {rec['tokens_per_s']:,.0f} tok/s | eta {eta / 60:.1f} min")
    if "val_loss" in rec:
        msg += f" | val {rec['val_loss']:.4f}"
        if "val_nelbo" in rec:
            msg += f" (nelbo {rec['val_nelbo']:.4f})"
    print(msg, flush=True)


def _summary(state, run_dir) -> dict:
    return {"run_dir": str(run_dir), "steps": state["step"], "best_val": state["best_val"],
            "best_step": state["best_step"], "train_time_s": state["train_time"]}


def read_metrics(run_dir) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


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
