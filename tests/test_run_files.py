"""Nothing lost, nothing silent (issue 15), part 3: run files that survive a kill at their write (kills injected
at the write itself, not left to timing), detected corruption of token files and checkpoints, and the config
kept in the checkpoint."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import tiny_config, tiny_sets
from reliability_helpers import ENV, cli, deterministic, one_error_line, quiet, same_weights, train_tiny

import arche.train as train_mod
from arche import checkpoint
from arche.checkpoint import CheckpointError
from arche.data import DataError, prepare
from arche.model import build_model
from arche.rundir import RunDirError, read_metrics

# --------------------------------------------------------------------------- 3. run files and a kill at their write


# Runs `python -m arche ...` and SIGKILLs itself in the middle of the first write (not append) to a file
# named argv[1] or argv[1] + ".tmp": half the bytes are written, then the process dies.
KILL_AT_WRITE = r"""
import builtins, io, os, signal, sys
from pathlib import Path
target = sys.argv[1]
real_open = io.open

class Dying:
    def __init__(self, f): self.f = f
    def write(self, data):
        self.f.write(data[: len(data) // 2]); self.f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    def __getattr__(self, name): return getattr(self.f, name)
    def __enter__(self): return self
    def __exit__(self, *exc): self.f.close()

def killing_open(file, mode="r", *args, **kwargs):
    f = real_open(file, mode, *args, **kwargs)
    name = Path(os.fsdecode(file)).name if isinstance(file, (str, bytes, os.PathLike)) else ""
    if ("w" in mode or "x" in mode) and name in (target, target + ".tmp"):
        return Dying(f)
    return f

builtins.open = io.open = killing_open
from arche.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


def _killed_at_write(target, *args):
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT_WRITE, target, *args], env=ENV, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == -9, proc.stderr[-3000:]  # it did die at the write


@pytest.mark.parametrize("target", ["config.json", "metrics.jsonl"])
@pytest.mark.slow
def test_kill_at_a_run_file_write_loses_nothing(tmp_path, target):
    run, data = tmp_path / "run", tmp_path / "data"
    args = ["train", "ar", "--run-dir", str(run), "--data-dir", str(data)]
    assert cli(*args, *tiny_sets()).returncode == 0
    before = {name: (run / name).read_bytes() for name in ("config.json", "metrics.jsonl")}
    # A restart with the same settings writes nothing at all (here: any write would kill it).
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT_WRITE, target, *args, *tiny_sets()],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "already complete" in proc.stdout + proc.stderr
    # Force the write, then die in the middle of it: a changed resumable key rewrites config.json,
    # a stray row past the checkpoint makes the start rewrite metrics.jsonl.
    if target == "metrics.jsonl":
        with open(run / "metrics.jsonl", "a") as f:
            f.write('{"step": 13, "train_loss": 1.0}\n{"step": 1')
    _killed_at_write(target, *args, *tiny_sets(log_every=1 if target == "config.json" else 2))
    after = json.loads(
        (run / target).read_text().splitlines()[0] if target == "metrics.jsonl" else (run / target).read_text()
    )  # still whole, parseable
    assert after
    if target == "config.json":
        assert (run / "config.json").read_bytes() == before["config.json"]
    # The next start (its lock left by the killed process is taken over) puts everything right.
    proc = cli(*args, *tiny_sets())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "stale lock" in proc.stdout and "already complete" in proc.stdout
    assert {name: (run / name).read_bytes() for name in before} == before
    assert not (run / ".lock").exists()


def test_damaged_or_deleted_run_files_are_rebuilt_from_the_checkpoint(tmp_path):
    train_tiny(tmp_path)
    run = tmp_path / "run"
    before = {name: (run / name).read_bytes() for name in ("config.json", "metrics.jsonl")}
    (run / "config.json").write_text("")
    (run / "metrics.jsonl").write_text("")
    lines = []
    assert train_tiny(tmp_path, log=lines.append)["steps"] == 12
    assert any("config.json is damaged" in line for line in lines)
    assert any("rewritten from the checkpoint" in line for line in lines)
    assert {name: (run / name).read_bytes() for name in before} == before
    (run / "metrics.jsonl").unlink()
    train_tiny(tmp_path)
    assert (run / "metrics.jsonl").read_bytes() == before["metrics.jsonl"]


@pytest.mark.slow
def test_sample_names_a_damaged_config_json(tmp_path):
    train_tiny(tmp_path)
    (tmp_path / "run" / "config.json").write_text("")
    proc = cli("sample", "ar", "--run-dir", str(tmp_path / "run"), *tiny_sets(n_samples=4, sample_batch_size=4))
    one_error_line(proc, "config.json is damaged")


def test_metrics_file_deleted_during_training_comes_back_whole(tmp_path, monkeypatch):
    train_tiny(tmp_path, run="straight")
    real = train_mod._progress_line

    def deletes_the_file(paradigm, rec, cfg, state):
        if rec["step"] == 6:
            (tmp_path / "run" / "metrics.jsonl").unlink()
        return real(paradigm, rec, cfg, state)

    monkeypatch.setattr(train_mod, "_progress_line", deletes_the_file)
    lines = []
    train_tiny(tmp_path, log=lines.append)
    assert deterministic(read_metrics(tmp_path / "run")) == deterministic(read_metrics(tmp_path / "straight"))
    assert any("lacked rows" in line for line in lines)


def test_kill_between_checkpoint_rotation_and_rename_resumes_bit_exactly(tmp_path, monkeypatch):
    """save() renames last -> prev, then tmp -> last; a kill between the two leaves no last."""
    train_tiny(tmp_path, run="straight")
    real, calls = os.replace, []

    def dies_after_rotation(src, dst):
        run = tmp_path / "run"
        if (
            str(src).endswith("last.safetensors.tmp")
            and (run / "prev.safetensors").exists()
            and not (run / "last.safetensors").exists()
        ):
            calls.append(dst)
            raise KeyboardInterrupt("killed between the two renames")
        real(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", dies_after_rotation)
    with pytest.raises(KeyboardInterrupt):
        train_tiny(tmp_path, steps=12, checkpoint_every=3)  # the first save has no last to rotate; the second dies
    monkeypatch.setattr(checkpoint.os, "replace", real)
    run = tmp_path / "run"
    assert calls and not (run / "last.safetensors").exists()
    assert checkpoint.read_state(run / "prev.safetensors")["step"] == 3
    lines = []
    train_tiny(tmp_path, log=lines.append)
    assert any("resuming" in line and "from step 3" in line for line in lines)
    same_weights(tmp_path / "straight" / "last.safetensors", run / "last.safetensors")
    assert deterministic(read_metrics(run)) == deterministic(read_metrics(tmp_path / "straight"))


# --------------------------------------------------------------------------- 6. corruption


def test_prepare_rebuilds_a_damaged_token_file_and_refuses_a_changed_source(tmp_path, stories_file):
    cfg = tiny_config(source=str(stories_file), n_tokens=3_000)
    prepare(cfg, tmp_path / "d", log=quiet)
    good = (tmp_path / "d" / "train.bin").read_bytes()
    damaged = bytearray(good)
    damaged[10] ^= 0xFF
    (tmp_path / "d" / "train.bin").write_bytes(bytes(damaged))
    said = []
    prepare(cfg, tmp_path / "d", log=said.append)
    assert any("train.bin" in s and "sha256" in s for s in said)
    assert (tmp_path / "d" / "train.bin").read_bytes() == good
    with open(stories_file, "a") as f:
        f.write(json.dumps({"text": "A new story that was not there before."}) + "\n")
    with pytest.raises(DataError, match="changed since"):
        prepare(cfg, tmp_path / "d", log=quiet)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_last_checkpoint_falls_back_to_the_previous_one(tmp_path, damage):
    train_tiny(tmp_path, run="straight")
    train_tiny(tmp_path, steps=12)
    run = tmp_path / "run"
    blob = bytearray((run / "last.safetensors").read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    else:
        blob[-100] ^= 0x01  # one bit in the tensor data: the header still reads fine
    (run / "last.safetensors").write_bytes(bytes(blob))
    # Resumed from prev (step 9), the run ends exactly where the straight one did.
    with pytest.raises(CheckpointError, match="last.safetensors is damaged"):
        checkpoint.load(run / "last.safetensors", build_model(tiny_config(), "ar", vocab_size=999))
    lines = []
    train_tiny(tmp_path, log=lines.append)
    assert any("last.safetensors is damaged" in line and "resuming from prev.safetensors" in line for line in lines)
    assert (run / "last.safetensors.damaged").exists()
    same_weights(tmp_path / "straight" / "last.safetensors", run / "last.safetensors")
    assert deterministic(read_metrics(run)) == deterministic(read_metrics(tmp_path / "straight"))


@pytest.mark.slow
def test_no_good_checkpoint_left_is_one_clear_error(tmp_path):
    train_tiny(tmp_path)
    run = tmp_path / "run"
    for name in ("last.safetensors", "prev.safetensors"):
        (run / name).write_bytes((run / name).read_bytes()[:1000])
    proc = cli("train", "ar", "--run-dir", str(run), "--data-dir", str(tmp_path / "data"), *tiny_sets())
    one_error_line(proc, "cannot be resumed", "last.safetensors", "prev.safetensors", "train from scratch")


def test_a_nan_checkpoint_is_not_resumed_from(tmp_path):
    train_tiny(tmp_path, run="straight")
    train_tiny(tmp_path)
    run = tmp_path / "run"
    vocab_size = json.loads((run / "config.json").read_text())["vocab_size"]
    model = build_model(tiny_config(), "ar", vocab_size=vocab_size)
    opt = torch.optim.AdamW(model.parameters())
    state = checkpoint.load(run / "last.safetensors", model, opt)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    checkpoint.save(run / "last.safetensors", model, state, opt)  # a valid checksum over NaN weights
    lines = []
    train_tiny(tmp_path, log=lines.append)
    assert any("non-finite weights" in line for line in lines)
    same_weights(tmp_path / "straight" / "last.safetensors", run / "last.safetensors")


# --------------------------------------------------------------------------- 7. the checkpoint's own config


def test_deleting_config_json_does_not_skip_the_config_check(tmp_path):
    train_tiny(tmp_path, steps=12)
    (tmp_path / "run" / "config.json").unlink()
    with pytest.raises(RunDirError, match=r"steps: 12 -> 24.*per its last.safetensors"):
        train_tiny(tmp_path, steps=24, lr=1e-2)
    assert checkpoint.read_state(tmp_path / "run" / "last.safetensors")["step"] == 12
