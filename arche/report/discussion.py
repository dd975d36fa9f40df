"""The Discussion of the paper, written from the verdicts (never by hand)."""

from __future__ import annotations

from ..study.findings import OUTCOMES
from .common import toy_level

# An outcome as the predicate of a sentence, "the finding ...": (one finding, several).
VERDICT_PHRASE = {
    "holds": ("holds", "hold"),
    "does not hold": ("does not hold", "do not hold"),
    "inconclusive": ("is inconclusive", "are inconclusive"),
    "not testable": ("is not testable here", "are not testable here"),
}

FINDING_NAMES = {
    "FindingOne": "throughput parity",
    "FindingTwo": "AR overfits while the MDLM still improves",
    "FindingThree": "the MDLM is more diverse at equal judge perplexity",
}


def discussion_counts(by_key: dict) -> str:
    """How the three findings came out, counted: "one is inconclusive and two are not testable here"."""
    found = [by_key[key] for key in FINDING_NAMES if key in by_key]
    counts = {o: sum(f["outcome"] == o for f in found) for o in OUTCOMES}
    words = {1: "one", 2: "two", 3: "three"}
    parts = [f"{words.get(n, str(n))} {VERDICT_PHRASE[o][n > 1]}" for o, n in counts.items() if n]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else (parts[0] if parts else "none was run")


def discussion(by_key: dict, meta: dict) -> str:
    """The Discussion as one text (what main.tex's Discussion section says, for the README and tests): how
    many of the paper's three findings hold under the controlled protocol at this run's scale, each with
    the reason its rule gives."""
    found = [(key, by_key[key]) for key in FINDING_NAMES if key in by_key]
    verb = VERDICT_PHRASE
    scale = {0: "at the paper's scale", 1: "on toy data", 2: "at this small scale"}[toy_level(meta)]
    lead = (
        f"Of the paper's three findings, re-tested under the controlled protocol {scale}, {discussion_counts(by_key)}."
    )
    # The rule's reason is often a bare phrase ("paired ratio interval vs [0.9, 1.1]"): it follows a
    # label, never a colon that would read as the rest of the sentence.
    each = [
        f"Finding {i} ({FINDING_NAMES[key]}) {verb[f['outcome']][0].removesuffix(' here')}. "
        f"Why: {f['reason'].rstrip('.')}. Measured: {f['measure'].rstrip('.')}."
        for i, (key, f) in enumerate(found, 1)
    ]
    close = {
        0: "",
        1: " None of this says anything about the models: the corpus is synthetic.",
        2: " A verdict here is about this regime; the same rules, run at the paper's scale (the paper profiles, on "
        "a GPU), decide the paper's own claims.",
    }[toy_level(meta)]
    return " ".join([lead] + each) + close  # escaped with every other value by macros()
