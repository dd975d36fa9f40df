"""The MDLM's validation bound is a Monte Carlo estimate: its standard error at the smoke size."""

import json

import pytest

from arche import load_config
from arche.train import train


@pytest.mark.slow
def test_smoke_nelbo_standard_error_is_under_a_hundredth(tmp_path, capsys):
    # The smoke profile as the pipeline runs it (controlled protocol: the NELBO is the loss).
    cfg = load_config("smoke", protocol="controlled", device="cpu")
    train(cfg, "mdlm", tmp_path / "mdlm", log=lambda *_: None)
    evals = [
        json.loads(line)
        for line in (tmp_path / "mdlm" / "metrics.jsonl").read_text().splitlines()
        if "val_nelbo" in line
    ]
    last = evals[-1]
    with capsys.disabled():
        print(
            f"\nsmoke MDLM: NELBO {last['val_nelbo']:.4f} +- {last['val_nelbo_se']:.4f} (s.e., "
            f"{cfg.eval_draws} draws x {cfg.eval_batches} batches); first eval {evals[0]['val_nelbo']:.4f} "
            f"+- {evals[0]['val_nelbo_se']:.4f}"
        )
    assert all(0 < e["val_nelbo_se"] < 0.01 for e in evals)
    assert last["val_loss_se"] == last["val_nelbo_se"]
