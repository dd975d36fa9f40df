"""Numbers and tables as text: number formats, LaTeX escaping, booktabs, HTML and markdown tables."""

from __future__ import annotations

import html
import re

import pandas as pd

from ..numfmt import _ok, fmt, fmt_agg  # noqa: F401  (re-exported for the report modules)

# --------------------------------------------------------------------------- formatting


_LATEX_MAP = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "±": r"$\pm$",
    "×": r"$\times$",
    "—": "---",
    "–": "--",
    "≈": r"$\approx$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "→": r"$\rightarrow$",
    "“": "``",
    "”": "''",
    "‘": "`",
    "’": "'",
    "…": r"\ldots{}",
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
    stacked one under the other, each with its own header; a table of more than MAX_COLUMNS data
    columns is split so by itself). No table is shrunk. Every cell and header is escaped.
    """
    attrs = df.attrs or {}
    panels = attrs.get("panels")
    if panels and isinstance(df.columns, pd.MultiIndex):
        groups = [[c for c in df.columns if c[0] in panel] for panel in panels]
        groups = [g for g in groups if g]
    elif isinstance(df.columns, pd.MultiIndex) and len(df.columns) > MAX_COLUMNS:
        groups = _auto_panels(df)
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
    return "\n".join(lines) + "\n"


# A table wider than this many data columns is set as panels stacked one under the other (whole
# top-level column groups each), never shrunk below the text size.
MAX_COLUMNS = 5


def _auto_panels(df: pd.DataFrame) -> list[list]:
    """The columns in panels of whole top-level groups, at most MAX_COLUMNS each (a larger group alone)."""
    tops = list(dict.fromkeys(c[0] for c in df.columns))
    panels, current = [], []
    for top in tops:
        cols = [c for c in df.columns if c[0] == top]
        if current and len(current) + len(cols) > MAX_COLUMNS:
            panels.append(current)
            current = []
        current = current + cols
    return panels + ([current] if current else [])


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


def to_markdown(df: pd.DataFrame) -> str:
    """A plain GitHub-markdown table of a report table (multi-level headers joined with ' / ')."""
    cols = [" / ".join(str(c) for c in col if str(c)) if isinstance(col, tuple) else str(col) for col in df.columns]
    esc = lambda x: str(x).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = [
        "| " + " | ".join([esc(df.index.name or "")] + [esc(c) for c in cols]) + " |",
        "|" + "---|" * (len(cols) + 1),
    ]
    for label, row in df.iterrows():
        lines.append("| " + " | ".join([esc(label)] + [esc(v) for v in row.tolist()]) + " |")
    return "\n".join(lines)
