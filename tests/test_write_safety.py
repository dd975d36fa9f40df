"""Nothing is written outside the run directory (issue 21, class 2): a link planted at a temporary file is
not followed, a notebook tag cannot name a path, and a run or output directory that is or holds the
project's own sources is refused before anything is written."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook, new_output

from arche import checkpoint
from arche.config import ConfigError
from arche.io import write_json
from arche.paths import refuse_source_tree, resolve_run_dir
from arche.report.paper import TaggedOutputError, export_tagged

ROOT = Path(__file__).resolve().parents[1]


def test_a_link_at_the_temporary_file_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json.tmp").symlink_to(victim)
    write_json(run / "config.json", {"a": 1})
    assert victim.read_text() == "keep me"
    assert json.loads((run / "config.json").read_text()) == {"a": 1}
    (run / "last.safetensors.tmp").symlink_to(victim)
    checkpoint.write(run / "last.safetensors", {"w": torch.zeros(2)}, {"step": 1}, [])
    assert victim.read_text() == "keep me" and (run / "last.safetensors").stat().st_size > 0


@pytest.mark.parametrize("tag", ["tab-/../../../x", "fig-../escape", "tab-a/b", "tab-"])
def test_a_tag_that_is_not_a_plain_name_is_refused(tmp_path, tag):
    cell = new_code_cell("x", metadata={"tags": [tag]})
    cell.outputs = [new_output("display_data", data={"text/latex": "\\relax"})]
    nb_path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[cell]), str(nb_path))
    out = tmp_path / "deep" / "er" / "out"
    with pytest.raises(TaggedOutputError, match="not a plain name"):
        export_tagged(nb_path, out)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["nb.ipynb"]  # nothing written anywhere


@pytest.mark.parametrize("where", [".", "notebooks", "paper/generated", "arche/study"])
def test_an_output_directory_on_the_sources_is_refused(where):
    with pytest.raises(ConfigError, match="project's .*/ folder"):
        resolve_run_dir(ROOT / where)
    with pytest.raises(ConfigError):
        refuse_source_tree(ROOT / where)
    refuse_source_tree(ROOT / "runs" / "fine")  # a run directory of its own is fine


@pytest.mark.slow
def test_figures_into_the_checkout_is_one_line_and_writes_nothing():
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    proc = subprocess.run(
        [sys.executable, "-m", "arche", "figures", "--results", "results/replica.json", "--out", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error:") and len(proc.stderr.splitlines()) == 1
    after = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    assert after == before


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="LaTeX (latexmk) is not installed")
@pytest.mark.slow
def test_the_same_results_give_the_same_pdf_bytes(tmp_path):
    # `make figures` must leave git clean: no clock date or random /ID in the PDF.
    from arche.report import render_results

    first = render_results(ROOT / "results" / "replica.json", tmp_path / "a", log=lambda *_: None)
    second = render_results(ROOT / "results" / "replica.json", tmp_path / "b", log=lambda *_: None)
    assert first.read_bytes() == second.read_bytes()
    assert b"/CreationDate (D:2026" in first.read_bytes()  # the run's date, not the clock's


def test_a_full_disk_during_a_checkpoint_is_one_error_and_loses_nothing(tmp_path, monkeypatch):
    # Issue 21, class 3: "No space left on device" was a traceback. Now: DiskFullError (exit 2, one line),
    # the half-written file removed, the checkpoint before it intact, and the same call resumes.
    import errno
    import os

    from conftest import tiny_config

    from arche import io
    from arche.train import train

    cfg, run = tiny_config(), tmp_path / "run"
    train(cfg, "ar", run, log=lambda *_: None, stop_at=3)
    before = checkpoint.read_state(run / "last.safetensors")["step"]
    real_fsync = os.fsync

    def full(fd):  # the disk fills while a checkpoint is written (the lock and JSON files still fit)
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".safetensors.tmp"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(io.os, "fsync", full)
    with pytest.raises(io.DiskFullError, match="no space left on the device writing .*run the same command again"):
        train(cfg, "ar", run, log=lambda *_: None)
    assert io.DiskFullError.exit_code == 2
    assert not list(run.glob("*.tmp"))
    assert checkpoint.read_state(run / "last.safetensors")["step"] == before == 3
    monkeypatch.setattr(io.os, "fsync", real_fsync)
    assert train(cfg, "ar", run, log=lambda *_: None)["steps"] == cfg.steps


def test_a_lock_that_is_a_directory_is_named(tmp_path):
    from arche.runlock import LockedError, run_lock

    (tmp_path / ".lock").mkdir()
    with pytest.raises(LockedError, match=r"\.lock is a directory, not a lock file"):
        with run_lock(tmp_path, "test"):
            pass


def test_figures_into_an_output_directory_in_use_is_refused(tmp_path):
    # Issue 21, class 4: two `arche figures` into one --out raced; the second now stops before writing.
    from conftest import held_elsewhere

    from arche.report import render_results
    from arche.runlock import LockedError

    out = tmp_path / "out"
    with held_elsewhere(out, "another arche figures"):
        with pytest.raises(LockedError, match="in use by"):
            render_results(ROOT / "results" / "replica.json", out, log=lambda *_: None)
    assert not (out / "notebooks").exists()


@pytest.mark.slow
def test_a_build_left_half_done_does_not_fail_the_next(tmp_path):
    # Issue 21, class 4: a kill during latexmk left state that made the next build fail once.
    if shutil.which("latexmk") is None:
        pytest.skip("latexmk is not installed")
    from arche.report import render_results

    out = tmp_path / "out"
    assert render_results(ROOT / "results" / "replica.json", out, log=lambda *_: None)
    build = out / "paper" / "build"
    (build / "main.aux").write_text("\\relax \\@writefile{broken")  # what a kill mid-pass leaves
    (build / "main.fdb_latexmk").write_text("garbage")
    assert render_results(ROOT / "results" / "replica.json", out, log=lambda *_: None)
