"""MDLM sampler speed before and after the speed work, on the replica shape, same tokens checked.

"before" is the previous implementation kept in tests/test_sampler_equivalence.py (`_reference`);
"after" is arche.denoise.sample_mdlm. Random-init weights (speed does not depend on them), with the
head scaled so that tokens repeat (the repetition penalty has work to do). Runs `--rounds` rounds of
a `--steps`-step schedule (each round is one forward pass plus the draw), asserts both give the same
tokens, and prints samples/s projected to the full schedule. One JSON line per measurement.

    python benchmarks/bench_sampler_speed.py --n 100 --steps 100 --rounds 5
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from test_sampler_equivalence import SETTINGS, _ref_confidence, _ref_published  # noqa: E402

from arche import build_model, load_config  # noqa: E402
from arche.denoise import run_mdlm  # noqa: E402
from arche.scaling import SAMPLE_VOCAB  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5, help="rounds timed, of the --steps schedule")
    p.add_argument("--samplers", default="confidence,published")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config("replica", vocab_size=SAMPLE_VOCAB, sample_length=129, device="cpu")
    torch.manual_seed(0)
    model = build_model(cfg, "mdlm").eval()
    with torch.no_grad():
        model.head.weight.mul_(20.0)
    length, prefix = 128, [SAMPLE_VOCAB - 1]
    # A canvas as it is `rounds` rounds before the end of a `steps`-step schedule would differ; we
    # time the FIRST `rounds` rounds (the most masked, so the most expensive draws) and scale.
    for prec in args.precisions.split(","):
        ac = torch.autocast("cpu", dtype=torch.bfloat16) if prec == "bf16" else torch.autocast("cpu", enabled=False)
        for sampler in args.samplers.split(","):
            out = {}
            for impl in ("before", "after"):
                canvas = torch.full((args.n, length), model.mask_id, dtype=torch.long)
                gen = torch.Generator().manual_seed(0)
                prefix_t = torch.tensor(prefix).reshape(1, -1)
                load = os.getloadavg()[0]
                with torch.no_grad(), ac:
                    t0 = time.perf_counter()
                    if impl == "before":
                        # `rounds` rounds of the schedule: the reference with steps=rounds draws the same
                        # number of forward passes; per-round cost is what is compared.
                        if sampler == "published":
                            tokens = _ref_published(model, prefix_t, canvas, args.rounds, gen)
                        else:
                            tokens = _ref_confidence(model, prefix_t, canvas, args.rounds, gen, **SETTINGS[sampler])
                    else:
                        tokens = run_mdlm(model, prefix, canvas, sampler, args.rounds, 0, None, None, None, {})
                    wall = time.perf_counter() - t0
                out[impl] = tokens
                per_round = wall / args.rounds
                projected = per_round * args.steps
                print(
                    json.dumps(
                        {
                            "bench": "mdlm_sampler",
                            "impl": impl,
                            "sampler": sampler,
                            "precision": prec,
                            "n": args.n,
                            "length": length,
                            "rounds_timed": args.rounds,
                            "wall_s": round(wall, 2),
                            "s_per_round": round(per_round, 3),
                            "projected_samples_per_s_at_steps": round(args.n / projected, 3),
                            "steps": args.steps,
                            "d_model": cfg.d_model,
                            "n_layers": cfg.n_layers,
                            "vocab": SAMPLE_VOCAB,
                            "threads": args.threads,
                            "load_avg_1m": round(load, 2),
                            "load_avg_1m_after": round(os.getloadavg()[0], 2),
                        }
                    ),
                    flush=True,
                )
            assert torch.equal(out["before"], out["after"]), "before and after drew different tokens"


if __name__ == "__main__":
    main()
