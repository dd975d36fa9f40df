"""Notebooks as reviewable source: notebooks/NN_*.py (jupytext percent format) and their paired .ipynb.

The .py is what a reviewer reads and diffs; the .ipynb, committed without outputs, is what Colab opens
(the badges) and papermill executes. `sync` keeps the pair equal and both current:

* a pair whose .ipynb is newer than its .py (edited in Jupyter without jupytext) updates the .py first;
* every notebook's Colab install cell and badge are rewritten from arche.runner.colab (the repository URL in
  pyproject.toml is the one place that names it);
* the .ipynb is then written from the .py: no outputs, stable cell ids (the tag, else NN-index).

    python -m arche notebooks           # sync
    python -m arche notebooks --check   # exit 1 naming every notebook that is out of sync (make test runs it)

jupytext belongs to the `dev` extra (and requirements-cpu.txt); nothing else in arche needs it.
"""

from __future__ import annotations

from pathlib import Path

from . import colab

NOTEBOOKS_DIR = colab.ROOT / "notebooks"
GPU_STAGES = ("02", "03", "04")  # Colab opens these on a GPU runtime
INSTALL_TAG = "colab-install"


def _cells(nb) -> list[tuple]:
    """What a notebook says, without outputs, ids or execution counts."""
    return [(c.cell_type, c.source.strip(), tuple(c.get("metadata", {}).get("tags", []))) for c in nb.cells]


def from_source(py: Path):
    """The .ipynb notebook of a .py source, with the current install cell and badge."""
    import jupytext

    nb = jupytext.read(py)
    stem = py.stem
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if INSTALL_TAG in tags:
            cell.source = colab.install_cell().rstrip("\n")
        elif cell.cell_type == "markdown" and "colab-badge.svg" in cell.source:
            lines = [colab.badge(stem) if "colab-badge.svg" in line else line for line in cell.source.split("\n")]
            cell.source = "\n".join(lines)
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        cell.id = tags[0] if tags else f"{stem[:2]}-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("jupytext", None)
    nb.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata.setdefault("colab", {"provenance": []})
    if stem[:2] in GPU_STAGES:
        nb.metadata["accelerator"] = "GPU"
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def _ipynb_text(nb) -> str:
    import nbformat

    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def _py_text(nb) -> str:
    import jupytext

    return jupytext.writes(nb, fmt="py:percent")


def sync(directory: Path = NOTEBOOKS_DIR, check: bool = False, log=print) -> list[str]:
    """Bring every pair in `directory` in sync (or, with check, only list what is out of sync)."""
    import jupytext

    from .colab import origin_url, repository_url, repository_warning

    warning = repository_warning(repository_url(), origin_url())
    if warning and not check:
        log(f"notebooks: warning: {warning}")
    stale = []
    sources = sorted(p for p in directory.glob("[0-9][0-9]_*.py"))
    if not sources:
        raise FileNotFoundError(f"no notebook sources (NN_*.py) in {directory}")
    for py in sources:
        ipynb = py.with_suffix(".ipynb")
        if (
            not check
            and ipynb.exists()
            and ipynb.stat().st_mtime > py.stat().st_mtime
            and _cells(jupytext.read(ipynb)) != _cells(jupytext.read(py))
        ):
            py.write_text(_py_text(jupytext.read(ipynb)))  # edited in Jupyter: the notebook is the newer source
            log(f"notebooks: {py.name} updated from {ipynb.name}")
        nb = from_source(py)
        want_py = _py_text(nb)
        want_ipynb = _ipynb_text(nb)
        for path, want in ((py, want_py), (ipynb, want_ipynb)):
            have = path.read_text() if path.exists() else None
            if have != want and (
                path.suffix == ".ipynb"
                or _cells(jupytext.reads(have or "", fmt="py:percent"))
                != _cells(jupytext.reads(want, fmt="py:percent"))
            ):
                stale.append(path.name)
                if not check:
                    path.write_text(want)
                    log(f"notebooks: wrote {path.name}")
    return stale
