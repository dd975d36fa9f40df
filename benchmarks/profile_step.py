"""Where one training step's time goes, per paradigm: torch.profiler over a few steps of the trainer's own step
at a profile's shape, the top operators and their share, and the share that is matrix multiplication.

    python benchmarks/profile_step.py --profile replica --steps 5            # fp32 on a CPU without native bf16
    python benchmarks/profile_step.py --profile replica --set precision=bf16

The step is arche.speed's (the one the interleaved throughput benchmark times: loss, backward, clipping,
AdamW) on random tokens of the shape, after `--warmup` untimed steps.
"""

import sys
import time
from pathlib import Path

from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import step_args  # noqa: E402  (puts the repository on the path)

from arche.device import resolve_device  # noqa: E402
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
    p = step_args.parser(__doc__, steps=5)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    cfg = step_args.config(args)
    step_args.print_header(cfg, args.vocab)
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
