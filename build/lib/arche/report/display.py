"""The notebook display objects: a figure that carries its PDF, a table its LaTeX, the macros,
and `Skipped` for an artefact that does not apply to the run."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd

from .common import toy_note
from .fmt import to_booktabs, to_html
from .lookup import macros_tex
from .macros import macros

# --------------------------------------------------------------------------- notebook display objects


class FigureOutput:
    """A figure for the notebook: shown inline as PNG, carrying its vector PDF for the exporter."""

    def __init__(self, fig, name: str = "figure", dpi: int = 150):
        self.fig, self.name, self.dpi = fig, name, dpi

    def png(self) -> bytes:
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=self.dpi, bbox_inches="tight", metadata={"Software": None})
        return buf.getvalue()

    def pdf(self) -> bytes:
        import matplotlib

        buf = io.BytesIO()
        with matplotlib.rc_context({"pdf.fonttype": 42}):
            self.fig.savefig(
                buf,
                format="pdf",
                bbox_inches="tight",
                metadata={"CreationDate": None, "Creator": None, "Producer": None},
            )
        return buf.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "image/png": base64.b64encode(self.png()).decode("ascii"),
            "application/pdf": base64.b64encode(self.pdf()).decode("ascii"),
            "text/plain": f"<{self.name}: figure with PNG and PDF>",
        }


class TableOutput:
    """A table for the notebook: HTML inline, booktabs LaTeX for the exporter."""

    def __init__(self, df: pd.DataFrame, name: str = "table"):
        self.df, self.name = df, name

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": to_html(self.df), "text/latex": to_booktabs(self.df), "text/plain": self.df.to_string()}


class MacrosOutput:
    """The macros file: LaTeX for the exporter, an HTML name/value table inline."""

    def __init__(self, values: dict[str, str]):
        self.values = values

    def _repr_mimebundle_(self, include=None, exclude=None):
        rows = "".join(
            f"<tr><td><code>\\{html.escape(k)}</code></td><td><code>{html.escape(v)}</code></td></tr>"
            for k, v in self.values.items()
        )
        return {
            "text/latex": macros_tex(self.values),
            "text/html": f"<details><summary>{len(self.values)} macros for the paper</summary>"
            f"<table>{rows}</table></details>",
            "text/plain": f"{len(self.values)} macros",
        }


SKIP_MIMETYPE = "application/vnd.arche.skip+json"


class Skipped:
    """What a tagged cell shows when its figure/table does not apply to this run (the exporter
    writes no file for it, and main.tex leaves that part out with \\IfFileExists)."""

    def __init__(self, reason: str):
        self.reason = reason

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {SKIP_MIMETYPE: {"reason": self.reason}, "text/plain": f"(skipped: {self.reason})"}


def show_figure(fig, name="figure") -> FigureOutput:
    return FigureOutput(fig, name)


def show_table(df, name="table") -> TableOutput:
    return TableOutput(df, name)


def show_macros(results) -> MacrosOutput:
    return MacrosOutput(macros(results))


def setup_notebook() -> None:
    """Headless-safe matplotlib settings for the analysis notebook: PNG + PDF inline formats,
    TrueType fonts in PDFs."""
    import matplotlib

    matplotlib.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42, "figure.dpi": 100})
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png", "pdf")
    except Exception:  # noqa: BLE001 - outside IPython there is nothing to set
        pass


def mark_figure(fig, meta):
    """Write the run's scale mark above a figure (nothing at the paper's scale); returns the figure."""
    note = toy_note(meta)
    if note:
        head, _, rest = note.partition(": ")
        fig.text(
            0.5,
            1.0,
            f"{head}: {rest}",
            ha="center",
            va="bottom",
            fontsize=7.5,
            color="#b22222",
            fontweight="bold",
        )
    return fig
