"""A study's wall time from what its run directory recorded: data preparation, training (each trunk once, each
forked branch from its fork on), evaluations, sample sets and the analysis, with no model counted twice.

    python benchmarks/study_wall_time.py RUN_DIR [--json]

A branch forked from a trunk (arche.rundir.fork, the repetition study) carries the trunk's metrics rows and
train_time up to the fork; only what it trained after the fork is its own (exactly, from the train time its fork
recorded; for runs forked before fork recorded it, from the last logged row before the fork, which counts up to
one logging window twice). Recorded times are those of a shared machine: they include the time the run was
paused (SIGSTOP) or shared the cores; work lost to a kill and redone after a resume is not counted (train_time
resumes from the checkpoint, and rows past it are dropped here as on resume). Not counted at all: checkpoint
writes, loading models before sampling, notebook and kernel start-up; the stages' own seconds (01_data,
05_analysis) are their last attempt's, from pipeline_state.json. The second estimate counts each model's
training tokens at the median speed of its own logged windows (paused windows are the slow tail the median
ignores; the first window after a fork or a resume, whose speed is overstated, is left out), the rest as recorded.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from arche import checkpoint  # noqa: E402
from arche.io import read_jsonl  # noqa: E402


def end_state(model_dir: Path) -> dict:
    """The state of a model's last checkpoint (where it stopped, its train_time, its fork, its config); {} before
    its first (best.safetensors would give the best step's, not the end's)."""
    last = model_dir / "last.safetensors"
    return checkpoint.read_state(last) if last.exists() else {}


def model_time(model_dir: Path) -> dict:
    """One model's own training: the seconds, steps and tokens after its fork (none for a run not forked), its
    evaluations, its median speed; up to its last checkpoint."""
    rows = read_jsonl(model_dir / "metrics.jsonl") or []
    state = end_state(model_dir)
    fork = state.get("forked_from") or {}
    start = fork.get("step", 0)
    end = state.get("step", rows[-1]["step"] if rows else 0)
    cfg = state.get("config") or json.loads((model_dir / "config.json").read_text())
    before = [r for r in rows if r["step"] <= start]
    own = [r for r in rows if start < r["step"] <= end]
    t_start = fork.get("train_time", before[-1]["train_time_s"] if before else 0.0)
    t_end = state.get("train_time", own[-1]["train_time_s"] if own else t_start)
    speeds = [r["tokens_per_s"] for r in own[1:] if r.get("tokens_per_s")]
    return {
        "dir": str(model_dir),
        "forked": "forked_from" in state,
        "forked_at": start,
        "steps": end - start,
        "tokens": (end - start) * cfg["batch_size"] * cfg["seq_len"],
        "train_s": t_end - t_start,
        "eval_s": sum(r.get("eval_time_s", 0.0) for r in own),
        "median_tok_s": statistics.median(speeds) if speeds else None,
    }


def sample_time(run: Path) -> list[dict]:
    """Each sample set's recorded wall time: every .jsonl file but the metrics whose records carry `wall_time_s`
    (samples.jsonl, samples_prompted.jsonl, frontier_*.jsonl, ...; each record holds its whole set's)."""
    out = []
    for path in sorted(q for q in run.rglob("*.jsonl") if q.name != "metrics.jsonl"):
        first = next(iter(read_jsonl(path)), None)
        if first is not None and "wall_time_s" in first:
            out.append({"file": str(path.relative_to(run)), "wall_s": first["wall_time_s"]})
    return out


def study_time(run: Path) -> dict:
    models = [model_time(p.parent) for p in sorted(run.rglob("metrics.jsonl"))]
    samples = sample_time(run)
    train_s = sum(m["train_s"] for m in models)
    eval_s = sum(m["eval_s"] for m in models)
    sample_s = sum(s["wall_s"] for s in samples)
    # a model with no speed row past its first (a very short one) is counted as recorded
    at_median = sum(m["tokens"] / m["median_tok_s"] if m["median_tok_s"] else m["train_s"] for m in models)
    state = json.loads((run / "pipeline_state.json").read_text()) if (run / "pipeline_state.json").exists() else {}
    stages = {k: (state.get("stages", {}).get(k) or {}).get("seconds", 0.0) for k in ("01_data", "05_analysis")}
    return {
        "run_dir": str(run),
        "models": models,
        "samples": samples,
        "tokens": sum(m["tokens"] for m in models),
        "recorded_s": {
            "data": stages["01_data"],
            "training": train_s,
            "evaluations": eval_s,
            "sampling": sample_s,
            "analysis": stages["05_analysis"],
        },
        "recorded_total_s": train_s + eval_s + sample_s + sum(stages.values()),
        "at_median_speed_total_s": at_median + eval_s + sample_s + sum(stages.values()),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--json", action="store_true", help="print the whole record as JSON")
    args = p.parse_args()
    t = study_time(args.run_dir)
    if args.json:
        print(json.dumps(t, indent=2))
        return
    trained = [m for m in t["models"] if m["steps"]]
    forked = sum(1 for m in trained if m["forked"])
    print(f"# {t['run_dir']}: {len(trained)} models trained ({forked} forked), {t['tokens'] / 1e6:,.1f}M tokens")
    for part, s in t["recorded_s"].items():
        print(f"{part:12} {s:10,.0f} s  ({s / 3600:.2f} h) recorded")
    print(f"{'all':12} {t['recorded_total_s']:10,.0f} s  ({t['recorded_total_s'] / 3600:.2f} h) recorded")
    s = t["at_median_speed_total_s"]
    print(f"{'all':12} {s:10,.0f} s  ({s / 3600:.2f} h) training at each model's median logged speed")


if __name__ == "__main__":
    main()
