"""Nothing lost, nothing silent (issue 15): the CUDA start path, per-run paper builds, run files that
survive a kill at their write, locks, refused bad numbers, detected corruption, the config kept in the
checkpoint, and one error style. Kills are injected at the write itself, not left to timing."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import torch
from conftest import held_elsewhere, tiny_config, tiny_sets
from nbformat.v4 import new_code_cell, new_notebook, new_output
from safetensors.torch import load_file

import arche.train as train_mod
from arche import checkpoint, report, runlock
from arche.__main__ import main
from arche.checkpoint import CheckpointError
from arche.config import ConfigError
from arche.data import DataError, prepare
from arche.model import build_model
from arche.profiles import load_config
from arche.rundir import RunDirError, read_metrics
from arche.runlock import LockedError, run_lock
from arche.runner import pipeline
from arche.runner.notebook_checks import refuse_unknown_parameters
from arche.runner.pipeline import NOTEBOOKS, PipelineError, StageFailed, run_pipeline
from arche.train import TrainingError, train

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"tokens_per_s", "train_time_s", "eval_time_s"}
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def quiet(*_):
    pass


def _train(tmp_path, run="run", log=quiet, **over):
    return train(tiny_config(**over), "ar", tmp_path / run, data_dir=tmp_path / "data", log=log)


def _deterministic(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def _same_weights(a: Path, b: Path) -> None:
    x, y = load_file(a), load_file(b)
    assert x.keys() == y.keys()
    for k in x:
        assert torch.equal(x[k], y[k]), k


def _cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "arche", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300
    )


def _one_error_line(proc, *words):
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.startswith("error: "), proc.stderr[-3000:]
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)


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
    proc = _cli("train", "ar", "--run-dir", str(tmp_path / "run"), *tiny_sets(device="cuda"))
    _one_error_line(proc, "CUDA is not available", "device=auto")


# --------------------------------------------------------------------------- 2. one paper build per run

FAKE_LATEXMK = """#!/bin/sh
# Stands in for latexmk: the "PDF" is the run's own macros, written slowly so that builds overlap.
grep -q 'FAIL' main.tex && { echo '! Undefined control sequence.' > build/main.log; exit 12; }
mkdir -p build
printf '%%PDF-fake\\n' > build/main.pdf
sleep 0.5
cat generated/macros.tex >> build/main.pdf
"""


@pytest.fixture
def paper_repo(tmp_path, monkeypatch):
    """A repository whose paper/main.tex needs one generated macro, and a fake latexmk on PATH."""
    repo = tmp_path / "repo"
    (repo / "paper").mkdir(parents=True)
    (repo / "paper" / "main.tex").write_text("\\input{generated/macros.tex}\n\\V{RunName}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "latexmk").write_text(FAKE_LATEXMK)
    (bin_dir / "latexmk").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(report.paper, "paper_sources", lambda: repo / "paper")
    return repo


def _analysed_run(run: Path, name: str) -> Path:
    """A run directory with an executed 05_analysis notebook whose 'macros' cell defines \\RunName."""
    cell = new_code_cell("show_macros()", metadata={"tags": ["macros"]})
    cell.outputs = [
        new_output("display_data", data={"text/latex": report.macros_tex({"RunName": name}), "text/plain": name})
    ]
    (run / "notebooks").mkdir(parents=True)
    nbformat.write(new_notebook(cells=[cell]), run / "notebooks" / "05_analysis.ipynb")
    return run


def test_two_paper_builds_at_once_each_get_their_own_pdf(tmp_path, paper_repo):
    runs = [_analysed_run(tmp_path / name, name) for name in ("runA", "runB")]
    results, errors = {}, []

    def build(run):
        try:
            results[run.name] = report.build_paper(run, log=quiet)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=build, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for run in runs:
        assert results[run.name] == run / "paper.pdf"
        text = (run / "paper.pdf").read_text()
        assert text.startswith("%PDF") and f"{{{run.name}}}" in text
        other = "runB" if run.name == "runA" else "runA"
        assert other not in text
        assert (run / "paper" / "generated" / "macros.tex").exists() and (run / "paper" / "build").is_dir()
    assert not (paper_repo / "paper" / "generated").exists() and not (paper_repo / "paper" / "build").exists()


def test_failed_paper_build_exits_non_zero_and_leaves_no_stale_pdf(tmp_path, paper_repo, capsys):
    run = _analysed_run(tmp_path / "run", "runA")
    assert main(["paper", "--run-dir", str(run)]) == 0
    assert (run / "paper.pdf").exists()
    (paper_repo / "paper" / "main.tex").write_text("\\input{generated/macros.tex}\n\\V{RunName} FAIL\n")
    capsys.readouterr()
    assert main(["paper", "--run-dir", str(run)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: latexmk failed") and "Undefined control sequence" in err
    assert not (run / "paper.pdf").exists()  # the PDF of the earlier analysis is not passed off as this one


def test_paper_run_dir_is_relative_to_the_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "--run-dir", "rel"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "rel" / "notebooks" / "05_analysis.ipynb") in err


@pytest.mark.slow
def test_runner_reports_a_failed_paper_build_as_a_failure(tmp_path, paper_repo):
    """`arche run --only 05_analysis`: the runner builds this run's paper (in RUN/paper) and a LaTeX
    failure makes it fail (exit code 1) without listing an old PDF."""
    (paper_repo / "paper" / "main.tex").write_text("\\input{generated/macros.tex}\n\\V{RunName} FAIL\n")
    run, stubs = tmp_path / "run", tmp_path / "stubs"
    stubs.mkdir()
    (run / "notebooks").mkdir(parents=True)
    cfg = load_config("smoke").to_dict()
    for name in NOTEBOOKS:
        nbformat.write(new_notebook(), run / "notebooks" / f"{name}.ipynb")
    state = {
        "profile": "smoke",
        "overrides": {},
        "config": cfg,
        "stages": {n: {"status": "done", "config": cfg} for n in NOTEBOOKS},
    }
    (run / "pipeline_state.json").write_text(json.dumps(state))
    (run / "paper.pdf").write_bytes(b"%PDF old")
    source = (
        "from IPython.display import display\n"
        f"display({{'text/latex': {report.macros_tex({'RunName': 'stub'})!r}, 'text/plain': 'm'}}, raw=True)"
    )
    nb = new_notebook(
        cells=[
            new_code_cell('profile = "smoke"\nrun_dir = "r"\noverrides = {}', metadata={"tags": ["parameters"]}),
            new_code_cell(source, metadata={"tags": ["macros"]}),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, stubs / "05_analysis.ipynb")
    lines = []
    with pytest.raises(StageFailed, match="paper build failed") as err:
        run_pipeline("smoke", run_dir=run, only="05_analysis", notebooks_dir=stubs, log=lines.append, paper=True)
    assert err.value.exit_code == 1
    assert (run / "paper" / "generated" / "macros.tex").read_text().strip().endswith("{stub}")
    assert not (run / "paper.pdf").exists() and "paper:" not in "\n".join(lines).split("finished in")[-1]
    assert not (run / ".lock").exists()


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
    assert _cli(*args, *tiny_sets()).returncode == 0
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
    proc = _cli(*args, *tiny_sets())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "stale lock" in proc.stdout and "already complete" in proc.stdout
    assert {name: (run / name).read_bytes() for name in before} == before
    assert not (run / ".lock").exists()


def test_damaged_or_deleted_run_files_are_rebuilt_from_the_checkpoint(tmp_path):
    _train(tmp_path)
    run = tmp_path / "run"
    before = {name: (run / name).read_bytes() for name in ("config.json", "metrics.jsonl")}
    (run / "config.json").write_text("")
    (run / "metrics.jsonl").write_text("")
    lines = []
    assert _train(tmp_path, log=lines.append)["steps"] == 12
    assert any("config.json is damaged" in line for line in lines)
    assert any("rewritten from the checkpoint" in line for line in lines)
    assert {name: (run / name).read_bytes() for name in before} == before
    (run / "metrics.jsonl").unlink()
    _train(tmp_path)
    assert (run / "metrics.jsonl").read_bytes() == before["metrics.jsonl"]


@pytest.mark.slow
def test_sample_names_a_damaged_config_json(tmp_path):
    _train(tmp_path)
    (tmp_path / "run" / "config.json").write_text("")
    proc = _cli("sample", "ar", "--run-dir", str(tmp_path / "run"), *tiny_sets(n_samples=4, sample_batch_size=4))
    _one_error_line(proc, "config.json is damaged")


def test_metrics_file_deleted_during_training_comes_back_whole(tmp_path, monkeypatch):
    _train(tmp_path, run="straight")
    real = train_mod._progress_line

    def deletes_the_file(paradigm, rec, cfg, state):
        if rec["step"] == 6:
            (tmp_path / "run" / "metrics.jsonl").unlink()
        return real(paradigm, rec, cfg, state)

    monkeypatch.setattr(train_mod, "_progress_line", deletes_the_file)
    lines = []
    _train(tmp_path, log=lines.append)
    assert _deterministic(read_metrics(tmp_path / "run")) == _deterministic(read_metrics(tmp_path / "straight"))
    assert any("lacked rows" in line for line in lines)


def test_kill_between_checkpoint_rotation_and_rename_resumes_bit_exactly(tmp_path, monkeypatch):
    """save() renames last -> prev, then tmp -> last; a kill between the two leaves no last."""
    _train(tmp_path, run="straight")
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
        _train(tmp_path, steps=12, checkpoint_every=3)  # the first save has no last to rotate; the second dies
    monkeypatch.setattr(checkpoint.os, "replace", real)
    run = tmp_path / "run"
    assert calls and not (run / "last.safetensors").exists()
    assert checkpoint.read_state(run / "prev.safetensors")["step"] == 3
    lines = []
    _train(tmp_path, log=lines.append)
    assert any("resuming" in line and "from step 3" in line for line in lines)
    _same_weights(tmp_path / "straight" / "last.safetensors", run / "last.safetensors")
    assert _deterministic(read_metrics(run)) == _deterministic(read_metrics(tmp_path / "straight"))


# --------------------------------------------------------------------------- 4. locks


@pytest.mark.slow
def test_second_train_on_a_run_dir_is_refused_while_the_first_runs(tmp_path):
    run = tmp_path / "run"
    with held_elsewhere(run, "training ar"):  # this test process plays the first trainer
        proc = _cli("train", "ar", "--run-dir", str(run), "--data-dir", str(tmp_path / "data"), *tiny_sets())
        _one_error_line(proc, "is in use by training ar", f"pid {os.getpid()}")
        with pytest.raises(LockedError, match="in use"):
            _train(tmp_path)  # the notebooks' path (papermill 02_train_ar) calls this
    assert not (run / "metrics.jsonl").exists()
    _train(tmp_path)  # free again
    assert [r["step"] for r in read_metrics(run)] == [2, 4, 6, 8, 10, 12]  # no duplicated rows


@pytest.mark.slow
def test_sample_and_paper_take_the_lock_too(tmp_path):
    _train(tmp_path)
    run = tmp_path / "run"
    _analysed_run(tmp_path / "paperrun", "x")
    with run_lock(run, "training ar"), run_lock(tmp_path / "paperrun", "python -m arche run"):
        proc = _cli("sample", "ar", "--run-dir", str(run), *tiny_sets(n_samples=4, sample_batch_size=4))
        _one_error_line(proc, "is in use by training ar")
        _one_error_line(_cli("paper", "--run-dir", str(tmp_path / "paperrun")), "in use by python -m arche run")


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
    proc = _cli("train", "ar", "--run-dir", str(tmp_path / "run"), *tiny_sets(grad_clip=-1, lr="nan"))
    _one_error_line(proc, "must be")
    assert not (tmp_path / "run").exists()


def test_warmup_longer_than_the_run_is_said(tmp_path):
    lines = []
    _train(tmp_path, log=lines.append, warmup_steps=20)
    assert any("warmup_steps (20) > steps (12)" in line for line in lines)


def test_divergence_before_any_checkpoint_names_none_and_says_how_to_restart(tmp_path, monkeypatch):
    real = train_mod.ar_loss_sum
    monkeypatch.setattr(train_mod, "ar_loss_sum", lambda m, t: (real(m, t)[0] * float("nan"), real(m, t)[1]))
    with pytest.raises(TrainingError) as err:
        _train(tmp_path)
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
        _train(tmp_path)
    assert "last good checkpoint (step 3)" in str(err.value)
    assert checkpoint.read_state(tmp_path / "run" / "last.safetensors")["step"] == 3


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
    _train(tmp_path, run="straight")
    _train(tmp_path, steps=12)
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
    _train(tmp_path, log=lines.append)
    assert any("last.safetensors is damaged" in line and "resuming from prev.safetensors" in line for line in lines)
    assert (run / "last.safetensors.damaged").exists()
    _same_weights(tmp_path / "straight" / "last.safetensors", run / "last.safetensors")
    assert _deterministic(read_metrics(run)) == _deterministic(read_metrics(tmp_path / "straight"))


@pytest.mark.slow
def test_no_good_checkpoint_left_is_one_clear_error(tmp_path):
    _train(tmp_path)
    run = tmp_path / "run"
    for name in ("last.safetensors", "prev.safetensors"):
        (run / name).write_bytes((run / name).read_bytes()[:1000])
    proc = _cli("train", "ar", "--run-dir", str(run), "--data-dir", str(tmp_path / "data"), *tiny_sets())
    _one_error_line(proc, "cannot be resumed", "last.safetensors", "prev.safetensors", "train from scratch")


def test_a_nan_checkpoint_is_not_resumed_from(tmp_path):
    _train(tmp_path, run="straight")
    _train(tmp_path)
    run = tmp_path / "run"
    vocab_size = json.loads((run / "config.json").read_text())["vocab_size"]
    model = build_model(tiny_config(), "ar", vocab_size=vocab_size)
    opt = torch.optim.AdamW(model.parameters())
    state = checkpoint.load(run / "last.safetensors", model, opt)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    checkpoint.save(run / "last.safetensors", model, state, opt)  # a valid checksum over NaN weights
    lines = []
    _train(tmp_path, log=lines.append)
    assert any("non-finite weights" in line for line in lines)
    _same_weights(tmp_path / "straight" / "last.safetensors", run / "last.safetensors")


# --------------------------------------------------------------------------- 7. the checkpoint's own config


def test_deleting_config_json_does_not_skip_the_config_check(tmp_path):
    _train(tmp_path, steps=12)
    (tmp_path / "run" / "config.json").unlink()
    with pytest.raises(RunDirError, match=r"steps: 12 -> 24.*per its last.safetensors"):
        _train(tmp_path, steps=24, lr=1e-2)
    assert checkpoint.read_state(tmp_path / "run" / "last.safetensors")["step"] == 12


# --------------------------------------------------------------------------- 8. one error style, notebook parameters


@pytest.mark.slow
def test_user_errors_of_every_command_are_one_line(tmp_path):
    missing = tmp_path / "nope.jsonl"
    _one_error_line(_cli("prepare", "--data-dir", str(tmp_path / "d"), *tiny_sets(source=str(missing))), str(missing))
    _one_error_line(_cli("sample", "ar", "--run-dir", str(tmp_path / "empty"), *tiny_sets()), "no config.json")
    proc = _cli("run", "--run-dir", str(tmp_path / "r"), "--only", "05_analysis")
    _one_error_line(proc, "run the whole pipeline first")


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
