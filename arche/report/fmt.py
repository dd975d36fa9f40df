"""Numbers and tables as text: number formats, LaTeX escaping, booktabs, HTML and markdown tables."""

from __future__ import annotations

import html
import re

import pandas as pd

from ..numfmt import SEED_VALUES_MAX, fmt, fmt_agg, is_number  # noqa: F401  (re-exported for the report modules)

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


# Control characters (C0 but tab and newline, DEL, C1): LaTeX stops at some of them ("invalid character"),
# and a story or sample may hold them; they are dropped, a tab becomes a space.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def latex_escape(text) -> str:
    """Plain text -> LaTeX: control characters dropped, the ten special characters and a few Unicode symbols."""
    text = _CONTROL_RE.sub("", str(text).replace("\t", " "))
    return _LATEX_RE.sub(lambda m: _LATEX_MAP[m.group(0)], text)


# --------------------------------------------------------------------------- booktabs


def to_booktabs(df: pd.DataFrame) -> str:
    """A DataFrame of strings as a booktabs tabular (no float, no caption: main.tex holds those).

    Columns may be flat or a 2-level MultiIndex (the top level becomes spanning headers with
    \\cmidrule under them). The index is the stub column, its name the stub header. Options in
    df.attrs: "sections" (index labels rendered as full-width italic section rows), "bold" (set of
    (row, column) cells set in bold), "align" (column alignment of the data columns, default "r"),
    "stub_align" (default "l"), "panels" (lists of top-level headers: the columns are set as panels
    stacked one under the other, each with its own header; a table wider than CHARS_PER_LINE is split
    so by itself, and one still too wide wraps its cells), "float_breaks" (indices of panels that start
    a new float: the tabular ends, \tablecontinued runs, which main.tex defines to close the float and
    open its continuation on the next page, and a new tabular with the same columns begins),
    "separate_panels" (each panel a tabular of its own, sized by its own cells, one under the other,
    instead of column-aligned blocks of one tabular). No table is shrunk. Every cell and header is
    escaped.
    """
    attrs = df.attrs or {}
    panels = attrs.get("panels")
    if panels and isinstance(df.columns, pd.MultiIndex):
        groups = [[c for c in df.columns if c[0] in panel] for panel in panels]
        groups = [g for g in groups if g]
    elif isinstance(df.columns, pd.MultiIndex) and _chars(df, list(df.columns)) > attrs.get(
        "line_chars", CHARS_PER_LINE
    ):
        groups = _auto_panels(df, attrs.get("line_chars", CHARS_PER_LINE))
    else:
        groups = [list(df.columns)]
    separate = bool(attrs.get("separate_panels"))
    width = max(len(g) for g in groups)
    breaks = set(attrs.get("float_breaks", ()))
    lines = [CONTINUED_DEFAULT] if breaks else []
    for k, cols in enumerate(groups):
        w = len(cols) if separate else width
        if k and (separate or k in breaks):
            lines += [r"\bottomrule", r"\end{tabular}", r"\tablecontinued" if k in breaks else r"\par\medskip"]
        if not k or separate or k in breaks:
            lines += [r"\begin{tabular}{" + _spec(df, [cols] if separate else groups, w, attrs) + "}", r"\toprule"]
        else:
            lines += [r"\midrule[\heavyrulewidth]", r"\addlinespace"]
        lines += _booktabs_block(df, cols, w)
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _spec(df: pd.DataFrame, groups: list[list], width: int, attrs: dict) -> str:
    """The column types of a tabular of `width` data columns holding these panels: plain alignment, or
    wrapping cells when a panel is too wide for the line even alone."""
    align = attrs.get("align", "r")
    line = attrs.get("line_chars", CHARS_PER_LINE)
    if len(align) == 1 and attrs.get("wrap", True) and max(_chars(df, g) for g in groups) > line:
        return _wrapping_spec(df, width, align, attrs.get("stub_align", "l"))  # too wide even alone: wrap
    return attrs.get("stub_align", "l") + (align * width if len(align) == 1 else align)


# What \tablecontinued does where the including document does not define it: the tabulars stack.
CONTINUED_DEFAULT = r"\providecommand{\tablecontinued}{\par\medskip}"

# About how many characters of table fit the text width at \small (6.5 in, ~5 pt a character),
# column padding included. A wider table is set as panels of whole top-level column groups stacked one
# under the other, and a panel still wider wraps its cells; no table is ever shrunk below the text size.
CHARS_PER_LINE = 78
PAD_CHARS = 3  # 2 \tabcolsep of padding, in characters


def _chars(df: pd.DataFrame, cols: list) -> int:
    """The estimated width, in characters, of the stub and these columns on one line."""

    def label(c):
        return str(c[-1]) if isinstance(c, tuple) else str(c)

    stub = max([len(str(i)) for i in df.index] + [len(str(df.index.name or ""))])
    data = sum(max([len(str(v)) for v in df[c]] + [len(label(c))]) + PAD_CHARS for c in cols)
    return stub + PAD_CHARS + data


def _auto_panels(df: pd.DataFrame, line_chars: int = CHARS_PER_LINE) -> list[list]:
    """The columns in panels of whole top-level groups, each as wide as fits (a wider group alone). The
    columns under an empty top-level header (e.g. the step columns of Table 3) are keys: every panel
    repeats them."""
    keys = [c for c in df.columns if c[0] == ""]
    tops = [t for t in dict.fromkeys(c[0] for c in df.columns) if t != ""]
    panels, current = [], []
    for top in tops:
        cols = [c for c in df.columns if c[0] == top]
        if current and _chars(df, keys + current + cols) > line_chars:
            panels.append(keys + current)
            current = []
        current = current + cols
    return panels + ([keys + current] if current else [])


def _wrapping_spec(df: pd.DataFrame, width: int, align: str, stub_align: str) -> str:
    """Column types that wrap their cells: the stub gets its share of the line (at most 30%), the data
    columns split the rest equally."""
    stub = max([len(str(i)) for i in df.index] + [len(str(df.index.name or ""))])
    s = min(0.3, (stub + PAD_CHARS) / CHARS_PER_LINE)
    d = (1 - s) / width
    ragged = {"l": r"\raggedright", "r": r"\raggedleft", "c": r"\centering"}

    def col(frac, a):
        return rf">{{{ragged.get(a, ragged['l'])}\arraybackslash}}p{{\dimexpr {frac:.3f}\linewidth-2\tabcolsep\relax}}"

    return col(s, stub_align) + col(d, align) * width


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
