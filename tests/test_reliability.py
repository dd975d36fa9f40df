"""Nothing lost, nothing silent (issue 15), part 1: the CUDA start path, refused bad numbers and advice after a
failure, one error style for every command, and notebook parameters judged from the injected cell only."""

import subprocess
import sys

import pytest
import torch
from conftest import tiny_config, tiny_sets
from reliability_helpers import ENV, cli, one_error_line, quiet, train_tiny

import arche.train as train_mod
from arche import checkpoint
from arche.config import ConfigError
from arche.profiles import load_config
from arche.runner import pipeline
from arche.runner.notebook_checks import refuse_unknown_parameters
from arche.runner.pipeline import PipelineError
from arche.train import TrainingError, train

# --------------------------------------------------------------------------- 1. the CUDA start path


class _Stop(Exception):
    pass


@pytest.mark.parametrize("device", ["auto", "cuda", "cuda:0"])
def test_cuda_start_path_sets_an_indexed_device(tmp_path, monkeypatch, device):
    """`device=auto` (or a bare `cuda`) on a one-GPU machine: set_device must get cuda:0, not cuda."""
    seen = []

    def set_device(d):
        seen.append(d)
        if not isinstance(d, int) and d.index is None:
            raise ValueError(f"Expected a torch.device with a specified index or an integer, but got:{d}")
        raise _Stop  # the rest needs a real GPU

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    with pytest.raises(_Stop):
        train(tiny_config(device=device), "ar", tmp_path / "run", data_dir=tmp_path / "data", log=quiet)
    assert seen == [torch.device("cuda", 0)]


@pytest.mark.slow
def test_cuda_asked_for_without_cuda_is_one_clear_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = cli("train", "ar", "--run-dir", str(tmp_path / "run"), *tiny_sets(device="cuda"))
    one_error_line(proc, "CUDA is not available", "device=auto")


# --------------------------------------------------------------------------- 5. bad numbers, advice after a failure


@pytest.mark.parametrize(
    "key,value",
    [
        ("grad_clip", -1.0),
        ("lr", float("nan")),
        ("beta1", -0.1),
        ("beta2", 1.5),
        ("weight_decay", -0.01),
        ("ar_temperature", float("nan")),
        ("device", "bogus"),
        ("seq_len", 100_000),
        ("sample_length", 1_000_000),
        ("device", "cuda:99999999999999999999"),
        ("lr", float("inf")),
    ],
)
def test_bad_numbers_are_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        load_config("smoke", **{key: value})


@pytest.mark.slow
def test_bad_numbers_on_the_command_line_are_one_line(tmp_path):
    proc = cli("train", "ar", "--run-dir", str(tmp_path / "run"), *tiny_sets(grad_clip=-1, lr="nan"))
    one_error_line(proc, "must be")
    assert not (tmp_path / "run").exists()


def test_warmup_longer_than_the_run_is_said(tmp_path):
    lines = []
    train_tiny(tmp_path, log=lines.append, warmup_steps=20)
    assert any("warmup_steps (20) > steps (12)" in line for line in lines)


def test_divergence_before_any_checkpoint_names_none_and_says_how_to_restart(tmp_path, monkeypatch):
    real = train_mod.ar_loss_sum
    monkeypatch.setattr(train_mod, "ar_loss_sum", lambda m, t: (real(m, t)[0] * float("nan"), real(m, t)[1]))
    with pytest.raises(TrainingError) as err:
        train_tiny(tmp_path)
    msg = str(err.value)
    assert "step 0" not in msg and "No checkpoint was written" in msg
    assert "new run directory" in msg and "lower lr" in msg


def test_nan_weights_are_never_saved_as_the_last_good_checkpoint(tmp_path, monkeypatch):
    """Weights go NaN in the update of step 6 while that step's loss is still finite."""
    calls = {"n": 0}
    real = torch.nn.utils.clip_grad_norm_

    def poisons_grads(params, max_norm):
        params = list(params)
        calls["n"] += 1
        if calls["n"] == 6:
            for p in params:
                p.grad.fill_(float("nan"))
        return real(params, max_norm)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", poisons_grads)
    with pytest.raises(TrainingError, match="non-finite weights at step 6") as err:
        train_tiny(tmp_path)
    assert "last good checkpoint (step 3)" in str(err.value)
    assert checkpoint.read_state(tmp_path / "run" / "last.safetensors")["step"] == 3


# --------------------------------------------------------------------------- 8. one error style, notebook parameters


@pytest.mark.slow
def test_user_errors_of_every_command_are_one_line(tmp_path):
    missing = tmp_path / "nope.jsonl"
    one_error_line(cli("prepare", "--data-dir", str(tmp_path / "d"), *tiny_sets(source=str(missing))), str(missing))
    one_error_line(cli("sample", "ar", "--run-dir", str(tmp_path / "empty"), *tiny_sets()), "no config.json")
    proc = cli("run", "--run-dir", str(tmp_path / "r"), "--only", "05_analysis")
    one_error_line(proc, "run the whole pipeline first")


def test_notebook_parameters_are_judged_from_the_injected_cell_only():
    injected = '# Parameters\nrun_dir = "r"\nsteps = 20\n'
    with pytest.raises(PipelineError, match=r"unknown notebook parameter\(s\) steps"):
        refuse_unknown_parameters({"profile": "smoke", "run_dir": "r", "overrides": {}, "In": ["", injected]})
    # Interactive use: cells a user adds (x = 3) and re-runs of the setup cell are not parameters.
    scratch = {"profile": "smoke", "run_dir": "", "overrides": {}, "x": 3, "cfg": None, "In": ["", "x = 3"]}
    refuse_unknown_parameters(scratch)
    ok = '# Parameters\nprofile = "smoke"\noverrides = {"steps": 5}\n'
    refuse_unknown_parameters({"profile": "smoke", "run_dir": "", "overrides": {"steps": 5}, "In": [ok]})


@pytest.mark.parametrize("name,value", [("overrides", 5), ("run_dir", 5), ("profile", ["smoke"])])
def test_a_notebook_parameter_of_the_wrong_type_is_named(name, value):
    namespace = {"profile": "smoke", "run_dir": "", "overrides": {}, name: value}
    with pytest.raises(PipelineError, match=f"notebook parameter {name} must be"):
        refuse_unknown_parameters(namespace)


@pytest.mark.slow
def test_notebooks_refuse_parameters_they_do_not_take(tmp_path):
    out = tmp_path / "02.ipynb"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(pipeline.NOTEBOOKS_DIR / "02_train_ar.ipynb"),
            str(out),
            "-p",
            "run_dir",
            str(tmp_path / "r"),
            "-p",
            "steps",
            "20",
            "--no-progress-bar",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert proc.returncode != 0
    assert "unknown notebook parameter(s) steps" in proc.stderr + proc.stdout
    assert not (tmp_path / "r").exists()  # refused before any work
