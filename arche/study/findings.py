"""The paper's three findings under the controlled protocol, each judged by a documented rule into one of
OUTCOMES (holds / does not hold / inconclusive / not testable), with the reason and the numbers behind it.
Pure functions of a results dict (no torch): the analysis stores their outcome in results.json
("verdicts"), the report prints it."""

from __future__ import annotations

from ..numfmt import fmt, fmt_agg
from ..stats import aggregate, compare, paired_ratio
from .frontier import equal_quality
from .results import (
    ARM_LABEL,
    PUBLISHED,
    THROUGHPUT_TOLERANCE,
    main_protocol,
    runs_where,
    sample_stat,
    samples_where,
)

# --------------------------------------------------------------------------- findings

# A rule returns one of four outcomes. "inconclusive": the measurements cannot tell (an interval of a
# difference contains the threshold). "not testable": the rule's precondition is unmet (e.g. a model
# no better than the unigram baseline, or no overfitting regime reached), so the run says nothing.
OUTCOMES = ("holds", "does not hold", "inconclusive", "not testable")
HOLDS = {"holds": True, "does not hold": False, "inconclusive": None, "not testable": None}
OUTCOME_SHORT = {"holds": "yes", "does not hold": "no", "inconclusive": "inconclusive", "not testable": "not testable"}


def _finding(outcome: str, reason: str, measure: str, **extra) -> dict:
    assert outcome in OUTCOMES, outcome
    return {
        "outcome": outcome,
        "verdict": outcome,
        "holds": HOLDS[outcome],
        "reason": reason,
        "measure": measure,
        **extra,
    }


def sanity_gate(results, protocol, arm) -> dict:
    """Is every seed of an arm better than the unigram baseline? Each model's best held-out bound
    (AR NLL, MDLM NELBO, nats/token) against the unigram entropy of the same validation tokens, with
    a margin of two standard errors of the bound's estimate. {passed, failed_seeds, entropy, best}."""
    meta = results["meta"]
    # The unigram baseline: held-out cross-entropy of a unigram fitted on the training tokens (results
    # before it was stored fall back to the plug-in entropy of the validation tokens, a lower number).
    entropy = (meta.get("unigram_xent") or meta.get("unigram_entropy") or {}).get(protocol)
    rows = runs_where(results, protocol=protocol, arm=arm)
    if entropy is None or not rows:
        return {"passed": None, "failed_seeds": [], "entropy": entropy, "best": None}
    failed = [
        r["seed"]
        for r in rows
        if r.get("best_bound") is None or r["best_bound"] + 2 * (r.get("val_nelbo_se") or 0.0) >= entropy
    ]
    return {
        "passed": not failed,
        "failed_seeds": failed,
        "entropy": entropy,
        "best": aggregate([r.get("best_bound") for r in rows]),
    }


def _gate(results, protocol, arms) -> str | None:
    """Why a verdict that needs these arms is not testable (the sanity gate failed), or None."""
    for arm in arms:
        g = sanity_gate(results, protocol, arm)
        if g["passed"] is False:
            return (
                f"{ARM_LABEL[arm]} is no better than the unigram baseline "
                f"({fmt_agg(g['best'], 'f3')} vs {fmt(g['entropy'], 'f3')} nats/token) in "
                f"{len(g['failed_seeds'])} seed(s)"
            )
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
        return _finding(
            "not testable",
            "no interleaved throughput benchmark in this run",
            "not measured",
            protocol=protocol,
            ratio=None,
        )
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
    measure = (
        f"{ARM_LABEL[arm]} at {fmt(r['ratio'], 'pct')} of AR [{fmt(r['lo'], 'pct')}, {fmt(r['hi'], 'pct')}] "
        f"(median {fmt(med.get(arm), 'tok')} vs {fmt(med.get('ar'), 'tok')} tok/s, {r['n']} interleaved "
        f"rounds on {tp.get('device', 'an unnamed device')})"
    )
    return _finding(
        outcome,
        f"paired ratio interval vs [{lo_ok:g}, {hi_ok:g}]",
        measure,
        protocol=protocol,
        ratio=r["ratio"],
        ratio_lo=r["lo"],
        ratio_hi=r["hi"],
    )


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
    ar = {r["seed"]: r for r in runs_where(results, protocol=protocol, arm="ar")}
    md = {r["seed"]: r for r in runs_where(results, protocol=protocol, arm=arm)}
    seeds = sorted(set(ar) & set(md))
    if not seeds:
        return _finding("not testable", "no paired runs", "no paired runs", protocol=protocol, k=0, n=0)
    ar_best = aggregate([ar[s]["best_step"] for s in seeds])
    md_best = aggregate([md[s]["best_step"] for s in seeds])
    last = _last_eval(ar[seeds[0]])
    overfit = [s for s in seeds if _overfits(ar[s])]
    improving = [s for s in overfit if _still_improving(md[s])]
    measure = (
        f"best step of {fmt(last, 'int')}: AR {fmt_agg(ar_best, 'int')}, {ARM_LABEL[arm]} "
        f"{fmt_agg(md_best, 'int')}; AR overfits in {len(overfit)} of {len(seeds)} seeds, "
        f"{ARM_LABEL[arm]} still improving in {len(improving)} of those"
    )
    gate = _gate(results, protocol, ("ar", arm))
    if gate:
        return _finding("not testable", gate, measure, protocol=protocol, k=len(improving), n=len(seeds))
    if not overfit:
        return _finding(
            "not testable",
            "the AR model's best evaluation is its last in every seed: no overfitting regime was reached",
            measure,
            protocol=protocol,
            k=0,
            n=len(seeds),
        )
    outcome = "holds" if len(improving) == len(overfit) else "does not hold" if not improving else "inconclusive"
    return _finding(
        outcome,
        f"{len(improving)} of {len(overfit)} overfitting seeds",
        measure,
        protocol=protocol,
        k=len(improving),
        n=len(seeds),
    )


# Finding 3 is judged on Self-BLEU at matched length (every text cut to the same number of words),
# because Self-BLEU grows with length and the two paradigms write texts of different lengths; unique
# first 5-grams only read the first five words, so they need no matching.
DIVERSITY_RULE_METRICS = (("unique_first_5gram", +1), ("self_bleu_matched", -1))


def _equal_quality_measure(eq: dict) -> str:
    """The equal-quality comparison in words: the two ranges, then each overlapping MDLM point."""
    rng = eq["ranges"]
    text = "judge perplexity range " + ", ".join(
        f"{name} {fmt(r[0], 'sig')}-{fmt(r[1], 'sig')}" for name, r in (("AR", rng["ar"]), ("MDLM", rng["mdlm"])) if r
    )
    for c in eq["comparisons"]:
        m = c["measures"]
        text += (
            f"; at perplexity {fmt(c['gen_ppl'], 'sig')} ({c['setting']}): unique first 5-grams MDLM "
            f"{fmt(m['unique_first_5gram']['mdlm'], 'pct')} vs AR {fmt(m['unique_first_5gram']['ar'], 'pct')}, "
            f"Self-BLEU {fmt(m['self_bleu_matched']['mdlm'], 'f3')} vs {fmt(m['self_bleu_matched']['ar'], 'f3')}"
            f" ({c['verdict']})"
        )
    return text


def finding_diversity(results, protocol=None, setting="samples", arm="mdlm", ref_setting=None) -> dict:
    """Finding 3, "MDLM generates more diverse text". Rule: Welch tests over seeds (logit scale) of
    MDLM minus AR for unique first 5-grams (MDLM higher is "more diverse") and Self-BLEU at matched
    length (MDLM lower). Both in the MDLM's favour: holds; either in AR's favour: does not hold;
    otherwise inconclusive. Not testable when a model fails the sanity gate (its samples are noise,
    whose "diversity" means nothing) or there are fewer than two seeds per arm."""
    protocol = protocol or main_protocol(results)
    stat = {}
    directions = []
    for metric, better in DIVERSITY_RULE_METRICS:
        key = metric if any(metric in r for r in samples_where(results)) else metric.replace("_matched", "")
        rows = [r for r in samples_where(results, protocol=protocol, setting=setting)]
        ar_rows = samples_where(results, protocol=protocol, setting=ref_setting) if ref_setting else rows
        va = [r.get(key) for r in ar_rows if r["arm"] == "ar"]
        vm = [r.get(key) for r in rows if r["arm"] == arm]
        n_items = min((r["n_texts"] for r in rows if r.get("n_texts")), default=None)
        c = compare(vm, va, "logit", n_items)
        stat[metric] = (
            sample_stat(results, key, protocol, arm, setting),
            sample_stat(results, key, protocol, "ar", ref_setting or setting),
            c,
        )
        directions.append(None if c["direction"] is None else c["direction"] * better)
    (um, ua, _), (sm, sa, _) = stat["unique_first_5gram"], stat["self_bleu_matched"]
    measure = (
        f"unique first 5-grams {ARM_LABEL[arm]} {fmt_agg(um, 'pct')} vs AR {fmt_agg(ua, 'pct')}; "
        f"Self-BLEU (matched length) {fmt_agg(sm, 'f3')} vs {fmt_agg(sa, 'f3')}"
    )
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
    tied = bool(runs_where(results, protocol=protocol, arm="mdlm_tied"))
    return _training_findings(results, protocol, tied) + _diversity_findings(results, protocol, tied)


def _row(key: str, finding: str, claim: str, judged: dict) -> dict:
    return {"key": key, "finding": finding, "claim": claim, **judged}


def _training_findings(results, protocol: str, tied: bool) -> list[dict]:
    """Findings 1 (throughput) and 2 (overfitting; again for the tied-head MDLM when it ran)."""
    p1, p2 = PUBLISHED["ar"], PUBLISHED["mdlm"]
    out = [
        _row(
            "FindingOne",
            "1. Throughput parity",
            f"MDLM at {fmt(p2['tokens_per_s'] / p1['tokens_per_s'], 'pct')} of AR throughput",
            finding_throughput(results, protocol),
        ),
        _row(
            "FindingTwo",
            "2. AR overfits early, MDLM still improving",
            f"AR best at step {fmt(p1['best_step'], 'int')}, MDLM at {fmt(p2['best_step'], 'int')} (the last)",
            finding_overfitting(results, protocol),
        ),
    ]
    if tied:
        judged = finding_overfitting(results, protocol, "mdlm_tied")
        out.append(_row("FindingTwoTied", "2, tied-head MDLM", "(not tested in the paper)", judged))
    return out


def _diversity_findings(results, protocol: str, tied: bool) -> list[dict]:
    """Finding 3 at equal judge perplexity (its rule), then its variants at each model's own decoding."""
    pd_ = PUBLISHED["diversity"]
    mdlm5, ar5 = (fmt(pd_[m]["unique_first_5gram"], "pct") for m in ("mdlm", "ar"))
    five = f"unique first 5-grams {mdlm5} vs {ar5}"
    eq = equal_quality(results)
    gate = _gate(results, protocol, ("ar", "mdlm"))
    if gate:  # noise is not "equally fluent" text: the frontier rule's sanity gate
        eq = {**eq, "outcome": "not testable", "reason": gate}
    judged = _finding(eq["outcome"], eq["reason"], _equal_quality_measure(eq), protocol=protocol, frontier=eq)
    out = [
        _row(
            "FindingThree",
            "3. MDLM more diverse, at equal judge perplexity",
            f"{five} (AR prompted, MDLM with a repetition penalty)",
            judged,
        ),
        _row(
            "FindingThreeOwn",
            "3, each at its own distribution (AR T=1, MDLM ancestral), not equal quality",
            f"{five}; Self-BLEU {fmt(pd_['mdlm']['self_bleu'], 'f3')} vs {fmt(pd_['ar']['self_bleu'], 'f3')}",
            finding_diversity(results, protocol),
        ),
    ]
    if samples_where(results, protocol=protocol, setting="samples_confidence"):
        judged = finding_diversity(results, protocol, "samples_confidence", ref_setting="samples")
        out.append(
            _row(
                "FindingThreeConfidence",
                "3, MDLM by the confidence rule (no penalty), not equal quality",
                "(the paper's rule, with its penalty and schedule)",
                judged,
            )
        )
    if samples_where(results, protocol=protocol, setting="samples_prompted"):
        judged = finding_diversity(results, protocol, "samples_prompted")
        out.append(
            _row("FindingThreePrompted", "3, both prompted “Once”", "(not tested: only AR was prompted)", judged)
        )
    if tied:
        judged = finding_diversity(results, protocol, arm="mdlm_tied")
        out.append(_row("FindingThreeTied", "3, tied-head MDLM", "(not tested in the paper)", judged))
    return out


def verdicts(results) -> dict:
    """What results.json stores under "verdicts" for a comparison run: every finding's rule applied."""
    return {"findings": findings(results)}


def stored_or_computed(results) -> list[dict]:
    """The findings as the analysis stored them in results.json, or (a file from before verdicts were
    stored) computed now by the same rules."""
    stored = (results.get("verdicts") or {}).get("findings")
    return stored if stored is not None else findings(results)
