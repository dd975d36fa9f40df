"""The GPU suite (benchmarks/gpu_suite.py) runs its whole code path before any GPU exists: --dry-run, the
same sections at a tiny shape on CPU, where a killed and resumed run must end bit-identical."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_suite_dry_run_runs_every_section(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--dry-run", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert report["dry_run"] is True
    for name in ("training", "training_compiled", "sampling", "resume_ar", "resume_mdlm", "projection"):
        assert report[name]["ok"], report[name]
    assert {r["model"] for r in report["training"]["result"]} == {"ar", "mdlm", "mdlm_tied"}
    assert all(r["tokens_per_s"] > 0 for r in report["training"]["result"])
    assert {r["sampler"] for r in report["sampling"]["result"]} >= {"kv-cache", "ancestral", "published"}
    for paradigm in ("ar", "mdlm"):
        resumed = report[f"resume_{paradigm}"]["result"]
        assert resumed["interrupted"], resumed  # killed before its last step, then resumed
        assert resumed["bit_identical"], resumed  # on a CPU, a resumed run ends where an uninterrupted one does
        assert resumed["noise_floor"] == 0.0, resumed  # and two uninterrupted runs end identical
    assert "projected" in report["projection"]["result"]["label"]
    assert "## resume_mdlm" in (tmp_path / "gpu_suite.md").read_text()

    # A rerun of one part after a fix keeps the others from the earlier report, each saying so.
    rerun = tmp_path / "rerun"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--dry-run", "--only", "projection",
         "--previous", str(tmp_path / "gpu_suite.json"), "--out", str(rerun)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    again = json.loads((rerun / "gpu_suite.json").read_text())
    assert again["training"]["from_run_of"] == report["date"] and "from_run_of" not in again["projection"]
    assert again["training"]["plan_of_run"] == report["plan"]  # what the carried part ran under
    assert again["training"]["result"] == report["training"]["result"]


@pytest.mark.slow
def test_a_spent_budget_skips_every_section_and_still_writes_the_report(tmp_path):
    """A lent GPU's time is fixed: no part starts after --budget-s, and the report says which were skipped."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--dry-run", "--budget-s", "0",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # skipped parts count as not done
    report = json.loads((tmp_path / "gpu_suite.json").read_text())
    for name in ("training", "sampling", "resume_ar", "resume_mdlm", "training_compiled"):
        assert report[name]["ok"] is False and "skipped" in report[name]["error"], report[name]
    assert report["projection"]["ok"]  # it costs nothing, so it is never skipped for time
    assert "_deadline" not in report and "skipped" in (tmp_path / "gpu_suite.md").read_text()
