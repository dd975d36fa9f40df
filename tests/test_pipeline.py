"""The notebook runner: committed notebooks are clean and parameterised; everything that can be checked
before running is checked before running (bad overrides, notebooks, stage names, a run directory made
with another config); finished stages are skipped, and the runner's mechanics on stub notebooks."""

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from arche import load_config
from arche.config import ConfigError
from arche.runner.pipeline import (
    NOTEBOOKS,
    NOTEBOOKS_DIR,
    PipelineError,
    StageFailed,
    check_notebook,
    parse_parameters,
    read_state,
    resolve_run_dir,
    run_pipeline,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(steps=60, n_samples=40)


def _parameters_cells(nb):
    return [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebooks_are_clean_and_parameterised(name):
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: committed with outputs"
            assert cell.execution_count is None, f"{name}: committed with an execution count"
    cells = _parameters_cells(nb)
    assert len(cells) == 1, f"{name}: {len(cells)} cells tagged 'parameters'"
    names = {}
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.unparse(node)
        names[node.targets[0].id] = ast.literal_eval(node.value)  # a literal, or this raises
    assert set(names) == {"profile", "run_dir", "overrides"}
    assert isinstance(names["overrides"], dict)
    load_config(names["profile"], **names["overrides"])  # the defaults are a valid config


def test_notebooks_resolve_the_run_dir_from_the_repo_root(tmp_path, monkeypatch):
    monkeypatch.delenv("ARCHE_RUNS_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)  # papermill's kernel starts in notebooks/, a user anywhere
    assert resolve_run_dir("runs/x") == ROOT / "runs" / "x"
    assert resolve_run_dir(tmp_path / "abs") == tmp_path / "abs"
    monkeypatch.setenv("ARCHE_RUNS_ROOT", str(tmp_path / "drive"))
    assert resolve_run_dir("runs/x") == tmp_path / "drive" / "runs" / "x"


def test_parameters_cell_rules():
    ok = 'profile = "smoke"  # comment\nrun_dir = "runs/smoke"\noverrides = {"steps": 10, "lr": 1.0e-3}'
    assert parse_parameters(ok, "nb") == {
        "profile": "smoke",
        "run_dir": "runs/smoke",
        "overrides": {"steps": 10, "lr": 1e-3},
    }
    bad = {
        'profile = "smoke"\nrun_dir = "r"\noverrides = {}\nsteps = 10': "'steps'",
        'profile = "smoke"\nrun_dir = "runs/" + profile\noverrides = {}': "'run_dir' is not a literal",
        'profile = "smoke"\nrun_dir = "r"': "does not define overrides",
        'import os\nprofile = "smoke"\nrun_dir = "r"\noverrides = {}': "not a plain assignment",
        'profile = "smoke"\nrun_dir = "r"\noverrides = []': "must be a dict",
    }
    for source, message in bad.items():
        with pytest.raises(PipelineError, match=message):
            parse_parameters(source, "nb")


# --------------------------------------------------------------------------- fails before running


def _cli(*args, cwd=ROOT, timeout=120):
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "arche", "run", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    return proc, time.perf_counter() - t0


def test_cli_rejects_unknown_override_before_anything(tmp_path):
    run = tmp_path / "run"
    proc, seconds = _cli("--profile", "smoke", "--run-dir", str(run), "--set", "no_such_key=1")
    assert proc.returncode != 0
    assert "no_such_key" in proc.stderr
    assert seconds < 30, f"took {seconds:.1f} s to reject"
    assert not run.exists()


def test_cli_rejects_wrong_type_and_unknown_stage(tmp_path):
    run = tmp_path / "run"
    proc, _ = _cli("--profile", "smoke", "--run-dir", str(run), "--set", "steps=many")
    assert proc.returncode != 0 and "steps" in proc.stderr
    proc, _ = _cli("--profile", "smoke", "--run-dir", str(run), "--only", "06_nothing")
    assert proc.returncode == 2 and "06_nothing" in proc.stderr and "05_analysis" in proc.stderr
    proc, _ = _cli("--profile", "smoke", "--run-dir", str(run), "--from", "2_train")
    assert proc.returncode == 2 and "2_train" in proc.stderr
    assert not run.exists()
    with pytest.raises(ConfigError, match="steps"):  # a typed value of the wrong type, through the API
        run_pipeline("smoke", run_dir=run, overrides={"steps": "many"})
    assert not run.exists()


def _copy_notebooks(tmp_path) -> Path:
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(NOTEBOOKS_DIR / f"{name}.ipynb", nb_dir)
    return nb_dir


def test_notebook_without_parameters_cell_is_rejected_by_name(tmp_path):
    nb_dir = _copy_notebooks(tmp_path)
    path = nb_dir / "03_train_mdlm.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in _parameters_cells(nb):
        cell.metadata["tags"] = []
    nbformat.write(nb, path)
    run = tmp_path / "run"
    with pytest.raises(PipelineError, match="03_train_mdlm.*parameters"):
        run_pipeline("smoke", run_dir=run, notebooks_dir=nb_dir)
    assert not run.exists()  # nothing ran, not even 01_data


def test_parameters_cell_with_other_names_is_rejected(tmp_path):
    nb_dir = _copy_notebooks(tmp_path)
    path = nb_dir / "02_train_ar.ipynb"
    nb = nbformat.read(path, as_version=4)
    _parameters_cells(nb)[0].source += '\ndata_dir = run_dir + "/data"'
    nbformat.write(nb, path)
    with pytest.raises(PipelineError, match="02_train_ar.*'data_dir'"):
        check_notebook(path)
    with pytest.raises(PipelineError, match="02_train_ar"):
        run_pipeline("smoke", run_dir=tmp_path / "run", notebooks_dir=nb_dir)


def _finished_run(run: Path, **overrides) -> dict:
    """A run directory whose five stages are recorded as done (stub outputs, no kernel)."""
    (run / "notebooks").mkdir(parents=True)
    cfg = load_config("smoke", **overrides).to_dict()
    stages = {}
    for i, name in enumerate(NOTEBOOKS):
        nbformat.write(new_notebook(), run / "notebooks" / f"{name}.ipynb")
        stages[name] = {
            "status": "done",
            "started": f"2026-01-01T00:0{i}:00",
            "finished": f"2026-01-01T00:0{i}:30",
            "seconds": 30.0,
            "config": cfg,
        }
    state = {"profile": "smoke", "overrides": overrides, "config": cfg, "stages": stages}
    (run / "pipeline_state.json").write_text(json.dumps(state))
    (run / "report.html").write_text("<html></html>")
    return state


@pytest.mark.slow
def test_config_mismatch_on_existing_run_dir_is_rejected(tmp_path):
    run = tmp_path / "run"
    _finished_run(run, **SMALL)
    before = (run / "pipeline_state.json").read_text()
    with pytest.raises(PipelineError, match=r"steps: 60 -> 100"):
        run_pipeline("smoke", run_dir=run, overrides={**SMALL, "steps": 100})
    with pytest.raises(PipelineError, match="n_samples"):  # also when only the analysis is asked for
        run_pipeline("smoke", run_dir=run, overrides={"steps": 60}, only="05_analysis")
    assert (run / "pipeline_state.json").read_text() == before
    proc, _ = _cli("--profile", "smoke", "--run-dir", str(run), "--set", "steps=100", "--set", "n_samples=40")
    assert proc.returncode == 2 and "steps" in proc.stderr


def test_finished_stages_are_skipped_and_resumable_keys_may_change(tmp_path):
    run = tmp_path / "run"
    state = _finished_run(run, **SMALL)
    lines = []
    t0 = time.perf_counter()
    run_pipeline("smoke", run_dir=run, overrides={**SMALL, "log_every": 5, "device": "cpu"}, log=lines.append)
    assert time.perf_counter() - t0 < 30
    for i, name in enumerate(NOTEBOOKS, 1):
        assert f"[pipeline] {name}: skipped (done) ({i}/5)" in lines
    after = read_state(run)
    for name in NOTEBOOKS:
        assert after["stages"][name]["finished"] == state["stages"][name]["finished"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["invocations"][-1]["skipped"] == NOTEBOOKS
    assert manifest["packages"]["papermill"] and manifest["python"] and manifest["device"]
    assert manifest["config"]["steps"] == 60 and manifest["overrides"]["log_every"] == 5


def test_only_and_from_need_the_earlier_stages(tmp_path):
    with pytest.raises(PipelineError, match="run the whole pipeline first"):
        run_pipeline("smoke", run_dir=tmp_path / "fresh", only="04_sample")
    run = tmp_path / "run"
    _finished_run(run)
    state = read_state(run)
    state["stages"]["02_train_ar"]["status"] = "running"  # killed during training
    (run / "pipeline_state.json").write_text(json.dumps(state))
    with pytest.raises(PipelineError, match="04_sample needs 02_train_ar, not finished"):
        run_pipeline("smoke", run_dir=run, start_from="04_sample")


# --------------------------------------------------------------------------- the runner on stub notebooks

STUB = """\
from pathlib import Path
import arche
from arche.runner import pipeline
cfg = arche.load_config(profile, **overrides)
run = pipeline.resolve_run_dir(run_dir)
print("stub {name}: steps", cfg.steps, "cwd", Path.cwd())
(run / "{name}.count").write_text(str(int((run / "{name}.count").read_text()) + 1)
                                   if (run / "{name}.count").exists() else "1")
if (run / "fail-{name}").exists():
    raise RuntimeError("asked to fail")
"""


def _stub_notebooks(tmp_path) -> Path:
    nb_dir = tmp_path / "stubs"
    nb_dir.mkdir()
    for name in NOTEBOOKS:
        nb = new_notebook(
            cells=[
                new_markdown_cell(f"# {name}\n\n[badge](https://colab.research.google.com/github/x/y)"),
                new_code_cell(
                    'profile = "smoke"\nrun_dir = "runs/smoke"\noverrides = {}', metadata={"tags": ["parameters"]}
                ),
                new_code_cell(STUB.replace("{name}", name)),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        )
        nbformat.write(nb, nb_dir / f"{name}.ipynb")
    return nb_dir


@pytest.mark.slow
def test_runner_executes_skips_reruns_and_reports(tmp_path):
    nb_dir, run = _stub_notebooks(tmp_path), tmp_path / "run"
    counts = lambda: {n: int((run / f"{n}.count").read_text()) for n in NOTEBOOKS if (run / f"{n}.count").exists()}  # noqa: E731
    (run).mkdir()
    (run / "fail-03_train_mdlm").touch()
    lines = []
    with pytest.raises(StageFailed, match="03_train_mdlm failed: RuntimeError: asked to fail") as err:
        run_pipeline("smoke", run_dir=run, overrides={"steps": 7}, notebooks_dir=nb_dir, log=lines.append, paper=False)
    assert err.value.exit_code == 1
    assert "needs a new --run-dir" in str(err.value)  # the advice after a failure that needs another config
    assert "[pipeline] 02_train_ar: running (2/5)" in lines
    assert any(line.startswith("stub 02_train_ar: steps 7 cwd ") for line in lines)  # the cell output, streamed
    assert f"cwd {ROOT}" in "\n".join(lines)  # the kernel runs in the repository root
    state = read_state(run)
    assert [state["stages"][n]["status"] for n in NOTEBOOKS[:3]] == ["done", "done", "failed"]
    assert counts() == {"01_data": 1, "02_train_ar": 1, "03_train_mdlm": 1}
    assert "asked to fail" in (run / "report.html").read_text()  # the failure is in the report too

    (run / "fail-03_train_mdlm").unlink()
    first_done = {n: state["stages"][n]["finished"] for n in NOTEBOOKS[:2]}
    lines.clear()
    run_pipeline("smoke", run_dir=run, overrides={"steps": 7}, notebooks_dir=nb_dir, log=lines.append, paper=False)
    assert (
        "[pipeline] 01_data: skipped (done) (1/5)" in lines and "[pipeline] 02_train_ar: skipped (done) (2/5)" in lines
    )
    assert counts() == {"01_data": 1, "02_train_ar": 1, "03_train_mdlm": 2, "04_sample": 1, "05_analysis": 1}
    state = read_state(run)
    assert all(state["stages"][n]["status"] == "done" for n in NOTEBOOKS)
    assert {n: state["stages"][n]["finished"] for n in NOTEBOOKS[:2]} == first_done
    for name in NOTEBOOKS:
        executed = nbformat.read(run / "notebooks" / f"{name}.ipynb", as_version=4)
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert str(run) in injected[0].source
        assert (run / "notebooks" / f"{name}.html").exists()
    report = (run / "report.html").read_text()
    for name in NOTEBOOKS:
        assert f"Stage {NOTEBOOKS.index(name) + 1}/5" in report and name in report
    assert "colab.research.google.com" not in report
    manifest = json.loads((run / "manifest.json").read_text())
    assert set(manifest["stages"]) == set(NOTEBOOKS) and manifest["stages"]["05_analysis"]["seconds"] is not None
    assert [i["ran"] for i in manifest["invocations"]] == [
        ["01_data", "02_train_ar"],
        ["03_train_mdlm", "04_sample", "05_analysis"],
    ]

    lines.clear()  # --only forces one stage and leaves the others alone
    run_pipeline(
        "smoke",
        run_dir=run,
        overrides={"steps": 7},
        only="05_analysis",
        notebooks_dir=nb_dir,
        log=lines.append,
        paper=False,
    )
    assert counts()["05_analysis"] == 2 and counts()["04_sample"] == 1
    run_pipeline(
        "smoke",
        run_dir=run,
        overrides={"steps": 7},
        start_from="04_sample",
        notebooks_dir=nb_dir,
        log=lines.append,
        paper=False,
    )
    assert counts() == {"01_data": 1, "02_train_ar": 1, "03_train_mdlm": 2, "04_sample": 2, "05_analysis": 3}


@pytest.mark.slow
def test_relative_run_dir_of_the_runner_is_taken_from_the_working_directory(tmp_path):
    nb_dir = _stub_notebooks(tmp_path)
    os_cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        run = run_pipeline("smoke", run_dir="rel", only="01_data", notebooks_dir=nb_dir, log=lambda *_: None)
    finally:
        os.chdir(os_cwd)
    assert run == tmp_path / "rel" and (tmp_path / "rel" / "01_data.count").exists()


@pytest.mark.slow
def test_plain_papermill_still_works(tmp_path):
    """Users may drive papermill themselves; its kernel starts in notebooks/ and a relative run_dir still
    lands under the runs root (here $ARCHE_RUNS_ROOT; by default the repository root)."""
    out = tmp_path / "01_data.ipynb"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(NOTEBOOKS_DIR / "01_data.ipynb"),
            str(out),
            "-p",
            "profile",
            "smoke",
            "-p",
            "run_dir",
            "runs/pm",
            "-y",
            "overrides: {n_tokens: 60000}",
            "--cwd",
            str(NOTEBOOKS_DIR),
            "--no-progress-bar",
        ],
        env={**os.environ, "ARCHE_RUNS_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((tmp_path / "runs" / "pm" / "controlled" / "data" / "manifest.json").read_text())
    assert manifest["settings"]["n_tokens"] == 60000
    assert "Passed unknown parameter" not in proc.stderr
