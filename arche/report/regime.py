"""The training regime, the plateau each run had to leave, and the judges: the values the paper cites for
them and the per-seed cells of Table 2 (each seed's final bound and plateau-escape step).

REGIME_RULE's candidates are arche.study.regime's constants, unless the results file records them
(meta.regime.candidates)."""

from __future__ import annotations

from ..study import regime
from .common import ARM_MACRO, main_protocol, protocol_config, runs_where
from .fmt import fmt, is_number

BOUND_KEY = {"ar": "val_nll", "mdlm": "val_nelbo", "mdlm_tied": "val_nelbo"}
RULE_NAMES = ("BATCH_CANDIDATES", "LR_FACTORS", "PILOT_SHARE", "PILOT_SEEDS")
NOISE_LABEL = {"stratified": "stratified", "iid": "independent per sequence"}


def regime_rule_constants() -> dict:
    """{BATCH_CANDIDATES, LR_FACTORS, PILOT_SHARE, PILOT_SEEDS} as committed in arche/study/regime.py."""
    return {name: getattr(regime, name) for name in RULE_NAMES}


def _and(values) -> str:
    """ "2 and 8", "0.5, 1 and 2"."""
    words = [f"{v:g}" for v in values]
    return " and ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + " and " + words[-1]


def final_bound(row) -> float | None:
    """A run's bound at its last evaluation (AR NLL, MDLM NELBO, nats/token)."""
    key = BOUND_KEY.get(row["arm"], "val_nelbo")
    curve = row.get("curve") or []
    value = curve[-1].get(key) if curve else None
    return value if is_number(value) else row.get(key)


def escape_text(row) -> str:
    """A run's plateau-escape step: the step, "never" (it never left the unigram plateau), or "n/a"
    (results from before it was recorded)."""
    if "escape_step" not in row:
        return "n/a"
    return "never" if row["escape_step"] is None else fmt(row["escape_step"], "int")


def per_seed(results, protocol, arm, what: str) -> str:
    """Each seed's value in seed order, comma-separated: what = "bound" (final bound) or "escape"."""
    rows = sorted(runs_where(results, protocol=protocol, arm=arm), key=lambda r: r["seed"])
    if not rows:
        return "n/a"
    cells = [fmt(final_bound(r), "f3") if what == "bound" else escape_text(r) for r in rows]
    return "n/a" if all(c == "n/a" for c in cells) else ", ".join(cells)


def arm_lr(results, protocol, arm) -> float | None:
    """The learning rate an arm trained at (its runs' `lr`), else the config's (`ar_lr`/`mdlm_lr` under the
    controlled protocol when set, as arche.study.comparison.arm_lr chooses it)."""
    rows = [r["lr"] for r in runs_where(results, protocol=protocol, arm=arm) if is_number(r.get("lr"))]
    if rows:
        return rows[0]
    cfg = results["meta"]["config"]
    own = cfg.get("ar_lr" if arm == "ar" else "mdlm_lr")
    return own if (own and protocol == "controlled") else cfg.get("lr")


def regime_macros(m: dict, results) -> None:
    """The regime (batch, both learning rates, noise sampling, precision), REGIME_RULE's candidates, the
    unigram baseline, and per arm each seed's final bound and plateau-escape step."""
    meta = results["meta"]
    main = main_protocol(results)
    regime = meta.get("regime") or {}
    cfg = {**meta["config"], **regime}
    m["HasRegime"] = str(int(bool(regime)))
    m["RegimeBatch"] = fmt(cfg.get("batch_size"), "int")
    m["RegimeArLr"] = fmt(arm_lr(results, main, "ar"), "sig")
    m["RegimeMdlmLr"] = fmt(arm_lr(results, main, "mdlm"), "sig")
    # the main protocol's noise sampling (results files record the base config's in `regime`: the published one)
    noise = protocol_config(meta["config"], main).get("mdlm_time_sampling") if regime else None
    m["RegimeNoise"] = NOISE_LABEL.get(noise, "n/a")
    m["RegimePrecision"] = str(regime.get("precision", "n/a"))
    rule = {**regime_rule_constants(), **_recorded_candidates(regime)}
    m["RegimeBatchCandidates"] = _and(rule.get("BATCH_CANDIDATES", ()))
    m["RegimeLrFactors"] = _and(sorted({1.0, *rule.get("LR_FACTORS", ())}))
    m["RegimePilotShare"] = fmt(rule.get("PILOT_SHARE"), "pct").replace(".0%", "%")
    m["RegimePilotSeeds"] = _and(rule.get("PILOT_SEEDS", ()))
    m["RegimeLrAtGridTop"] = _at_grid_top(results, main, cfg, rule)
    baseline = (meta.get("unigram_xent") or {}).get(main)
    m["UnigramBaseline"] = fmt(baseline if is_number(baseline) else (meta.get("unigram_entropy") or {}).get(main), "f3")
    m["UnigramBaselineKind"] = (
        "the held-out cross-entropy of a unigram model fitted on the training tokens"
        if is_number(baseline)
        else "the unigram entropy of the validation tokens"
    )
    for arm, A in ARM_MACRO.items():
        m[f"{A}FinalBounds"] = per_seed(results, main, arm, "bound")
        m[f"{A}EscapeSteps"] = per_seed(results, main, arm, "escape")
        seeds = sorted(r["seed"] for r in runs_where(results, protocol=main, arm=arm))
        m[f"{A}SeedsRun"] = ", ".join(str(s) for s in seeds) if seeds else "n/a"
        m[f"{A}NSeedsRun"] = str(len(seeds))


def _at_grid_top(results, main, cfg, rule) -> str:
    """Which paradigms' chosen rate is the largest the rule tried ("AR and the MDLM", "AR", "the MDLM" or
    "none"): a rate at the edge of the grid is a bound, not an optimum, and the paper says so."""
    top, base = max((1.0, *rule.get("LR_FACTORS", ()))), cfg.get("lr")
    if not (is_number(base) and base > 0):
        return "none"
    at = [label for arm, label in (("ar", "AR"), ("mdlm", "the MDLM"))
          if is_number(arm_lr(results, main, arm)) and abs(arm_lr(results, main, arm) / base - top) < 1e-9]  # fmt: skip
    return " and ".join(at) if at else "none"


def _recorded_candidates(regime) -> dict:
    """REGIME_RULE's candidates as a results file records them (arche.study.regime.run_regime's "candidates")."""
    c = regime.get("candidates") or {}
    out = {"BATCH_CANDIDATES": c.get("batch"), "LR_FACTORS": c.get("lr_factors"), "PILOT_SHARE": c.get("share")}
    return {k: v for k, v in out.items() if v is not None}


def judge_macros(m: dict, results) -> None:
    """The judges (AR: perplexity; MDLM: NELBO, when trained) and the real references' provenance."""
    meta = results["meta"]
    judges = meta.get("judges") or {"ar": meta.get("judge") or {}}
    ar, md = judges.get("ar") or {}, judges.get("mdlm") or {}
    m["JudgeSeed"] = _seed(ar.get("seed"))
    m["JudgeNll"] = fmt(ar.get("best_bound"), "f3")
    m["HasMdlmJudge"] = str(int(bool(md)))
    m["JudgeMdlmSeed"] = _seed(md.get("seed"))
    m["JudgeMdlmNelbo"] = fmt(md.get("best_bound"), "f3")
    refs = meta.get("references") or {}
    m["HasHeldOutReferences"] = str(int(bool(refs.get("n"))))
    m["ReferenceSkipStories"] = fmt(refs.get("skip_stories"), "int")
    m["ReferenceN"] = fmt(refs.get("n"), "int")


def _seed(seed) -> str:
    """A seed as a name (1000, never "1,000")."""
    return "n/a" if seed is None else str(int(seed))
