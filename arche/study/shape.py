"""Where each repetition curve stands at its last epoch count: turned (rising again), flat, or still falling.

The repetition study asks for epochs "until each paradigm's curve has turned or flattened"; SHAPE_RULE says
which of the three a curve did over its last doubling of epochs, seed by seed. It was written after the fair
re-run's results existed, so it is post hoc for that run (and any analysed by SHAPE_RULE_DATE), and descriptive:
no verdict rests on it (the paper and README use it to say whether more epochs of the same data could close a
gap the compute multiplier left open). Pure functions of results.json rows (no torch).
"""

from __future__ import annotations

from .. import stats

SHAPE_RULE = (
    "For each paradigm and unique-data budget, the change of the validation bound over the last doubling of "
    "epochs run, L(e_max) - L(e_max / 2), taken seed by seed with its 95% paired interval (Student's t, "
    "seeds - 1 degrees of freedom; runs with a non-finite loss drop out of the pairs): the curve has turned "
    "when the change is really positive, is still falling when it is really negative, and shows no real "
    "change (flat) otherwise. Written on 2026-12-01, after the fair repetition re-run's results existed, and "
    "descriptive: no verdict rests on it."
)
SHAPE_RULE_DATE = "2026-12-01"  # runs analysed by then are labelled post hoc for it (verdicts.decided_after)

SHAPES = ("turned", "flat", "still falling", "not testable")  # the one list of shapes


def by_seed(rows: list[dict], chunks: int, paradigm: str, epochs: int) -> dict:
    """{seed: L} of one epoch count's runs at one budget."""
    key = (chunks, paradigm, epochs)
    return {r["seed"]: r["val"] for r in rows if (r["chunks"], r["paradigm"], r["epochs"]) == key}


def last_doubling(rows: list[dict], chunks: int, paradigm: str) -> dict:
    """SHAPE_RULE on one curve: {"from", "to", "change" (stats.paired_compare), "shape"}; "not testable"
    when the curve has no e_max / 2 or fewer than two seeds ran both."""
    epochs = sorted({r["epochs"] for r in rows if (r["chunks"], r["paradigm"]) == (chunks, paradigm)})
    to = epochs[-1] if epochs else None
    start = to // 2 if to and to % 2 == 0 and to // 2 in epochs else None
    if start is None:
        return {"from": None, "to": to, "change": None, "shape": "not testable"}
    change = stats.paired_compare(by_seed(rows, chunks, paradigm, to), by_seed(rows, chunks, paradigm, start))
    shape = {1: "turned", -1: "still falling", 0: "flat"}.get(change["direction"], "not testable")
    return {"from": start, "to": to, "change": change, "shape": shape}


def curve_shapes(results: dict, post_hoc: bool = True) -> dict:
    """SHAPE_RULE on a repetition study's results.json: per budget (largest first), each paradigm's curve;
    `post_hoc`: whether the run was analysed before SHAPE_RULE was written (the caller decides, by date)."""
    rows = results["repetition"]
    per_budget = []
    for chunks in sorted({r["chunks"] for r in rows}, reverse=True):
        paradigms = sorted({r["paradigm"] for r in rows if r["chunks"] == chunks})
        per_budget.append(
            {
                "chunks": chunks,
                "unique_tokens": next(r["unique_tokens"] for r in rows if r["chunks"] == chunks),
                **{p: last_doubling(rows, chunks, p) for p in paradigms},
            }
        )
    return {"rule": SHAPE_RULE, "post_hoc": post_hoc, "per_budget": per_budget}
