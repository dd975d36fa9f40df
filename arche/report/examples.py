"""The appendix: the first samples of every arm and setting beside real held-out text."""

from __future__ import annotations

import pandas as pd

from .common import ARM_LABEL, ARMS, reference_row, samples_where

EXAMPLE_CHARS = 200  # characters of each example shown in the appendix
EXAMPLES_PER_ARM = 4  # texts per arm (and of real data): four arms of four fit one page


def table_examples(results, group: str) -> pd.DataFrame:
    """The first EXAMPLES_PER_ARM samples of each arm (first seed) of one group: "published" or "controlled"
    (unconditional sets of that protocol, with as many real held-out story openings), or "prompted"
    (the controlled protocol, both models prompted "Once"). Texts cut to EXAMPLE_CHARS characters."""
    protocol = "controlled" if group == "prompted" else group
    setting = "samples_prompted" if group == "prompted" else "samples"
    seed = (results["meta"].get("seeds") or [0])[0]
    rows = {}
    for arm in ARMS:
        row = next((r for r in samples_where(results, protocol=protocol, arm=arm, setting=setting, seed=seed)), None)
        for i, text in enumerate((row or {}).get("examples", [])[:EXAMPLES_PER_ARM]):
            rows[f"{ARM_LABEL[arm]} {i + 1}"] = [_clip(text)]
    ref = reference_row(results, protocol, "openings")
    if group != "prompted" and ref:
        for i, text in enumerate(ref.get("examples", [])[:EXAMPLES_PER_ARM]):
            rows[f"data {i + 1}"] = [_clip(text)]
    if not rows:
        rows["(none)"] = [f"no {setting} sample set under the {protocol} protocol in this run"]
    df = pd.DataFrame.from_dict(rows, orient="index", columns=["Text"], dtype=object)
    df.index.name = "Source"
    rag = ">{\\raggedright\\arraybackslash}"
    df.attrs.update(
        stub_align="l",
        align=f"{rag}p{{\\dimexpr 0.82\\linewidth-2\\tabcolsep\\relax}}",
        title=f"Examples: {protocol} protocol, {setting}, seed {seed}",
    )
    return df


_TYPOGRAPHY = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "--", "\u2026": "..."}
)


def _clip(text: str) -> str:
    """One line of at most EXAMPLE_CHARS characters, in ASCII: model text can hold any byte sequence
    (a broken UTF-8 piece decodes to U+FFFD), which pdflatex cannot typeset."""
    text = " ".join(str(text).translate(_TYPOGRAPHY).split()).encode("ascii", "replace").decode()
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS].rsplit(" ", 1)[0] + " ..."
