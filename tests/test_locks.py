"""Nothing lost, nothing silent (issue 15), part 4: locks on a run directory (a second train, sample or paper
refused while the first runs; stale locks taken over, live ones not; a heartbeat; prepare waits)."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from conftest import held_elsewhere, tiny_config, tiny_sets
from reliability_helpers import analysed_run, cli, one_error_line, quiet, train_tiny

from arche import runlock
from arche.data import prepare
from arche.rundir import read_metrics
from arche.runlock import LockedError, run_lock

# --------------------------------------------------------------------------- 4. locks


@pytest.mark.slow
def test_second_train_on_a_run_dir_is_refused_while_the_first_runs(tmp_path):
    run = tmp_path / "run"
    with held_elsewhere(run, "training ar"):  # this test process plays the first trainer
        proc = cli("train", "ar", "--run-dir", str(run), "--data-dir", str(tmp_path / "data"), *tiny_sets())
        one_error_line(proc, "is in use by training ar", f"pid {os.getpid()}")
        with pytest.raises(LockedError, match="in use"):
            train_tiny(tmp_path)  # the notebooks' path (papermill 02_train_ar) calls this
    assert not (run / "metrics.jsonl").exists()
    train_tiny(tmp_path)  # free again
    assert [r["step"] for r in read_metrics(run)] == [2, 4, 6, 8, 10, 12]  # no duplicated rows


@pytest.mark.slow
def test_sample_and_paper_take_the_lock_too(tmp_path):
    train_tiny(tmp_path)
    run = tmp_path / "run"
    analysed_run(tmp_path / "paperrun", "x")
    with run_lock(run, "training ar"), run_lock(tmp_path / "paperrun", "python -m arche run"):
        proc = cli("sample", "ar", "--run-dir", str(run), *tiny_sets(n_samples=4, sample_batch_size=4))
        one_error_line(proc, "is in use by training ar")
        one_error_line(cli("paper", "--run-dir", str(tmp_path / "paperrun")), "in use by python -m arche run")


def test_stale_locks_are_taken_over_and_live_ones_are_not(tmp_path, monkeypatch):
    import socket

    lock = tmp_path / "d" / ".lock"
    lock.parent.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(json.dumps({"token": "x", "host": socket.gethostname(), "pid": dead.pid, "what": "train"}))
    said = []
    with run_lock(lock.parent, "me", log=said.append):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert any(f"its process {dead.pid} on this host is gone" in s for s in said) and not lock.exists()

    lock.write_text(json.dumps({"token": "y", "host": "other-colab-runtime", "pid": 1, "what": "train"}))
    with pytest.raises(LockedError, match="other-colab-runtime"):  # heartbeat fresh: alive
        with run_lock(lock.parent, "me", log=quiet):
            pass
    old = time.time() - runlock.STALE_AFTER - 5
    os.utime(lock, (old, old))
    said.clear()
    with run_lock(lock.parent, "me", log=said.append):
        pass
    assert any("no heartbeat from other-colab-runtime" in s for s in said)

    lock.write_text("")  # killed between creating the lock file and writing it
    os.utime(lock, (old, old))
    with run_lock(lock.parent, "me", log=quiet):
        pass
    # Nested in one process (the runner building the paper of its own run): no deadlock, one file.
    with run_lock(lock.parent, "outer", log=quiet):
        with run_lock(lock.parent, "inner", log=quiet):
            assert json.loads(lock.read_text())["what"] == "outer"
        assert lock.exists()
    assert not lock.exists()


def test_heartbeat_keeps_a_long_lock_fresh(tmp_path, monkeypatch):
    monkeypatch.setattr(runlock, "HEARTBEAT", 0.05)
    with run_lock(tmp_path, "long job", log=quiet):
        old = time.time() - 1000
        os.utime(tmp_path / ".lock", (old, old))
        time.sleep(0.3)
        assert time.time() - (tmp_path / ".lock").stat().st_mtime < 5


@pytest.mark.slow
def test_second_prepare_waits_for_the_first(tmp_path):
    said = []
    with held_elsewhere(tmp_path / "data", "preparing data"):
        waiter = threading.Thread(
            target=prepare, args=(tiny_config(n_tokens=5_000), tmp_path / "data"), kwargs={"log": said.append}
        )
        waiter.start()
        time.sleep(1.0)
        assert not (tmp_path / "data" / "manifest.json").exists()
    waiter.join()
    assert any("waiting" in s for s in said) and (tmp_path / "data" / "manifest.json").exists()
