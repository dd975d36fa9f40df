"""Where one training step's time goes, per paradigm: torch.profiler over a few steps of the trainer's own step
at a profile's shape, the top operators and their share, and the share that is matrix multiplication.

    python benchmarks/profile_step.py --profile replica --steps 5            # fp32 on a CPU without native bf16
    python benchmarks/profile_step.py --profile replica --set precision=bf16

The step is arche.speed's (the one the interleaved throughput benchmark times: loss, backward, clipping,
AdamW) on random tokens of the shape, after `--warmup` untimed steps.
"""

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from arche.config import parse_overrides  # noqa: E402
from arche.device import device_name, resolve_device  # noqa: E402
from arche.profiles import load_config  # noqa: E402
from arche.speed import step_fn  # noqa: E402

MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::_scaled_dot_product")


def profile_paradigm(cfg, paradigm: str, vocab: int, steps: int, warmup: int) -> dict:
    device = resolve_device(cfg)
    step = step_fn(cfg, paradigm, vocab, device)
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    wall = (time.perf_counter() - t0) / steps
    events = prof.key_averages()
    # self time: each operator's own, children excluded, so the shares add up to the whole step
    total = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    matmul = sum(e.self_cpu_time_total for e in events if e.key.startswith(MATMUL_OPS))
    return {
        "paradigm": paradigm,
        "s_per_step": wall,
        "tokens_per_s": cfg.batch_size * cfg.seq_len / wall,
        "matmul_share": matmul / total if total else None,
        "top": [(e.key, e.self_cpu_time_total / total) for e in top],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="replica")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--vocab", type=int, default=5_013, help="the compact vocabulary (the replica's: 5,013)")
    args = p.parse_args()
    cfg = load_config(args.profile, **parse_overrides(args.overrides))
    print(f"# {device_name(cfg)}, torch {torch.__version__}, {torch.get_num_threads()} threads, {cfg.precision}")
    print(f"# shape d{cfg.d_model} L{cfg.n_layers} batch {cfg.batch_size} x {cfg.seq_len}, vocab {args.vocab}")
    for paradigm in ("ar", "mdlm"):
        r = profile_paradigm(cfg, paradigm, args.vocab, args.steps, args.warmup)
        print(
            f"\n## {paradigm}: {r['s_per_step'] * 1000:.1f} ms/step, {r['tokens_per_s']:,.0f} tok/s, "
            f"matmul share {r['matmul_share']:.1%}"
        )
        for name, share in r["top"]:
            print(f"  {share:6.1%}  {name}")


if __name__ == "__main__":
    main()
