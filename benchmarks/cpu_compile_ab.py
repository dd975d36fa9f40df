"""Would torch.compile pay on a CPU? Eager and compiled training steps of each paradigm, alternated in one process.

    python benchmarks/cpu_compile_ab.py --profile replica --rounds 6 --steps 3     # fp32 on this CPU

Training compiles on CUDA only (arche.trainrun). This asks the CPU question with the measurement this machine's
noise needs: the eager and the compiled step of the same model alternate round after round in one process
(arche.speed.interleave, A/B/A/B with a rotating order), so a slow round slows both, and the speed-up is the
paired ratio of each round's tokens/s with its interval (arche.stats.paired_ratio). The compile time (the
first compiled steps) is reported separately: it is paid once per run.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import step_args  # noqa: E402  (puts the repository on the path)

from arche.device import resolve_device  # noqa: E402
from arche.speed import interleave, step_fn  # noqa: E402
from arche.stats import paired_ratio  # noqa: E402


def compile_ab(cfg, paradigm: str, vocab: int, rounds: int, steps: int, log=print) -> dict:
    """tokens/s of eager and compiled steps of one paradigm, interleaved, and the compiled/eager ratio."""
    device = resolve_device(cfg)
    eager = step_fn(cfg, paradigm, vocab, device)
    compiled = step_fn(cfg, paradigm, vocab, device, compiled=True)
    t0 = time.perf_counter()
    compiled()  # the first call compiles (forward and backward graphs)
    compile_s = time.perf_counter() - t0
    runs = interleave({"eager": eager, "compiled": compiled}, cfg.batch_size * cfg.seq_len, rounds, steps, 1, log)
    ratio = paired_ratio(runs["per_round"]["compiled"], runs["per_round"]["eager"])
    return {"paradigm": paradigm, "compile_s": compile_s, **runs, "ratio": ratio}


def main():
    p = step_args.parser(__doc__, steps=3)
    p.add_argument("--rounds", type=int, default=6)
    args = p.parse_args()
    cfg = step_args.config(args)
    step_args.print_header(cfg, args.vocab)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, 1-minute load {Path('/proc/loadavg').read_text().split()[0]}")
    for paradigm in ("ar", "mdlm"):
        r = compile_ab(cfg, paradigm, args.vocab, args.rounds, args.steps)
        q = r["ratio"]
        print(
            f"## {paradigm}: eager {r['median']['eager']:,.0f} tok/s, compiled {r['median']['compiled']:,.0f} tok/s "
            f"(medians of {r['rounds']} rounds); compiled/eager {q['ratio']:.3f} "
            f"[{q['lo']:.3f}, {q['hi']:.3f}] (paired, 95%); compile {r['compile_s']:.1f} s"
        )


if __name__ == "__main__":
    main()
