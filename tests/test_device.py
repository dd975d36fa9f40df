"""The device policy: precision auto, loss scaling, gradient accumulation, the CPU size guard, disk policy."""

import json

import pytest
import torch
from conftest import tiny_config

from arche import checkpoint, device
from arche.config import ConfigError
from arche.profiles import load_config
from arche.rundir import read_metrics
from arche.scaling import disk_bytes
from arche.train import train

CUDA = torch.device("cuda", 0)
CPU = torch.device("cpu")
quiet = dict(log=lambda *_: None)


@pytest.mark.parametrize(
    "precision,dev,bf16_ok,want",
    [
        ("auto", CUDA, True, "bf16"),  # A100 / H100 / L4
        ("auto", CUDA, False, "fp16"),  # T4 / V100: no bf16, fp16 with loss scaling
        ("auto", CPU, None, "fp32"),
        ("fp32", CUDA, True, "fp32"),  # an explicit choice is kept
        ("bf16", CUDA, True, "bf16"),
    ],
)
def test_precision_auto_picks_what_the_device_supports(precision, dev, bf16_ok, want):
    cfg = tiny_config(precision=precision)
    assert device.resolve_precision(cfg, dev, bf16_ok=bf16_ok) == want


@pytest.mark.parametrize("native,want", [(True, "bf16"), (False, "fp32")])
def test_cpu_bf16_runs_only_where_the_cpu_has_it(monkeypatch, native, want):
    # Emulated bf16 ran ~100x slower than fp32 on a CPU without AVX512-BF16 (benchmarks/RESULTS.md).
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: native)
    cfg = tiny_config(precision="bf16")
    assert device.resolve_precision(cfg, CPU) == want
    said = device.describe_precision(cfg, CPU)
    assert said.startswith(want) and (native or "no native bf16" in said)


def test_native_bf16_is_read_from_the_cpu_flags():
    avx2_only = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
    sapphire = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
    assert not device.cpu_has_native_bf16(avx2_only)
    assert device.cpu_has_native_bf16(sapphire)
    assert not device.cpu_has_native_bf16("")


def test_loss_scaling_is_on_for_fp16_only():
    assert device.grad_scaler(tiny_config(precision="fp16"), CPU).is_enabled()
    assert not device.grad_scaler(tiny_config(precision="bf16"), CPU).is_enabled()
    assert not device.grad_scaler(tiny_config(precision="fp32"), CPU).is_enabled()


def _losses(run_dir):
    return [r["train_loss"] for r in read_metrics(run_dir) if "train_loss" in r]


@pytest.mark.slow
@pytest.mark.parametrize("paradigm", ["ar", "mdlm"])
def test_gradient_accumulation_gives_the_loss_of_one_big_batch(tmp_path, paradigm):
    """grad_accum=4 runs each step as 4 micro-batches of 2: the same loss curve as 8 at once."""
    base = tiny_config(batch_size=8, mdlm_loss="elbo")
    one = train(base, paradigm, tmp_path / "one", tmp_path / "data", **quiet)
    four = train(base.replace(grad_accum=4), paradigm, tmp_path / "four", tmp_path / "data", **quiet)
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "four")
    assert len(a) == len(b) > 3
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4, (a, b)
    assert abs(one["best_val"] - four["best_val"]) < 1e-4


def test_grad_accum_must_split_the_batch():
    with pytest.raises(ConfigError, match="grad_accum"):
        tiny_config(batch_size=8, grad_accum=3)


@pytest.mark.slow
def test_fp16_with_loss_scaling_trains_like_fp32_on_cpu(tmp_path):
    """The fp16 path (autocast + GradScaler, what a T4 runs) on the CPU, and its resume: the scaler's
    state travels in the checkpoint."""
    fp32 = train(tiny_config(precision="fp32"), "ar", tmp_path / "fp32", tmp_path / "data", **quiet)
    fp16 = train(tiny_config(precision="fp16"), "ar", tmp_path / "fp16", tmp_path / "data", **quiet)
    assert abs(fp32["best_val"] - fp16["best_val"]) < 0.05
    state = checkpoint.read_state(tmp_path / "fp16" / "last.safetensors")
    assert state["grad_scaler"]["scale"] > 0


def test_a_paper_size_run_refuses_a_cpu_unless_forced():
    paper = load_config("paper")
    with pytest.raises(device.DeviceError, match="force_cpu=true") as err:
        device.check_fits(paper, CPU)
    assert "days" in str(err.value) and "GPU" in str(err.value)
    device.check_fits(paper.replace(force_cpu=True), CPU)  # forced: allowed
    device.check_fits(load_config("replica"), CPU)  # the CPU profiles fit
    device.check_fits(load_config("repetition"), CPU)


def test_train_refuses_before_any_work(tmp_path):
    cfg = load_config("paper", source="synthetic", n_tokens=20_000, device="cpu")
    with pytest.raises(device.DeviceError):
        train(cfg, "ar", tmp_path / "run", tmp_path / "data", **quiet)
    assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()


@pytest.mark.slow
def test_dropping_optimizer_state_keeps_one_weights_file_and_the_run_finished(tmp_path):
    cfg = tiny_config(keep_optimizer_state=False)
    summary = train(cfg, "mdlm", tmp_path / "run", tmp_path / "data", **quiet)
    files = sorted(p.name for p in (tmp_path / "run").glob("*.safetensors"))
    assert "prev.safetensors" not in files
    tensors = {name: checkpoint.read(tmp_path / "run" / name)[0] for name in files}
    holding = [name for name, t in tensors.items() if t]
    assert len(holding) == 1 and not any(k.startswith("optim.") for t in tensors.values() for k in t)
    weights = tensors[holding[0]]
    # what sampling loads (best, else last) is the best evaluation's weights
    from arche.generate import load_model

    model, *_ = load_model(tmp_path / "run")
    assert all(
        torch.equal(p.detach(), weights[f"model.{k}"]) for k, p in model.named_parameters() if f"model.{k}" in weights
    )
    again = train(cfg, "mdlm", tmp_path / "run", tmp_path / "data", **quiet)  # finished: nothing to do
    assert again["steps"] == summary["steps"] == cfg.steps
    assert json.loads((tmp_path / "run" / "config.json").read_text())["config"]["keep_optimizer_state"] is False


def test_the_disk_figure_of_the_paper_study():
    d = disk_bytes(load_config("paper_study"))
    assert d["models"] == {"ar": 7, "mdlm": 6, "mdlm_tied": 3}
    assert 123e6 < d["params"]["ar"] < 124e6  # the paper's 123.6M
    assert d["drop"] < 15e9 < d["keep"]  # the policy brings it under a free Drive's 15 GB


@pytest.mark.slow
def test_each_run_records_the_precision_it_trained_in(tmp_path, monkeypatch):
    from arche.study.analysis import precision_used

    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: False)
    cfg = tiny_config(precision="bf16", steps=4, checkpoint_every=4)
    train(cfg, "ar", tmp_path / "ar", tmp_path / "data", **quiet)
    assert json.loads((tmp_path / "ar" / "config.json").read_text())["precision"] == "fp32"
    assert precision_used(cfg, [tmp_path / "ar"]) == "fp32"
    saved = json.loads((tmp_path / "ar" / "config.json").read_text())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({**saved, "precision": "bf16"}))
    assert precision_used(cfg, [tmp_path / "ar", tmp_path / "other"]) == "mixed: bf16, fp32"


def test_a_clean_up_cut_short_by_a_kill_is_finished_on_the_next_run(tmp_path):
    # Issue 21, class 4: a kill right after the optimizer state was dropped left best/prev behind forever (the
    # resumed run returned "already complete" before the clean-up).
    import shutil

    cfg = tiny_config(keep_optimizer_state=False)
    run = tmp_path / "run"
    train(cfg, "ar", run, tmp_path / "data", **quiet)
    last = run / "last.safetensors"
    weights_in_last = bool(checkpoint.read(last)[0])
    shutil.copy(last, run / "prev.safetensors")  # what the kill left
    if weights_in_last:
        shutil.copy(last, run / "best.safetensors")
    before = {p.name for p in run.glob("*.safetensors")}
    train(cfg, "ar", run, tmp_path / "data", **quiet)
    after = {p.name for p in run.glob("*.safetensors")}
    assert "prev.safetensors" in before and "prev.safetensors" not in after
    assert ("best.safetensors" in after) != weights_in_last  # one file of weights, wherever it is
