"""Table 4: the diversity of every main sample set beside the paper's and real text's, each column with
the decoding that drew it, and the main protocol's other decodings (the MDLM's confidence rule, the
paper-text sampler as a labelled extra)."""

from __future__ import annotations

import re

import pandas as pd

from .common import PROTOCOL_LABEL, PUBLISHED, main_protocol, reference_row, sample_stat, samples_where
from .fmt import fmt, fmt_agg
from .tables import column_groups, protocol_names, seeds_note, table_frame

DIVERSITY_ROWS = [
    ("decoding", "Decoding", "str"),
    ("n_texts", "Texts (n)", "int"),
    ("mean_words", "Mean words per text", "sig"),
    ("distinct_1", "Distinct-1", "f3"),
    ("distinct_2", "Distinct-2", "f3"),
    ("distinct_3", "Distinct-3", "f3"),
    ("distinct_4", "Distinct-4", "f3"),
    ("self_bleu", "Self-BLEU", "f3"),
    ("self_bleu_kind", "  estimator", "str"),
    ("distinct_4_matched", "Distinct-4, matched length", "f3"),
    ("self_bleu_matched", "Self-BLEU, matched length", "f3"),
    ("vocab_size", "Vocabulary used", "int"),
    ("unique_first_word", "Unique first words", "pct"),
    ("unique_first_5gram", "Unique first 5-grams", "pct"),
    ("gen_ppl", "Perplexity, AR judge", "sig"),
    ("judge_nelbo", "NELBO, MDLM judge", "f3"),
    ("jsd_words", "Word JSD to openings", "f3"),
]
SELF_BLEU_SHORT = {"exact": "exact, words", "published": "200x50 est."}
# The main protocol's other decodings, in Table 4 beside the main sets: (setting, arm, column label).
OTHER_DECODINGS = (
    ("samples_confidence", "mdlm", "MDLM confidence"),
    ("samples_papertext", "mdlm", "MDLM paper text (extra)"),
)
_SHORTER = (
    (r"^AR, ", ""),
    (r"^MDLM ", ""),
    (r"^paper-text sampler: temperature ([\d.]+) to ([\d.]+), repetition penalty ([\d.]+)", r"penalty \3, T \1 to \2"),
    (r"^confidence rule, temperature ([\d.]+), no penalty", r"confidence, T \1"),
    (r"^released sampler \(penalty, temperature [\d.]+ schedule\)", "released"),
    (r"temperature", "T"),
    (r", \d+ steps$", ""),
)


def short_decoding(label: str | None) -> str:
    """A sample set's `decoding` (analysis.decoding_label) short enough for a column of Table 4: the
    caption, Table 1 and the text say the rest (the denoising steps, no penalty for the confidence rule,
    the released sampler's penalty and schedule)."""
    if not label:
        return "n/a"
    text = label
    for pattern, short in _SHORTER:
        text = re.sub(pattern, short, text)
    return text


def diversity_columns(results) -> list[tuple[str, str, str]]:
    """(top, sub, key) columns: the paper's, ours per protocol and arm with the real text of that
    protocol ("ref:openings", "ref:windows"), then the main protocol's other decodings ("arm@setting")."""
    cols = column_groups(results)
    for protocol in protocol_names(results):
        last = max(i for i, c in enumerate(cols) if c[2].startswith(protocol + "/"))
        refs = [
            (PROTOCOL_LABEL.get(protocol, protocol), f"data: {kind}", f"{protocol}/ref:{kind}")
            for kind in ("openings", "windows")
            if reference_row(results, protocol, kind)
        ]
        cols = cols[: last + 1] + refs + cols[last + 1 :]
    main = main_protocol(results)
    top = f"{PROTOCOL_LABEL.get(main, main)}, other decodings"
    cols += [
        (top, label, f"{main}/{arm}@{setting}")
        for setting, arm, label in OTHER_DECODINGS
        if samples_where(results, protocol=main, arm=arm, setting=setting)
    ]
    return cols


def _paper_cell(arm, metric, kind) -> str:
    if metric == "decoding":
        s = PUBLISHED["sampling"]
        if arm == "ar":
            return f'T {s["ar_temperature"]:g}, "{s["ar_prompt"]}"'
        return "released"
    if metric == "self_bleu_kind":
        return SELF_BLEU_SHORT["published"]
    paper = {**PUBLISHED["diversity"][arm], "n_texts": PUBLISHED["n_samples"]}
    return fmt(paper.get(metric), kind) if metric in paper else "n/a"


def _ref_cell(ref, metric, kind) -> str:
    if metric == "decoding":
        return "real text"
    if metric == "self_bleu_kind":
        return SELF_BLEU_SHORT.get((ref or {}).get("self_bleu_kind"), "n/a")
    return fmt(ref.get(metric), kind) if ref and metric in ref else "n/a"


def _sets_cell(results, protocol, arm, setting, metric, kind) -> str:
    rows = samples_where(results, protocol=protocol, arm=arm, setting=setting)
    if metric == "decoding":
        return short_decoding(rows[0].get("decoding")) if rows else "n/a"
    if metric == "self_bleu_kind":
        kinds = {r.get("self_bleu_kind") for r in samples_where(results, protocol=protocol)}
        return ", ".join(SELF_BLEU_SHORT.get(k, "n/a") for k in sorted(kinds, key=str))
    if not any(metric in r for r in rows):
        return "n/a"
    return fmt_agg(sample_stat(results, metric, protocol, arm, setting), kind)


def _cell(results, key, metric, kind) -> str:
    src, what = key.split("/")
    if src == "paper":
        return _paper_cell(what, metric, kind)
    if what.startswith("ref:"):
        return _ref_cell(reference_row(results, src, what[4:]), metric, kind)
    arm, _, setting = what.partition("@")
    return _sets_cell(results, src, arm, setting or "samples", metric, kind)


def table_diversity(results) -> pd.DataFrame:
    """Table 4: diversity of each arm's main sample set (over seeds) beside the paper's, with real
    held-out text cut like the samples ("data: openings" = story beginnings, "data: windows" = random
    windows) measured the same way under each protocol, the decoding of every column, the judges'
    perplexity and NELBO and the word-frequency distance to real openings; the main protocol's other
    decodings last (the paper-text sampler, first seed only, a labelled extra)."""
    cols = diversity_columns(results)
    rows = {label: [_cell(results, key, metric, kind) for _, _, key in cols] for metric, label, kind in DIVERSITY_ROWS}
    tops = list(dict.fromkeys(c[0] for c in cols))
    other = [t for t in tops if t.endswith(", other decodings")]
    main = [t for t in tops if t not in other]
    n_main = sum(c[0] in main for c in cols)
    panels = [main[:2], main[2:]] if n_main > 8 and len(main) > 2 else None
    if other:  # the other decodings: a panel of their own, on the next page
        panels = (panels or [main]) + [other]
    return table_frame(
        rows,
        cols,
        "Metric",
        panels=panels,
        float_breaks={len(panels) - 1} if other else set(),
        separate_panels=True,  # each panel sized by its own cells: aligned columns would not fit the page
        # main.tex sets this table on a landscape page (sidewaystable): a longer line, cells on one line
        line_chars=135,
        wrap=False,
        title="Table 4. Diversity of the main sample sets" + seeds_note(results),
    )
