"""Where things live: the checkout (or the installed package) and its notebooks/ and paper/, the pipeline's
stage names, and the run directories, which never lie on or around the project's own sources."""

from __future__ import annotations

import os
from pathlib import Path

from .config import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def project_root() -> Path:
    """The checkout arche is installed from (editable install, Colab clone), else the working directory."""
    return PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").exists() else Path.cwd()


def resource_dir(name: str) -> Path:
    """notebooks/ or paper/: the checkout's own when arche runs from one (editable install, Colab
    clone), else the copy the wheel ships inside the package (pyproject.toml maps both into it)."""
    if (PACKAGE_ROOT / "pyproject.toml").exists() and (PACKAGE_ROOT / name).is_dir():
        return PACKAGE_ROOT / name
    return Path(__file__).resolve().parent / name


# The five stages of the pipeline, one notebook each, run in this order (arche.runner.pipeline).
STAGES = ("01_data", "02_train_ar", "03_train_mdlm", "04_sample", "05_analysis")


def default_run_dir(profile: str) -> str:
    """Where a profile's run goes when no run directory is named: runs/PROFILE (one name shared by the
    five notebooks and the runner, so that changing the profile alone moves the whole run)."""
    return f"runs/{profile}"


def resolve_run_dir(run_dir) -> Path:
    """An absolute run directory. A relative one is taken from $ARCHE_RUNS_ROOT when set (Colab sets
    it to Google Drive), else from the repository root, whatever the current directory is (papermill
    runs a notebook from notebooks/). One that is or holds the project's sources is refused."""
    path = Path(run_dir).expanduser()
    if not path.is_absolute():
        base = Path(os.environ["ARCHE_RUNS_ROOT"]) if os.environ.get("ARCHE_RUNS_ROOT") else project_root()
        path = (base / path).resolve()
    refuse_source_tree(path)
    return path


# The project's own folders: a run writes executed notebooks, paper sources and figures of its own, which
# must never land on (or around) these.
SOURCE_FOLDERS = ("arche", "notebooks", "paper", "tests", "results")


def refuse_source_tree(path) -> None:
    """Refuse an output directory that is, holds or lies inside one of the checkout's SOURCE_FOLDERS (run
    from a checkout only: an installed package has no sources a run could overwrite)."""
    if not (PACKAGE_ROOT / "pyproject.toml").exists():
        return
    path = Path(path).expanduser().resolve()
    root = PACKAGE_ROOT.resolve()
    for name in SOURCE_FOLDERS:
        src = root / name
        if src.is_dir() and (path == src or src.is_relative_to(path) or path.is_relative_to(src)):
            raise ConfigError(
                f"output directory {path} is, holds or lies in the project's {name}/ folder, whose files a run "
                f"would overwrite: choose another, e.g. runs/NAME"
            )
