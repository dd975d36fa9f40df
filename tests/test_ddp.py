"""DistributedDataParallel on CPU (gloo): 2 processes compute what 1 process computes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY
from safetensors.torch import load_file

from arche import checkpoint
from arche.rundir import read_metrics

ROOT = Path(__file__).resolve().parents[1]
SHAPE = ("n_tokens", "d_model", "n_layers", "n_heads", "d_ff", "seq_len", "batch_size", "warmup_steps", "eval_batches")
OVER = dict(steps=16, checkpoint_every=4, log_every=2, eval_every=8, **{k: TINY[k] for k in SHAPE})


def _cmd(paradigm, run_dir, data_dir, nproc):
    launcher = (
        [sys.executable, "-m", "arche"]
        if nproc == 1
        else [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "arche"]
    )
    return launcher + [
        "train",
        paradigm,
        "--profile",
        "smoke",
        *[f"--set={k}={v}" for k, v in OVER.items()],
        "--run-dir",
        str(run_dir),
        "--data-dir",
        str(data_dir),
    ]


ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _assert_close_runs(a_dir, b_dir):
    a, b = load_file(a_dir / "last.safetensors"), load_file(b_dir / "last.safetensors")
    for k in a:
        if k.startswith("model."):
            assert torch.allclose(a[k], b[k], rtol=1e-3, atol=1e-4), k
    ma, mb = read_metrics(a_dir), read_metrics(b_dir)
    assert [r["step"] for r in ma] == [r["step"] for r in mb]
    for ra, rb in zip(ma, mb):
        assert ra["train_loss"] == pytest.approx(rb["train_loss"], rel=1e-4)
        if "val_loss" in ra:
            assert ra["val_loss"] == pytest.approx(rb["val_loss"], rel=1e-4)


@pytest.mark.parametrize("paradigm", ["ar", "mdlm"])
@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path, paradigm):
    subprocess.run(_cmd(paradigm, tmp_path / "one", tmp_path / "data", 1), check=True, env=ENV, capture_output=True)
    proc = subprocess.run(
        _cmd(paradigm, tmp_path / "two", tmp_path / "data", 2), env=ENV, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_close_runs(tmp_path / "one", tmp_path / "two")
    # Only rank 0 writes: one line per logged step, not two.
    assert len(read_metrics(tmp_path / "two")) == OVER["steps"] // OVER["log_every"]


@pytest.mark.slow
def test_ddp_run_killed_and_resumed_matches(tmp_path):
    subprocess.run(_cmd("mdlm", tmp_path / "one", tmp_path / "data", 1), check=True, env=ENV, capture_output=True)
    cmd = _cmd("mdlm", tmp_path / "two", tmp_path / "data", 2)
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (tmp_path / "two/last.safetensors").exists():
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both workers
    proc.wait()
    assert checkpoint.read_state(tmp_path / "two/last.safetensors")["step"] < OVER["steps"]
    subprocess.run(cmd, check=True, env=ENV, capture_output=True)
    _assert_close_runs(tmp_path / "one", tmp_path / "two")
