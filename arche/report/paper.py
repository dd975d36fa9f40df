"""The notebook -> paper bridge (tagged cell outputs -> generated/ files, via an nbconvert exporter
built on first use) and the paper build (latexmk), in a directory of the run's own."""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import UserError
from ..paths import resolve_run_dir, resource_dir
from .display import SKIP_MIMETYPE
from .lookup import V_PREFIX, check_macros

# --------------------------------------------------------------------------- the notebook bridge

FIG_MIMES = ("application/pdf", "image/png")


# A tag names the file its output is written to (fig-NAME.pdf/.png, tab-NAME.tex, macros.tex).
TAG_PATTERN = re.compile(r"(fig|tab)-[A-Za-z0-9][A-Za-z0-9-]*|macros")


class TaggedOutputError(RuntimeError):
    """A tagged cell of the analysis notebook lacks the output its tag promises."""


def _b64(data) -> bytes:
    if isinstance(data, list):
        data = "".join(data)
    return base64.b64decode(data) if isinstance(data, str) else bytes(data)


def _text(data) -> str:
    return "".join(data) if isinstance(data, list) else str(data)


def _collect(nb) -> tuple[dict[str, bytes], list[str]]:
    """{relative file name: content} of every tagged output, and the tags skipped on purpose.
    fig-NAME -> NAME.pdf + NAME.png; tab-NAME -> NAME.tex; macros -> macros.tex."""
    files, skipped, seen = {}, [], set()
    for cell in nb.cells:
        tags = [t for t in cell.get("metadata", {}).get("tags", []) if t.startswith(("fig-", "tab-")) or t == "macros"]
        for tag in tags:
            if not TAG_PATTERN.fullmatch(tag):  # the tag becomes a file name: nothing that leaves generated/
                raise TaggedOutputError(f"tag {tag!r} is not a plain name (letters, digits and '-' after fig-/tab-)")
            if tag in seen:
                raise TaggedOutputError(f"tag {tag!r} is on more than one cell")
            seen.add(tag)
            if cell.cell_type != "code":
                raise TaggedOutputError(f"tag {tag!r} is on a {cell.cell_type} cell, not a code cell")
            datas = [
                o.get("data", {})
                for o in cell.get("outputs", [])
                if o.get("output_type") in ("display_data", "execute_result")
            ]
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if any(SKIP_MIMETYPE in d for d in datas):
                skipped.append(tag)
                continue
            if tag.startswith("fig-"):
                d = next((d for d in datas if all(k in d for k in FIG_MIMES)), None)
                if d is None:
                    raise TaggedOutputError(
                        f"cell tagged {tag!r} has no figure output with both image/png and application/pdf"
                        + (" (the cell raised an error)" if errors else "")
                        + "; display it with arche.report.show_figure(fig) and re-execute the notebook"
                    )
                files[f"{tag}.pdf"] = _b64(d["application/pdf"])
                files[f"{tag}.png"] = _b64(d["image/png"])
            else:
                d = next((d for d in datas if "text/latex" in d), None)
                if d is None:
                    raise TaggedOutputError(
                        f"cell tagged {tag!r} has no text/latex output"
                        + (" (the cell raised an error)" if errors else "")
                        + "; display it with arche.report.show_table(...) / show_macros(...) and re-execute"
                    )
                files[f"{tag}.tex"] = _text(d["text/latex"]).encode()
    return files, skipped


def tagged_output_exporter():
    """The nbconvert Exporter class that turns an executed notebook into the files its tagged cells
    carry. Built on first use: nbconvert belongs to the pipeline extra (arche[pipeline]), and the
    report renders from results.json without it until a notebook is exported.

    Its body is a JSON index of the files; resources["outputs"] maps each file name (fig-*.pdf,
    fig-*.png, tab-*.tex, macros.tex) to its bytes, which nbconvert's FilesWriter (or `export_tagged`)
    writes out. resources["skipped_tags"] lists cells that declared themselves not applicable
    (report.Skipped)."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert.exporters import Exporter
        from traitlets import default

        class TaggedOutputExporter(Exporter):
            export_from_notebook = "arche tagged outputs"
            output_mimetype = "application/json"

            @default("file_extension")
            def _file_extension_default(self):
                return ".json"

            def from_notebook_node(self, nb, resources=None, **kw):
                nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
                files, skipped = _collect(nb_copy)
                resources = dict(resources or {})
                resources.setdefault("outputs", {}).update(files)
                resources["skipped_tags"] = skipped
                return json.dumps({"files": sorted(files), "skipped": skipped}, indent=1), resources

        _EXPORTER = TaggedOutputExporter
    return _EXPORTER


_EXPORTER = None


def export_tagged(executed_notebook_path, out_dir, png_dir=None) -> dict[str, Path]:
    """Write the tagged outputs of an EXECUTED notebook: fig-NAME -> out_dir/fig-NAME.pdf (vector)
    and png_dir/fig-NAME.png (png_dir defaults to out_dir); tab-NAME -> out_dir/tab-NAME.tex;
    macros -> out_dir/macros.tex. Returns {file name: path}. A tagged cell without the output its
    tag needs raises TaggedOutputError naming the tag."""
    import nbformat

    nb = nbformat.read(str(executed_notebook_path), as_version=4)
    _, resources = tagged_output_exporter()().from_notebook_node(nb)
    out_dir = Path(out_dir)
    png_dir = Path(png_dir) if png_dir is not None else out_dir
    written = {}
    for name, blob in resources["outputs"].items():
        target = (png_dir if name.endswith(".png") else out_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        written[name] = target
    return written


# --------------------------------------------------------------------------- the paper build

LATEX_INSTALL = "apt-get install -y --no-install-recommends latexmk texlive-latex-recommended lmodern"


def reproducible_pdf_env(macros_path: Path) -> dict[str, str]:
    """pdfTeX's dates from the run's date (RunDate, or RepRunDate of a repetition paper), not the clock, so
    that the same results give the same PDF bytes (the .tex files drop the trailer /ID: \\pdftrailerid{})."""
    text = macros_path.read_text() if macros_path.exists() else ""
    found = re.search(
        re.escape(f"\\csname {V_PREFIX}")
        + "(?:Rep)?RunDate"
        + re.escape("\\endcsname")
        + r"\{(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\}",
        text,
    )
    when = datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S") if found else datetime.datetime(2026, 1, 1)
    epoch = int(when.replace(tzinfo=datetime.timezone.utc).timestamp())
    return {"SOURCE_DATE_EPOCH": str(epoch), "FORCE_SOURCE_DATE": "1"}


class PaperBuildError(UserError, RuntimeError):
    """latexmk failed; the message carries LaTeX's own error lines."""

    exit_code = 1


def _latex_errors(log_text: str, limit: int = 8) -> str:
    lines = log_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("!"):
            out.append("\n".join(lines[i : i + 3]))
            if len(out) >= limit:
                break
    return "\n".join(out)


PAPER_SOURCES = ("main.tex", "references.bib", "repetition.tex", "repetition-section.tex", "repetition-discussion.tex")


def paper_sources() -> Path:
    """Where main.tex and its companions are: the checkout's paper/, or the copy the wheel ships."""
    return resource_dir("paper")


def main_document(generated: Path) -> str:
    """main.tex (the comparison, with the repetition section when its figure was generated), or
    repetition.tex for a repetition study alone (its macros, no comparison's)."""
    text = (Path(generated) / "macros.tex").read_text() if (Path(generated) / "macros.tex").exists() else ""
    alone = "arche:RepOutcome\\endcsname" in text and "arche:ToyLevel\\endcsname" not in text
    return "repetition.tex" if alone else "main.tex"


def build_paper(run_dir, log=print, paper_dir=None, figures_dir=None, notebook=None) -> Path | None:
    """Build the paper of one run in directories of its own, so that two runs never share one:
    RUN/paper/ gets a copy of the repository's paper/main.tex (and references.bib), generated/ (the
    tagged outputs of the executed RUN/notebooks/05_analysis.ipynb) and build/ (latexmk's); the figure
    PNGs go to RUN/figures/ and the PDF to RUN/paper.pdf (returned). `paper_dir` builds in a directory
    that already holds main.tex instead, `figures_dir` puts the PNGs elsewhere.

    The PDF of an earlier build is removed first, so RUN/paper.pdf is this analysis's or absent.
    Without latexmk: say how to get it and return None. A missing macro raises MissingMacroError; a
    LaTeX error raises PaperBuildError with LaTeX's message. One build per run at a time (RUN/.lock)."""
    from ..runlock import run_lock

    run_dir = resolve_run_dir(run_dir)
    nb_path = Path(notebook) if notebook else run_dir / "notebooks" / "05_analysis.ipynb"
    if not nb_path.exists():
        raise UserError(
            f"{nb_path} not found: execute the analysis notebook first "
            f"(python -m arche run --run-dir {run_dir} --only 05_analysis)"
        )
    with run_lock(run_dir, "building the paper", log=log):
        return _build_paper(run_dir, nb_path, log, paper_dir, figures_dir)


def _build_paper(run_dir: Path, nb_path: Path, log, paper_dir, figures_dir) -> Path | None:
    if paper_dir is None:
        paper_dir = run_dir / "paper"
        paper_dir.mkdir(parents=True, exist_ok=True)
        for name in PAPER_SOURCES:
            if (paper_sources() / name).exists():
                shutil.copy2(paper_sources() / name, paper_dir / name)
    paper_dir = Path(paper_dir)
    figures_dir = Path(figures_dir) if figures_dir else run_dir / "figures"
    out = run_dir / "paper.pdf"
    for old in (out, paper_dir / "build" / "main.pdf", paper_dir / "build" / "repetition.pdf"):
        old.unlink(missing_ok=True)
    gen = paper_dir / "generated"
    if gen.exists():
        shutil.rmtree(gen)
    written = export_tagged(nb_path, gen)
    figures_dir.mkdir(parents=True, exist_ok=True)
    for name, path in written.items():
        if name.endswith(".png"):
            shutil.copy2(path, figures_dir / name)
    log(f"paper: exported {len(written)} files from {nb_path.name} into {gen}")
    if "macros.tex" not in written:
        raise TaggedOutputError(f"{nb_path} has no cell tagged 'macros'")
    doc = main_document(gen)
    with_repetition = (gen / "fig-repetition.pdf").exists() and doc == "main.tex"
    for tex in [doc] + (["repetition-section.tex", "repetition-discussion.tex"] if with_repetition else []):
        check_macros(paper_dir / tex, gen / "macros.tex")
    if shutil.which("latexmk") is None:
        log(
            "paper: latexmk not found, so no PDF was built. The tables, figures and macros are in "
            f"{gen}. To get the PDF install LaTeX (Debian/Ubuntu, as root):\n    {LATEX_INSTALL}\n"
            f"then run: python -m arche paper --run-dir {run_dir}"
        )
        return None
    # latexmk's state from a killed or failed build (.fdb_latexmk, a half-written .aux) made the next build fail
    # once: every build starts from an empty build/ (a clean build is a few pdflatex passes).
    shutil.rmtree(paper_dir / "build", ignore_errors=True)
    (paper_dir / "build").mkdir()
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-outdir=build", doc]
    env = {**os.environ, **reproducible_pdf_env(gen / "macros.tex")}
    proc = subprocess.run(cmd, cwd=paper_dir, capture_output=True, text=True, env=env)
    pdf = paper_dir / "build" / doc.replace(".tex", ".pdf")
    if proc.returncode != 0 or not pdf.exists():
        log_path = paper_dir / "build" / doc.replace(".tex", ".log")
        errors = _latex_errors(log_path.read_text(errors="replace")) if log_path.exists() else ""
        raise PaperBuildError(
            f"latexmk failed (exit {proc.returncode}) in {paper_dir}:\n"
            f"{errors or proc.stdout[-3000:] + proc.stderr[-2000:]}"
        )
    tmp = out.with_name(out.name + ".tmp")
    shutil.copy2(pdf, tmp)
    tmp.replace(out)
    log(f"paper: wrote {out}")
    return out
