"""Training throughput of both paradigms: tokens/s (no evaluation), MFU, parameters, device.

    python benchmarks/throughput.py                      # smoke shape on CPU (under a minute)
    python benchmarks/throughput.py --profile paper      # paper shape (d768, L12, seq 512, batch 32) on a GPU

Prints one JSON line per model. It times the same step the trainer runs (arche.train's loss
functions, AdamW, clipping, bf16 autocast and torch.compile on CUDA) on random tokens, after warmup.
MFU counts 6*N + 12*L*d*T FLOPs per token (PaLM/nanoGPT convention) against the detected GPU's dense
bf16 peak; on CPU there is no such peak and mfu is null.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from arche import build_model, load_config, scaling  # noqa: E402
from arche.config import parse_overrides  # noqa: E402
from arche.device import autocast_for, resolve_device  # noqa: E402
from arche.objectives import (
    ar_loss_sum,  # noqa: E402
    mdlm_step_loss,
)
from arche.trainrun import make_optimizer  # noqa: E402

BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10G": 125.0, "T4": 65.0}


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return (
        f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    )


def peak_flops(name):
    for key, tflops in BF16_PEAK_TFLOPS.items():
        if key in name:
            return tflops * 1e12
    return None


def bench(cfg, paradigm, device, steps, warmup):
    torch.manual_seed(0)
    vocab = cfg.vocab_size
    model = build_model(cfg, paradigm, vocab_size=vocab).to(device)
    opt = make_optimizer(cfg, model, device)
    fwd = torch.compile(model) if (cfg.compile and device.type == "cuda") else model
    autocast = autocast_for(cfg, device)
    batches = torch.randint(0, vocab, (4, cfg.batch_size, cfg.seq_len)).to(device)

    def step(i):
        tokens = batches[i % 4]
        with autocast:
            if paradigm == "ar":
                s, n = ar_loss_sum(fwd, tokens)
                loss = s / n
            else:
                loss = mdlm_step_loss(fwd, tokens, cfg, i, 0, 1, model.mask_id)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for i in range(warmup):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(steps):
        loss = step(warmup + i)
    loss.item()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    tok_s = steps * cfg.batch_size * cfg.seq_len / dt
    n_params = model.n_params()
    # the model work, the same for both paradigms: an untied MDLM's input embedding is a lookup, not 6N of FLOPs
    flops_per_token = scaling.flops_per_token(cfg, vocab)
    name = device_name(device)
    peak = peak_flops(name)
    return {
        "paradigm": paradigm,
        "tokens_per_s": round(tok_s, 1),
        "s_per_step": round(dt / steps, 4),
        "mfu": round(tok_s * flops_per_token / peak, 4) if peak else None,
        "mfu_note": None if peak else "no bf16 peak known for this device (CPU runs fp32)",
        "params": n_params,
        "vocab_size": vocab,
        "d_model": cfg.d_model,
        "n_layers": cfg.n_layers,
        "batch_size": cfg.batch_size,
        "seq_len": cfg.seq_len,
        "precision": cfg.precision,
        "compile": bool(cfg.compile and device.type == "cuda"),
        "device": name,
        "torch": torch.__version__,
        "steps_timed": steps,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="smoke")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: 20 on CPU, 50 on GPU)")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--paradigms", default="ar,mdlm,mdlm_tied")
    args = p.parse_args()
    overrides = parse_overrides(args.overrides)
    cfg = load_config(args.profile, **overrides)
    if args.profile == "smoke" and "vocab_size" not in overrides:
        cfg = cfg.replace(vocab_size=965)  # the compact vocabulary the synthetic corpus uses
    device = resolve_device(cfg)
    steps = args.steps or (50 if device.type == "cuda" else 20)
    warmup = args.warmup if args.warmup is not None else (10 if device.type == "cuda" else 3)
    for name in args.paradigms.split(","):
        paradigm = "ar" if name == "ar" else "mdlm"
        result = bench(cfg.replace(mdlm_tied_head=name == "mdlm_tied"), paradigm, device, steps, warmup)
        result["model"] = name
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
