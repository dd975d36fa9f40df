"""The repetition study's analyses beside its pre-registered rule, as text (no torch): the paired verdict
(arche.study.verdicts.PAIRED_RULE), the MDLM's compute multiplier (arche.study.multiplier), where each curve
stands at its last epoch count (arche.study.shape) and how the multiplier compares with the literature.
Macros for the paper's repetition section, lines for the README's block.
"""

from __future__ import annotations

from .. import stats

# Nie et al. (arXiv 2410.18514): masked diffusion needs about 16 times AR's training compute for the same loss.
NIE_MULTIPLIER = 16


def post_hoc_macros(results, name_of: dict) -> dict[str, str]:
    """The paired verdict, the compute multiplier and the curve shapes: analyses decided after the first
    results; "not computed" for a results.json written before them. A budget's macros are named by its place
    among all budgets (`name_of` = {chunks: "Full" | "Small" | ...}), as the rule's are."""
    v = results["verdicts"]
    paired, mult = v.get("finding_2_paired"), v.get("compute_multiplier")
    top = ((paired or {}).get("per_budget") or [{}])[0]  # the largest budget with both paradigms, if any
    top_pairs = top.get("mdlm_gain", {}).get("n_pairs", 0)
    # post hoc for a run analysed before these analyses were decided (verdicts.decided_after); older files: post hoc
    post_hoc = (paired or {}).get("post_hoc", True) or (mult or {}).get("post_hoc", True)
    m = {"RepPostHoc": "1" if post_hoc else "0",
         "RepPairedRule": paired["rule"] if paired else "not computed",
         "RepPairedOutcome": paired["outcome"] if paired else "not computed",
         "RepPairedReason": paired["reason"].rstrip(".") if paired else "not computed",
         "RepMultiplierRule": mult["rule"] if mult else "not computed",
         # the t quantile a 95% paired interval over these pairs multiplies its standard error by
         "RepPairedT": f"{stats.t_quantile(0.95, top_pairs - 1):.1f}" if top_pairs > 1 else "undefined"}  # fmt: skip
    for b in (paired or {}).get("per_budget", []):
        m[f"Rep{name_of[b['chunks']]}PairedOutcome"] = b["outcome"]
    shapes = {b["chunks"]: b for b in (v.get("curve_shapes") or {}).get("per_budget", [])}
    m["RepShapeRule"] = (v.get("curve_shapes") or {}).get("rule", "not computed")
    m["RepShapePostHoc"] = "1" if (v.get("curve_shapes") or {}).get("post_hoc", True) else "0"
    for chunks, name in name_of.items():
        for p, P in (("ar", "Ar"), ("mdlm", "Mdlm")):
            m[f"Rep{name}{P}Shape"] = shape_text(shapes[chunks][p]) if p in shapes.get(chunks, {}) else "not computed"
    for b in (mult or {}).get("per_budget", []):
        name = name_of[b["chunks"]]
        m[f"Rep{name}Multiplier"] = multiplier_text(b)
        m[f"Rep{name}MultiplierFlops"] = multiplier_flops(b)
        m[f"Rep{name}MultiplierSeeds"] = "; ".join(f"seed {s}: {multiplier_text(x)}" for s, x in b["per_seed"].items())
        m[f"Rep{name}VsLiterature"] = literature_text(b, shapes.get(b["chunks"], {}).get("mdlm"))
    return m


def post_hoc_lines(results) -> list[str]:
    """The README's lines for the analyses decided after the first results (none when not computed)."""
    v = results["verdicts"]
    lines = []
    if paired := v.get("finding_2_paired"):
        when = (
            "a rule decided after these results, post hoc" if paired.get("post_hoc", True) else "fixed before the run"
        )
        lines += ["", f"Paired by seed ({when}): **{paired['outcome']}**: {paired['reason'].rstrip('.')}."]
    mult = v.get("compute_multiplier") or {}
    when = "post hoc" if mult.get("post_hoc", True) else "fixed before the run"
    for b in mult.get("per_budget", []):
        seeds = "; ".join(f"seed {s}: {multiplier_text(x)}" for s, x in b["per_seed"].items())
        lines += ["", f"Compute multiplier with {b['unique_tokens']:,} unique tokens ({when}): "
                  f"**{multiplier_text(b)}**. {multiplier_flops(b)} ({seeds})."]  # fmt: skip
    shapes = v.get("curve_shapes") or {}
    per_budget = [
        f"with {b['unique_tokens']:,} unique tokens "
        + ", ".join(f"{p.upper()} {shape_text(b[p])}" for p in ("ar", "mdlm") if p in b)
        for b in shapes.get("per_budget", [])
    ]
    if per_budget:
        when = "decided after these results, post hoc" if shapes.get("post_hoc", True) else "fixed before the run"
        lines += ["", f"Where the curves stand over their last doubling of epochs (descriptive, {when}): "
                      f"{'; '.join(per_budget)}."]  # fmt: skip
    return lines


def multiplier_text(b: dict) -> str:
    """What the multiplier is known to be: "4.2 times AR's FLOPs", "at most 1.0 times AR's FLOPs" (the MDLM's
    first run is there), "not reached by 4.0 times AR's FLOPs" (the bound never got there: no multiplier for
    the NLL follows)."""
    times = f"{b['multiplier']:.1f} times AR's FLOPs"
    return {"more_than": f"not reached by {times}", "at_most": f"at most {times}"}.get(b["kind"], times)


def multiplier_label(b: dict) -> str:
    """The figure's short form of multiplier_text."""
    return {"more_than": "not by {:.1f}\u00d7", "at_most": "\u2264 {:.1f}\u00d7"}.get(b["kind"], "{:.1f}\u00d7").format(
        b["multiplier"]
    )


def multiplier_flops(b: dict) -> str:
    """The FLOPs the multiplier rests on, as a sentence."""
    where = {"more_than": "had not reached it by", "at_most": "had reached it by"}.get(b["kind"], "reaches it at")
    ar = f"AR reaches its best, {b['ar_best']:.3f}, after {sci(b['ar_flops'])} FLOPs"
    return f"{ar}; the MDLM's bound {where} {sci(b['mdlm_flops'])}"


def shape_text(s: dict) -> str:
    """One curve's SHAPE_RULE result: "flat: -0.014 from 64 to 128 epochs (95% paired interval ...)"."""
    c = s.get("change")
    if s.get("from") is None:
        return f"{s['shape']} (no run at half its last epoch count, {s['to']})"
    span = f"from {s['from']} to {s['to']} epochs"
    if not c or c.get("diff") is None:
        return f"{s['shape']} (no seed has finite losses at both {s['from']} and {s['to']} epochs)"
    if c.get("lo") is None:
        return f"{s['shape']}: {c['diff']:+.3f} {span} ({c['n_pairs']} seed, no interval)"
    interval = f"95% paired interval {c['lo']:+.3f} to {c['hi']:+.3f}, {c['n_pairs']} seeds"
    return f"{s['shape']}: {c['diff']:+.3f} {span} ({interval})"


def literature_text(b: dict, mdlm_shape: dict | None) -> str:
    """Where the MDLM's bound reaches AR's best, against Nie et al.'s ~16x, and whether its curve still leaves
    room for the compute crossover Prabhudesai et al. report (its bound still falling at the last epoch count).
    The bound is the NELBO: a multiplier found bounds the NLL's from above, one not found says nothing of it."""
    x, n = b["multiplier"], NIE_MULTIPLIER
    times = f"{x:.1f} times AR's FLOPs"
    if b["kind"] == "more_than":
        vs = f"not within {times}, " + (
            f"already at or past their ~{n} times"
            if x >= n
            else f"short of their ~{n} times, so this run cannot tell against it"
        )
    elif b["kind"] == "at_most":
        vs = f"within at most {times}, " + (
            f"below their ~{n} times" if x < n else f"which cannot tell against their ~{n} times"
        )
    else:
        vs = f"at {times}, " + ("below" if x < n else "above" if x > n else "equal to") + f" their ~{n} times"
    if b["kind"] != "more_than" or not mdlm_shape or mdlm_shape["shape"] == "not testable":
        return vs
    last = f"from {mdlm_shape['from']} to {mdlm_shape['to']} epochs"
    if mdlm_shape["shape"] == "still falling":
        return f"{vs}; the MDLM's bound was still falling {last}, so more epochs might yet reach AR's best"
    change = {"flat": "showed no real change", "turned": "was rising again"}[mdlm_shape["shape"]]
    return (
        f"{vs}; the MDLM's bound {change} {last}, still above AR's best, so these epochs show no sign of the crossover"
    )


def sci(x: float) -> str:
    """1.6e13 rather than Python's 1.6e+13 (and 4e12 rather than 4e+12)."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
