"""Everything between RUN/results.json and the paper: figures, tables, macros, the notebook bridge.

Data flows one way:

    study.analyse -> results.json -> (this module) figures / tables / macros, shown in
    notebooks/05_analysis.ipynb -> executed notebook -> export_tagged (nbconvert) ->
    paper/generated/{fig-*.pdf, tab-*.tex, macros.tex} -> latexmk -> RUN/paper.pdf

* Figures (`fig_val_curves`, `fig_likelihood`, `fig_diversity`, `fig_sweep`) return matplotlib
  Figures built from a results dict. `show_figure` wraps one for the notebook: it displays inline as
  PNG and carries the vector PDF in the same output (mimetype application/pdf).
* Tables (`table_setup`, `table_training`, `table_val_loss`, `table_diversity`, `table_likelihood`,
  `table_findings`) return pandas DataFrames of formatted strings; `to_booktabs` renders one as a
  booktabs tabular, `show_table` wraps one for the notebook (text/html inline, text/latex exported).
* `macros(results)` is every number the paper's prose cites, as LaTeX-ready strings, and the
  verdicts on the three findings of Vicentino (2026), computed by the documented rules in
  `finding_throughput`, `finding_overfitting` and `finding_diversity`.
* `export_tagged` (an nbconvert Exporter underneath) picks outputs by cell tag; `build_paper` runs
  the export, checks that every macro main.tex uses is defined, and compiles with latexmk.

Every seed aggregate is `stats.aggregate`/`stats.summarise`: the mean and a 95% Student-t interval.
Numbers shown as "m ± h" are the mean and the half-width of that interval (shown when >1 seed).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd

from .config import (project_root, resolve_run_dir, resource_dir, scale_level,  # noqa: F401  (for notebooks)
                     scale_note)
from .stats import compare, paired_ratio
from . import report_repetition
from .errors import UserError
from .stats import aggregate, summarise

# --------------------------------------------------------------------------- the published numbers

CITATION = "Vicentino (2026)"

PUBLISHED = {
    "citation": CITATION,
    "n_samples": 1000,
    "sample_length": 128,
    "steps": 20_000,
    "setup": {
        "data": "TinyStories, 50M tokens", "n_tokens": 50_000_000, "steps": 20_000, "batch_size": 32,
        "seq_len": 512, "d_model": 768, "n_layers": 12, "n_heads": 12, "d_ff": 2048,
        "optimizer": "AdamW (lr 3e-4, wd 0.01)", "hardware": "NVIDIA H100 80GB", "precision": "fp32",
        "vocab_size": 50257, "val_fraction": 0.05,
    },
    "sampling": {"ar_prompt": "Once", "ar_temperature": 0.8, "mdlm_steps": 100},
    # Tables 1-2. n_params: the paper's rounded figures (the released code gives 123,551,232 and
    # 162,739,968, see arche.model).
    "ar": {"n_params": 123.6e6, "train_time_min": 107.9, "tokens_per_s": 50_620, "best_val": 1.589,
           "best_step": 14_000},
    "mdlm": {"n_params": 162.7e6, "train_time_min": 113.0, "tokens_per_s": 48_343, "best_val": 3.412,
             "best_step": 20_000},
    # Table 3: validation loss every 2,000 steps (AR: next-token NLL; MDLM: masked-token mean).
    "val_curve": {
        "step": [2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 18000, 20000],
        "ar": [2.660, 2.047, 1.837, 1.726, 1.665, 1.633, 1.589, 1.603, 1.627, 1.622],
        "mdlm": [3.952, 3.841, 3.585, 3.528, 3.509, 3.527, 3.491, 3.455, 3.419, 3.412],
    },
    # Table 4: 1,000 samples of 128 tokens each (fractions, not percentages).
    "diversity": {
        "ar": {"distinct_1": 0.053, "distinct_2": 0.275, "distinct_3": 0.531, "distinct_4": 0.701,
               "self_bleu": 0.341, "vocab_size": 5360, "unique_first_word": 0.002,
               "unique_first_5gram": 0.033},
        "mdlm": {"distinct_1": 0.058, "distinct_2": 0.297, "distinct_3": 0.542, "distinct_4": 0.690,
                 "self_bleu": 0.334, "vocab_size": 5754, "unique_first_word": 0.361,
                 "unique_first_5gram": 0.934},
    },
}

ARMS = ("ar", "mdlm", "mdlm_tied")
ARM_LABEL = {"ar": "AR", "mdlm": "MDLM", "mdlm_tied": "MDLM (tied)"}
ARM_MACRO = {"ar": "Ar", "mdlm": "Mdlm", "mdlm_tied": "MdlmTied"}
PROTOCOL_LABEL = {"published": "Ours: published", "controlled": "Ours: controlled"}
COLORS = {"ar": "#3366aa", "mdlm": "#dd7733", "mdlm_tied": "#339966", "paper": "#777777"}
THROUGHPUT_TOLERANCE = 0.10   # finding 1: parity if MDLM tok/s is within 10% of AR's

# Uppercase LaTeX commands main.tex may use that are not generated macros (see `used_macros`).
LATEX_UPPERCASE_COMMANDS = {
    "LaTeX", "TeX", "LaTeXe", "Large", "LARGE", "Huge", "AddToHook", "IfFileExists", "Alph", "Roman",
    "Bigg", "Big", "Biggl", "Biggr", "Bigl", "Bigr", "Delta", "Gamma", "Lambda", "Omega", "Phi", "Pi",
    "Psi", "Sigma", "Theta", "Upsilon", "Xi", "Pr", "Re", "Im", "mathcal", "RequirePackage",
    "DeclareMathOperator", "PassOptionsToPackage", "NeedsTeXFormat", "ProvidesFile", "Rightarrow",
    "Leftarrow", "Longrightarrow", "Leftrightarrow", "H", "L", "O", "P", "S", "AA", "AE", "OE", "TH",
    "MakeUppercase", "MakeLowercase", "MakeTextUppercase",
}


# --------------------------------------------------------------------------- paths

def repo_root() -> Path:
    """The repository holding this package (where paper/ and figures/ live)."""
    return project_root()


def load_results(run_dir) -> dict:
    return json.loads((Path(run_dir) / "results.json").read_text())


# --------------------------------------------------------------------------- selection helpers

def _protocols(results) -> list[str]:
    return list(results["meta"].get("protocols") or sorted({r["protocol"] for r in results["runs"]}))


def main_protocol(results) -> str:
    """The protocol the findings are judged on: controlled when it was run, else the only one
    (study.main_protocol's rule, recorded in results.json; older files are read by the same rule)."""
    if results["meta"].get("main_protocol"):
        return results["meta"]["main_protocol"]
    protos = _protocols(results)
    return "controlled" if "controlled" in protos else protos[0]


def _arms(results, protocol) -> list[str]:
    present = {r["arm"] for r in results["runs"] if r["protocol"] == protocol}
    return [a for a in ARMS if a in present]


def _runs(results, **where) -> list[dict]:
    return [r for r in results["runs"] if all(r.get(k) == v for k, v in where.items())]


def _samples(results, **where) -> list[dict]:
    return [r for r in results["samples"] if all(r.get(k) == v for k, v in where.items())]


def _ref(results, protocol, kind) -> dict | None:
    return next((r for r in results.get("references") or []
                 if r["protocol"] == protocol and r["kind"] == kind), None)


def run_stat(results, metric, protocol, arm) -> dict:
    """Seed aggregate of one run metric (stats.summarise)."""
    return summarise(results["runs"], metric, protocol=protocol, arm=arm)


def sample_stat(results, metric, protocol, arm, setting="samples") -> dict:
    """Seed aggregate of one sample-set metric (stats.summarise)."""
    return summarise(results["samples"], metric, protocol=protocol, arm=arm, setting=setting)


def _curve_table(results, protocol, arm, key="val_loss") -> dict[int, dict]:
    """{step: aggregate over seeds of `key` at that step}."""
    per_step: dict[int, list] = {}
    for row in _runs(results, protocol=protocol, arm=arm):
        for rec in row.get("curve") or []:
            if rec.get(key) is not None:
                per_step.setdefault(int(rec["step"]), []).append(rec[key])
    return {s: aggregate(v) for s, v in sorted(per_step.items())}


def has_sweep(results) -> bool:
    return any(str(r.get("setting", "")).startswith("sweep_") for r in results["samples"])


# --------------------------------------------------------------------------- formatting

def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


def fmt(x, kind="f3") -> str:
    """One number as shown in tables and prose. kinds: f1/f2/f3 (decimals), pct (fraction -> %),
    int (thousands separators), params (123.6M), min (minutes), tok (tokens/s), sig (3 significant)."""
    if not _ok(x):
        return "n/a"
    x = float(x)
    if kind.startswith("f") and kind[1:].isdigit():
        return f"{x:.{int(kind[1:])}f}"
    if kind == "pct":
        return f"{100 * x:.1f}%"
    if kind in ("int", "tok"):
        return f"{round(x):,}"
    if kind == "params":
        for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if abs(x) >= div:
                text = f"{x / div:.1f}" if abs(x) / div < 100 or unit == "M" else f"{x / div:.0f}"
                return (text[:-2] if text.endswith(".0") else text) + unit
        return f"{x:.0f}"
    if kind == "min":
        return f"{x:.1f}" if abs(x) >= 10 else (f"{x:.2f}" if abs(x) >= 1 else f"{x:.3f}")
    if kind == "sig":
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"
    raise ValueError(f"unknown number format {kind!r}")


def fmt_agg(agg: dict, kind="f3", scale=1.0) -> str:
    """'mean' for one seed (or no spread), 'mean ± half-width of the 95% interval' for several on
    the raw scale (the half-width with as many decimals as the mean), 'centre [lo, hi]' for an
    interval built on a log or logit scale, which is not symmetric."""
    if agg is None or not _ok(agg.get("mean")):
        return "n/a"
    mean = agg["mean"] * scale
    if agg.get("n", 0) <= 1 or not _ok(agg.get("hi")) or agg["hi"] == agg["lo"]:
        return fmt(mean, kind)
    if agg.get("scale") in ("log", "logit"):
        # An interval built on a log or logit scale is not symmetric: show its bounds.
        lo, hi = agg["lo"] * scale, agg["hi"] * scale
        if kind == "pct":
            return f"{100 * mean:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
        return f"{fmt(mean, kind)} [{fmt(lo, kind)}, {fmt(hi, kind)}]"
    half = (agg["hi"] - agg["lo"]) / 2 * scale
    if kind == "pct":
        return f"{100 * mean:.1f} ± {100 * half:.1f}%"
    text = fmt(mean, kind)
    if kind in ("int", "tok"):
        return f"{text} ± {round(half):,}"
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    return f"{text} ± {half:.{decimals}f}"


_LATEX_MAP = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    "±": r"$\pm$", "×": r"$\times$", "—": "---", "–": "--", "≈": r"$\approx$", "≤": r"$\le$",
    "≥": r"$\ge$", "→": r"$\rightarrow$", "“": "``", "”": "''", "‘": "`", "’": "'", "…": r"\ldots{}",
    "−": "--",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_MAP))


def latex_escape(text) -> str:
    """Plain text -> LaTeX: the ten special characters and a few Unicode symbols."""
    return _LATEX_RE.sub(lambda m: _LATEX_MAP[m.group(0)], str(text))


# --------------------------------------------------------------------------- booktabs

def to_booktabs(df: pd.DataFrame) -> str:
    """A DataFrame of strings as a booktabs tabular (no float, no caption: main.tex holds those).

    Columns may be flat or a 2-level MultiIndex (the top level becomes spanning headers with
    \\cmidrule under them). The index is the stub column, its name the stub header. Options in
    df.attrs: "sections" (index labels rendered as full-width italic section rows), "bold" (set of
    (row, column) cells set in bold), "align" (column alignment of the data columns, default "r"),
    "stub_align" (default "l"), "panels" (lists of top-level headers: the columns are set as panels
    stacked one under the other, each with its own header, to halve a wide table's width),
    "resize" (shrink to \\linewidth when still wider). Every cell and header is escaped.
    """
    attrs = df.attrs or {}
    panels = attrs.get("panels")
    if panels and isinstance(df.columns, pd.MultiIndex):
        groups = [[c for c in df.columns if c[0] in panel] for panel in panels]
        groups = [g for g in groups if g]
    else:
        groups = [list(df.columns)]
    width = max(len(g) for g in groups)
    align = attrs.get("align", "r")
    spec = attrs.get("stub_align", "l") + (align * width if len(align) == 1 else align)
    lines = [r"\begin{tabular}{" + spec + "}", r"\toprule"]
    for k, cols in enumerate(groups):
        if k:
            lines += [r"\midrule[\heavyrulewidth]", r"\addlinespace"]
        lines += _booktabs_block(df, cols, width)
    lines += [r"\bottomrule", r"\end{tabular}"]
    body = "\n".join(lines)
    if attrs.get("resize"):
        # Shrink only when wider than the line; narrow tables keep their natural size.
        body = ("\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n"
                + body + "%\n}")
    return body + "\n"


def _booktabs_block(df: pd.DataFrame, cols: list, width: int) -> list[str]:
    """Header and rows of the columns `cols`, padded with empty cells to `width` data columns."""
    attrs = df.attrs or {}
    sections = set(attrs.get("sections", ()))
    bold = set(attrs.get("bold", ()))
    pad = [""] * (width - len(cols))
    stub = latex_escape(df.index.name or "")
    lines = []
    if isinstance(df.columns, pd.MultiIndex):
        tops = [c[0] for c in cols]
        cells, rules, i = [""], [], 0
        while i < len(cols):
            j = i
            while j + 1 < len(cols) and tops[j + 1] == tops[i]:
                j += 1
            span = j - i + 1
            label = latex_escape(tops[i])
            cells.append(label if span == 1 else rf"\multicolumn{{{span}}}{{c}}{{{label}}}")
            if tops[i]:
                rules.append(rf"\cmidrule(lr){{{i + 2}-{j + 2}}}")
            i = j + 1
        lines.append(" & ".join(cells + pad) + r" \\")
        if rules:
            lines.append(" ".join(rules))
        lines.append(" & ".join([stub] + [latex_escape(c[1]) for c in cols] + pad) + r" \\")
    else:
        lines.append(" & ".join([stub] + [latex_escape(c) for c in cols] + pad) + r" \\")
    lines.append(r"\midrule")
    first = True
    for label, row in df.iterrows():
        if label in sections:
            if not first:
                lines.append(r"\midrule")
            lines.append(rf"\multicolumn{{{width + 1}}}{{l}}{{\emph{{{latex_escape(label)}}}}} \\")
        else:
            cells = [latex_escape(label)]
            for col in cols:
                text = latex_escape(row[col])
                cells.append(rf"\textbf{{{text}}}" if (label, col) in bold else text)
            lines.append(" & ".join(cells + pad) + r" \\")
        first = False
    return lines


def to_html(df: pd.DataFrame) -> str:
    """The same table as HTML (cells escaped, bold cells and section rows marked)."""
    attrs = df.attrs or {}
    bold = set(attrs.get("bold", ()))
    sections = set(attrs.get("sections", ()))
    out = df.copy()
    out.attrs = {}
    for label in out.index:
        for col in out.columns:
            text = html.escape(str(out.at[label, col]))
            if (label, col) in bold:
                text = f"<b>{text}</b>"
            out.at[label, col] = text
    out.index = [f"<i>{html.escape(str(i))}</i>" if i in sections else html.escape(str(i)) for i in out.index]
    out.index.name = df.index.name
    title = attrs.get("title")
    head = f"<p><b>{html.escape(title)}</b></p>\n" if title else ""
    return head + out.to_html(escape=False, na_rep="")


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
            self.fig.savefig(buf, format="pdf", bbox_inches="tight",
                             metadata={"CreationDate": None, "Creator": None, "Producer": None})
        return buf.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/png": base64.b64encode(self.png()).decode("ascii"),
                "application/pdf": base64.b64encode(self.pdf()).decode("ascii"),
                "text/plain": f"<{self.name}: figure with PNG and PDF>"}


class TableOutput:
    """A table for the notebook: HTML inline, booktabs LaTeX for the exporter."""

    def __init__(self, df: pd.DataFrame, name: str = "table"):
        self.df, self.name = df, name

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": to_html(self.df), "text/latex": to_booktabs(self.df),
                "text/plain": self.df.to_string()}


class MacrosOutput:
    """The macros file: LaTeX for the exporter, an HTML name/value table inline."""

    def __init__(self, values: dict[str, str]):
        self.values = values

    def _repr_mimebundle_(self, include=None, exclude=None):
        rows = "".join(f"<tr><td><code>\\{html.escape(k)}</code></td><td><code>{html.escape(v)}</code></td></tr>"
                       for k, v in self.values.items())
        return {"text/latex": macros_tex(self.values),
                "text/html": f"<details><summary>{len(self.values)} macros for the paper</summary>"
                             f"<table>{rows}</table></details>",
                "text/plain": f"{len(self.values)} macros"}


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


# --------------------------------------------------------------------------- figures

def _new_figure(nrows, ncols, width, height):
    import matplotlib
    from matplotlib.figure import Figure
    matplotlib.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42})
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, alpha=0.25, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=7)
    return fig, axes


def _loss_name(results, protocol, arm) -> str:
    """What an arm's val_loss measured, read off its curve (so overrides cannot mislead it)."""
    if arm == "ar":
        return "NLL"
    for row in _runs(results, protocol=protocol, arm=arm):
        rec = (row.get("curve") or [{}])[-1]
        if rec.get("val_nelbo") is not None and rec.get("val_loss") == rec.get("val_nelbo"):
            return "NELBO bound"
        if rec.get("val_masked_mean") is not None and rec.get("val_loss") == rec.get("val_masked_mean"):
            return "masked mean"
    return "NELBO bound" if protocol == "controlled" else "masked mean"


def fig_val_curves(results):
    """Figure 1: validation loss over training steps. One panel for the published curve
    (Table 3 of Vicentino 2026) and one per protocol of ours; seeds as thin lines, their mean thick,
    the best evaluation marked. Scales differ between panels (different data and model sizes)."""
    protos = _protocols(results)
    fig, axes = _new_figure(1, len(protos) + 1, 2.45 * (len(protos) + 1), 2.7)
    ax = axes[0, 0]
    pc = PUBLISHED["val_curve"]
    for arm in ("ar", "mdlm"):
        ax.plot(pc["step"], pc[arm], "o-", color=COLORS[arm], ms=3, lw=1.5,
                label=f"{ARM_LABEL[arm]} ({'NLL' if arm == 'ar' else 'masked mean'})")
        best = min(range(len(pc[arm])), key=lambda i: pc[arm][i])
        ax.plot(pc["step"][best], pc[arm][best], "*", color="k", ms=9, zorder=5)
    ax.set_title(f"{CITATION}, Table 3\n(published, not ours)", fontsize=8)
    ax.xaxis.set_major_formatter(_kilo_formatter())
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("validation loss (nats/token)", fontsize=8)
    ax.legend(fontsize=6, frameon=False)
    for k, protocol in enumerate(protos, start=1):
        ax = axes[0, k]
        for arm in _arms(results, protocol):
            runs = _runs(results, protocol=protocol, arm=arm)
            for row in runs:
                steps = [r["step"] for r in row["curve"]]
                ax.plot(steps, [r["val_loss"] for r in row["curve"]], "-", color=COLORS[arm], lw=0.7,
                        alpha=0.35 if len(runs) > 1 else 1.0)
            table = _curve_table(results, protocol, arm)
            steps = list(table)
            means = [table[s]["mean"] for s in steps]
            label = f"{ARM_LABEL[arm]}: {_loss_name(results, protocol, arm)}"
            ax.plot(steps, means, "o-", color=COLORS[arm], ms=3, lw=1.6, label=label)
            if means:
                best = min(range(len(means)), key=lambda i: means[i])
                ax.plot(steps[best], means[best], "*", color="k", ms=9, zorder=5)
        n_seeds = len({r["seed"] for r in _runs(results, protocol=protocol)})
        ax.set_title(f"{PROTOCOL_LABEL.get(protocol, protocol)} protocol"
                     + (f"\n(mean of {n_seeds} seeds, thin: each seed)" if n_seeds > 1 else "\n(one seed)"),
                     fontsize=8)
        ax.set_xlabel("step", fontsize=8)
        ax.xaxis.set_major_formatter(_kilo_formatter())
        ax.legend(fontsize=6, frameon=False)
    return fig


def fig_likelihood(results):
    """Comparable likelihoods: AR validation NLL against the MDLM's NELBO (an upper bound on its
    NLL) per protocol and arm, with 95% intervals over seeds; the published masked-mean loss shown
    hollow for contrast (not a bound). Right: the same two quantities over training."""
    protos = _protocols(results)
    fig, axes = _new_figure(1, 2, 6.8, 3.4)
    ax = axes[0, 0]
    x, ticks, labels, used = 0.0, [], [], set()
    for protocol in protos:
        arms = _arms(results, protocol)
        for i, arm in enumerate(arms):
            key = "best_val_nll" if arm == "ar" else "best_val_nelbo"
            st = run_stat(results, key, protocol, arm)
            xi = x + i * 0.8
            if _ok(st["mean"]):
                err = [[st["mean"] - st["lo"]], [st["hi"] - st["mean"]]]
                label = f"{ARM_LABEL[arm]}: {'NLL' if arm == 'ar' else 'NELBO bound'}"
                ax.errorbar([xi], [st["mean"]], yerr=err, fmt="o", color=COLORS[arm], capsize=3, ms=6,
                            label=None if label in used else label)
                used.add(label)
            if arm != "ar":
                mm = run_stat(results, "best_val_masked_mean", protocol, arm)
                if _ok(mm["mean"]):
                    label = "MDLM: masked mean (not a bound)"
                    ax.plot([xi], [mm["mean"]], "o", mfc="none", color=COLORS[arm], ms=6,
                            label=None if label in used else label)
                    used.add(label)
            ticks.append(xi)
            labels.append(ARM_LABEL[arm])
        ax.text(x + 0.4 * (len(arms) - 1), 1.02, protocol, transform=ax.get_xaxis_transform(),
                ha="center", fontsize=8)
        x += 0.8 * len(arms) + 0.8
    ax.set_xticks(ticks, labels, fontsize=7, rotation=20)
    ax.set_ylabel("best validation nats/token", fontsize=8)
    ax.legend(fontsize=6.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    ax = axes[0, 1]
    for protocol in protos:
        style = "-" if protocol == main_protocol(results) else "--"
        for arm in _arms(results, protocol):
            key = "val_nll" if arm == "ar" else "val_nelbo"
            table = _curve_table(results, protocol, arm, key)
            if table:
                ax.plot(list(table), [v["mean"] for v in table.values()], style, color=COLORS[arm], lw=1.4,
                        marker="o", ms=2.5, label=f"{ARM_LABEL[arm]}, {protocol}")
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("validation NLL / NELBO (nats/token)", fontsize=8)
    ax.set_title("comparable likelihoods over training", fontsize=9)
    ax.legend(fontsize=6.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    return fig


DIVERSITY_PANELS = [
    ("unique_first_word", "unique first words", True),
    ("unique_first_5gram", "unique first 5-grams", True),
    ("self_bleu", "Self-BLEU (exact; published: 200x50 est.)", False),
    ("distinct_2", "Distinct-2", False),
    ("distinct_4", "Distinct-4", False),
    ("gen_ppl", "gen. perplexity under the judge AR", False),
]


def _diversity_groups(results) -> list[tuple[str, str | None, str]]:
    """(label, protocol, setting) groups for the diversity plot, the paper's first."""
    groups = [(CITATION.replace(" (", "\n("), None, "paper")]
    for protocol in _protocols(results):
        if _samples(results, protocol=protocol, setting="samples"):
            groups.append((f"{protocol}\n(main)", protocol, "samples"))
        if _samples(results, protocol=protocol, setting="samples_prompted"):
            groups.append((f"{protocol},\nboth 'Once'", protocol, "samples_prompted"))
    return groups


def fig_diversity(results):
    """Diversity metrics per arm and setting with 95% intervals over seeds; the published values
    (grey group) and real held-out text as horizontal lines (dashed: story openings, dotted:
    random windows) over the groups of the same protocol."""
    groups = _diversity_groups(results)
    fig, axes = _new_figure(2, 3, 7.4, 4.9)
    for ax, (metric, title, pct) in zip(axes.flat, DIVERSITY_PANELS):
        x = 0.0
        ticks, labels = [], []
        for label, protocol, setting in groups:
            arms = ("ar", "mdlm") if protocol is None else _arms(results, protocol)
            start = x
            for i, arm in enumerate(arms):
                xi = x + i * 0.3
                if protocol is None:
                    val = PUBLISHED["diversity"][arm].get(metric)
                    if val is not None:
                        ax.plot([xi], [val], "s", color=COLORS[arm], mec="k", mew=0.5, ms=5)
                else:
                    st = sample_stat(results, metric, protocol, arm, setting)
                    if _ok(st["mean"]):
                        err = [[st["mean"] - st["lo"]], [st["hi"] - st["mean"]]]
                        ax.errorbar([xi], [st["mean"]], yerr=err, fmt="o", color=COLORS[arm], ms=4, capsize=2)
            end = x + 0.3 * (len(arms) - 1)
            if protocol is not None:
                for kind, ls in (("openings", "--"), ("windows", ":")):
                    ref = _ref(results, protocol, kind)
                    if ref and _ok(ref.get(metric)):
                        ax.hlines(ref[metric], start - 0.15, end + 0.15, colors="k", linestyles=ls, lw=1)
            ticks.append((start + end) / 2)
            labels.append(label)
            x = end + 1.0
        ax.set_xticks(ticks, labels, fontsize=6.5)
        ax.set_title(title, fontsize=9)
        if pct:
            ax.yaxis.set_major_formatter(_pct_formatter())
    from matplotlib.lines import Line2D
    present = {r["arm"] for r in results["samples"]} | {"ar", "mdlm"}
    handles = [Line2D([], [], color=COLORS[a], marker="o", ls="", label=ARM_LABEL[a]) for a in ARMS if a in present]
    handles += [Line2D([], [], color="k", ls="--", label="data: story openings"),
                Line2D([], [], color="k", ls=":", label="data: random windows"),
                Line2D([], [], color="#999999", marker="s", mec="k", ls="", label=f"{CITATION} (published)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=7, frameon=False)
    return fig


def _kilo_formatter():
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _: f"{v / 1000:g}k" if abs(v) >= 1000 else f"{v:g}")


def _pct_formatter():
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda v, _: f"{100 * v:.0f}%")


def _fmt_seconds(s) -> str:
    if not _ok(s):
        return "?"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def sweep_rows(results, knob) -> list[dict]:
    """Sweep rows of one knob ("mdlm_steps" or "ar_temperature"), aggregated over seeds, by value."""
    rows = [r for r in results["samples"] if r.get("knob") == knob]
    out = []
    for value in sorted({r["value"] for r in rows}):
        picked = [r for r in rows if r["value"] == value]
        protocol = picked[0]["protocol"]
        arm = picked[0]["arm"]
        setting = picked[0]["setting"]
        agg = {m: sample_stat(results, m, protocol, arm, setting)
               for m in ("self_bleu", "unique_first_5gram", "unique_first_word", "gen_ppl", "wall_time_s",
                         "distinct_2")}
        out.append({"value": value, "protocol": protocol, "arm": arm, "setting": setting, **agg})
    return out


def _log_x_if_wide(ax) -> None:
    """Log x axis with plain-number labels when the data span more than a factor of 5."""
    from matplotlib.ticker import FuncFormatter, LogLocator
    xs = [x for line in ax.get_lines() for x in line.get_xdata() if x > 0]
    if xs and max(xs) / min(xs) > 5:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def fig_sweep(results):
    """Diversity against fluency along the sampler sweeps (MDLM denoising steps, AR temperature):
    Self-BLEU and unique first 5-grams against generative perplexity under the AR model, each point
    annotated with its knob value and the wall time of drawing the sample set."""
    if not has_sweep(results):
        raise ValueError("this run has no sweep rows (config sweep=False)")
    fig, axes = _new_figure(1, 2, 7.0, 3.4)
    series = [("mdlm_steps", "mdlm", "MDLM: denoising steps", lambda v: f"{int(v)} st"),
              ("ar_temperature", "ar", "AR: temperature", lambda v: f"T={v:g}")]
    protocol = None
    for ax, (metric, ylabel) in zip(axes.flat, (("self_bleu", "Self-BLEU (lower = more diverse)"),
                                                 ("unique_first_5gram", "unique first 5-grams"))):
        for knob, arm, label, name in series:
            rows = sweep_rows(results, knob)
            rows = [r for r in rows if _ok(r["gen_ppl"]["mean"]) and _ok(r[metric]["mean"])]
            if not rows:
                continue
            protocol = rows[0]["protocol"]
            xs = [r["gen_ppl"]["mean"] for r in rows]
            ys = [r[metric]["mean"] for r in rows]
            ax.plot(xs, ys, "o-", color=COLORS[arm], lw=1.2, ms=4, label=label)
            for r, xv, yv in zip(rows, xs, ys):
                text = name(r["value"])
                if metric == "self_bleu":  # wall time once, on the first panel
                    text += f", {_fmt_seconds(r['wall_time_s']['mean'])}"
                ax.annotate(text, (xv, yv), textcoords="offset points", xytext=(4, 3), fontsize=6)
        if protocol is not None:
            for kind, ls in (("openings", "--"), ("windows", ":")):
                ref = _ref(results, protocol, kind)
                if ref and _ok(ref.get(metric)):
                    ax.axhline(ref[metric], color="k", ls=ls, lw=0.8, label=f"data: {kind}")
        _log_x_if_wide(ax)
        ax.set_xlabel("gen. perplexity under AR (lower = more fluent)", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        if metric == "unique_first_5gram":
            ax.yaxis.set_major_formatter(_pct_formatter())
        ax.legend(fontsize=6.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    if protocol:
        fig.suptitle(f"sampler sweep, {protocol} protocol, seed {results['meta']['seeds'][0]}", fontsize=9)
    return fig


# --------------------------------------------------------------------------- tables

def _column_groups(results, with_tied=True) -> list[tuple[str, str, str]]:
    """(top header, sub header, key) columns: the paper's AR/MDLM, then ours per protocol and arm."""
    cols = [(CITATION, "AR", "paper/ar"), (CITATION, "MDLM", "paper/mdlm")]
    for protocol in _protocols(results):
        for arm in _arms(results, protocol):
            if arm == "mdlm_tied" and not with_tied:
                continue
            cols.append((PROTOCOL_LABEL.get(protocol, protocol), ARM_LABEL[arm], f"{protocol}/{arm}"))
    return cols


def _frame(rows: dict[str, list[str]], columns: list[tuple[str, str, str]], stub: str, **attrs) -> pd.DataFrame:
    df = pd.DataFrame.from_dict(rows, orient="index", dtype=object)
    df.columns = pd.MultiIndex.from_tuples([(c[0], c[1]) for c in columns])
    df.index.name = stub
    df.attrs.update(attrs)
    return df


def _seeds_note(results) -> str:
    n = len(results["meta"].get("seeds") or [0])
    return "" if n <= 1 else f" (mean ± 95% CI over {n} seeds)"


def describe_source(meta, short=False) -> str:
    source = str(meta.get("source", ""))
    if source == "synthetic":
        return "synthetic stories" if short else "synthetic stories (toy corpus)"
    if source == "tinystories":
        return "TinyStories"
    if "tinystories-sample" in source:
        n = next(iter((meta.get("data") or {}).values()), {}).get("n_stories")
        return f"TinyStories sample ({n:,} stories)" if n else "TinyStories sample"
    return Path(source).name or source


def describe_results(results) -> str:
    """What a results file holds (either study), under its scale mark when below the paper's scale."""
    note = toy_note(results["meta"])
    return (f"{note}\n" if note else "") + _holds(results)


def _holds(results) -> str:
    if report_repetition.is_repetition(results):
        rows = results["repetition"]
        return (f"repetition study: {len(rows)} runs ({len({r['chunks'] for r in rows})} unique-data budgets x "
                f"{len({r['epochs'] for r in rows})} epoch counts x 2 paradigms x {len(results['meta']['seeds'])} "
                f"seeds), {len(results['samples'])} sample sets; finding 2 "
                f"{results['verdicts']['finding_2']['outcome']}")
    return (f"{len(results['runs'])} trained arms, {len(results['samples'])} sample sets, "
            f"{len(results['references'])} reference rows")


def sample_label(row) -> str:
    """protocol / arm / setting of a comparison's sample row; paradigm / epochs of a repetition's."""
    if "epochs" in row:
        return f"{row['paradigm']} / {row['epochs']} epochs / seed {row['seed']}"
    return f"{row['protocol']} / {row['arm']} / {row['setting']}"


def table_setup(results) -> pd.DataFrame:
    """Table 1: the setup, the paper's beside ours per protocol; parameter counts are our models'
    real counts (from the trained runs), the paper's are its reported 123.6M / 162.7M."""
    meta = results["meta"]
    cfg = meta["config"]
    protos = _protocols(results)
    pub = PUBLISHED["setup"]
    cols = ["Vicentino (2026)"] + [PROTOCOL_LABEL.get(p, p) for p in protos]

    def per_protocol(fn):
        return [fn(p) for p in protos]

    def prot_cfg(p):
        from .config import PROTOCOLS
        base = dict(cfg)
        if p != base.get("protocol"):
            base.update(PROTOCOLS[p])
        return base

    def params(p, arm):
        st = run_stat(results, "n_params", p, arm)
        return fmt(st["mean"], "params") if st["n"] else "n/a"

    def gap(p, arm):
        a, m = run_stat(results, "n_params", p, "ar")["mean"], run_stat(results, "n_params", p, arm)["mean"]
        return f"+{fmt(m / a - 1, 'pct')}" if _ok(a) and _ok(m) else "n/a"

    data = {}
    data["Shared"] = [""] * len(cols)
    data["Data"] = [pub["data"]] + per_protocol(
        lambda p: f"{describe_source(meta, short=True)}, {fmt(meta['n_tokens'], 'params')} tokens")
    data["Vocabulary"] = ["50,257 (GPT-2)"] + per_protocol(
        lambda p: f"{fmt((meta.get('data') or {}).get(p, {}).get('vocab_size', meta['vocab_size']), 'int')} "
                  f"({'compact GPT-2' if cfg.get('compact_vocab') else 'GPT-2'})")
    data["Steps"] = [fmt(pub["steps"], "int")] + per_protocol(lambda p: fmt(cfg["steps"], "int"))
    data["Batch size"] = [str(pub["batch_size"])] + per_protocol(lambda p: str(cfg["batch_size"]))
    data["Sequence length"] = [str(pub["seq_len"])] + per_protocol(lambda p: str(cfg["seq_len"]))
    data["d_model / layers / heads"] = [f"{pub['d_model']} / {pub['n_layers']} / {pub['n_heads']}"] + per_protocol(
        lambda p: f"{cfg['d_model']} / {cfg['n_layers']} / {cfg['n_heads']}")
    data["FFN dim"] = [fmt(pub["d_ff"], "int")] + per_protocol(lambda p: fmt(cfg["d_ff"], "int"))
    data["Optimizer"] = [pub["optimizer"]] + per_protocol(
        lambda p: f"AdamW (lr {cfg['lr']:g}, wd {cfg['weight_decay']:g})")
    data["Precision"] = [pub["precision"]] + per_protocol(lambda p: describe_precision(meta))
    data["Hardware"] = [pub["hardware"]] + per_protocol(lambda p: str(meta.get("device", "n/a")))
    data["Seeds"] = ["1"] + per_protocol(lambda p: str(len({r["seed"] for r in _runs(results, protocol=p)})))
    data["Paradigm-specific"] = [""] * len(cols)
    data["Attention (AR / MDLM)"] = ["causal / bidirectional"] * len(cols)
    data["MDLM noise schedule"] = ["cosine"] * len(cols)
    data["MDLM timestep conditioning"] = ["sinusoidal"] * len(cols)
    data["Parameters: AR"] = [fmt(PUBLISHED["ar"]["n_params"], "params")] + per_protocol(lambda p: params(p, "ar"))
    data["Parameters: MDLM"] = [fmt(PUBLISHED["mdlm"]["n_params"], "params")] + per_protocol(
        lambda p: params(p, "mdlm"))
    data["MDLM over AR"] = [f"+{fmt(PUBLISHED['mdlm']['n_params'] / PUBLISHED['ar']['n_params'] - 1, 'pct')}"] \
        + per_protocol(lambda p: gap(p, "mdlm"))
    if any(_runs(results, arm="mdlm_tied")):
        data["Parameters: MDLM (tied head)"] = ["not trained"] + per_protocol(
            lambda p: params(p, "mdlm_tied") if _runs(results, protocol=p, arm="mdlm_tied") else "not trained")
        data["MDLM (tied) over AR"] = ["n/a"] + per_protocol(
            lambda p: gap(p, "mdlm_tied") if _runs(results, protocol=p, arm="mdlm_tied") else "n/a")
    data["Protocol"] = [""] * len(cols)
    pc = {p: prot_cfg(p) for p in protos}
    data["End-of-text between stories"] = ["no"] + per_protocol(lambda p: "yes" if pc[p]["eos_between_stories"] else "no")
    data["Validation split"] = ["random 5% of chunks"] + per_protocol(
        lambda p: "whole held-out stories" if pc[p]["val_split"] == "story" else "random 5% of chunks")
    data["MDLM training loss"] = ["masked-token mean"] + per_protocol(
        lambda p: "NELBO (likelihood bound)" if pc[p]["mdlm_loss"] == "elbo" else "masked-token mean")
    data["AR prompt"] = ['"Once"'] + per_protocol(
        lambda p: f'"{pc[p]["ar_prompt"]}"' if pc[p]["ar_prompt"] else "none (from end-of-text)")
    data["MDLM sampler"] = ["released code (100 steps)"] + per_protocol(
        lambda p: f"{'released code' if pc[p]['mdlm_sampler'] == 'published' else pc[p]['mdlm_sampler']} "
                  f"({pc[p]['mdlm_steps']} steps)")
    data["Samples"] = [f"{PUBLISHED['n_samples']:,} x {PUBLISHED['sample_length']} tokens"] + per_protocol(
        lambda p: f"{cfg['n_samples']:,} x {cfg['sample_length']} tokens")
    data["Self-BLEU"] = ["200 x 50 unsmoothed estimate"] + per_protocol(
        lambda p: "exact, all pairs, lowercased words" if pc[p]["self_bleu"] == "exact"
        else "200 x 50 unsmoothed estimate")
    df = pd.DataFrame.from_dict(data, orient="index", columns=cols, dtype=object)
    df.index.name = "Setting"
    df.attrs.update(sections=["Shared", "Paradigm-specific", "Protocol"], align="l", resize=True,
                    title="Table 1. Setup: the paper's and ours")
    return df


def describe_precision(meta) -> str:
    cfg = meta["config"]
    gpu = not str(meta.get("device", "")).startswith("CPU")
    if cfg.get("precision") == "fp32" or (cfg.get("precision") == "auto" and not gpu):
        return "fp32"
    return "bf16 autocast"


def table_training(results) -> pd.DataFrame:
    """Table 2: parameters, training time, throughput, best validation loss and its step; ours per
    protocol and arm (mean and 95% interval over seeds) beside the paper's. Throughput twice: from the
    training logs (arms trained one after another: confounded by whatever else the machine did) and
    from the interleaved benchmark of the main protocol (arche.speed), which finding 1 uses."""
    cols = _column_groups(results)
    log_row, bench_row = "Throughput, training log (tok/s)", "Throughput, interleaved (tok/s)"
    rows = {k: [] for k in ("Parameters", "Training time (min)", log_row, bench_row, "Best val loss",
                            "Best step", "Val loss measured")}
    tp = results.get("throughput") or {}
    for _, _, key in cols:
        src, arm = key.split("/")
        if src == "paper":
            p = PUBLISHED[arm]
            rows["Parameters"].append(fmt(p["n_params"], "params"))
            rows["Training time (min)"].append(fmt(p["train_time_min"], "min"))
            rows[log_row].append(fmt(p["tokens_per_s"], "tok"))
            rows[bench_row].append("n/a")
            rows["Best val loss"].append(fmt(p["best_val"], "f3"))
            rows["Best step"].append(fmt(p["best_step"], "int"))
            rows["Val loss measured"].append("NLL" if arm == "ar" else "masked mean")
            continue
        st = lambda m: run_stat(results, m, src, arm)  # noqa: E731
        rows["Parameters"].append(fmt(st("n_params")["mean"], "params"))
        rows["Training time (min)"].append(fmt_agg(st("train_time_s"), "min", scale=1 / 60))
        rows[log_row].append(fmt_agg(st("tokens_per_s"), "tok"))
        # The benchmark that finding 1 uses: median [min, max] over interleaved rounds, main protocol.
        per = (tp.get("per_round") or {}).get(arm) if src == tp.get("protocol", main_protocol(results)) else None
        rows[bench_row].append(f"{fmt(tp['median'][arm], 'tok')} [{fmt(min(per), 'tok')}, {fmt(max(per), 'tok')}]"
                               if per else "n/a")
        rows["Best val loss"].append(fmt_agg(st("best_val"), "f3"))
        rows["Best step"].append(fmt_agg(st("best_step"), "int"))
        rows["Val loss measured"].append(_loss_name(results, src, arm))
    return _frame(rows, cols, "Metric", resize=True,
                  title="Table 2. Training efficiency" + _seeds_note(results))


def table_val_loss(results) -> pd.DataFrame:
    """Table 3: validation loss at every evaluation, aligned by fraction of training (the paper
    evaluated every 2,000 of 20,000 steps; ours every eval_every of its own steps). The paper's step
    and ours are both shown; the lowest value of each column is bold."""
    cols = _column_groups(results)
    pc = PUBLISHED["val_curve"]
    ours_steps = results["meta"]["config"]["steps"]
    tables = {key: _curve_table(results, *key.split("/")) for _, _, key in cols if not key.startswith("paper")}
    fracs = {round(s / PUBLISHED["steps"], 4): ("paper", s) for s in pc["step"]}
    our_steps = sorted({s for t in tables.values() for s in t})
    for s in our_steps:
        fracs.setdefault(round(s / ours_steps, 4), None)
    rows, bold = {}, set()
    best = {}
    for key, t in tables.items():
        if t:
            best[key] = min(t, key=lambda s: t[s]["mean"])
    columns = [("", "Paper step", "paper_step"), ("", "Our step", "our_step")] + cols
    for frac in sorted(fracs):
        paper_step = next((s for s in pc["step"] if round(s / PUBLISHED["steps"], 4) == frac), None)
        our_step = next((s for s in our_steps if round(s / ours_steps, 4) == frac), None)
        label = f"{100 * frac:.0f}%" if abs(100 * frac - round(100 * frac)) < 0.05 else f"{100 * frac:.1f}%"
        row = [fmt(paper_step, "int") if paper_step else "", fmt(our_step, "int") if our_step else ""]
        for top, sub, key in cols:
            if key.startswith("paper"):
                arm = key.split("/")[1]
                if paper_step:
                    v = pc[arm][pc["step"].index(paper_step)]
                    row.append(fmt(v, "f3"))
                    if v == min(pc[arm]):
                        bold.add((label, (top, sub)))
                else:
                    row.append("")
            else:
                t = tables[key]
                if our_step in t:
                    row.append(fmt_agg(t[our_step], "f3"))
                    if best.get(key) == our_step:
                        bold.add((label, (top, sub)))
                else:
                    row.append("")
        rows[label] = row
    return _frame(rows, columns, "Training done", bold=bold, resize=True,
                  title="Table 3. Validation loss over training (bold: lowest)" + _seeds_note(results))


DIVERSITY_ROWS = [
    ("n_texts", "Texts (n)", "int"), ("mean_words", "Mean words per text", "sig"),
    ("distinct_1", "Distinct-1", "f3"), ("distinct_2", "Distinct-2", "f3"), ("distinct_3", "Distinct-3", "f3"),
    ("distinct_4", "Distinct-4", "f3"), ("self_bleu", "Self-BLEU", "f3"), ("self_bleu_kind", "  estimator", "str"),
    ("distinct_4_matched", "Distinct-4, matched length", "f3"),
    ("self_bleu_matched", "Self-BLEU, matched length", "f3"),
    ("vocab_size", "Vocabulary used", "int"), ("unique_first_word", "Unique first words", "pct"),
    ("unique_first_5gram", "Unique first 5-grams", "pct"), ("gen_ppl", "Gen. perplexity (judge)", "sig"),
]
SELF_BLEU_SHORT = {"exact": "exact, words", "published": "200x50 est."}


def table_diversity(results) -> pd.DataFrame:
    """Table 4: diversity of each arm's main sample set (mean ± 95% CI over seeds) beside the
    paper's, with real held-out text cut like the samples ("data: openings" = story beginnings,
    "data: windows" = random windows) measured the same way under each protocol."""
    cols = _column_groups(results)
    for protocol in _protocols(results):
        last = max(i for i, c in enumerate(cols) if c[2].startswith(protocol + "/"))
        refs = [(PROTOCOL_LABEL.get(protocol, protocol), f"data: {kind}", f"{protocol}/ref:{kind}")
                for kind in ("openings", "windows") if _ref(results, protocol, kind)]
        cols = cols[:last + 1] + refs + cols[last + 1:]
    rows = {}
    for metric, label, kind in DIVERSITY_ROWS:
        row = []
        for _, _, key in cols:
            src, what = key.split("/")
            if metric == "self_bleu_kind":
                kinds = ({"published"} if src == "paper" else
                         {r.get("self_bleu_kind") for r in _samples(results, protocol=src)} if not what.startswith("ref:")
                         else {(_ref(results, src, what[4:]) or {}).get("self_bleu_kind")})
                row.append(", ".join(SELF_BLEU_SHORT.get(k, "n/a") for k in sorted(kinds, key=str)))
            elif src == "paper":
                paper = {**PUBLISHED["diversity"][what], "n_texts": 1000}
                row.append(fmt(paper.get(metric), kind) if metric in paper else "n/a")
            elif what.startswith("ref:"):
                ref = _ref(results, src, what[4:])
                row.append(fmt(ref.get(metric), kind) if ref and metric in ref else "n/a")
            else:
                row.append(fmt_agg(sample_stat(results, metric, src, what), kind))
        rows[label] = row
    tops = list(dict.fromkeys(c[0] for c in cols))
    panels = [tops[:2], tops[2:]] if len(cols) > 8 and len(tops) > 2 else None
    return _frame(rows, cols, "Metric", resize=True, panels=panels,
                  title="Table 4. Diversity of the main sample sets" + _seeds_note(results))


def table_likelihood(results) -> pd.DataFrame:
    """Likelihoods that compare: AR validation NLL and perplexity against the MDLM's NELBO and its
    perplexity bound (an upper bound on the MDLM's perplexity), beside the masked-token mean loss the
    paper reported, which is not a likelihood bound. Lowest value over evaluations of each run."""
    cols = _column_groups(results)
    rows = {k: [] for k in ("AR NLL (nats/token)", "AR perplexity", "MDLM NELBO (nats/token, bound)",
                            "MDLM perplexity bound", "MDLM masked-token mean (not a bound)")}
    for _, _, key in cols:
        src, arm = key.split("/")
        if src == "paper":
            if arm == "ar":
                vals = [fmt(PUBLISHED["ar"]["best_val"], "f3"), fmt(math.exp(PUBLISHED["ar"]["best_val"]), "f2"),
                        "", "", ""]
            else:
                vals = ["", "", "not reported", "not reported", fmt(PUBLISHED["mdlm"]["best_val"], "f3")]
        elif arm == "ar":
            vals = [fmt_agg(run_stat(results, "best_val_nll", src, arm), "f3"),
                    fmt_agg(run_stat(results, "best_val_ppl", src, arm), "f2"), "", "", ""]
        else:
            vals = ["", "", fmt_agg(run_stat(results, "best_val_nelbo", src, arm), "f3"),
                    fmt_agg(run_stat(results, "best_val_ppl_bound", src, arm), "f2"),
                    fmt_agg(run_stat(results, "best_val_masked_mean", src, arm), "f3")]
        for k, v in zip(rows, vals):
            rows[k].append(v)
    return _frame(rows, cols, "Measure", resize=True,
                  title="Likelihoods: comparable AR and MDLM measures" + _seeds_note(results))


EXAMPLE_CHARS = 240  # characters of each example shown in the appendix


def table_examples(results, group: str) -> pd.DataFrame:
    """The first five samples of each arm (first seed) of one group: "published" or "controlled"
    (unconditional sets of that protocol, with five real held-out story openings), or "prompted"
    (the controlled protocol, both models prompted "Once"). Texts cut to EXAMPLE_CHARS characters."""
    protocol = "controlled" if group == "prompted" else group
    setting = "samples_prompted" if group == "prompted" else "samples"
    seed = (results["meta"].get("seeds") or [0])[0]
    rows = {}
    for arm in ARMS:
        row = next((r for r in _samples(results, protocol=protocol, arm=arm, setting=setting, seed=seed)), None)
        for i, text in enumerate((row or {}).get("examples", [])[:5]):
            rows[f"{ARM_LABEL[arm]} {i + 1}"] = [_clip(text)]
    ref = _ref(results, protocol, "openings")
    if group != "prompted" and ref:
        for i, text in enumerate(ref.get("examples", [])[:5]):
            rows[f"data {i + 1}"] = [_clip(text)]
    if not rows:
        rows["(none)"] = [f"no {setting} sample set under the {protocol} protocol in this run"]
    df = pd.DataFrame.from_dict(rows, orient="index", columns=["Text"], dtype=object)
    df.index.name = "Source"
    rag = ">{\\raggedright\\arraybackslash}"
    df.attrs.update(stub_align="l", align=f"{rag}p{{0.82\\linewidth}}", resize=False,
                    title=f"Examples: {protocol} protocol, {setting}, seed {seed}")
    return df


_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                             "\u2014": "--", "\u2026": "..."})


def _clip(text: str) -> str:
    """One line of at most EXAMPLE_CHARS characters, in ASCII: model text can hold any byte sequence
    (a broken UTF-8 piece decodes to U+FFFD), which pdflatex cannot typeset."""
    text = " ".join(str(text).translate(_TYPOGRAPHY).split()).encode("ascii", "replace").decode()
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS].rsplit(" ", 1)[0] + " ..."


# --------------------------------------------------------------------------- findings

# A rule returns one of four outcomes. "inconclusive": the measurements cannot tell (an interval of a
# difference contains the threshold). "not testable": the rule's precondition is unmet (e.g. a model
# no better than the unigram baseline, or no overfitting regime reached), so the run says nothing.
OUTCOMES = ("holds", "does not hold", "inconclusive", "not testable")
HOLDS = {"holds": True, "does not hold": False, "inconclusive": None, "not testable": None}
OUTCOME_SHORT = {"holds": "yes", "does not hold": "no", "inconclusive": "inconclusive",
                 "not testable": "not testable"}


def _finding(outcome: str, reason: str, measure: str, **extra) -> dict:
    assert outcome in OUTCOMES, outcome
    return {"outcome": outcome, "verdict": outcome, "holds": HOLDS[outcome], "reason": reason,
            "measure": measure, **extra}


def sanity_gate(results, protocol, arm) -> dict:
    """Is every seed of an arm better than the unigram baseline? Each model's best held-out bound
    (AR NLL, MDLM NELBO, nats/token) against the unigram entropy of the same validation tokens, with
    a margin of two standard errors of the bound's estimate. {passed, failed_seeds, entropy, best}."""
    entropy = (results["meta"].get("unigram_entropy") or {}).get(protocol)
    rows = _runs(results, protocol=protocol, arm=arm)
    if entropy is None or not rows:
        return {"passed": None, "failed_seeds": [], "entropy": entropy, "best": None}
    failed = [r["seed"] for r in rows
              if r.get("best_bound") is None or r["best_bound"] + 2 * (r.get("val_nelbo_se") or 0.0) >= entropy]
    return {"passed": not failed, "failed_seeds": failed, "entropy": entropy,
            "best": aggregate([r.get("best_bound") for r in rows])}


def _gate(results, protocol, arms) -> str | None:
    """Why a verdict that needs these arms is not testable (the sanity gate failed), or None."""
    for arm in arms:
        g = sanity_gate(results, protocol, arm)
        if g["passed"] is False:
            return (f"{ARM_LABEL[arm]} is no better than the unigram baseline "
                    f"({fmt_agg(g['best'], 'f3')} vs {fmt(g['entropy'], 'f3')} nats/token) in "
                    f"{len(g['failed_seeds'])} seed(s)")
    return None


def finding_throughput(results, protocol=None, arm="mdlm") -> dict:
    """Finding 1, throughput parity. Measured by the interleaved benchmark (arche.speed: both
    paradigms alternated in one process, several rounds), never from training logs. Rule: the 95%
    interval of the paired MDLM/AR tokens/s ratio lies inside 1 +- THROUGHPUT_TOLERANCE: holds; lies
    wholly outside: does not hold; straddles a bound: inconclusive. No benchmark: not testable."""
    protocol = protocol or main_protocol(results)
    tp = results.get("throughput") or {}
    per = tp.get("per_round") or {}
    if "ar" not in per or arm not in per:
        return _finding("not testable", "no interleaved throughput benchmark in this run",
                        "not measured", protocol=protocol, ratio=None)
    r = paired_ratio(per[arm], per["ar"])
    lo_ok, hi_ok = 1 - THROUGHPUT_TOLERANCE, 1 + THROUGHPUT_TOLERANCE
    if r["n"] < 2:
        outcome = "not testable"
    elif lo_ok <= r["lo"] and r["hi"] <= hi_ok:
        outcome = "holds"
    elif r["hi"] < lo_ok or r["lo"] > hi_ok:
        outcome = "does not hold"
    else:
        outcome = "inconclusive"
    med = tp.get("median", {})
    measure = (f"{ARM_LABEL[arm]} at {fmt(r['ratio'], 'pct')} of AR [{fmt(r['lo'], 'pct')}, {fmt(r['hi'], 'pct')}] "
               f"(median {fmt(med.get(arm), 'tok')} vs {fmt(med.get('ar'), 'tok')} tok/s, {r['n']} interleaved "
               f"rounds on {tp.get('device', 'an unnamed device')})")
    return _finding(outcome, f"paired ratio interval vs [{lo_ok:g}, {hi_ok:g}]", measure, protocol=protocol,
                    ratio=r["ratio"], ratio_lo=r["lo"], ratio_hi=r["hi"])


def _last_eval(row) -> int:
    curve = row.get("curve") or []
    return int(curve[-1]["step"]) if curve else int(row["steps"])


def _still_improving(row) -> bool:
    """The best evaluation is the last one, within two standard errors of the loss estimate."""
    curve = row.get("curve") or []
    if not curve:
        return False
    last = curve[-1]
    se = last.get("val_loss_se") or 0.0
    return last["val_loss"] <= min(r["val_loss"] for r in curve) + 2 * se


def _overfits(row) -> bool:
    """The best evaluation comes before the last one and the last is worse by more than its noise."""
    curve = row.get("curve") or []
    if len(curve) < 2:
        return False
    best = min(curve, key=lambda r: r["val_loss"])
    return best["step"] < curve[-1]["step"] and not _still_improving(row)


def finding_overfitting(results, protocol=None, arm="mdlm") -> dict:
    """Finding 2, "AR overfits early, MDLM is still improving at the end". Precondition: the AR model
    overfits (its last evaluation is worse than its best, beyond noise) in at least one seed, and both
    models pass the sanity gate; else not testable. Rule, over the seeds where AR overfits: the MDLM is
    still improving (its last evaluation is its best within two standard errors) in all of them:
    holds; in none: does not hold; in some: inconclusive."""
    protocol = protocol or main_protocol(results)
    ar = {r["seed"]: r for r in _runs(results, protocol=protocol, arm="ar")}
    md = {r["seed"]: r for r in _runs(results, protocol=protocol, arm=arm)}
    seeds = sorted(set(ar) & set(md))
    if not seeds:
        return _finding("not testable", "no paired runs", "no paired runs", protocol=protocol, k=0, n=0)
    ar_best = aggregate([ar[s]["best_step"] for s in seeds])
    md_best = aggregate([md[s]["best_step"] for s in seeds])
    last = _last_eval(ar[seeds[0]])
    overfit = [s for s in seeds if _overfits(ar[s])]
    improving = [s for s in overfit if _still_improving(md[s])]
    measure = (f"best step of {fmt(last, 'int')}: AR {fmt_agg(ar_best, 'int')}, {ARM_LABEL[arm]} "
               f"{fmt_agg(md_best, 'int')}; AR overfits in {len(overfit)} of {len(seeds)} seeds, "
               f"{ARM_LABEL[arm]} still improving in {len(improving)} of those")
    gate = _gate(results, protocol, ("ar", arm))
    if gate:
        return _finding("not testable", gate, measure, protocol=protocol, k=len(improving), n=len(seeds))
    if not overfit:
        return _finding("not testable", "the AR model's best evaluation is its last in every seed: "
                        "no overfitting regime was reached", measure, protocol=protocol, k=0, n=len(seeds))
    outcome = ("holds" if len(improving) == len(overfit) else
               "does not hold" if not improving else "inconclusive")
    return _finding(outcome, f"{len(improving)} of {len(overfit)} overfitting seeds", measure,
                    protocol=protocol, k=len(improving), n=len(seeds))


# Finding 3 is judged on Self-BLEU at matched length (every text cut to the same number of words),
# because Self-BLEU grows with length and the two paradigms write texts of different lengths; unique
# first 5-grams only read the first five words, so they need no matching.
DIVERSITY_RULE_METRICS = (("unique_first_5gram", +1), ("self_bleu_matched", -1))


def finding_diversity(results, protocol=None, setting="samples", arm="mdlm") -> dict:
    """Finding 3, "MDLM generates more diverse text". Rule: Welch tests over seeds (logit scale) of
    MDLM minus AR for unique first 5-grams (MDLM higher is "more diverse") and Self-BLEU at matched
    length (MDLM lower). Both in the MDLM's favour: holds; either in AR's favour: does not hold;
    otherwise inconclusive. Not testable when a model fails the sanity gate (its samples are noise,
    whose "diversity" means nothing) or there are fewer than two seeds per arm."""
    protocol = protocol or main_protocol(results)
    stat = {}
    directions = []
    for metric, better in DIVERSITY_RULE_METRICS:
        key = metric if any(metric in r for r in _samples(results)) else metric.replace("_matched", "")
        rows = [r for r in _samples(results, protocol=protocol, setting=setting)]
        va = [r.get(key) for r in rows if r["arm"] == "ar"]
        vm = [r.get(key) for r in rows if r["arm"] == arm]
        n_items = min((r["n_texts"] for r in rows if r.get("n_texts")), default=None)
        c = compare(vm, va, "logit", n_items)
        stat[metric] = (sample_stat(results, key, protocol, arm, setting), sample_stat(results, key, protocol, "ar", setting), c)
        directions.append(None if c["direction"] is None else c["direction"] * better)
    (um, ua, _), (sm, sa, _) = stat["unique_first_5gram"], stat["self_bleu_matched"]
    measure = (f"unique first 5-grams {ARM_LABEL[arm]} {fmt_agg(um, 'pct')} vs AR {fmt_agg(ua, 'pct')}; "
               f"Self-BLEU (matched length) {fmt_agg(sm, 'f3')} vs {fmt_agg(sa, 'f3')}")
    extra = dict(protocol=protocol, setting=setting, five_gram=directions[0], self_bleu=directions[1])
    gate = _gate(results, protocol, ("ar", arm))
    if gate:
        return _finding("not testable", gate, measure, **extra)
    if None in directions:
        return _finding("not testable", "fewer than two seeds per arm", measure, **extra)
    if all(d == 1 for d in directions):
        outcome = "holds"
    elif any(d == -1 for d in directions):
        outcome = "does not hold"
    else:
        outcome = "inconclusive"
    return _finding(outcome, "Welch tests of the differences", measure, **extra)


def findings(results) -> list[dict]:
    """The paper's three findings and their variants, each judged by its rule."""
    protocol = main_protocol(results)
    tied = bool(_runs(results, protocol=protocol, arm="mdlm_tied"))
    prompted = bool(_samples(results, protocol=protocol, setting="samples_prompted"))
    p1, p2 = PUBLISHED["ar"], PUBLISHED["mdlm"]
    pd_ = PUBLISHED["diversity"]
    out = [
        {"key": "FindingOne", "finding": "1. Throughput parity",
         "claim": f"MDLM at {fmt(p2['tokens_per_s'] / p1['tokens_per_s'], 'pct')} of AR throughput",
         **finding_throughput(results, protocol)},
        {"key": "FindingTwo", "finding": "2. AR overfits early, MDLM still improving",
         "claim": f"AR best at step {fmt(p1['best_step'], 'int')}, MDLM at {fmt(p2['best_step'], 'int')} "
                  f"(the last)", **finding_overfitting(results, protocol)},
    ]
    if tied:
        out.append({"key": "FindingTwoTied", "finding": "2, tied-head MDLM",
                    "claim": "(not tested in the paper)", **finding_overfitting(results, protocol, "mdlm_tied")})
    out.append({"key": "FindingThree", "finding": "3. MDLM more diverse (unconditional)",
                "claim": f"unique first 5-grams {fmt(pd_['mdlm']['unique_first_5gram'], 'pct')} vs "
                         f"{fmt(pd_['ar']['unique_first_5gram'], 'pct')}; Self-BLEU "
                         f"{fmt(pd_['mdlm']['self_bleu'], 'f3')} vs {fmt(pd_['ar']['self_bleu'], 'f3')}",
                **finding_diversity(results, protocol)})
    if prompted:
        out.append({"key": "FindingThreePrompted", "finding": "3, both prompted “Once”",
                    "claim": "(not tested: only AR was prompted)",
                    **finding_diversity(results, protocol, "samples_prompted")})
    if tied:
        out.append({"key": "FindingThreeTied", "finding": "3, tied-head MDLM",
                    "claim": "(not tested in the paper)", **finding_diversity(results, protocol, arm="mdlm_tied")})
    return out


def table_findings(results) -> pd.DataFrame:
    """The three findings of Vicentino (2026): the paper's claim, our measure under the controlled
    protocol and whether the finding holds by its rule (see finding_* for the rules)."""
    rows = {f["finding"]: [f["claim"], f["measure"], outcome_text(f["outcome"], results["meta"])]
            for f in findings(results)}
    df = pd.DataFrame.from_dict(rows, orient="index", columns=[f"{CITATION} claims",
                                                               f"Ours ({main_protocol(results)} protocol)",
                                                               "Holds?"], dtype=object)
    df.index.name = "Finding"
    rag = ">{\\raggedright\\arraybackslash}"   # needs \\usepackage{array} (main.tex loads it)
    df.attrs.update(stub_align=f"{rag}p{{0.2\\linewidth}}",
                    align=f"{rag}p{{0.3\\linewidth}}{rag}p{{0.33\\linewidth}}c", resize=False,
                    title="Findings under the controlled protocol" + _seeds_note(results))
    return df


# --------------------------------------------------------------------------- macros

def toy_level(meta) -> int:
    """0: a full-scale run on real data; 1: toy data (the synthetic corpus); 2: a small-scale run
    on real data (fewer tokens, steps or a smaller model than the paper's): config.scale_level."""
    cfg = meta.get("config", {})
    return scale_level(bool(meta.get("synthetic") or meta.get("source") == "synthetic"), meta.get("n_tokens", 0),
                       cfg.get("steps", 0), cfg.get("d_model", 0), cfg.get("n_layers", 0))


def toy_note(meta) -> str:
    """The mark of a run below the paper's scale ("" at full scale): see config.scale_note."""
    return scale_note(toy_level(meta), meta.get("n_tokens", 0))


def outcome_text(outcome: str, meta) -> str:
    """A verdict as the tables show it: "not testable at this scale" where a rule could not be tested
    in a run below the paper's scale, and every verdict of toy data marked as such."""
    level = toy_level(meta)
    if outcome == "not testable" and level:
        return "not testable at this scale"
    return OUTCOME_SHORT[outcome] + (" (toy data)" if level == 1 else "")


def mark_figure(fig, meta):
    """Write the run's scale mark above a figure (nothing at the paper's scale); returns the figure."""
    note = toy_note(meta)
    if note:
        head, _, rest = note.partition(": ")
        fig.text(0.5, 1.0, f"{head}: {rest}", ha="center", va="bottom", fontsize=7.5, color="#b22222",
                 fontweight="bold", wrap=True)
    return fig


def _tex(value: str) -> str:
    return latex_escape(value)


def macros(results) -> dict[str, str]:
    """Every number the paper's prose cites, LaTeX-ready, by macro name (letters only).

    Naming: `Paper...` = Vicentino (2026); unprefixed `Ar...`/`Mdlm...`/`MdlmTied...` = ours under the
    main (controlled) protocol; `Pub...` = ours under the published protocol; `Prompted...` = the
    controlled protocol with both models prompted "Once"; `...Data{Openings,Windows}...` = real
    held-out text. Values with several seeds read "mean $\\pm$ half-width of the 95% interval".
    Anything not measured in this run reads "n/a", so every name always exists.
    """
    if report_repetition.is_repetition(results):
        return report_repetition.macros(results)
    meta = results["meta"]
    cfg = meta["config"]
    protos = _protocols(results)
    main = main_protocol(results)
    m: dict[str, str] = {}
    level = toy_level(meta)
    m["ToyLevel"] = str(level)
    m["ToyMark"] = {0: "", 1: "toy data", 2: "small-scale run"}[level]
    m["ToyNote"] = {
        0: "",
        1: "Toy data: these results come from the synthetic corpus of the smoke profile; they test the "
           "pipeline and say nothing about the models.",
        2: "Small-scale run: far fewer tokens, steps and parameters than the paper; the numbers show the "
           "method, not the paper-scale result.",
    }[level]
    m["ProfileName"] = meta.get("profile") or "custom"
    m["DataSource"] = describe_source(meta)
    m["NTokens"] = fmt(meta.get("n_tokens"), "int")
    m["NTokensShort"] = fmt(meta.get("n_tokens"), "params")
    m["VocabSize"] = fmt(meta.get("vocab_size"), "int")
    seeds = meta.get("seeds") or []
    m["NSeeds"] = str(len(seeds))
    m["SeedList"] = ", ".join(str(s) for s in seeds)
    for key, name, kind in (("steps", "Steps", "int"), ("batch_size", "BatchSize", "int"),
                            ("seq_len", "SeqLen", "int"), ("d_model", "DModel", "int"),
                            ("n_layers", "NLayers", "int"), ("n_heads", "NHeads", "int"), ("d_ff", "DFF", "int"),
                            ("eval_every", "EvalEvery", "int"), ("warmup_steps", "WarmupSteps", "int"),
                            ("n_samples", "NSamples", "int"), ("sample_length", "SampleLength", "int"),
                            ("mdlm_steps", "MdlmSamplerSteps", "int"), ("ar_temperature", "ArTemperature", "sig"),
                            ("lr", "LearningRate", "sig")):
        m[name] = fmt(cfg.get(key), kind)
    m["DeviceName"] = str(meta.get("device", "n/a"))
    m["Precision"] = describe_precision(meta)
    m["RunDate"] = str(meta.get("created", "n/a"))
    m["ProtocolsRun"] = " and ".join(protos)
    m["MainProtocol"] = main
    # Flags (0/1) for the parts of the paper that exist only when the run has them.
    m["HasPublished"] = str(int("published" in protos))
    m["HasControlled"] = str(int("controlled" in protos))
    m["HasTied"] = str(int(bool(_runs(results, protocol=main, arm="mdlm_tied"))))
    m["HasPrompted"] = str(int(bool(_samples(results, protocol=main, setting="samples_prompted"))))
    m["HasSweep"] = str(int(has_sweep(results)))
    m["HasInfill"] = str(int((results.get("infill") or {}).get("ar_nll_infilled") is not None))
    m["HasSeeds"] = str(int(len(seeds) > 1))
    m["ThroughputTolerance"] = fmt(THROUGHPUT_TOLERANCE, "pct").replace(".0%", "%")
    m["CILevel"] = "95%"   # stats.aggregate's interval
    # The measurement choices behind the verdicts.
    meta = results["meta"]
    mp = main_protocol(results)
    m["UnigramEntropy"] = fmt((meta.get("unigram_entropy") or {}).get(mp), "f3")
    judge = meta.get("judge") or {}
    m["JudgeSeed"] = fmt(judge.get("seed"), "int")
    m["JudgeNll"] = fmt(judge.get("best_bound"), "f3")
    m["NMatch"] = fmt(meta.get("n_match"), "int")
    m["MatchWords"] = fmt(meta.get("match_words"), "int")
    tp = results.get("throughput") or {}
    m["ThroughputDevice"] = tp.get("device") or "no device (not measured)"
    m["ThroughputRounds"] = fmt(tp.get("rounds"), "int")
    m["ThroughputSteps"] = fmt(tp.get("steps"), "int")
    ses = [p.get("val_nelbo_se") for r in results["runs"] for p in (r.get("curve") or [])[-1:]
           if p.get("val_nelbo_se") is not None]
    m["NelboSeMax"] = fmt(max(ses), "f3") if ses else "n/a"
    for arm, A in (("ar", "Ar"), ("mdlm", "Mdlm"), ("mdlm_tied", "MdlmTied")):
        g = sanity_gate(results, mp, arm)
        m[f"{A}BestBound"] = fmt_agg(g["best"], "f3") if g["best"] else "n/a"

    # The paper's numbers.
    P, pd_ = PUBLISHED, PUBLISHED["diversity"]
    m["PaperCitation"] = CITATION
    m["PaperSteps"] = fmt(P["steps"], "int")
    m["PaperNSamples"] = fmt(P["n_samples"], "int")
    m["PaperNTokens"] = fmt(P["setup"]["n_tokens"], "params")
    m["PaperValFraction"] = fmt(P["setup"]["val_fraction"], "pct").replace(".0%", "%")
    m["PaperPrecision"] = P["setup"]["precision"]
    d, v = P["setup"]["d_model"], P["setup"]["vocab_size"]
    m["PaperUntiedHeadParams"] = fmt(d * (v + 1), "params")   # the MDLM head over the vocabulary + [MASK]
    m["PaperTimeMlpParams"] = fmt(d * d, "params")             # Linear(d, d) of the timestep embedding
    m["PaperArTemperature"] = fmt(P["sampling"]["ar_temperature"], "sig")
    m["PaperMdlmSamplerSteps"] = fmt(P["sampling"]["mdlm_steps"], "int")
    for arm in ("ar", "mdlm"):
        A, p = ARM_MACRO[arm], P[arm]
        m[f"Paper{A}Params"] = fmt(p["n_params"], "params")
        m[f"Paper{A}TrainTime"] = fmt(p["train_time_min"], "min")
        m[f"Paper{A}TokPerSec"] = fmt(p["tokens_per_s"], "tok")
        m[f"Paper{A}BestVal"] = fmt(p["best_val"], "f3")
        m[f"Paper{A}BestStep"] = fmt(p["best_step"], "int")
        m[f"Paper{A}FinalVal"] = fmt(P["val_curve"][arm][-1], "f3")
        for metric, name, kind in _DIV_MACROS:
            if metric in pd_[arm]:
                m[f"Paper{A}{name}"] = fmt(pd_[arm][metric], kind)
    m["PaperThroughputRatio"] = fmt(P["mdlm"]["tokens_per_s"] / P["ar"]["tokens_per_s"], "pct")
    m["PaperTimeGap"] = fmt(P["mdlm"]["train_time_min"] / P["ar"]["train_time_min"] - 1, "pct")
    m["PaperParamGap"] = fmt(P["mdlm"]["n_params"] / P["ar"]["n_params"] - 1, "pct")
    m["PaperArPpl"] = fmt(math.exp(P["ar"]["best_val"]), "f2")
    m["PaperArSameFirstWord"] = fmt(0.998, "pct")  # "99.8% begin with the same word" (abstract)

    # Ours, per protocol: "" for the main protocol, "Pub" for the published one.
    prefixes = {"": main, "Pub": "published" if "published" in protos else None}
    for prefix, protocol in prefixes.items():
        for arm in ARMS:
            A = prefix + ARM_MACRO[arm]
            present = protocol is not None and bool(_runs(results, protocol=protocol, arm=arm))
            st = (lambda metric: run_stat(results, metric, protocol, arm)) if present else (lambda metric: {})
            m[f"{A}Params"] = fmt(st("n_params").get("mean"), "params")
            m[f"{A}ParamsExact"] = fmt(st("n_params").get("mean"), "int")
            m[f"{A}TrainTime"] = fmt_agg(st("train_time_s"), "min", scale=1 / 60) if present else "n/a"
            m[f"{A}TokPerSec"] = fmt_agg(st("tokens_per_s"), "tok") if present else "n/a"
            m[f"{A}BestVal"] = fmt_agg(st("best_val"), "f3") if present else "n/a"
            m[f"{A}BestStep"] = fmt_agg(st("best_step"), "int") if present else "n/a"
            m[f"{A}FinalVal"] = fmt_agg(st("final_val"), "f3") if present else "n/a"
            m[f"{A}LastStep"] = fmt(st("steps").get("mean"), "int")
            if arm == "ar":
                m[f"{A}Nll"] = fmt_agg(st("best_val_nll"), "f3") if present else "n/a"
                m[f"{A}Ppl"] = fmt_agg(st("best_val_ppl"), "f2") if present else "n/a"
            else:
                m[f"{A}Nelbo"] = fmt_agg(st("best_val_nelbo"), "f3") if present else "n/a"
                m[f"{A}PplBound"] = fmt_agg(st("best_val_ppl_bound"), "f2") if present else "n/a"
                m[f"{A}MaskedLoss"] = fmt_agg(st("best_val_masked_mean"), "f3") if present else "n/a"
            _sample_macros(m, results, A, protocol, arm, "samples")
            if prefix == "":
                _sample_macros(m, results, "Prompted" + ARM_MACRO[arm],
                               protocol if protocol == "controlled" else None, arm, "samples_prompted")
        for kind in ("openings", "windows"):
            ref = _ref(results, protocol, kind) if protocol else None
            for metric, name, fk in _DIV_MACROS:
                if metric == "gen_ppl":
                    continue
                m[f"{prefix}Data{kind.capitalize()}{name}"] = fmt(ref.get(metric) if ref else None, fk)
        a = run_stat(results, "tokens_per_s", protocol, "ar") if protocol else {}
        for arm in ("mdlm", "mdlm_tied"):
            A = prefix + ARM_MACRO[arm]
            b = run_stat(results, "tokens_per_s", protocol, arm) if protocol else {}
            ratio = b["mean"] / a["mean"] if _ok(a.get("mean")) and _ok(b.get("mean")) else None
            m[f"{A}ThroughputRatio"] = fmt(ratio, "pct")
            pa = run_stat(results, "n_params", protocol, "ar") if protocol else {}
            pb = run_stat(results, "n_params", protocol, arm) if protocol else {}
            gap = pb["mean"] / pa["mean"] - 1 if _ok(pa.get("mean")) and _ok(pb.get("mean")) else None
            m[f"{A}ParamGap"] = fmt(gap, "pct")

    # The verdicts.
    by_key = {f["key"]: f for f in findings(results)}
    for key in ("FindingOne", "FindingTwo", "FindingTwoTied", "FindingThree", "FindingThreePrompted",
                "FindingThreeTied"):
        f = by_key.get(key)
        m[f"{key}Verdict"] = f["verdict"] if f else "not testable"
        m[f"{key}Measure"] = f["measure"] if f else "not measured in this run"
        m[f"{key}Reason"] = f["reason"] if f else "not run"
    f2 = by_key["FindingTwo"]
    m["FindingTwoSeeds"] = f"{f2.get('k', 0)} of {f2.get('n', 0)}"

    # The sampler sweep (first seed): the extremes of each knob.
    for knob, A, name in (("mdlm_steps", "SweepMdlm", "Steps"), ("ar_temperature", "SweepAr", "Temp")):
        rows = sweep_rows(results, knob)
        m[f"{A}{name}Values"] = ", ".join(f"{r['value']:g}" for r in rows) if rows else "n/a"
        for end, row in (("Low", rows[0] if rows else None), ("High", rows[-1] if rows else None)):
            m[f"{A}{end}{name}"] = f"{row['value']:g}" if row else "n/a"
            for metric, mname, kind in (("wall_time_s", "Time", "sig"), ("gen_ppl", "GenPpl", "sig"),
                                        ("self_bleu", "SelfBleu", "f3"),
                                        ("unique_first_5gram", "UniqueFiveGram", "pct")):
                m[f"{A}{end}{mname}"] = fmt(row[metric]["mean"], kind) if row else "n/a"

    # Infilling.
    m["InfillSummary"] = infill_summary(results.get("infill"))
    _infill_macros(m, results.get("infill"))
    return {k: _tex(v) for k, v in m.items()}

_DIV_MACROS = [
    ("distinct_1", "DistinctOne", "f3"), ("distinct_2", "DistinctTwo", "f3"), ("distinct_3", "DistinctThree", "f3"),
    ("distinct_4", "DistinctFour", "f3"), ("self_bleu", "SelfBleu", "f3"), ("vocab_size", "VocabUsed", "int"),
    ("unique_first_word", "UniqueFirstWord", "pct"), ("unique_first_5gram", "UniqueFiveGram", "pct"),
    ("gen_ppl", "GenPpl", "sig"),
]


def _sample_macros(m, results, A, protocol, arm, setting) -> None:
    rows = _samples(results, protocol=protocol, arm=arm, setting=setting) if protocol else []
    for metric, name, kind in _DIV_MACROS:
        m[f"{A}{name}"] = fmt_agg(sample_stat(results, metric, protocol, arm, setting), kind) if rows else "n/a"
    m[f"{A}SampleTime"] = fmt_agg(sample_stat(results, "wall_time_s", protocol, arm, setting), "sig") \
        if rows else "n/a"
    # The most common first word and its share (first seed's sample set).
    top = (rows[0].get("first_words_top") or [[None, None]])[0] if rows else [None, None]
    m[f"{A}TopFirstWord"] = f"“{top[0]}”" if top and top[0] else "n/a"
    m[f"{A}TopFirstWordShare"] = fmt(top[1], "pct") if top and top[0] else "n/a"


def infill_summary(infill) -> str:
    """One sentence on the infilling check (sample.infill_demo's record), or why there is none."""
    if not infill or infill.get("ar_nll_infilled") is None:
        return "This run has no infilling check."
    return (f"The MDLM ({infill.get('protocol', '?')} protocol, seed {infill.get('seed', '?')}) filled the middle "
            f"{fmt(infill.get('span_tokens'), 'int')} of {fmt(infill.get('length'), 'int')} tokens of "
            f"{fmt(infill.get('n_stories'), 'int')} held-out story openings with its {infill.get('sampler', '?')} "
            f"sampler ({fmt(infill.get('steps'), 'int')} steps). Scored over the whole row by the AR model, the "
            f"original rows have an NLL of {fmt(infill.get('ar_nll_original'), 'f3')} nats/token, the infilled "
            f"rows {fmt(infill.get('ar_nll_infilled'), 'f3')}, and rows whose span holds random tokens drawn from "
            f"the held-out unigram distribution {fmt(infill.get('ar_nll_random'), 'f3')}; "
            f"{fmt(infill.get('span_token_match'), 'pct')} of the filled tokens equal the original ones.")


def _infill_macros(m, infill) -> None:
    infill = infill or {}
    for key, name, kind in (("n_stories", "NStories", "int"), ("length", "Length", "int"),
                            ("span_tokens", "SpanTokens", "int"), ("steps", "Steps", "int"),
                            ("ar_nll_original", "NllOriginal", "f3"), ("ar_nll_infilled", "NllInfilled", "f3"),
                            ("ar_nll_random", "NllRandom", "f3"), ("span_token_match", "TokenMatch", "pct")):
        m[f"Infill{name}"] = fmt(infill.get(key), kind)
    m["InfillSampler"] = str(infill.get("sampler", "n/a"))
    m["InfillProtocol"] = str(infill.get("protocol", "n/a"))


def macros_tex(values: dict[str, str]) -> str:
    """The generated macros file: one \\newcommand per name."""
    bad = [k for k in values if not re.fullmatch(r"[A-Za-z]+", k)]
    if bad:
        raise ValueError(f"macro names must be letters only: {bad}")
    lines = ["% Generated by arche.report.macros from RUN/results.json -- do not edit."]
    lines += [f"\\newcommand{{\\{k}}}{{{v}}}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def write_macros(results, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(macros_tex(macros(results)))
    return path


# --------------------------------------------------------------------------- macro check

class MissingMacroError(RuntimeError):
    """main.tex uses a generated macro that macros.tex does not define."""


def _strip_comments(tex: str) -> str:
    return re.sub(r"(?<!\\)%.*", "", tex)


def used_macros(tex: str) -> set[str]:
    """The generated macros a .tex source uses: every control word starting with an uppercase
    letter (the naming rule of `macros`), minus LaTeX's own uppercase commands and those the
    source defines itself with \\newcommand / \\renewcommand / \\def."""
    tex = _strip_comments(tex)
    used = set(re.findall(r"\\([A-Z][A-Za-z]*)", tex))
    own = set(re.findall(r"\\(?:re)?newcommand\*?\s*\{?\\([A-Za-z]+)", tex))
    own |= set(re.findall(r"\\def\s*\\([A-Za-z]+)", tex))
    return used - own - LATEX_UPPERCASE_COMMANDS


def defined_macros(macros_source: str) -> set[str]:
    return set(re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", macros_source))


def _source(x) -> str:
    """A .tex path (Path, or a one-line str naming an existing file) or the text itself."""
    if isinstance(x, Path):
        return x.read_text()
    if isinstance(x, str) and "\n" not in x and "\\" not in x and Path(x).is_file():
        return Path(x).read_text()
    return str(x)


def missing_macros(main_tex, defined) -> list[str]:
    """Macros main.tex (path or text) uses that `defined` (a set of names, or a macros.tex path or
    text) lacks, sorted."""
    if not isinstance(defined, (set, frozenset, list, tuple, dict)):
        defined = defined_macros(_source(defined))
    return sorted(used_macros(_source(main_tex)) - set(defined))


def check_macros(main_tex, defined) -> None:
    """Raise MissingMacroError naming every macro main.tex uses but `defined` lacks."""
    missing = missing_macros(main_tex, defined)
    if missing:
        names = ", ".join("\\" + n for n in missing)
        raise MissingMacroError(f"main.tex uses macros that generated/macros.tex does not define: {names} "
                                "(add them to arche.report.macros or fix the name in main.tex)")


# --------------------------------------------------------------------------- the notebook bridge

FIG_MIMES = ("application/pdf", "image/png")


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
        tags = [t for t in cell.get("metadata", {}).get("tags", [])
                if t.startswith(("fig-", "tab-")) or t == "macros"]
        for tag in tags:
            if tag in seen:
                raise TaggedOutputError(f"tag {tag!r} is on more than one cell")
            seen.add(tag)
            if cell.cell_type != "code":
                raise TaggedOutputError(f"tag {tag!r} is on a {cell.cell_type} cell, not a code cell")
            datas = [o.get("data", {}) for o in cell.get("outputs", [])
                     if o.get("output_type") in ("display_data", "execute_result")]
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
                        + "; display it with arche.report.show_figure(fig) and re-execute the notebook")
                files[f"{tag}.pdf"] = _b64(d["application/pdf"])
                files[f"{tag}.png"] = _b64(d["image/png"])
            else:
                d = next((d for d in datas if "text/latex" in d), None)
                if d is None:
                    raise TaggedOutputError(
                        f"cell tagged {tag!r} has no text/latex output"
                        + (" (the cell raised an error)" if errors else "")
                        + "; display it with arche.report.show_table(...) / show_macros(...) and re-execute")
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




class PaperBuildError(UserError, RuntimeError):
    """latexmk failed; the message carries LaTeX's own error lines."""

    exit_code = 1


def _latex_errors(log_text: str, limit: int = 8) -> str:
    lines = log_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("!"):
            out.append("\n".join(lines[i:i + 3]))
            if len(out) >= limit:
                break
    return "\n".join(out)


PAPER_SOURCES = ("main.tex", "references.bib", "repetition.tex", "repetition-section.tex")


def main_document(generated: Path) -> str:
    """main.tex (the comparison, with the repetition section when its figure was generated), or
    repetition.tex for a repetition study alone (its macros, no comparison's)."""
    text = (Path(generated) / "macros.tex").read_text() if (Path(generated) / "macros.tex").exists() else ""
    alone = "\\newcommand{\\RepOutcome}" in text and "\\newcommand{\\ToyLevel}" not in text
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
    from .runlock import run_lock

    run_dir = resolve_run_dir(run_dir)
    nb_path = Path(notebook) if notebook else run_dir / "notebooks" / "05_analysis.ipynb"
    if not nb_path.exists():
        raise UserError(f"{nb_path} not found: execute the analysis notebook first "
                        f"(python -m arche run --run-dir {run_dir} --only 05_analysis)")
    with run_lock(run_dir, "building the paper", log=log):
        return _build_paper(run_dir, nb_path, log, paper_dir, figures_dir)


def _build_paper(run_dir: Path, nb_path: Path, log, paper_dir, figures_dir) -> Path | None:
    if paper_dir is None:
        paper_dir = run_dir / "paper"
        paper_dir.mkdir(parents=True, exist_ok=True)
        for name in PAPER_SOURCES:
            if (resource_dir("paper") / name).exists():
                shutil.copy2(resource_dir("paper") / name, paper_dir / name)
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
    for tex in [doc] + (["repetition-section.tex"] if (gen / "fig-repetition.pdf").exists() else []):
        check_macros(paper_dir / tex, gen / "macros.tex")
    if shutil.which("latexmk") is None:
        log("paper: latexmk not found, so no PDF was built. The tables, figures and macros are in "
            f"{gen}. To get the PDF install LaTeX (Debian/Ubuntu, as root):\n    {LATEX_INSTALL}\n"
            f"then run: python -m arche paper --run-dir {run_dir}")
        return None
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-outdir=build", doc]
    proc = subprocess.run(cmd, cwd=paper_dir, capture_output=True, text=True)
    pdf = paper_dir / "build" / doc.replace(".tex", ".pdf")
    if proc.returncode != 0 or not pdf.exists():
        log_path = paper_dir / "build" / doc.replace(".tex", ".log")
        errors = _latex_errors(log_path.read_text(errors="replace")) if log_path.exists() else ""
        raise PaperBuildError(f"latexmk failed (exit {proc.returncode}) in {paper_dir}:\n"
                              f"{errors or proc.stdout[-3000:] + proc.stderr[-2000:]}")
    tmp = out.with_name(out.name + ".tmp")
    shutil.copy2(pdf, tmp)
    tmp.replace(out)
    log(f"paper: wrote {out}")
    return out


# --------------------------------------------------------------------------- from a results file alone

# Every tagged artefact of the analysis notebook, as a function of results.json: what the notebook
# shows and exports, so that a committed results file re-renders the paper with no run directory.
def _marked(shown, results):
    if isinstance(shown, FigureOutput):
        mark_figure(shown.fig, results["meta"])
    return shown


def _comparison(make):
    """An artefact of the AR-vs-MDLM comparison (Skipped for a repetition study's results), its figure
    marked with the run's scale."""
    def shown(results):
        if report_repetition.is_repetition(results):
            return Skipped("part of the AR-vs-MDLM comparison, not of a repetition study")
        return _marked(make(results), results)
    return shown


def _repetition(make):
    """An artefact of the repetition study (Skipped for any other results), marked like the others."""
    def shown(results):
        if not report_repetition.is_repetition(results):
            return Skipped("this run is not a repetition study (profile repetition)")
        return _marked(make(results), results)
    return shown


ARTEFACTS = {
    "fig-val-curves": _comparison(lambda r: show_figure(fig_val_curves(r), "fig-val-curves")),
    "fig-likelihood": _comparison(lambda r: show_figure(fig_likelihood(r), "fig-likelihood")),
    "fig-diversity": _comparison(lambda r: show_figure(fig_diversity(r), "fig-diversity")),
    "fig-sweep": _comparison(lambda r: (show_figure(fig_sweep(r), "fig-sweep") if has_sweep(r)
                                        else Skipped("this run has no sampler sweep (sweep=False)"))),
    "tab-setup": _comparison(lambda r: show_table(table_setup(r), "tab-setup")),
    "tab-training": _comparison(lambda r: show_table(table_training(r), "tab-training")),
    "tab-val-loss": _comparison(lambda r: show_table(table_val_loss(r), "tab-val-loss")),
    "tab-diversity": _comparison(lambda r: show_table(table_diversity(r), "tab-diversity")),
    "tab-likelihood": _comparison(lambda r: show_table(table_likelihood(r), "tab-likelihood")),
    "tab-findings": _comparison(lambda r: show_table(table_findings(r), "tab-findings")),
    "tab-examples-published": _comparison(lambda r: show_table(table_examples(r, "published"))),
    "tab-examples-controlled": _comparison(lambda r: show_table(table_examples(r, "controlled"))),
    "tab-examples-prompted": _comparison(lambda r: show_table(table_examples(r, "prompted"))),
    "fig-repetition": _repetition(lambda r: show_figure(report_repetition.fig_repetition(r), "fig-repetition")),
    "tab-repetition": _repetition(lambda r: show_table(report_repetition.table_repetition(r), "tab-repetition")),
    "tab-repetition-samples": _repetition(lambda r: show_table(report_repetition.table_repetition_samples(r),
                                                               "tab-repetition-samples")),
    "macros": lambda r: show_macros(r),
}
REPETITION_TAGS = ("fig-repetition", "tab-repetition", "tab-repetition-samples")


def artefact(results, tag: str):
    """The display object of one tagged artefact (what the analysis notebook's cell tagged `tag` shows):
    a figure, a table, the macros, or Skipped when it does not apply to this run's study."""
    if tag not in ARTEFACTS:
        raise KeyError(f"unknown artefact {tag!r}; known: {', '.join(ARTEFACTS)}")
    return ARTEFACTS[tag](results)


def results_notebook(results, repetition=None):
    """An executed-analysis-notebook equivalent built from results alone: one tagged cell per
    artefact, its output the display bundle the analysis notebook would show. With `repetition` (a
    repetition study's results), its artefacts and macros join the comparison's, so that the paper
    gets its repetition section."""
    import matplotlib.pyplot as plt
    import nbformat

    nb = nbformat.v4.new_notebook()
    for i, (tag, make) in enumerate(ARTEFACTS.items(), 1):
        if repetition is not None and tag in REPETITION_TAGS:
            shown = make(repetition)
        elif repetition is not None and tag == "macros":
            shown = MacrosOutput({**macros(results), **report_repetition.macros(repetition)})
        else:
            shown = make(results)
        data = shown._repr_mimebundle_()
        if isinstance(shown, FigureOutput):
            plt.close(shown.fig)
        cell = nbformat.v4.new_code_cell(f"# {tag}", metadata={"tags": [tag]}, execution_count=i)
        cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
        nb.cells.append(cell)
    return nb


def read_results(path) -> dict:
    """A results.json of either study, or a UserError naming what is wrong with the file."""
    path = Path(path)
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read the results file {path}: {e}") from None
    need = {"meta", "repetition", "verdicts"} if report_repetition.is_repetition(results) else {"meta", "runs", "samples"}
    if not isinstance(results, dict) or not need <= set(results):
        raise UserError(f"{path} is not a results.json of arche (it lacks {', '.join(sorted(need - set(results)))})")
    return results


def render_results(results_path, out_dir, log=print, repetition_path=None) -> Path | None:
    """Every figure, table, macro, the HTML-free paper and its PDF from a results.json file alone (no
    checkpoints, no samples): OUT/notebooks/05_analysis.ipynb (the tagged outputs), OUT/paper/,
    OUT/figures/*.png and OUT/paper.pdf (returned; None without LaTeX). `repetition_path` adds a
    repetition study's results as a section of the comparison's paper."""
    import nbformat

    results_path, out_dir = Path(results_path), Path(out_dir)
    results = read_results(results_path)
    repetition = read_results(repetition_path) if repetition_path else None
    if repetition is not None and not report_repetition.is_repetition(repetition):
        raise UserError(f"{repetition_path} is not the results of a repetition study")
    nb_path = out_dir / "notebooks" / "05_analysis.ipynb"
    nb_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(results_notebook(results, repetition), nb_path)
    log(f"figures: rendered {len(ARTEFACTS)} artefacts of {results_path} into {nb_path}")
    return build_paper(out_dir, log=log, notebook=nb_path)


# --------------------------------------------------------------------------- README summary

def to_markdown(df: pd.DataFrame) -> str:
    """A plain GitHub-markdown table of a report table (multi-level headers joined with ' / ')."""
    cols = [" / ".join(str(c) for c in col if str(c)) if isinstance(col, tuple) else str(col) for col in df.columns]
    esc = lambda x: str(x).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join([esc(df.index.name or "")] + [esc(c) for c in cols]) + " |",
             "|" + "---|" * (len(cols) + 1)]
    for label, row in df.iterrows():
        lines.append("| " + " | ".join([esc(label)] + [esc(v) for v in row.tolist()]) + " |")
    return "\n".join(lines)


def summary_markdown(results, run_dir=None, source=None) -> str:
    """What a run found, for the README: where the numbers come from, the findings, the likelihoods.
    `source` names the results file (default RUN_DIR/results.json)."""
    meta = results["meta"]
    where = f"`{source}`" if source else (f"`{run_dir}/results.json`" if run_dir else "results.json")
    head = (f"From {where} (profile `{meta.get('profile')}`, {describe_source(meta, short=True)}, "
            f"{meta['n_tokens']:,} tokens, seeds {meta['seeds']}, {meta['device']}, {meta['created']}).")
    note = toy_note(meta)
    parts = [head] + (["", f"> **{note.split(': ', 1)[0]}**: {note.split(': ', 1)[1]}."] if note else [])
    parts += ["", "**The paper's three findings under the controlled protocol**", "",
             to_markdown(table_findings(results)), "", "**Comparable likelihoods**", "",
             to_markdown(table_likelihood(results))]
    return "\n".join(parts) + "\n"


def update_readme(readme, results, run_dir=None, source=None) -> None:
    """Replace the block between <!-- results:start --> and <!-- results:end --> in the README."""
    readme = Path(readme)
    text = readme.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no {start} ... {end} block to fill")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    readme.write_text(before + start + "\n" + summary_markdown(results, run_dir, source) + end + after)
