"""What the reliability tests share (tests/test_reliability.py, test_run_files.py, test_locks.py,
test_paper_builds.py): a tiny training run, the command line in a subprocess, and checks of one error line
and of identical weights and metrics."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import torch
from conftest import tiny_config
from nbformat.v4 import new_code_cell, new_notebook, new_output
from safetensors.torch import load_file

from arche import report
from arche.train import train

ROOT = Path(__file__).resolve().parents[1]


TIMING = {"tokens_per_s", "train_time_s", "eval_time_s"}


ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def quiet(*_):
    pass


def train_tiny(tmp_path, run="run", log=quiet, **over):
    return train(tiny_config(**over), "ar", tmp_path / run, data_dir=tmp_path / "data", log=log)


def deterministic(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def same_weights(a: Path, b: Path) -> None:
    x, y = load_file(a), load_file(b)
    assert x.keys() == y.keys()
    for k in x:
        assert torch.equal(x[k], y[k]), k


def cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "arche", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300
    )


def one_error_line(proc, *words):
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.startswith("error: "), proc.stderr[-3000:]
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)


def analysed_run(run: Path, name: str) -> Path:
    """A run directory with an executed 05_analysis notebook whose 'macros' cell defines \\RunName."""
    cell = new_code_cell("show_macros()", metadata={"tags": ["macros"]})
    cell.outputs = [
        new_output("display_data", data={"text/latex": report.macros_tex({"RunName": name}), "text/plain": name})
    ]
    (run / "notebooks").mkdir(parents=True)
    nbformat.write(new_notebook(cells=[cell]), run / "notebooks" / "05_analysis.ipynb")
    return run
