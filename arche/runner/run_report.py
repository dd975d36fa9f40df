"""A run's provenance and its HTML report: what ran where (git commit, packages, device), and
RUN/report.html with every executed notebook of the run, under the run's scale mark."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from ..io import atomic_write
from ..io import read_json as _read_json
from ..paths import PACKAGE_ROOT, STAGES

NOTEBOOKS = list(STAGES)
STATE_FILE = "pipeline_state.json"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.html"
VERSIONS_OF = ("torch", "numpy", "papermill", "nbconvert", "tiktoken", "sacrebleu", "arche-lm")


def read_state(run: Path) -> dict | None:
    """RUN/pipeline_state.json: each stage's status and times (None before the first run)."""
    path = Path(run) / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def environment() -> dict:
    """Git commit, package versions, python, platform and device of this machine."""
    from importlib import metadata

    versions = {}
    for name in VERSIONS_OF:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "git": _git_info(),
        "packages": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": _device_description(),
    }


def _git_info() -> dict | None:
    root = PACKAGE_ROOT

    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        status = git("status", "--porcelain", "--untracked-files=no")
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip()), "branch": branch.stdout.strip()}


def _device_description() -> str:
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    try:
        import torch

        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            return f"CUDA: {', '.join(names)} (CPU {cpu})"
    except Exception:  # noqa: BLE001 - the manifest must not fail on a broken CUDA setup
        pass
    return f"CPU ({cpu})"


def render_report(run, state=None) -> Path:
    """RUN/report.html: a header (profile, commit, stage times), what the run found (when analysed), then
    every executed notebook in order, each under a heading of its own; also RUN/notebooks/NAME.html."""
    import nbformat
    from nbconvert import HTMLExporter

    run = Path(run)
    state = state or read_state(run) or {"stages": {}}
    exporter = HTMLExporter(template_name="lab")
    book = nbformat.v4.new_notebook()
    book.cells.append(nbformat.v4.new_markdown_cell(_header(run, state)))
    found = _findings_markdown(run)
    if found:  # the answer first: a reader should not scroll through five notebooks to reach it
        book.cells.append(nbformat.v4.new_markdown_cell(f"## What this run found\n\n{found}"))
    for i, name in enumerate(NOTEBOOKS, 1):
        book.cells += _stage_cells(run, state, i, name, book, exporter)
    for j, cell in enumerate(book.cells):
        cell["id"] = f"cell-{j}"  # ids must be unique across the joined notebooks
    html, _ = exporter.from_notebook_node(book, resources={"metadata": {"name": f"arche report: {run.name}"}})
    out = run / REPORT_FILE
    atomic_write(out, html)
    return out


def _header(run: Path, state: dict) -> str:
    manifest = _read_json(run / MANIFEST_FILE) or {}
    git = manifest.get("git") or {}
    commit = (
        f"`{git['commit'][:12]}`" + (" (with uncommitted changes)" if git.get("dirty") else "")
        if git.get("commit")
        else "not a git checkout"
    )
    rows = ["| | stage | status | finished | time |", "|---|---|---|---|---|"]
    for i, name in enumerate(NOTEBOOKS, 1):
        rec = state["stages"].get(name, {})
        secs = f"{rec['seconds']:.1f} s" if rec.get("seconds") is not None else ""
        rows.append(
            f"| {i} | [{name}](#stage-{name}) | {rec.get('status', 'not run')} | {rec.get('finished') or ''} | {secs} |"
        )
    overrides = state.get("overrides") or {}
    note = _scale_note(run, state)
    style = "border:2px solid #b22222;background:#fdecea;color:#b22222;padding:8px;font-weight:bold"
    banner = f'<div style="{style}">{note}</div>\n\n' if note else ""
    return (
        f"# arche: run report\n\n{banner}Profile **{state.get('profile', '?')}**, overrides `{overrides}`, "
        f"run directory `{run}`.  \nCommit {commit}; device {manifest.get('device', '?')}; "
        f"python {manifest.get('python', '?')}, torch {manifest.get('packages', {}).get('torch', '?')}."
        f"\n\nThe five notebooks of the pipeline, as executed, top to bottom. Full provenance is in "
        f"`manifest.json`; every number is in `results.json`.\n\n" + "\n".join(rows)
    )


def _findings_markdown(run: Path) -> str | None:
    """The findings and likelihood tables of RUN/results.json (as the README shows them), None before the
    analysis has run; a damaged file is said, not raised (the report of a failed run must still render)."""
    from ..report import summary_markdown
    from ..study.results import ResultsError, read_results

    if not (run / "results.json").exists():
        return None
    try:
        return summary_markdown(read_results(run / "results.json"), run)
    except (ResultsError, KeyError, TypeError, ValueError) as e:
        return f"(results.json could not be summarised: {type(e).__name__}: {e})"


def _stage_cells(run: Path, state: dict, i: int, name: str, book, exporter) -> list:
    """One executed notebook under its heading (writing its own NAME.html beside it), minus the Colab cell."""
    import nbformat

    path = run / "notebooks" / f"{name}.ipynb"
    anchor = f'<a id="stage-{name}"></a>\n\n'
    if not path.exists():
        return [nbformat.v4.new_markdown_cell(f"{anchor}---\n\n**Stage {i}/{len(NOTEBOOKS)}: `{name}`: not run yet.**")]
    nb = nbformat.read(path, as_version=4)
    if not book.metadata.get("kernelspec"):
        book.metadata.update({k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata})
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
    atomic_write(path.with_suffix(".html"), html)
    rec = state["stages"].get(name, {})
    secs = f", {rec['seconds']:.1f} s" if rec.get("seconds") is not None else ""
    cells = [
        nbformat.v4.new_markdown_cell(
            f"{anchor}---\n\n**Stage {i}/{len(NOTEBOOKS)}: `{name}`** ({rec.get('status', '?')}{secs}; "
            f"executed notebook `notebooks/{name}.ipynb`)"
        )
    ]
    for cell in nb.cells:
        if "colab-install" in cell.metadata.get("tags", []) or "google.colab" in cell.source:
            continue  # the Colab install cell says nothing about this run
        if cell.cell_type == "markdown":
            cell.source = "\n".join(
                line for line in cell.source.splitlines() if "colab.research.google.com" not in line
            )
        cells.append(cell)
    return cells


def _scale_note(run: Path, state: dict) -> str:
    """The scale mark of the run: from its results when analysed, else from its config."""
    from ..config import Config
    from ..scaling import config_scale_note, scale_level, scale_note

    results = _read_json(run / "results.json")
    if results and "meta" in results:
        meta, cfg = results["meta"], results["meta"].get("config", {})
        return scale_note(
            scale_level(
                bool(meta.get("synthetic")),
                meta.get("n_tokens", 0),
                cfg.get("steps", 0),
                cfg.get("d_model", 0),
                cfg.get("n_layers", 0),
            ),
            meta.get("n_tokens", 0),
        )
    if state.get("config"):
        return config_scale_note(Config().replace(**state["config"]))
    return ""
