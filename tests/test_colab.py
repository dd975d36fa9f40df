"""The Colab entry: badges and install cells from the one repository URL, the install logic in a clean
venv, the notebooks' .py sources in sync with their .ipynb, and a plain (wheel) install that runs."""

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from arche.runner import colab, notebook_sync

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_notebook_has_the_generated_install_cell_and_badge():
    url = colab.repository_url()
    assert url.startswith("https://") and "caiovicentino" not in url  # the seed's code is what we re-test
    assert len(NOTEBOOKS) == 5
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        install = [c for c in nb.cells if "colab-install" in c.metadata.get("tags", [])]
        assert len(install) == 1 and install[0].source == colab.install_cell().rstrip("\n"), path.name
        assert colab.badge(path.stem) in nb.cells[0].source, path.name
        assert f"github/{url.removeprefix('https://github.com/')}/blob/main/notebooks/{path.name}" in nb.cells[0].source
    readme = (ROOT / "README.md").read_text()
    assert colab.colab_link("01_data") in readme


def test_one_run_name_shared_by_the_five_notebooks():
    """The same parameters everywhere, run_dir empty: each notebook derives runs/PROFILE itself, so a
    user who changes only `profile` in each notebook gets one run directory."""
    from arche.runner.pipeline import parse_parameters

    params = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        params.append(parse_parameters(cell.source, path.name))
        assert "run_dir or arche.paths.default_run_dir(profile)" in "".join(c.source for c in nb.cells)
    assert all(p == {"profile": "smoke", "run_dir": "", "overrides": {}} for p in params)
    from arche.paths import default_run_dir

    assert default_run_dir("paper_study") == "runs/paper_study"


def test_notebook_sources_and_ipynb_are_in_sync():
    assert notebook_sync.sync(check=True) == [], "run: python -m arche notebooks"


def test_a_notebook_edited_in_jupyter_and_synced_passes(tmp_path):
    nbs = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", nbs, ignore=shutil.ignore_patterns("__pycache__"))
    path = nbs / "04_sample.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A note added in Jupyter."))
    nb.cells[-1].id = "added"
    nbformat.write(nb, path)
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))  # newer than its .py
    assert notebook_sync.sync(nbs, check=True) != []  # out of sync until synced
    notebook_sync.sync(nbs, log=lambda *_: None)
    assert "A note added in Jupyter." in (nbs / "04_sample.py").read_text()
    assert notebook_sync.sync(nbs, check=True) == []
    # and the other way: the .py edited, the .ipynb follows
    py = nbs / "01_data.py"
    py.write_text(py.read_text() + "\n# %% [markdown]\n# A note added to the source.\n")
    notebook_sync.sync(nbs, log=lambda *_: None)
    assert "A note added to the source." in (nbs / "01_data.ipynb").read_text()


def _install_source() -> str:
    """The install cell without its Colab-only call: the function the tests call."""
    cell = colab.install_cell()
    return cell[: cell.index('if "google.colab" in sys.modules:')]


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("colab")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    # The build backend, once (Colab has it); the installs below then build without isolation, offline.
    subprocess.run([str(python), "-m", "pip", "install", "-q", "setuptools>=68", "wheel"], check=True, timeout=300)
    return root, python


def _committed_clone(dest: Path) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of arche")
    subprocess.run(["git", "clone", "-q", f"file://{ROOT}", str(dest)], check=True)
    return dest


def _run_install(python, root, url, env_extra=None, name="home"):
    code = _install_source() + textwrap.dedent(f"""
        src, how = install({url!r}, home={str(root / name)!r}, drive={str(root / "drive")!r}, use_drive=False,
                           pip_args=["--no-deps", "--no-build-isolation"])
        import subprocess, sys
        out = subprocess.run([sys.executable, "-c", "import arche.config as c; print(c.__file__)"],
                             capture_output=True, text=True, cwd="/")
        print("IMPORTED", out.stdout.strip(), out.stderr[-500:])
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHE_", "PYTHON"))}
    env.update(env_extra or {})
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_the_install_cell_works_from_a_clone_a_drive_copy_and_a_zip(clean_venv):
    root, python = clean_venv
    clone = _committed_clone(root / "origin")
    # (a) the repository URL: a clone
    out = _run_install(python, root, f"file://{clone}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"arche installed from a clone of file://{clone}" in out.stdout
    assert f"IMPORTED {root / 'home'}/arche/config.py" in out.stdout, out.stdout
    # (b) a copy kept on Drive wins over the URL (no clone is made)
    shutil.copytree(clone, root / "drive" / "arche", ignore=shutil.ignore_patterns(".git"))
    out = _run_install(python, root, "file:///nonexistent", name="home2")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "arche installed from your copy on Google Drive" in out.stdout and not (root / "home2").exists()
    shutil.rmtree(root / "drive" / "arche")
    # (c) an uploaded zip of the repository (GitHub's "Download ZIP" has one top folder)
    archive = root / "arche-main.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in clone.rglob("*"):
            if f.is_file() and ".git" not in f.parts:
                z.write(f, Path("arche-main") / f.relative_to(clone))
    out = _run_install(python, root, "file:///nonexistent", {"ARCHE_SOURCE": str(archive)}, name="home3")
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"arche installed from $ARCHE_SOURCE ({archive})" in out.stdout
    assert "arche-main/arche/config.py" in out.stdout


@pytest.mark.slow
def test_a_wheel_install_runs_the_pipeline_outside_the_checkout(tmp_path):
    """`pip install .` (not editable) ships the notebooks and paper sources; `python -m arche run` finds
    them from anywhere. The temporary venv takes its dependencies from this environment (a .pth), its
    arche from the wheel only."""
    import site
    import sysconfig

    wheels, source = tmp_path / "wheels", tmp_path / "source"
    # Build from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", "runs", ".git", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"
        ),
    )
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next(wheels.glob("arche_lm-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "arche/notebooks/01_data.ipynb" in names and "arche/paper/main.tex" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with zipfile.ZipFile(wheel) as z:  # installing a wheel is unpacking it into site-packages
        z.extractall(purelib)
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    Path(purelib, "deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    where = subprocess.run(
        [
            str(py),
            "-c",
            "import arche, arche.paths as c; print(arche.__file__); "
            "print(c.resource_dir('notebooks')); print(c.resource_dir('paper'))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(purelib) for line in where.stdout.split()), where.stdout

    sets = dict(
        steps=20,
        eval_every=10,
        checkpoint_every=10,
        log_every=5,
        seq_len=64,
        n_samples=16,
        sample_length=24,
        mdlm_steps=10,
        sweep=False,
        infill=False,
        throughput_rounds=1,
    )
    cmd = [str(py), "-m", "arche", "run", "--profile", "smoke", "--run-dir", str(tmp_path / "run")]
    cmd += [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHE_SKIP_PAPER", "PYTHONPATH")}
    # The dependencies' data files (nbconvert's HTML templates) live under this environment's prefix.
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    assert (tmp_path / "run" / "results.json").exists() and (tmp_path / "run" / "report.html").exists()
    if shutil.which("latexmk"):
        assert (tmp_path / "run" / "paper.pdf").read_bytes()[:4] == b"%PDF"


def test_the_repository_url_is_checked_against_the_checkout_origin():
    # Issue 24: the badges pointed at a repository nobody checked; regenerating them now says so.
    from arche.runner.colab import github_path, repository_warning

    url = "https://github.com/arche-lm/arche"
    assert github_path("git@github.com:arche-lm/arche.git") == github_path(url + ".git") == "arche-lm/arche"
    assert repository_warning(url, "git@github.com:arche-lm/arche.git") is None
    assert "cannot confirm" in repository_warning(url, None)
    assert "origin is https://github.com/me/fork" in repository_warning(url, "https://github.com/me/fork")
