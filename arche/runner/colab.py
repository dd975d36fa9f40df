"""Colab: the repository the notebooks come from, their badge, and their install cell.

The repository's URL is named in one place, pyproject.toml ([project.urls] Repository); the badges
and the install cell of every notebook are generated from it (tests/test_colab.py keeps them in sync).

The install cell is the source of `install` below plus one call, so that what the tests run is what
Colab runs. It installs arche's core only (never the `pipeline` extra: Colab's own kernel runs the
notebooks, and upgrading ipykernel inside it breaks the runtime), from the first source it finds:

1. $ARCHE_SOURCE, a folder or a .zip of the repository;
2. a copy already at /content/arche (an earlier cell, or a previous notebook on the same runtime);
3. MyDrive/arche on Google Drive (a copy you keep there), or an uploaded /content/arche.zip or
   MyDrive/arche.zip (GitHub's "Download ZIP" works as is);
4. else a shallow clone of the repository URL.

It says which one it used. Runs go to MyDrive/arche-runs when Drive is mounted ($ARCHE_RUNS_ROOT), so
the five notebooks, each on a runtime of its own, share one run directory that outlives them.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION = "arche-lm"  # pyproject.toml's [project] name ("arche" on PyPI is another project)


def repository_url() -> str:
    """[project.urls] Repository of pyproject.toml (a checkout), else of the installed metadata."""
    pyproject = ROOT / "pyproject.toml"
    if pyproject.exists():
        import tomllib

        return tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"]
    from importlib.metadata import metadata

    for entry in metadata(DISTRIBUTION).get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip()
    raise LookupError("no Repository URL in arche's metadata")


def github_path(url: str) -> str | None:
    """owner/name of a GitHub URL in any of its forms (https, .git, ssh), else None."""
    m = re.match(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([^/]+/[^/]+?)(?:\.git)?/?$", url)
    return m.group(1) if m else None


def repository_warning(url: str, origin: str | None) -> str | None:
    """What is wrong with the Repository URL the badges are generated from, given the checkout's
    `git remote get-url origin` (None: no remote); None when they name the same repository."""
    if origin is None:
        return (
            f"the Colab badges and install cells point at {url}, which this checkout cannot confirm (it has no git "
            "remote): set [project.urls] Repository in pyproject.toml to where you publish"
        )
    if github_path(origin) != github_path(url):
        return f"pyproject.toml's Repository is {url} but this checkout's origin is {origin}: set one to the other"
    return None


def origin_url() -> str | None:
    import subprocess

    try:
        proc = subprocess.run(["git", "remote", "get-url", "origin"], cwd=ROOT, capture_output=True, text=True)
    except OSError:  # no git
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def colab_link(stem: str) -> str:
    """The Colab URL that opens notebooks/STEM.ipynb of the repository's main branch."""
    path = re.sub(r"^https://github\.com/", "", repository_url()).rstrip("/")
    return f"https://colab.research.google.com/github/{path}/blob/main/notebooks/{stem}.ipynb"


def badge(stem: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_link(stem)})"


def install(url, home="/content/arche", drive="/content/drive/MyDrive", use_drive=True, pip_args=()):
    """Find or fetch arche (arche/runner/colab.py says where from), install its core with pip, say which source."""
    import os  # noqa: E401 - this function is also the notebooks' install cell
    import subprocess
    import sys
    import zipfile

    if use_drive and "google.colab" in sys.modules and not os.path.isdir(drive):
        from google.colab import drive as gdrive

        gdrive.mount(os.path.dirname(drive))
    sources = [
        (os.environ.get("ARCHE_SOURCE", ""), "$ARCHE_SOURCE"),
        (home, "the copy in " + home),
        (os.path.join(drive, "arche"), "your copy on Google Drive"),
        ("/content/arche.zip", "the uploaded zip"),
        (os.path.join(drive, "arche.zip"), "the zip on Google Drive"),
    ]
    src, how = next(
        (
            (p, label)
            for p, label in sources
            if p and (os.path.isfile(os.path.join(p, "pyproject.toml")) or p.endswith(".zip") and os.path.isfile(p))
        ),
        (None, None),
    )
    if src and src.endswith(".zip"):  # GitHub's "Download ZIP" holds one folder, arche-main/
        zipfile.ZipFile(src).extractall(home + ".unzipped")
        found = sorted((r for r, _, files in os.walk(home + ".unzipped") if "pyproject.toml" in files), key=len)
        if not found:
            raise RuntimeError(f"{src} holds no pyproject.toml: is it a zip of the arche repository?")
        src, how = found[0], f"{how} ({src})"
    if src is None:
        subprocess.run(["git", "clone", "-q", "--depth", "1", url, home], check=True)
        src, how = home, f"a clone of {url}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *pip_args, "-e", src], check=True)
    if src not in sys.path:
        sys.path.insert(0, src)
    os.environ.setdefault(
        "ARCHE_RUNS_ROOT", os.path.join(drive, "arche-runs") if os.path.isdir(drive) else os.path.join(src, "runs")
    )
    print(f"arche installed from {how}: {src}\nruns go to {os.environ['ARCHE_RUNS_ROOT']}")
    return src, how


def install_cell() -> str:
    """The first code cell of every notebook: `install` and its call, run on Colab only."""
    body = inspect.getsource(install)
    return (
        '# @title Install arche (Colab only; anywhere else this cell does nothing) { display-mode: "form" }\n'
        "# Finds or fetches arche, installs its core (Colab's torch and kernel stay as they are) and says\n"
        "# where it came from. Generated by arche.runner.colab.install_cell from the function below.\n"
        "import sys\n\n\n"
        f"{body}\n\n"
        'if "google.colab" in sys.modules:\n'
        f'    install("{repository_url()}", use_drive=True)  # use_drive=False: keep runs on the runtime\'s disk\n'
    )
