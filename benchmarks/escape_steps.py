"""Each run's plateau-escape step and final bound, from a run directory's metrics before its analysis exists,
beside the same from an earlier results.json (a before/after table of a re-run; not a speed figure).

    python benchmarks/escape_steps.py RUN_DIR [--before results/replica.json]

The escape step is arche.objectives.escape_step (the first evaluation whose bound is two standard errors below
the baseline); the baseline for both columns is the run's own unigram cross-entropy (arche.objectives.
unigram_cross_entropy on each protocol's data), so the columns differ only by the runs.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from arche.batches import TokenData  # noqa: E402
from arche.objectives import escape_step, unigram_cross_entropy  # noqa: E402


def bound_key(paradigm_or_arm: str) -> str:
    return "val_nll" if paradigm_or_arm == "ar" else "val_nelbo"


def after(run: Path) -> tuple[dict, dict]:
    """{(protocol, arm, seed): (escape step, final bound)} of every trained arm, and each protocol's baseline."""
    rows, baselines = {}, {}
    protocols = [p for p in run.iterdir() if (p / "data" / "manifest.json").exists() and p.name != "judges"]
    for proto_dir in sorted(protocols):
        data = TokenData(proto_dir / "data")
        base = baselines[proto_dir.name] = unigram_cross_entropy(
            data.train, data.val, data.codec.vocab_size, data.seq_len
        )
        for arm_dir in sorted(proto_dir.glob("*_s*")):
            arm, seed = arm_dir.name.rsplit("_s", 1)
            lines = (arm_dir / "metrics.jsonl").read_text().splitlines()
            curve = [r for r in map(json.loads, lines) if "val_loss" in r]
            if curve:
                key = bound_key("ar" if arm == "ar" else "mdlm")
                rows[(proto_dir.name, arm, int(seed))] = (escape_step(curve, base, key), curve[-1][key])
    return rows, baselines


def before(results: dict, baselines: dict) -> dict:
    rows = {}
    for r in results["runs"]:
        if r["protocol"] in baselines:
            key = bound_key(r["paradigm"])
            rows[(r["protocol"], r["arm"], r["seed"])] = (
                escape_step(r["curve"], baselines[r["protocol"]], key),
                r["curve"][-1][key],
            )
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--before", help="an earlier results.json of the same study")
    args = p.parse_args()
    new, baselines = after(Path(args.run_dir))
    old = before(json.loads(Path(args.before).read_text()), baselines) if args.before else {}
    print("unigram baseline (nats/token):", {k: round(v, 3) for k, v in baselines.items()})
    print("| protocol | arm | seed | escape step before | escape step after | final bound before | final bound after |")
    print("|---|---|---|---|---|---|---|")

    def fmt(v):
        return "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    for k in sorted(set(old) | set(new)):
        (eb, fb), (ea, fa) = old.get(k, (None, None)), new.get(k, (None, None))
        print(f"| {k[0]} | {k[1]} | {k[2]} | {fmt(eb)} | {fmt(ea)} | {fmt(fb)} | {fmt(fa)} |")


if __name__ == "__main__":
    main()
