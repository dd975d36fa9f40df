"""bf16 autocast on CPU trains the same model as fp32, within a stated tolerance.

The replica profile trains with precision="bf16" on CPU (faster matmuls where the CPU has
AVX512-BF16/AMX; elsewhere it runs fp32, arche.device). Same seed, same data, same steps: every
logged training loss and every validation loss of the bf16 run stays within TOLERANCE nats/token
of the fp32 run, and both fall.
"""

import json

import pytest
from conftest import tiny_config

from arche import device
from arche.train import train

TOLERANCE = 0.05  # nats/token, absolute, at every logged step (losses start near ln(vocab) ~ 6.9)


def _curve(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return (
        {r["step"]: r["train_loss"] for r in rows if "train_loss" in r},
        {r["step"]: r["val_loss"] for r in rows if "val_loss" in r},
    )


@pytest.mark.parametrize("paradigm", ["ar", "mdlm"])
@pytest.mark.slow
def test_bf16_loss_curve_matches_fp32(tmp_path, monkeypatch, paradigm):
    # Real bf16 arithmetic even on a CPU without native bf16, where a run would take fp32 (arche.device):
    # emulated, it is slow but computes the same numbers, and the tolerance is what is under test.
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: True)
    curves = {}
    for precision in ("fp32", "bf16"):
        cfg = tiny_config(
            precision=precision, device="cpu", steps=12, eval_every=4, log_every=2, checkpoint_every=12, lr=3e-3
        )
        train(cfg, paradigm, tmp_path / precision, data_dir=tmp_path / "data", log=lambda *a: None)
        curves[precision] = _curve(tmp_path / precision)
    for kind in (0, 1):  # train, val
        fp32, bf16 = curves["fp32"][kind], curves["bf16"][kind]
        assert fp32.keys() == bf16.keys() and fp32
        worst = max(abs(fp32[s] - bf16[s]) for s in fp32)
        assert worst < TOLERANCE, f"{paradigm} {'train' if kind == 0 else 'val'} loss: bf16 - fp32 up to {worst:.4f}"
        steps = sorted(fp32)
        assert bf16[steps[-1]] < bf16[steps[0]], "the bf16 run did not learn"
