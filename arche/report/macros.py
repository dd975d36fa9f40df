"""Every number the paper's prose cites, as LaTeX macros, and the check that the paper uses only
defined ones."""

from __future__ import annotations

import math

from ..stats import paired_ratio
from ..study.findings import OUTCOMES
from . import repetition as report_repetition
from .common import (
    ARM_MACRO,
    ARMS,
    CITATION,
    PUBLISHED,
    THROUGHPUT_TOLERANCE,
    describe_source,
    main_protocol,
    protocol_names,
    reference_row,
    run_stat,
    runs_where,
    sample_stat,
    samples_where,
    toy_level,
)
from .discussion import VERDICT_PHRASE, discussion, discussion_counts
from .examples import EXAMPLE_CHARS, EXAMPLES_PER_ARM
from .findings import sanity_gate, stored_or_computed
from .fmt import SEED_VALUES_MAX, fmt, fmt_agg, is_number, latex_escape
from .frontier import frontier_macros
from .regime import judge_macros, regime_macros
from .setup import describe_precision

# --------------------------------------------------------------------------- macros


def _tex(value: str) -> str:
    return latex_escape(value)


def macros(results) -> dict[str, str]:
    """Every number the paper's prose cites, LaTeX-ready, by macro name (letters only).

    Naming: `Paper...` = Vicentino (2026); unprefixed `Ar...`/`Mdlm...`/`MdlmTied...` = ours under the
    main (controlled) protocol; `Pub...` = ours under the published protocol; `Prompted...` = the
    controlled protocol with both models prompted "Once"; `...Data{Openings,Windows}...` = real
    held-out text; `ConfMdlm...`/`ExtraMdlm...` = the MDLM's confidence rule and paper-text sampler (an
    extra row); `Frontier...` = finding 3 at equal judge perplexity; `Regime...`, `...EscapeSteps`,
    `...FinalBounds` = the training regime and each seed's plateau escape and final bound. Values over
    seeds read as numfmt.fmt_agg prints them: with at most SEED_VALUES_MAX
    seeds "centre (seed values)", with more "mean $\\pm$ half-width of the 95% interval" (or "centre
    [lo, hi]" on a log or logit scale). `...Verdict` is an outcome ("inconclusive"), `...Phrase` the
    same as a predicate ("is inconclusive"). Throughput is only ever the interleaved benchmark's.
    Anything not measured in this run reads "n/a", so every name always exists.
    """
    if report_repetition.is_repetition(results):
        return report_repetition.macros(results)
    m: dict[str, str] = {}
    _setup_macros(m, results)
    _measurement_macros(m, results)
    _paper_macros(m)
    _our_macros(m, results)
    _verdict_macros(m, results)
    frontier_macros(m, results)  # finding 3 at equal judge perplexity (arche.report.frontier)
    m["InfillSummary"] = infill_summary(results.get("infill"))
    _infill_macros(m, results.get("infill"))
    return {k: _tex(v) for k, v in m.items()}


def _setup_macros(m: dict, results) -> None:
    """The run: its scale mark, data, settings, device, protocols, and flags for the parts it has."""
    meta = results["meta"]
    cfg = meta["config"]
    protos = protocol_names(results)
    main = main_protocol(results)
    level = toy_level(meta)
    m["ToyLevel"] = str(level)
    m["ToyMark"] = {0: "", 1: "toy data", 2: "small-scale run"}[level]
    m["ToyNote"] = {
        0: "",
        1: "Toy data: these results come from the synthetic corpus of the smoke profile; they test the "
        "pipeline and say nothing about the models.",
        2: "Small-scale run: far fewer tokens, steps and parameters than the paper; the numbers show the "
        "method, not the paper-scale result.",
    }[level]
    m["ProfileName"] = meta.get("profile") or "custom"
    m["DataSource"] = describe_source(meta)
    m["NTokens"] = fmt(meta.get("n_tokens"), "int")
    m["NTokensShort"] = fmt(meta.get("n_tokens"), "params")
    m["VocabSize"] = fmt(meta.get("vocab_size"), "int")
    seeds = meta.get("seeds") or []
    m["NSeeds"] = str(len(seeds))
    m["SeedList"] = ", ".join(str(s) for s in seeds)
    for key, name, kind in (
        ("steps", "Steps", "int"),
        ("batch_size", "BatchSize", "int"),
        ("seq_len", "SeqLen", "int"),
        ("d_model", "DModel", "int"),
        ("n_layers", "NLayers", "int"),
        ("n_heads", "NHeads", "int"),
        ("d_ff", "DFF", "int"),
        ("eval_every", "EvalEvery", "int"),
        ("warmup_steps", "WarmupSteps", "int"),
        ("n_samples", "NSamples", "int"),
        ("sample_length", "SampleLength", "int"),
        ("mdlm_steps", "MdlmSamplerSteps", "int"),
        ("ar_temperature", "ArTemperature", "sig"),
        ("lr", "LearningRate", "sig"),
    ):
        m[name] = fmt(cfg.get(key), kind)
    m["DeviceName"] = str(meta.get("device", "n/a"))
    m["Precision"] = describe_precision(meta)
    m["RunDate"] = str(meta.get("created", "n/a"))
    m["ProtocolsRun"] = " and ".join(protos)
    m["MainProtocol"] = main
    # Flags (0/1) for the parts of the paper that exist only when the run has them.
    m["HasPublished"] = str(int("published" in protos))
    m["HasControlled"] = str(int("controlled" in protos))
    m["HasTied"] = str(int(bool(runs_where(results, protocol=main, arm="mdlm_tied"))))
    m["HasPrompted"] = str(int(bool(samples_where(results, protocol=main, setting="samples_prompted"))))
    m["HasInfill"] = str(int((results.get("infill") or {}).get("ar_nll_infilled") is not None))
    m["HasSeeds"] = str(int(len(seeds) > 1))
    m["ThroughputTolerance"] = fmt(THROUGHPUT_TOLERANCE, "pct").replace(".0%", "%")
    m["CILevel"] = "95%"  # stats.aggregate's interval
    m["SeedValuesMax"] = str(SEED_VALUES_MAX)  # up to this many seeds, the seed values instead of it


def _measurement_macros(m: dict, results) -> None:
    """The measurement choices behind the verdicts: baselines, judges, regime, matched lengths, throughput."""
    meta = results["meta"]
    mp = main_protocol(results)
    m["UnigramEntropy"] = fmt((meta.get("unigram_entropy") or {}).get(mp), "f3")
    judge_macros(m, results)
    regime_macros(m, results)
    m["NMatch"] = fmt(meta.get("n_match"), "int")
    m["MatchWords"] = fmt(meta.get("match_words"), "int")
    tp = results.get("throughput") or {}
    m["ThroughputDevice"] = tp.get("device") or "no device (not measured)"
    m["ThroughputRounds"] = fmt(tp.get("rounds"), "int")
    m["ThroughputSteps"] = fmt(tp.get("steps"), "int")
    ses = [
        p.get("val_nelbo_se")
        for r in results["runs"]
        for p in (r.get("curve") or [])[-1:]
        if p.get("val_nelbo_se") is not None
    ]
    m["NelboSeMax"] = fmt(max(ses), "f3") if ses else "n/a"
    for arm, A in (("ar", "Ar"), ("mdlm", "Mdlm"), ("mdlm_tied", "MdlmTied")):
        g = sanity_gate(results, mp, arm)
        m[f"{A}BestBound"] = fmt_agg(g["best"], "f3") if g["best"] else "n/a"


def _paper_macros(m: dict) -> None:
    """Vicentino (2026)'s numbers (`Paper...`)."""
    P, pd_ = PUBLISHED, PUBLISHED["diversity"]
    m["PaperCitation"] = CITATION
    m["PaperSteps"] = fmt(P["steps"], "int")
    m["PaperNSamples"] = fmt(P["n_samples"], "int")
    m["PaperNTokens"] = fmt(P["setup"]["n_tokens"], "params")
    m["PaperValFraction"] = fmt(P["setup"]["val_fraction"], "pct").replace(".0%", "%")
    m["PaperPrecision"] = P["setup"]["precision"]
    d, v = P["setup"]["d_model"], P["setup"]["vocab_size"]
    m["PaperUntiedHeadParams"] = fmt(d * (v + 1), "params")  # the MDLM head over the vocabulary + [MASK]
    m["PaperTimeMlpParams"] = fmt(d * d, "params")  # Linear(d, d) of the timestep embedding
    m["PaperArTemperature"] = fmt(P["sampling"]["ar_temperature"], "sig")
    m["PaperMdlmSamplerSteps"] = fmt(P["sampling"]["mdlm_steps"], "int")
    for arm in ("ar", "mdlm"):
        A, p = ARM_MACRO[arm], P[arm]
        m[f"Paper{A}Params"] = fmt(p["n_params"], "params")
        m[f"Paper{A}TrainTime"] = fmt(p["train_time_min"], "min")
        m[f"Paper{A}TokPerSec"] = fmt(p["tokens_per_s"], "tok")
        m[f"Paper{A}BestVal"] = fmt(p["best_val"], "f3")
        m[f"Paper{A}BestStep"] = fmt(p["best_step"], "int")
        m[f"Paper{A}FinalVal"] = fmt(P["val_curve"][arm][-1], "f3")
        for metric, name, kind in _DIV_MACROS:
            if metric in pd_[arm]:
                m[f"Paper{A}{name}"] = fmt(pd_[arm][metric], kind)
    m["PaperThroughputRatio"] = fmt(P["mdlm"]["tokens_per_s"] / P["ar"]["tokens_per_s"], "pct")
    m["PaperTimeGap"] = fmt(P["mdlm"]["train_time_min"] / P["ar"]["train_time_min"] - 1, "pct")
    m["PaperParamGap"] = fmt(P["mdlm"]["n_params"] / P["ar"]["n_params"] - 1, "pct")
    m["PaperArPpl"] = fmt(math.exp(P["ar"]["best_val"]), "f2")
    m["PaperArSameFirstWord"] = fmt(0.998, "pct")  # "99.8% begin with the same word" (abstract)


def _our_macros(m: dict, results) -> None:
    """Ours per protocol: "" for the main protocol, "Pub" for the published one."""
    protos, main = protocol_names(results), main_protocol(results)
    prefixes = {"": main, "Pub": "published" if "published" in protos else None}
    for prefix, protocol in prefixes.items():
        for arm in ARMS:
            A = prefix + ARM_MACRO[arm]
            present = protocol is not None and bool(runs_where(results, protocol=protocol, arm=arm))
            st = (lambda metric: run_stat(results, metric, protocol, arm)) if present else (lambda metric: {})
            m[f"{A}Params"] = fmt(st("n_params").get("mean"), "params")
            m[f"{A}ParamsExact"] = fmt(st("n_params").get("mean"), "int")
            m[f"{A}TrainTime"] = fmt_agg(st("train_time_s"), "min", scale=1 / 60) if present else "n/a"
            m[f"{A}BestVal"] = fmt_agg(st("best_val"), "f3") if present else "n/a"
            m[f"{A}BestStep"] = fmt_agg(st("best_step"), "int") if present else "n/a"
            m[f"{A}FinalVal"] = fmt_agg(st("final_val"), "f3") if present else "n/a"
            m[f"{A}LastStep"] = fmt(st("steps").get("mean"), "int")
            if arm == "ar":
                m[f"{A}Nll"] = fmt_agg(st("best_val_nll"), "f3") if present else "n/a"
                m[f"{A}Ppl"] = fmt_agg(st("best_val_ppl"), "f2") if present else "n/a"
            else:
                m[f"{A}Nelbo"] = fmt_agg(st("best_val_nelbo"), "f3") if present else "n/a"
                m[f"{A}PplBound"] = fmt_agg(st("best_val_ppl_bound"), "f2") if present else "n/a"
                m[f"{A}MaskedLoss"] = fmt_agg(st("best_val_masked_mean"), "f3") if present else "n/a"
            _sample_macros(m, results, A, protocol, arm, "samples")
            if prefix == "":
                controlled = protocol if protocol == "controlled" else None
                _sample_macros(m, results, "Prompted" + ARM_MACRO[arm], controlled, arm, "samples_prompted")
        if prefix == "":  # the main protocol's other decodings of the MDLM
            _sample_macros(m, results, "ConfMdlm", protocol, "mdlm", "samples_confidence")
            _sample_macros(m, results, "ExtraMdlm", protocol, "mdlm", "samples_papertext")
        # fair-fight runs score real text under the main protocol only (the openings are the same stories)
        m[f"Has{prefix}References"] = str(int(bool(protocol and reference_row(results, protocol, "openings"))))
        for kind in ("openings", "windows"):
            ref = reference_row(results, protocol, kind) if protocol else None
            for metric, name, fk in _DIV_MACROS:
                m[f"{prefix}Data{kind.capitalize()}{name}"] = fmt(ref.get(metric) if ref else None, fk)
        _throughput_macros(m, results, prefix, protocol)
        for arm in ("mdlm", "mdlm_tied"):
            A = prefix + ARM_MACRO[arm]
            pa = run_stat(results, "n_params", protocol, "ar") if protocol else {}
            pb = run_stat(results, "n_params", protocol, arm) if protocol else {}
            gap = pb["mean"] / pa["mean"] - 1 if is_number(pa.get("mean")) and is_number(pb.get("mean")) else None
            m[f"{A}ParamGap"] = fmt(gap, "pct")


def _verdict_macros(m: dict, results) -> None:
    """Each finding's verdict, phrase, measure and reason, the discussion and the examples' sizes."""
    by_key = {f["key"]: f for f in stored_or_computed(results)}
    for key in (
        "FindingOne",
        "FindingTwo",
        "FindingTwoTied",
        "FindingThree",
        "FindingThreeOwn",
        "FindingThreeConfidence",
        "FindingThreePrompted",
        "FindingThreeTied",
    ):
        f = by_key.get(key)
        m[f"{key}Verdict"] = f["verdict"] if f else "not testable"
        m[f"{key}Phrase"] = VERDICT_PHRASE[f["outcome"] if f else "not testable"][0]
        m[f"{key}Measure"] = f["measure"] if f else "not measured in this run"
        m[f"{key}Reason"] = f["reason"] if f else "not run"
        # For sentences main.tex writes itself: \ifcase on the outcome (OUTCOMES' order), no final stop.
        m[f"{key}OutcomeCode"] = str(OUTCOMES.index(f["outcome"] if f else "not testable"))
        m[f"{key}Why"] = m[f"{key}Reason"].rstrip(".")
        m[f"{key}Measured"] = m[f"{key}Measure"].rstrip(".")
    f2 = by_key["FindingTwo"]
    m["FindingTwoSeeds"] = f"{f2.get('k', 0)} of {f2.get('n', 0)}"
    m["DiscussionText"] = discussion(by_key, results["meta"])  # the same Discussion as one text (README, tests)
    m["DiscussionCounts"] = discussion_counts(by_key)
    m["ExampleChars"] = str(EXAMPLE_CHARS)
    m["ExamplesPerArm"] = {3: "three", 4: "four", 5: "five"}.get(EXAMPLES_PER_ARM, str(EXAMPLES_PER_ARM))


def _throughput_macros(m, results, prefix, protocol) -> None:
    """{prefix}{Arm}TokPerSec (median over rounds) and {prefix}{Mdlm,MdlmTied}ThroughputRatio (paired
    ratio to AR, as finding 1 measures it) from the interleaved benchmark, for the protocol it ran
    under; "n/a" for any other: throughput is never read from the training logs."""
    tp = results.get("throughput") or {}
    per = (tp.get("per_round") or {}) if protocol and protocol == tp.get("protocol", main_protocol(results)) else {}
    for arm in ARMS:
        m[f"{prefix}{ARM_MACRO[arm]}TokPerSec"] = fmt((tp.get("median") or {}).get(arm) if arm in per else None, "tok")
    for arm in ("mdlm", "mdlm_tied"):
        ratio = paired_ratio(per[arm], per["ar"])["ratio"] if arm in per and "ar" in per else None
        m[f"{prefix}{ARM_MACRO[arm]}ThroughputRatio"] = fmt(ratio, "pct")


_DIV_MACROS = [
    ("distinct_1", "DistinctOne", "f3"),
    ("distinct_2", "DistinctTwo", "f3"),
    ("distinct_3", "DistinctThree", "f3"),
    ("distinct_4", "DistinctFour", "f3"),
    ("self_bleu", "SelfBleu", "f3"),
    ("vocab_size", "VocabUsed", "int"),
    ("unique_first_word", "UniqueFirstWord", "pct"),
    ("unique_first_5gram", "UniqueFiveGram", "pct"),
    ("gen_ppl", "GenPpl", "sig"),
    ("self_bleu_matched", "SelfBleuMatched", "f3"),
    ("judge_nelbo", "JudgeNelbo", "f3"),
    ("jsd_words", "JsdWords", "f3"),
]


def _sample_macros(m, results, A, protocol, arm, setting) -> None:
    rows = samples_where(results, protocol=protocol, arm=arm, setting=setting) if protocol else []
    for metric, name, kind in _DIV_MACROS:
        m[f"{A}{name}"] = fmt_agg(sample_stat(results, metric, protocol, arm, setting), kind) if rows else "n/a"
    m[f"{A}Decoding"] = str(rows[0].get("decoding") or "n/a") if rows else "n/a"
    m[f"{A}SampleTime"] = fmt_agg(sample_stat(results, "wall_time_s", protocol, arm, setting), "sig") if rows else "n/a"
    # The most common first word and its share (first seed's sample set).
    top = (rows[0].get("first_words_top") or [[None, None]])[0] if rows else [None, None]
    m[f"{A}TopFirstWord"] = f"“{top[0]}”" if top and top[0] else "n/a"
    m[f"{A}TopFirstWordShare"] = fmt(top[1], "pct") if top and top[0] else "n/a"


def infill_summary(infill) -> str:
    """One sentence on the infilling check (sample.infill_demo's record), or why there is none."""
    if not infill or infill.get("ar_nll_infilled") is None:
        return "This run has no infilling check."
    return (
        f"The MDLM ({infill.get('protocol', '?')} protocol, seed {infill.get('seed', '?')}) filled the middle "
        f"{fmt(infill.get('span_tokens'), 'int')} of {fmt(infill.get('length'), 'int')} tokens of "
        f"{fmt(infill.get('n_stories'), 'int')} held-out story openings with its {infill.get('sampler', '?')} "
        f"sampler ({fmt(infill.get('steps'), 'int')} steps). Scored over the whole row by the AR model, the "
        f"original rows have an NLL of {fmt(infill.get('ar_nll_original'), 'f3')} nats/token, the infilled "
        f"rows {fmt(infill.get('ar_nll_infilled'), 'f3')}, and rows whose span holds random tokens drawn from "
        f"the held-out unigram distribution {fmt(infill.get('ar_nll_random'), 'f3')}; "
        f"{fmt(infill.get('span_token_match'), 'pct')} of the filled tokens equal the original ones."
    )


def _infill_macros(m, infill) -> None:
    infill = infill or {}
    for key, name, kind in (
        ("n_stories", "NStories", "int"),
        ("length", "Length", "int"),
        ("span_tokens", "SpanTokens", "int"),
        ("steps", "Steps", "int"),
        ("ar_nll_original", "NllOriginal", "f3"),
        ("ar_nll_infilled", "NllInfilled", "f3"),
        ("ar_nll_random", "NllRandom", "f3"),
        ("span_token_match", "TokenMatch", "pct"),
    ):
        m[f"Infill{name}"] = fmt(infill.get(key), kind)
    m["InfillSampler"] = str(infill.get("sampler", "n/a"))
    m["InfillProtocol"] = str(infill.get("protocol", "n/a"))
