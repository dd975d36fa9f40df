"""The findings table: the paper's claim, our measure and the verdict of each rule (arche.study.findings,
stored in results.json by the analysis), as the paper and the README print it."""

from __future__ import annotations

import pandas as pd

from ..study.findings import (  # noqa: F401  (the rules live in the study layer)
    DIVERSITY_RULE_METRICS,
    HOLDS,
    OUTCOME_SHORT,
    OUTCOMES,
    finding_diversity,
    finding_overfitting,
    finding_throughput,
    findings,
    sanity_gate,
    stored_or_computed,
)
from .common import (
    CITATION,
    main_protocol,
    toy_level,
)
from .tables import seeds_note


def table_findings(results) -> pd.DataFrame:
    """The three findings of Vicentino (2026): the paper's claim, our measure under the controlled
    protocol and whether the finding holds by its rule (see finding_* for the rules)."""
    rows = {
        f["finding"]: [f["claim"], f["measure"], outcome_text(f["outcome"], results["meta"])]
        for f in stored_or_computed(results)
    }
    df = pd.DataFrame.from_dict(
        rows,
        orient="index",
        columns=[f"{CITATION} claims", f"Ours ({main_protocol(results)} protocol)", "Holds?"],
        dtype=object,
    )
    df.index.name = "Finding"
    rag = ">{\\raggedright\\arraybackslash}"  # needs \\usepackage{array} (main.tex loads it)
    df.attrs.update(
        # four columns filling the line exactly: each p{} less its own padding
        stub_align=f"{rag}p{{\\dimexpr 0.19\\linewidth-2\\tabcolsep\\relax}}",
        align=(
            f"{rag}p{{\\dimexpr 0.27\\linewidth-2\\tabcolsep\\relax}}"
            f"{rag}p{{\\dimexpr 0.38\\linewidth-2\\tabcolsep\\relax}}"
            f"{rag}p{{\\dimexpr 0.16\\linewidth-2\\tabcolsep\\relax}}"
        ),
        title="Findings under the controlled protocol" + seeds_note(results),
    )
    return df


def outcome_text(outcome: str, meta) -> str:
    """A verdict as the tables show it: "not testable at this scale" where a rule could not be tested
    in a run below the paper's scale, and every verdict of toy data marked as such."""
    level = toy_level(meta)
    if outcome == "not testable" and level:
        return "not testable at this scale"
    return OUTCOME_SHORT[outcome] + (" (toy data)" if level == 1 else "")
