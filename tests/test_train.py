"""The training loop: metrics, SIGKILL-and-resume bit-exactness, atomic checkpoints, refusals."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY, tiny_config
from safetensors.torch import load_file

from arche import checkpoint
from arche.model import build_model
from arche.rundir import read_metrics
from arche.schedule import lr_at
from arche.train import TrainingError, train

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"tokens_per_s", "train_time_s", "eval_time_s"}


def quiet(*_):
    pass


def _cli_args(cfg_overrides):
    return [f"--set={k}={v}" for k, v in cfg_overrides.items()]


def _deterministic(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def test_metrics_and_checkpoints_are_written(tmp_path):
    cfg = tiny_config()
    summary = train(cfg, "mdlm", tmp_path / "run", data_dir=tmp_path / "data", log=quiet)
    recs = read_metrics(tmp_path / "run")
    assert [r["step"] for r in recs] == [2, 4, 6, 8, 10, 12]
    for r in recs:
        assert {"step", "train_loss", "lr", "tokens_per_s"} <= set(r)
    evals = [r for r in recs if "val_loss" in r]
    assert [r["step"] for r in evals] == [4, 8, 12]
    assert {"val_masked_mean", "val_nelbo", "val_ppl_bound"} <= set(evals[0])
    assert (tmp_path / "run/last.safetensors").exists() and (tmp_path / "run/best.safetensors").exists()
    assert summary["steps"] == 12 and summary["best_step"] in (4, 8, 12)


def test_lr_schedule_warmup_then_cosine_to_five_percent():
    cfg = tiny_config(steps=100, warmup_steps=10, lr=1e-3)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(100, cfg) == pytest.approx(5e-5)
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(10, 100))


@pytest.mark.parametrize("paradigm", ["ar", "mdlm"])
@pytest.mark.slow
def test_sigkill_and_resume_is_bit_exact(tmp_path, paradigm):
    shape = ("n_tokens", "d_model", "n_layers", "n_heads", "d_ff", "seq_len", "batch_size", "warmup_steps")
    over = dict(steps=80, checkpoint_every=5, log_every=1, eval_every=10, eval_batches=2, **{k: TINY[k] for k in shape})
    cmd = [
        sys.executable,
        "-m",
        "arche",
        "train",
        paradigm,
        "--profile",
        "smoke",
        *_cli_args(over),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(cmd + ["--run-dir", str(tmp_path / "straight")], check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    interrupted_at = []
    # Kill at three different moments: after the first, third and fifth checkpoint appeared.
    for target in (1, 3, 5):
        proc = subprocess.Popen(
            cmd + ["--run-dir", str(killed)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            recs = read_metrics(killed) if (killed / "metrics.jsonl").exists() else []
            if recs and recs[-1]["step"] >= 5 * target + 1:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        interrupted_at.append(checkpoint.read_state(killed / "last.safetensors")["step"])
    assert interrupted_at == sorted(interrupted_at) and interrupted_at[-1] < 80
    subprocess.run(cmd + ["--run-dir", str(killed)], check=True, env=env, capture_output=True)

    a, b = load_file(tmp_path / "straight/last.safetensors"), load_file(killed / "last.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert _deterministic(read_metrics(tmp_path / "straight")) == _deterministic(read_metrics(killed))


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    cfg = tiny_config()
    model = build_model(cfg, "ar", vocab_size=20)
    path = tmp_path / "last.safetensors"
    checkpoint.save(path, model, {"step": 1})

    def dies_mid_write(filename, blob):
        Path(filename).write_bytes(bytes(blob)[:11])
        raise KeyboardInterrupt("killed during write")

    monkeypatch.setattr(checkpoint, "write_new", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, model, {"step": 2})
    assert checkpoint.load(path, build_model(cfg, "ar", vocab_size=20))["step"] == 1


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    import arche.train as train_mod

    calls = {"n": 0}
    real = train_mod.ar_loss_sum

    def poisoned(model, tokens):
        calls["n"] += 1
        s, n = real(model, tokens)
        return (s * float("nan") if calls["n"] > 7 else s), n

    monkeypatch.setattr(train_mod, "ar_loss_sum", poisoned)
    with pytest.raises(TrainingError, match="non-finite"):
        train(tiny_config(), "ar", tmp_path / "run", data_dir=tmp_path / "data", log=quiet)
    state = checkpoint.read_state(tmp_path / "run/last.safetensors")
    assert state["step"] == 6
    weights = load_file(tmp_path / "run/last.safetensors")
    assert all(torch.isfinite(v).all() for k, v in weights.items() if k.startswith("model."))


def test_mismatched_resume_is_refused(tmp_path):
    cfg = tiny_config(steps=3, checkpoint_every=3, eval_every=3)
    train(cfg, "ar", tmp_path / "run", data_dir=tmp_path / "data", log=quiet)
    with pytest.raises(ValueError, match="cannot be resumed as MDLM"):
        train(cfg, "mdlm", tmp_path / "run", data_dir=tmp_path / "data", log=quiet)
    with pytest.raises(ValueError, match="lr"):
        train(cfg.replace(lr=1e-2), "ar", tmp_path / "run", data_dir=tmp_path / "data", log=quiet)
    # A resumable key (device) may change; a finished run just reports itself complete.
    out = train(cfg.replace(device="cpu", log_every=1), "ar", tmp_path / "run", data_dir=tmp_path / "data", log=quiet)
    assert out["steps"] == 3


@pytest.mark.slow
def test_cli_rejects_unknown_override_before_any_work(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "arche", "train", "ar", "--set", "no_such_key=1", "--run-dir", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode != 0 and "no_such_key" in proc.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_cli_params_prints_exact_counts():
    out = subprocess.run(
        [sys.executable, "-m", "arche", "params", "--profile", "paper"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    counts = json.loads(out)
    assert counts["ar"] == 123_551_232 and counts["mdlm"] == 162_739_968
