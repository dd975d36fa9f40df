"""Optional experiment tracking (arche.tracking): the rows of metrics.jsonl, also in TensorBoard or W&B."""

import json
import sys
import types

import pytest
from conftest import tiny_config

from arche import tracking
from arche.train import train


@pytest.mark.slow
def test_tensorboard_gets_every_scalar_of_metrics_jsonl(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (requirements-cpu.txt installs it)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    train(tiny_config(log_to="tensorboard"), "mdlm", run, log=lambda *_: None)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    for key in ("train_loss", "lr", "val_nelbo"):
        logged = {e.step: e.value for e in events.Scalars(key)}
        expected = {r["step"]: r[key] for r in rows if key in r}
        assert logged.keys() == expected.keys() and expected
        assert all(logged[s] == pytest.approx(v, rel=1e-6) for s, v in expected.items())


def test_wandb_runs_offline_without_a_key_and_logs_the_same_rows(tmp_path, monkeypatch):
    calls = {"init": [], "log": [], "finish": 0}

    class FakeRun:
        def log(self, scalars, step):
            calls["log"].append((step, scalars))

        def finish(self):
            calls["finish"] += 1

    fake = types.ModuleType("wandb")
    fake.init = lambda **kw: calls["init"].append(kw) or FakeRun()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: object())
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run = tmp_path / "run"
    train(tiny_config(log_to="wandb"), "ar", run, log=lambda *_: None)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert calls["init"][0]["mode"] == "offline" and calls["init"][0]["resume"] == "allow"
    assert [step for step, _ in calls["log"]] == [r["step"] for r in rows] and calls["finish"] == 1
    assert calls["log"][-1][1]["val_nll"] == pytest.approx(rows[-1]["val_nll"])


def test_a_tracker_that_is_not_installed_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(tracking.TrackingError, match="log_to='wandb' needs the 'wandb' package: pip install wandb"):
        train(tiny_config(log_to="wandb"), "ar", tmp_path / "run", log=lambda *_: None)
    assert not (tmp_path / "run").exists()
