"""Nothing lost, nothing silent (issue 15), part 2: one paper build per run (two at once each get their own PDF,
a failed build leaves no stale one and fails the runner)."""

import json
import os
import threading

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from reliability_helpers import analysed_run, quiet

from arche import report
from arche.__main__ import main
from arche.profiles import load_config
from arche.runner.pipeline import NOTEBOOKS, StageFailed, run_pipeline

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


def test_two_paper_builds_at_once_each_get_their_own_pdf(tmp_path, paper_repo):
    runs = [analysed_run(tmp_path / name, name) for name in ("runA", "runB")]
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
    run = analysed_run(tmp_path / "run", "runA")
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
