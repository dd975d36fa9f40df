"""Tests for arche.report: tables, booktabs, macros against main.tex, verdict rules, the tagged-output
exporter and (with latexmk) a real paper build, on a hand-made results dict in results.json's schema."""

import copy
import json
import math
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from arche import load_config, report

ROOT = Path(__file__).resolve().parents[1]
MAIN_TEX = ROOT / "paper" / "main.tex"


# --------------------------------------------------------------------------- the fixture


def _curve(values, paradigm, loss="elbo", steps=(100, 200, 300)):
    out = []
    for s, v in zip(steps, values):
        if paradigm == "ar":
            out.append({"step": s, "val_loss": v, "val_nll": v, "val_ppl": math.exp(v)})
        else:
            nelbo, mm = v, v + 1.0
            out.append(
                {
                    "step": s,
                    "val_loss": nelbo if loss == "elbo" else mm,
                    "val_masked_mean": mm,
                    "val_nelbo": nelbo,
                    "val_ppl_bound": math.exp(nelbo),
                }
            )
    return out


def _run(protocol, arm, seed, values, n_params, tok_s, loss):
    paradigm = "ar" if arm == "ar" else "mdlm"
    curve = _curve(values, paradigm, loss)
    best = min(curve, key=lambda r: r["val_loss"])
    row = {
        "protocol": protocol,
        "arm": arm,
        "paradigm": paradigm,
        "seed": seed,
        "n_params": n_params,
        "vocab_size": 900,
        "steps": 300,
        "train_time_s": 60.0 + seed,
        "wall_time_s": 66.0 + seed,
        "tokens_per_s": tok_s,
        "best_val": best["val_loss"],
        "best_step": best["step"],
        "final_val": curve[-1]["val_loss"],
        "curve": curve,
        "best_bound": min(r["val_nll" if paradigm == "ar" else "val_nelbo"] for r in curve),
    }
    keys = ("val_nll", "val_ppl") if paradigm == "ar" else ("val_masked_mean", "val_nelbo", "val_ppl_bound")
    for k in keys:
        row[k] = curve[-1][k]
        row["best_" + k] = min(r[k] for r in curve)
    # where the bound first fell clearly below the unigram baseline (5.2 nats/token): the first evaluation
    # for AR, the second for the MDLM, never for the last MDLM seed (a run that stayed on the plateau)
    row["escape_step"] = 100 if paradigm == "ar" else (200 if seed < 2 else None)
    row["lr"] = 0.001 if paradigm == "ar" else 0.002
    row["batch_size"] = 8
    return row


def _text_metrics(u5, sb, d=0.3, vocab=400, ufw=0.1):
    return {
        "distinct_1": d / 5,
        "distinct_2": d,
        "distinct_3": d + 0.2,
        "distinct_4": d + 0.3,
        "self_bleu": sb,
        "self_bleu_matched": sb,
        "self_bleu_exact": sb,
        "self_bleu_published": sb + 0.01,
        "self_bleu_kind": "exact",
        "vocab_size": vocab,
        "unique_first_word": ufw,
        "unique_first_5gram": u5,
        "n_texts": 20,
        "unigram_entropy": 7.0,
        "mean_words": 80.0,
        "first_words_top": [["once", 0.6], ["one", 0.2]],
    }


DECODING = {
    "published/ar": "AR, temperature 0.8",
    "published/mdlm": "MDLM released sampler (penalty, temperature 1 schedule), 100 steps",
    "ar": "AR, temperature 1",
    "samples": "MDLM ancestral, temperature 1, 100 steps",
    "samples_confidence": "MDLM confidence rule, temperature 1, no penalty, 100 steps",
    "samples_papertext": "MDLM paper-text sampler: temperature 1.2 to 0.5, repetition penalty 1.3, 100 steps",
}


def _sample(protocol, arm, seed, setting, u5, sb, gen_ppl=12.0, knob=None, value=None, wall=5.0, se=None):
    paradigm = "ar" if arm == "ar" else "mdlm"
    sampler = {"samples_confidence": "confidence_plain", "samples_papertext": "confidence"}.get(setting, "ancestral")
    return {
        "protocol": protocol,
        "arm": arm,
        "paradigm": paradigm,
        "seed": seed,
        "setting": setting,
        "sampler": "ar" if arm == "ar" else sampler,
        "decoding": DECODING.get(f"{protocol}/{arm}")
        or (DECODING["ar"] if arm == "ar" else DECODING.get(setting, DECODING["samples"])),
        "knob": knob,
        "value": value,
        "wall_time_s": wall,
        **_text_metrics(u5, sb),
        "gen_ppl": gen_ppl,
        "judge_nelbo": 2.0 + gen_ppl / 100,
        "jsd_words": 0.05 + sb / 10,
        "examples": ["Once upon a time_ 50% & {more}", "b", "c"],
        **({"se": se} if se else {}),
    }


SE = {"unique_first_5gram": 0.02, "self_bleu_matched": 0.01}
# The frontier (controlled, seed 0): (setting, knob, value, judge perplexity, unique first 5-grams, Self-BLEU).
AR_FRONTIER = [
    ("frontier_temp0.5", 0.5, 4.0, 0.20, 0.60),
    ("frontier_temp0.7", 0.7, 6.0, 0.30, 0.50),
    ("frontier_temp0.85", 0.85, 9.0, 0.40, 0.40),
    ("frontier_temp1.15", 1.15, 25.0, 0.60, 0.25),
    ("frontier_temp1.3", 1.3, 40.0, 0.70, 0.20),
    ("frontier_temp1.5", 1.5, 70.0, 0.80, 0.15),
    ("frontier_temp2", 2.0, 200.0, 0.93, 0.10),
]
MDLM_FRONTIER = [  # against AR at the same perplexity: no difference, more diverse, less diverse, ...
    ("frontier_temp0.4", "mdlm_temperature", 0.4, 18.0, 0.55, 0.28),
    ("frontier_temp0.6", "mdlm_temperature", 0.6, 27.0, 0.80, 0.12),
    ("frontier_temp0.8", "mdlm_temperature", 0.8, 45.0, 0.60, 0.30),
    ("frontier_steps25", "mdlm_steps", 25, 150.0, 0.90, 0.11),
    ("frontier_steps50", "mdlm_steps", 50, 120.0, 0.89, 0.12),
]


def _frontier_samples() -> list[dict]:
    rows = [
        _sample("controlled", "ar", 0, setting, u5, sb, ppl, "ar_temperature", temp, 3.0, SE)
        for setting, temp, ppl, u5, sb in AR_FRONTIER
    ]
    rows += [
        _sample("controlled", "mdlm", 0, setting, u5, sb, ppl, knob, value, 4.0, SE)
        for setting, knob, value, ppl, u5, sb in MDLM_FRONTIER
    ]
    return rows


def make_results(synthetic=True):
    """Published protocol: one seed of AR and MDLM; controlled: three seeds of AR, MDLM and the
    tied MDLM, the MDLM's confidence rule, the prompted setting, the paper-text sampler and the frontier on
    seed 0, reference rows for both, the judges and the regime."""
    cfg = load_config("smoke", n_seeds=3, tied_mdlm=True)
    runs = [
        _run("published", "ar", 0, [3.0, 2.5, 2.6], 500_000, 10_000.0, "masked_mean"),
        _run("published", "mdlm", 0, [4.0, 3.5, 3.3], 620_000, 9_500.0, "masked_mean"),
    ]
    for seed, best in enumerate([2.0, 2.1, 2.2]):
        runs.append(_run("controlled", "ar", seed, [2.6, best, best + 0.05], 500_000, 10_000.0 + 100 * seed, "elbo"))
        runs.append(
            _run("controlled", "mdlm", seed, [3.5, 3.0, 2.5 + 0.1 * seed], 620_000, 9_800.0 + 100 * seed, "elbo")
        )
        runs.append(_run("controlled", "mdlm_tied", seed, [3.6, 3.1, 2.6 + 0.1 * seed], 510_000, 9_900.0, "elbo"))
    samples = [
        _sample("published", "ar", 0, "samples", 0.05, 0.40),
        _sample("published", "mdlm", 0, "samples", 0.90, 0.30),
    ]
    for seed in range(3):
        main_se = SE if seed == 0 else None  # the first seed's main sets are frontier points
        samples += [
            _sample("controlled", "ar", seed, "samples", 0.50 + 0.01 * seed, 0.30 + 0.01 * seed, 15.0, se=main_se),
            _sample("controlled", "mdlm", seed, "samples", 0.52 + 0.01 * seed, 0.29 + 0.01 * seed, 60.0, se=main_se),
            _sample("controlled", "mdlm_tied", seed, "samples", 0.51, 0.295),
            _sample("controlled", "mdlm", seed, "samples_confidence", 0.75, 0.15, 30.0, se=main_se),
            _sample("controlled", "ar", seed, "samples_prompted", 0.10 + 0.01 * seed, 0.40),
            _sample("controlled", "mdlm", seed, "samples_prompted", 0.60 + 0.01 * seed, 0.30),
        ]
    samples.append(_sample("controlled", "mdlm", 0, "samples_papertext", 0.95, 0.08, 400.0))
    samples += _frontier_samples()
    refs = []
    for protocol in ("published", "controlled"):
        for kind, u5, sb in (("openings", 0.45, 0.31), ("windows", 0.99, 0.28)):
            extra = {"gen_ppl": 11.0, "judge_nelbo": 2.1, "jsd_words": 0.0 if kind == "openings" else 0.04}
            refs.append({"protocol": protocol, "kind": kind, **_text_metrics(u5, sb), **extra, "examples": ["x"]})
    data = {
        p: {
            "source": "synthetic" if synthetic else "tinystories",
            "n_tokens": 300_000,
            "vocab_size": 900,
            "n_stories": 2000,
            "settings": {"val_split": "chunk" if p == "published" else "story"},
        }
        for p in ("published", "controlled")
    }
    meta = {
        "profile": "smoke",
        "config": cfg.to_dict(),
        "protocols": ["published", "controlled"],
        "seeds": [0, 1, 2],
        "source": "synthetic" if synthetic else "tinystories",
        "synthetic": synthetic,
        "n_tokens": 300_000,
        "vocab_size": 900,
        "data": data,
        "device": "CPU (x86_64, 2 cores, 2 threads)",
        "created": "2026-01-01 00:00:00",
        "main_protocol": "controlled",
        "unigram_entropy": {"published": 5.0, "controlled": 5.0},
        "unigram_xent": {"published": 5.2, "controlled": 5.2},
        "seeds_by_arm": {f"{p}/{a}": [0, 1, 2] for p in ("published", "controlled") for a in ("ar", "mdlm")},
        "judges": {
            "ar": {"key": "judges/judge_s1000", "seed": 1000, "best_bound": 2.05},
            "mdlm": {"key": "judges/judge_mdlm_s1000", "seed": 1000, "best_bound": 2.45},
        },
        "references": {"skip_stories": 400, "n": 20},
        "regime": {
            "batch_size": 8,
            "lr": 0.001,
            "mdlm_lr": 0.002,
            "mdlm_time_sampling": "stratified",
            "precision": "auto",
        },
    }
    meta["judge"] = meta["judges"]["ar"]
    # Interleaved throughput: MDLM at ~98% of AR in every round.
    ar_tok = [10_000.0, 10_300.0, 9_800.0, 10_100.0, 9_900.0]
    throughput = {
        "per_round": {"ar": ar_tok, "mdlm": [0.98 * v for v in ar_tok], "mdlm_tied": [0.99 * v for v in ar_tok]},
        "median": {"ar": 10_000.0, "mdlm": 9_800.0, "mdlm_tied": 9_900.0},
        "rounds": 5,
        "steps": 3,
        "device": "CPU (test)",
    }
    infill = {
        "protocol": "controlled",
        "seed": 0,
        "n_stories": 8,
        "length": 128,
        "sampler": "confidence",
        "steps": 50,
        "span_tokens": 42,
        "ar_nll_original": 2.9,
        "ar_nll_infilled": 3.2,
        "ar_nll_random": 6.5,
        "span_token_match": 0.12,
        "examples": [{"original": "a [b] c", "infilled": "a [d] c"}],
    }
    return {
        "meta": meta,
        "runs": runs,
        "samples": samples,
        "references": refs,
        "infill": infill,
        "throughput": throughput,
    }


@pytest.fixture
def results():
    return make_results()


# --------------------------------------------------------------------------- tables


def test_table2_cells_are_seed_aggregates(results):
    df = report.table_training(results)
    # Controlled AR best val over seeds 2.0, 2.1, 2.2: three seeds, too few for an interval: the mean, then each seed.
    assert df.loc["Best val loss", ("Ours: controlled", "AR")] == "2.100 (2.000, 2.100, 2.200)"
    assert "(mean over 3 seeds, then each seed's value)" in df.attrs["title"]
    # One seed: the value itself, no interval.
    assert df.loc["Best val loss", ("Ours: published", "AR")] == "2.500"
    assert df.loc["Best step", ("Ours: published", "AR")] == "200"
    assert df.loc["Best step", ("Ours: published", "MDLM")] == "300"
    assert df.loc["Best val loss", ("Vicentino (2026)", "AR")] == "1.589"
    # Throughput: the paper's reported figure; ours only from the interleaved benchmark, never the training logs.
    assert df.loc["Throughput (tok/s)", ("Vicentino (2026)", "MDLM")] == "48,343"
    assert df.loc["Throughput (tok/s)", ("Ours: controlled", "MDLM")] == "9,800 [9,604, 10,094]"
    assert df.loc["Throughput (tok/s)", ("Ours: published", "AR")] == "n/a"
    assert not any("log" in name for name in df.index)
    assert df.loc["Parameters", ("Vicentino (2026)", "MDLM")] == "162.7M"
    assert df.loc["Val loss measured", ("Ours: published", "MDLM")] == "masked mean"
    assert df.loc["Val loss measured", ("Ours: controlled", "MDLM")] == "NELBO bound"
    assert ("Ours: controlled", "MDLM (tied)") in df.columns
    assert ("Ours: published", "MDLM (tied)") not in df.columns


def test_table3_rows_are_evaluations_and_the_best_is_bold(results):
    """Row k is the k-th evaluation of the paper and of ours (both steps shown): a shorter run leaves
    trailing rows empty, never every other row."""
    df = report.table_val_loss(results)
    assert list(df.index) == [str(k) for k in range(1, 11)]
    assert df.loc["7", ("Vicentino (2026)", "AR")] == "1.589" and df.loc["7", ("", "Paper step")] == "14,000"
    assert ("7", ("Vicentino (2026)", "AR")) in df.attrs["bold"]
    assert ("10", ("Vicentino (2026)", "MDLM")) in df.attrs["bold"]
    assert df.loc["3", ("", "Our step")] == "300"
    assert df.loc["3", ("Ours: published", "MDLM")] == "4.300"  # published: the masked mean (NELBO + 1 here)
    assert df.loc["2", ("Ours: published", "AR")] == "2.500"
    assert ("2", ("Ours: published", "AR")) in df.attrs["bold"]
    ours = [c for c in df.columns if c[0].startswith("Ours")]
    filled = [bool(df.loc[str(k), ours].str.len().sum()) for k in range(1, 11)]
    assert filled == [True] * 3 + [False] * 7  # ours evaluated 3 times: rows 1-3, then nothing


def test_table4_columns_and_numbers(results):
    df = report.table_diversity(results)
    assert df.loc["Unique first 5-grams", ("Vicentino (2026)", "MDLM")] == "93.4%"
    assert df.loc["Unique first words", ("Vicentino (2026)", "AR")] == "0.2%"
    assert df.loc["Vocabulary used", ("Vicentino (2026)", "MDLM")] == "5,754"
    assert df.loc["Unique first 5-grams", ("Ours: published", "MDLM")] == "90.0%"
    # three seeds of proportions: the plain mean, then each seed's value in percent
    assert df.loc["Unique first 5-grams", ("Ours: controlled", "MDLM")] == "53.0% (52.0, 53.0, 54.0)"
    assert df.loc["Texts (n)", ("Vicentino (2026)", "MDLM")] == "1,000"
    assert df.loc["Texts (n)", ("Ours: controlled", "MDLM")] == "20"
    assert df.loc["  estimator", ("Ours: controlled", "MDLM")] == "exact, words"
    assert df.loc["  estimator", ("Vicentino (2026)", "MDLM")] == "200x50 est."
    assert df.loc["Self-BLEU", ("Ours: controlled", "data: windows")] == "0.280"
    assert df.loc["Unique first 5-grams", ("Ours: published", "data: openings")] == "45.0%"
    # the data columns sit inside their protocol's group
    cols = list(df.columns)
    assert cols.index(("Ours: published", "data: windows")) < cols.index(("Ours: controlled", "AR"))
    # every column says how its texts were decoded; the MDLM's other decodings follow, the paper-text
    # sampler marked as an extra, with its penalty
    assert df.loc["Decoding", ("Ours: controlled", "AR")] == "T 1"
    assert df.loc["Decoding", ("Ours: controlled", "MDLM")] == "ancestral, T 1"
    assert df.loc["Decoding", ("Vicentino (2026)", "AR")] == 'T 0.8, "Once"'
    assert df.loc["Decoding", ("Ours: published", "MDLM")] == "released"
    other = "Ours: controlled, other decodings"
    assert df.loc["Decoding", (other, "MDLM confidence")] == "confidence, T 1"
    assert df.loc["Decoding", (other, "MDLM paper text (extra)")] == "penalty 1.3, T 1.2 to 0.5"
    assert df.loc["Unique first 5-grams", (other, "MDLM paper text (extra)")] == "95.0%"  # first seed only
    assert df.loc["NELBO, MDLM judge", ("Ours: controlled", "data: openings")] == "2.100"
    assert df.loc["Word JSD to openings", ("Ours: controlled", "data: openings")] == "0.000"
    assert df.loc["NELBO, MDLM judge", ("Vicentino (2026)", "AR")] == "n/a"
    # three panels, each a tabular sized by its own cells: paper and published, controlled, then on a page
    # of its own the other decodings
    tex = report.to_booktabs(df)
    lines = tex.splitlines()
    assert tex.count(r"\begin{tabular}") == 3 and lines.count(r"\tablecontinued") == 1
    assert lines.index(r"\tablecontinued") > next(i for i, x in enumerate(lines) if "Ours: controlled}" in x)
    assert lines[0].startswith(r"\providecommand{\tablecontinued}") and lines.count(r"\par\medskip") == 1


def test_table2_shows_each_seeds_final_bound_and_plateau_escape(results):
    df = report.table_training(results)
    assert df.loc["Final bound, each seed", ("Ours: controlled", "MDLM")] == "2.500, 2.600, 2.700"
    assert df.loc["Plateau escape step, each seed", ("Ours: controlled", "MDLM")] == "200, 200, never"
    assert df.loc["Plateau escape step, each seed", ("Ours: controlled", "AR")] == "100, 100, 100"
    assert df.loc["Plateau escape step, each seed", ("Vicentino (2026)", "AR")] == "not reported"
    setup = report.table_setup(results)
    assert setup.loc["Learning rate: AR / MDLM", "Ours: controlled"] == "0.001 / 0.002"
    assert setup.loc["Learning rate: AR / MDLM", "Vicentino (2026)"] == "0.0003 / 0.0003"
    assert setup.loc["MDLM noise levels of a batch", "Ours: controlled"] == "stratified"
    assert setup.loc["MDLM noise levels of a batch", "Ours: published"] == "independent per sequence"


def test_table_setup_and_likelihood(results):
    df = report.table_setup(results)
    assert df.loc["Parameters: AR", "Vicentino (2026)"] == "123.6M"
    assert df.loc["Parameters: MDLM", "Vicentino (2026)"] == "162.7M"
    assert df.loc["Parameters: MDLM", "Ours: controlled"] == "620K"
    assert df.loc["MDLM over AR", "Ours: controlled"] == "+24.0%"
    assert df.loc["MDLM over AR", "Vicentino (2026)"] == "+31.6%"
    assert df.loc["AR prompt", "Ours: published"] == '"Once"'
    assert df.loc["AR prompt", "Ours: controlled"].startswith("none")
    assert df.loc["End-of-text between stories", "Ours: controlled"] == "yes"
    lk = report.table_likelihood(results)
    assert lk.loc["AR perplexity", ("Vicentino (2026)", "AR")] == f"{math.exp(1.589):.2f}"
    assert lk.loc["MDLM masked-token mean (not a bound)", ("Vicentino (2026)", "MDLM")] == "3.412"
    assert lk.loc["MDLM NELBO (nats/token, bound)", ("Ours: published", "MDLM")] == "3.300"
    assert lk.loc["MDLM masked-token mean (not a bound)", ("Ours: published", "MDLM")] == "4.300"


def test_booktabs_escapes_and_structure():
    import pandas as pd

    df = pd.DataFrame(
        {("G_1", "a&b"): ["50% ± 2", "x_y"], ("G_1", "c"): ["$5", "{z}"], ("H", "#"): ["~", "^"]},
        index=["row_1", "r%2"],
        dtype=object,
    )
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    df.index.name = "Metric_x"
    df.attrs["bold"] = {("r%2", ("G_1", "c"))}
    tex = report.to_booktabs(df)
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\multicolumn{2}{c}{G\_1}" in tex and r"\cmidrule(lr){2-3}" in tex and r"\cmidrule(lr){4-4}" in tex
    assert r"50\% $\pm$ 2" in tex and r"x\_y" in tex and r"\$5" in tex and r"\textbf{\{z\}}" in tex
    assert r"row\_1" in tex and r"r\%2" in tex and r"Metric\_x" in tex and r"a\&b" in tex and r"\#" in tex
    assert r"\textasciitilde{}" in tex and r"\textasciicircum{}" in tex
    for line in tex.splitlines():
        if line.endswith(r"\\"):
            assert line.count(" & ") == 3 or r"\multicolumn" in line


def test_latex_escape_all_specials():
    assert (
        report.latex_escape(r"a\b&c%d$e#f_g{h}i~j^k")
        == r"a\textbackslash{}b\&c\%d\$e\#f\_g\{h\}i\textasciitilde{}j\textasciicircum{}k"
    )


def test_all_tables_render(results):
    for fn in (
        report.table_setup,
        report.table_training,
        report.table_val_loss,
        report.table_diversity,
        report.table_likelihood,
        report.table_findings,
    ):
        df = fn(results)
        tex = report.to_booktabs(df)
        # one tabular, or one per panel for a table whose panels are set apart (Table 4)
        n = len(df.attrs.get("panels") or [0]) if df.attrs.get("separate_panels") else 1
        assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == n
        assert "<table" in report.to_html(df)
        bundle = report.show_table(df)._repr_mimebundle_()
        assert set(bundle) >= {"text/html", "text/latex", "text/plain"}


# --------------------------------------------------------------------------- verdict rules


def test_verdicts_on_the_fixture(results):
    f = {x["key"]: x for x in report.findings(results)}
    assert f["FindingOne"]["outcome"] == "holds"  # 98% of AR in every interleaved round
    assert f["FindingTwo"]["outcome"] == "holds"  # AR best at 200 of 300, MDLM at 300
    # at equal judge perplexity: two MDLM points more diverse, two less, three no different
    assert f["FindingThree"]["outcome"] == "inconclusive"
    assert [c["verdict"] for c in f["FindingThree"]["frontier"]["comparisons"]].count("more diverse") == 2
    assert f["FindingThreeOwn"]["outcome"] == "inconclusive"  # the differences' intervals contain 0
    assert f["FindingThreeConfidence"]["outcome"] == "holds"  # 75% vs ~51% unique, Self-BLEU 0.15 vs ~0.31
    assert f["FindingThreePrompted"]["outcome"] == "holds"  # 5-grams 0.61 vs 0.11, Self-BLEU 0.30 vs 0.40
    assert f["FindingTwoTied"]["outcome"] == "holds"
    for x in f.values():
        assert x["outcome"] in report.OUTCOMES and x["reason"]


def _set_rounds(r, arm, factors):
    ar = r["throughput"]["per_round"]["ar"]
    r["throughput"]["per_round"][arm] = [f * v for f, v in zip(factors, ar)]


def test_throughput_rule_four_outcomes():
    r = make_results()
    _set_rounds(r, "mdlm", [0.84, 0.85, 0.83, 0.84, 0.85])  # clearly below 90%
    assert report.finding_throughput(r)["outcome"] == "does not hold"
    _set_rounds(r, "mdlm", [0.80, 1.00, 0.88, 0.95, 0.86])  # straddles 90%
    assert report.finding_throughput(r)["outcome"] == "inconclusive"
    _set_rounds(r, "mdlm", [0.95, 0.96, 0.95, 0.94, 0.96])
    assert report.finding_throughput(r)["outcome"] == "holds"
    r["throughput"] = None  # training logs are not used
    assert report.finding_throughput(r)["outcome"] == "not testable"


def _mdlm_curve(r, seed, values):
    row = next(x for x in r["runs"] if x["protocol"] == "controlled" and x["arm"] == "mdlm" and x["seed"] == seed)
    for point, v in zip(row["curve"], values):
        point["val_loss"] = point["val_nelbo"] = v
    row["best_step"] = min(row["curve"], key=lambda p: p["val_loss"])["step"]


def test_overfitting_rule_four_outcomes():
    r = make_results()
    _mdlm_curve(r, 1, [3.5, 2.4, 2.6])  # one seed where the MDLM peaks before the end
    out = report.finding_overfitting(r)
    assert out["outcome"] == "inconclusive" and out["k"] == 2 and out["n"] == 3
    for seed in (0, 2):
        _mdlm_curve(r, seed, [3.5, 2.4, 2.6])
    assert report.finding_overfitting(r)["outcome"] == "does not hold"
    r = make_results()
    for x in r["runs"]:
        if x["protocol"] == "controlled" and x["arm"] == "ar":  # AR still improving at the end
            for point, v in zip(x["curve"], [2.6, 2.3, 2.2]):
                point["val_loss"] = point["val_nll"] = v
    out = report.finding_overfitting(r)
    assert out["outcome"] == "not testable" and "no overfitting regime" in out["reason"]


def test_overfitting_rule_allows_for_the_noise_of_the_bound():
    r = make_results()
    for seed in range(3):
        _mdlm_curve(r, seed, [3.5, 2.50, 2.51])  # last is 0.01 above the best ...
    assert report.finding_overfitting(r)["outcome"] == "does not hold"
    for x in r["runs"]:
        if x["arm"] == "mdlm":
            x["curve"][-1]["val_loss_se"] = 0.01  # ... which is within two standard errors
    assert report.finding_overfitting(r)["outcome"] == "holds"


def test_sanity_gate_makes_verdicts_not_testable():
    r = make_results()
    r["meta"]["unigram_xent"]["controlled"] = 2.55  # the MDLMs (best 2.5-2.7) sit at unigram level
    f = {x["key"]: x for x in report.findings(r)}
    assert f["FindingTwo"]["outcome"] == "not testable" and "unigram" in f["FindingTwo"]["reason"]
    assert f["FindingThreeOwn"]["outcome"] == "not testable"
    assert f["FindingOne"]["outcome"] == "holds"  # throughput does not need a model that learned


def _set_div(r, arm, u5, sb):
    for s in r["samples"]:
        if s["protocol"] == "controlled" and s["setting"] == "samples" and s["arm"] == arm:
            s["unique_first_5gram"] = u5 + 0.003 * s["seed"]
            s["self_bleu_matched"] = sb + 0.003 * s["seed"]


def test_diversity_rule_four_outcomes():
    r = make_results()
    _set_div(r, "mdlm", 0.90, 0.10)
    out = report.finding_diversity(r)
    assert out["outcome"] == "holds" and out["five_gram"] == 1 and out["self_bleu"] == 1
    _set_div(r, "mdlm", 0.90, 0.50)  # more unique openings, but more repetitive
    out = report.finding_diversity(r)
    assert out["outcome"] == "does not hold" and out["five_gram"] == 1 and out["self_bleu"] == -1
    _set_div(r, "mdlm", 0.90, 0.31)  # Self-BLEU indistinguishable from AR's
    assert report.finding_diversity(r)["outcome"] == "inconclusive"
    r["samples"] = [s for s in r["samples"] if not (s["arm"] == "mdlm" and s["seed"] > 0)]
    assert report.finding_diversity(r)["outcome"] == "not testable"  # one seed: nothing to test


def test_untestable_findings():
    r = make_results()
    r["runs"] = [x for x in r["runs"] if x["arm"] != "mdlm"]
    r["samples"] = [x for x in r["samples"] if x["arm"] != "mdlm"]
    del r["throughput"]["per_round"]["mdlm"]
    f = {x["key"]: x for x in report.findings(r)}
    assert f["FindingOne"]["verdict"] == "not testable"
    assert f["FindingThree"]["verdict"] == "not testable"
    m = report.macros(r)
    assert m["FindingOneVerdict"] == "not testable" and m["MdlmBestVal"] == "n/a"


# --------------------------------------------------------------------------- macros


def test_macros_cover_main_tex(results):
    m = report.macros(results)
    assert MAIN_TEX.exists()
    assert report.missing_macros(MAIN_TEX, set(m)) == []
    assert report.used_macros(MAIN_TEX.read_text())  # the paper does use generated macros


def test_macros_values_and_names(results):
    m = report.macros(results)
    assert all(re.fullmatch(r"[A-Za-z]+", k) for k in m)
    assert m["PaperArBestVal"] == "1.589" and m["PaperMdlmBestStep"] == "20,000"
    assert m["PaperArTokPerSec"] == "50,620" and m["PaperMdlmUniqueFiveGram"] == r"93.4\%"
    assert m["PubArBestVal"] == "2.500" and m["PubMdlmBestStep"] == "300"
    assert m["ArBestVal"] == "2.100 (2.000, 2.100, 2.200)"  # three seeds: each seed's value, no interval
    assert m["SeedValuesMax"] == "3" and m["FindingOnePhrase"] == "holds"
    # throughput only from the interleaved benchmark (main protocol), never from the training logs
    assert m["MdlmThroughputRatio"] == r"98.0\%" and m["ArTokPerSec"] == "10,000"
    assert m["PubMdlmThroughputRatio"] == "n/a" and m["PubArTokPerSec"] == "n/a"
    assert m["NSeeds"] == "3" and m["ProfileName"] == "smoke" and m["ToyLevel"] == "1"
    assert m["ToyMark"] == "toy data"
    assert m["FindingOneVerdict"] == "holds" and m["FindingThreeVerdict"] == "inconclusive"
    assert m["PubMdlmTiedBestVal"] == "n/a"
    assert m["HasFrontier"] == "1" and m["FrontierOverlaps"] == "1" and m["FrontierNCompared"] == "7"
    assert m["FrontierArRange"] == "4--200" and m["FrontierMdlmRange"] == "18--150"  # an en dash
    assert m["FrontierArTemps"] == "0.5, 0.7, 0.85, 1.15, 1.3, 1.5, 2" and m["FrontierMdlmSteps"] == "25, 50"
    assert m["FrontierNMoreDiverse"] == "2" and "2 of them are more diverse" in m["FrontierSentence"]
    assert m["FindingThreeOwnVerdict"] == "inconclusive" and m["FindingThreeConfidenceVerdict"] == "holds"
    assert m["ArEscapeSteps"] == "100, 100, 100" and m["MdlmEscapeSteps"] == "200, 200, never"
    assert m["MdlmFinalBounds"] == "2.500, 2.600, 2.700" and m["UnigramBaseline"] == "5.200"
    assert m["RegimeBatch"] == "8" and m["RegimeArLr"] == "0.001" and m["RegimeMdlmLr"] == "0.002"
    assert m["RegimeNoise"] == "stratified" and m["RegimeBatchCandidates"] == "2 and 8"
    assert m["RegimeLrFactors"] == "0.5, 1 and 2"
    assert m["JudgeSeed"] == "1000" and m["JudgeMdlmNelbo"] == "2.450" and m["ReferenceSkipStories"] == "400"
    assert m["ExtraMdlmDecoding"].startswith("MDLM paper-text sampler") and "penalty 1.3" in m["ExtraMdlmDecoding"]
    assert m["MdlmJudgeNelbo"] == "2.600" and m["DataOpeningsJsdWords"] == "0.000"
    assert m["DeviceName"] == "CPU (x86\\_64, 2 cores, 2 threads)"
    assert m["InfillNllInfilled"] == "3.200" and m["InfillTokenMatch"] == r"12.0\%" and m["HasInfill"] == "1"
    assert report.macros(make_results(synthetic=False))["ToyMark"] == "small-scale run"
    tex = report.macros_tex(m)
    assert report.defined_macros(tex) == set(m)


def test_missing_macro_is_named():
    tex = (
        "\\documentclass{article}\n\\newcommand{\\Mine}{x}\n\\begin{document}\\Mine \\V{ArBestVal} \\LaTeX\n"
        "% \\V{CommentedOut}\n\\V{NotDefinedAnywhere} \\section{A}\\end{document}\n"
    )
    assert report.used_macros(tex) == {"ArBestVal", "NotDefinedAnywhere"}  # no list of LaTeX's own commands
    assert report.missing_macros(tex, {"ArBestVal"}) == ["NotDefinedAnywhere"]
    with pytest.raises(report.MissingMacroError, match=r"\\V\{NotDefinedAnywhere\}"):
        report.check_macros(tex, report.macros_tex({"ArBestVal": "1"}))


# --------------------------------------------------------------------------- the notebook bridge

TAGS = {
    "fig-val-curves": lambda r: report.show_figure(report.fig_val_curves(r)),
    "fig-likelihood": lambda r: report.show_figure(report.fig_likelihood(r)),
    "fig-diversity": lambda r: report.show_figure(report.fig_diversity(r)),
    "fig-frontier": lambda r: report.show_figure(report.fig_frontier(r)),  # the frontier, under its own tag
    "tab-setup": lambda r: report.show_table(report.table_setup(r)),
    "tab-training": lambda r: report.show_table(report.table_training(r)),
    "tab-val-loss": lambda r: report.show_table(report.table_val_loss(r)),
    "tab-diversity": lambda r: report.show_table(report.table_diversity(r)),
    "tab-likelihood": lambda r: report.show_table(report.table_likelihood(r)),
    "tab-findings": lambda r: report.show_table(report.table_findings(r)),
    "tab-examples-published": lambda r: report.show_table(report.table_examples(r, "published")),
    "tab-examples-controlled": lambda r: report.show_table(report.table_examples(r, "controlled")),
    "tab-examples-prompted": lambda r: report.show_table(report.table_examples(r, "prompted")),
    "macros": lambda r: report.show_macros(r),
}
# A comparison run's notebook shows the repetition study's cells as skipped.
REPETITION_TAGS = {"fig-repetition", "tab-repetition", "tab-repetition-samples"}


_BUNDLES = {}


def _bundle(tag, make, results):
    """Display bundles of the fixture, computed once per session (figures take seconds)."""
    if results is not None:
        return make(results)._repr_mimebundle_()
    if tag not in _BUNDLES:
        _BUNDLES[tag] = make(make_results())._repr_mimebundle_()
    return _BUNDLES[tag]


def executed_notebook(results=None, tags=TAGS, drop=()):
    """An 'executed' analysis notebook built by hand: each tagged cell's outputs are what its display
    object gives (for the default fixture when results is None); tags in `drop` keep the cell but
    lose its output."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# analysis"))
    nb.cells.append(nbformat.v4.new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]}))
    for i, (tag, make) in enumerate(tags.items()):
        cell = nbformat.v4.new_code_cell(f"# {tag}", metadata={"tags": [tag]}, execution_count=i + 1)
        if tag not in drop:
            data = copy.deepcopy(_bundle(tag, make, results if make is not TAGS.get(tag) else None))
            out_type = "execute_result" if i % 2 else "display_data"
            kw = {"execution_count": i + 1} if out_type == "execute_result" else {}
            cell.outputs = [nbformat.v4.new_output(out_type, data=data, **kw)]
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


@pytest.mark.slow
def test_export_tagged_writes_the_files(results, tmp_path):
    path = tmp_path / "05_analysis.ipynb"
    nbformat.write(executed_notebook(), path)
    written = report.export_tagged(path, tmp_path / "generated", png_dir=tmp_path / "figures")
    names = {p.name for p in (tmp_path / "generated").iterdir()}
    assert names == {
        "fig-val-curves.pdf",
        "fig-likelihood.pdf",
        "fig-diversity.pdf",
        "fig-frontier.pdf",
        "tab-setup.tex",
        "tab-training.tex",
        "tab-val-loss.tex",
        "tab-diversity.tex",
        "tab-likelihood.tex",
        "tab-findings.tex",
        "tab-examples-published.tex",
        "tab-examples-controlled.tex",
        "tab-examples-prompted.tex",
        "macros.tex",
    }
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {
        "fig-val-curves.png",
        "fig-likelihood.png",
        "fig-diversity.png",
        "fig-frontier.png",
    }
    assert (tmp_path / "generated" / "fig-val-curves.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "figures" / "fig-frontier.png").read_bytes().startswith(b"\x89PNG")
    assert r"\toprule" in (tmp_path / "generated" / "tab-training.tex").read_text()
    assert report.defined_macros((tmp_path / "generated" / "macros.tex").read_text()) == set(report.macros(results))
    assert set(written) >= {"macros.tex", "fig-frontier.png"}
    # The PDF is vector with embedded TrueType (not Type 3) fonts.
    pdf = (tmp_path / "generated" / "fig-diversity.pdf").read_bytes()
    assert b"/Type3" not in pdf


@pytest.mark.slow
def test_export_tagged_names_the_missing_tag(results, tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(executed_notebook(drop=("tab-diversity",)), path)
    with pytest.raises(report.TaggedOutputError, match="tab-diversity"):
        report.export_tagged(path, tmp_path / "out")
    nbformat.write(executed_notebook(drop=("fig-likelihood",)), path)
    with pytest.raises(report.TaggedOutputError, match="fig-likelihood"):
        report.export_tagged(path, tmp_path / "out")
    # A figure cell whose only output is a PNG (no vector PDF) is refused too.
    nb = executed_notebook()
    cell = next(c for c in nb.cells if "fig-val-curves" in c.metadata.get("tags", []))
    del cell.outputs[0]["data"]["application/pdf"]
    nbformat.write(nb, path)
    with pytest.raises(report.TaggedOutputError, match="fig-val-curves"):
        report.export_tagged(path, tmp_path / "out")


@pytest.mark.slow
def test_skipped_cell_writes_nothing(results, tmp_path):
    tags = dict(TAGS)
    tags["fig-frontier"] = lambda r: report.Skipped("no sweep in this run")
    path = tmp_path / "nb.ipynb"
    nbformat.write(executed_notebook(make_results(), tags=tags), path)
    report.export_tagged(path, tmp_path / "out")
    assert not (tmp_path / "out" / "fig-frontier.pdf").exists()
    assert (tmp_path / "out" / "fig-val-curves.pdf").exists()


@pytest.mark.slow
def test_exporter_is_an_nbconvert_exporter(results):
    from nbconvert.exporters import Exporter

    exporter = report.tagged_output_exporter()()
    assert isinstance(exporter, Exporter) and exporter.file_extension == ".json"
    body, resources = exporter.from_notebook_node(executed_notebook())
    assert "macros.tex" in resources["outputs"] and "macros.tex" in body


def minimal_results(synthetic=True):
    """One protocol, one seed, no tied MDLM, no frontier, no references, no infilling."""
    r = make_results(synthetic=synthetic)
    r["meta"]["protocols"] = ["controlled"]
    r["meta"]["seeds"] = [0]
    r["runs"] = [x for x in r["runs"] if x["protocol"] == "controlled" and x["seed"] == 0 and x["arm"] != "mdlm_tied"]
    r["samples"] = [
        x
        for x in r["samples"]
        if x["protocol"] == "controlled"
        and x["seed"] == 0
        and not x["setting"].startswith("frontier")
        and x["arm"] != "mdlm_tied"
    ]
    r["references"] = []
    r["infill"] = None
    return r


def test_figures_without_optional_parts():
    """One protocol, one seed, no tied MDLM, no frontier, no references: every figure still draws."""
    r = minimal_results()
    for fn in (report.fig_val_curves, report.fig_likelihood, report.fig_diversity):
        assert fn(r) is not None
    assert not report.has_frontier(r)
    with pytest.raises(ValueError):
        report.fig_frontier(r)
    assert isinstance(report.artefact(r, "fig-frontier"), report.Skipped)
    m = report.macros(r)
    assert m["PubArBestVal"] == "n/a" and m["HasFrontier"] == "0" and m["FrontierArRange"] == "n/a"
    assert report.missing_macros(MAIN_TEX, set(m)) == []
    for fn in (
        report.table_setup,
        report.table_training,
        report.table_val_loss,
        report.table_diversity,
        report.table_likelihood,
        report.table_findings,
    ):
        report.to_booktabs(fn(r))


def test_analysis_notebook_structure():
    nb = nbformat.read(ROOT / "notebooks" / "05_analysis.ipynb", as_version=4)
    tags = [t for c in nb.cells for t in c.metadata.get("tags", [])]
    assert tags.count("parameters") == 1
    for tag in TAGS:
        assert tags.count(tag) == 1, tag
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    from arche.runner.pipeline import parse_parameters

    assert parse_parameters(params.source, "05") == {"profile": "smoke", "run_dir": "", "overrides": {}}
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    from arche.runner import colab

    assert colab.colab_link("05_analysis") in nb.cells[0].source
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert 'if "google.colab" in sys.modules' in install.source


# --------------------------------------------------------------------------- the real build


@pytest.mark.skipif(
    shutil.which("latexmk") is None,
    reason="latexmk not installed (apt-get install -y --no-install-recommends latexmk "
    "texlive-latex-recommended lmodern)",
)
@pytest.mark.slow
def test_build_paper_with_toy_mark(results, tmp_path):
    run = tmp_path / "run"
    (run / "notebooks").mkdir(parents=True)
    nbformat.write(executed_notebook(), run / "notebooks" / "05_analysis.ipynb")
    paper = tmp_path / "paper"
    paper.mkdir()
    shutil.copy(MAIN_TEX, paper / "main.tex")
    for extra in ("references.bib",):
        if (MAIN_TEX.parent / extra).exists():
            shutil.copy(MAIN_TEX.parent / extra, paper / extra)
    pdf = report.build_paper(run, log=lambda *a: None, paper_dir=paper, figures_dir=tmp_path / "figures")
    assert pdf == run / "paper.pdf" and pdf.read_bytes().startswith(b"%PDF")
    assert (tmp_path / "figures" / "fig-val-curves.png").exists()
    if shutil.which("pdftotext"):
        import subprocess

        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "TOY DATA" in text.upper()
        assert "1.589" in text  # a published number, via a generated table
    # A macro main.tex uses but macros.tex lacks fails the build, naming it.
    (paper / "main.tex").write_text(
        (paper / "main.tex").read_text().replace(r"\end{document}", "\\V{ArNoSuchMacro}\n\\end{document}")
    )
    with pytest.raises(report.MissingMacroError, match="ArNoSuchMacro"):
        report.build_paper(run, log=lambda *a: None, paper_dir=paper, figures_dir=tmp_path / "figures")
    # Any other LaTeX error fails too, with LaTeX's own message.
    shutil.copy(MAIN_TEX, paper / "main.tex")
    (paper / "main.tex").write_text(
        (paper / "main.tex").read_text().replace(r"\end{document}", "\\someundefinedcommand\n\\end{document}")
    )
    with pytest.raises(report.PaperBuildError, match="Undefined control sequence"):
        report.build_paper(run, log=lambda *a: None, paper_dir=paper, figures_dir=tmp_path / "figures")


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
@pytest.mark.slow
def test_build_paper_minimal_real_data_run(tmp_path):
    """The paper's optional parts (published protocol, tied MDLM, frontier, seeds) all absent, real data at
    small scale: it still compiles, with the small-scale mark and without the frontier figure."""
    r = minimal_results(synthetic=False)
    tags = {k: v for k, v in TAGS.items()}
    tags["fig-frontier"] = lambda res: report.Skipped("no frontier")
    run = tmp_path / "run"
    (run / "notebooks").mkdir(parents=True)
    nbformat.write(
        executed_notebook(r, tags={k: (lambda res, f=f: f(res)) for k, f in tags.items()}),
        run / "notebooks" / "05_analysis.ipynb",
    )
    paper = tmp_path / "paper"
    paper.mkdir()
    shutil.copy(MAIN_TEX, paper / "main.tex")
    if (MAIN_TEX.parent / "references.bib").exists():
        shutil.copy(MAIN_TEX.parent / "references.bib", paper / "references.bib")
    pdf = report.build_paper(run, log=lambda *a: None, paper_dir=paper, figures_dir=tmp_path / "figures")
    assert pdf.exists() and not (paper / "generated" / "fig-frontier.pdf").exists()
    if shutil.which("pdftotext"):
        import subprocess

        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "SMALL-SCALE RUN" in text.upper() and "TOY DATA" not in text.upper()
        assert "drew no quality-diversity frontier" in " ".join(text.split())


@pytest.mark.slow
def test_build_paper_without_latexmk(results, tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "notebooks").mkdir(parents=True)
    nbformat.write(executed_notebook(), run / "notebooks" / "05_analysis.ipynb")
    paper = tmp_path / "paper"
    paper.mkdir()
    shutil.copy(MAIN_TEX, paper / "main.tex")
    monkeypatch.setattr(report.shutil, "which", lambda name: None)
    said = []
    assert report.build_paper(run, log=said.append, paper_dir=paper, figures_dir=tmp_path / "f") is None
    assert any("apt-get install" in s for s in said)
    assert (paper / "generated" / "macros.tex").exists()


def test_readme_block_is_filled_from_results(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\nrest\n")
    report.update_readme(readme, results, "runs/x")
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("rest\n") and "\nold\n" not in text
    findings = report.findings(results)
    assert "Holds?" in text and findings[0]["measure"] in text
    report.update_readme(readme, results, "runs/x")  # idempotent: still one block
    assert text == readme.read_text()
    readme.write_text("no block here")
    with pytest.raises(ValueError, match="results:start"):
        report.update_readme(readme, results)


# --------------------------------------------------------------------------- from a results file alone


@pytest.mark.slow
def test_results_file_alone_renders_what_the_notebook_exports(results, tmp_path):
    """`python -m arche figures --results FILE` needs no run directory: its tables and macros are the
    analysis notebook's, byte for byte."""
    path = tmp_path / "results.json"
    path.write_text(__import__("json").dumps(results))
    assert set(report.ARTEFACTS) == set(TAGS) | REPETITION_TAGS
    nb_path = tmp_path / "nb.ipynb"
    nbformat.write(executed_notebook(), nb_path)
    from_notebook = report.export_tagged(nb_path, tmp_path / "a")
    nbformat.write(report.results_notebook(results), tmp_path / "r.ipynb")
    from_results = report.export_tagged(tmp_path / "r.ipynb", tmp_path / "b")
    assert set(from_notebook) == set(from_results)
    for name in from_notebook:
        if name.endswith(".tex"):
            assert from_notebook[name].read_bytes() == from_results[name].read_bytes(), name


def test_figures_command_refuses_a_bad_results_file(tmp_path, capsys):
    from arche.__main__ import main

    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    assert main(["figures", "--results", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "cannot read the results file" in capsys.readouterr().err
    bad.write_text("{}")
    assert main(["figures", "--results", str(bad), "--out", str(tmp_path / "out")]) == 2


@pytest.mark.slow
def test_frontier_labels_never_overlap_and_perplexity_is_on_a_log_axis():
    from arche.report.plotting import overlapping_labels

    crowded = make_results()
    for row in crowded["samples"]:  # crowd the MDLM frontier into one spot: its labels collide unless moved
        if row.get("knob") and row["paradigm"] == "mdlm":
            row["gen_ppl"], row["self_bleu_matched"], row["unique_first_5gram"] = 50.0, 0.2, 0.7
    for results in (make_results(), crowded):
        fig = report.fig_frontier(results)
        assert len(fig.frontier_labels) >= 2 * (len(AR_FRONTIER) + len(MDLM_FRONTIER))
        assert overlapping_labels(fig, fig.frontier_labels) == []
        assert all(ax.get_xscale() == "log" for ax in fig.axes)


@pytest.mark.slow
def test_frontier_figure_marks_the_comparisons_and_says_whether_the_frontiers_overlap():
    r = make_results()
    fig = report.fig_frontier(r)
    title = fig._suptitle.get_text()
    assert title.startswith("frontiers overlap") and "inconclusive" in title
    dotted = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == ":"]
    assert len(dotted) == 7  # one vertical line per MDLM point compared at AR's perplexity
    for row in r["samples"]:  # the MDLM far less fluent than any AR setting: nothing to compare
        if row["paradigm"] == "mdlm":
            row["gen_ppl"] *= 100
    r["verdicts"] = {"findings": report.findings(r)}
    title = report.fig_frontier(r)._suptitle.get_text()
    assert title.startswith("frontiers do not overlap") and "not testable" in title
    assert "do not overlap" in report.macros(r)["FrontierSentence"]


def test_the_committed_older_results_render_without_the_new_fields():
    """The replica's results of 2026-11-23 (kept as tests/data/replica-2026-11-23.json when the fair-fight re-run
    replaced results/replica.json) predate the frontier, the judges' NELBO and the regime: the figure is skipped
    with a reason, and every new cell or value reads n/a."""
    old = json.loads((ROOT / "tests" / "data" / "replica-2026-11-23.json").read_text())
    shown = report.artefact(old, "fig-frontier")
    assert isinstance(shown, report.Skipped) and "frontier" in shown.reason
    df = report.table_diversity(old)
    assert set(df.loc["NELBO, MDLM judge"]) == {"n/a"} and df.loc["Decoding", ("Ours: controlled", "AR")] == "n/a"
    m = report.macros(old)
    assert m["HasFrontier"] == "0" and m["ArEscapeSteps"] == "n/a" and m["RegimeNoise"] == "n/a"


@pytest.mark.slow
def test_every_artefact_of_a_toy_run_is_marked(tmp_path):
    """Synthetic data or a small scale: each figure carries the mark in its title, the README block and
    the notebook's summary line lead with it, the HTML report has it in its header, and a rule that
    cannot be tested reads "not testable at this scale"."""
    from arche.runner.run_report import _scale_note

    for synthetic, mark in ((True, "TOY DATA"), (False, "SMALL-SCALE RUN")):
        r = make_results(synthetic=synthetic)
        for tag in ("fig-val-curves", "fig-likelihood", "fig-diversity", "fig-frontier"):
            fig = report.artefact(r, tag).fig
            assert any(t.get_text().startswith(mark) for t in fig.texts), (tag, mark)
        assert report.summary_markdown(r).split("\n")[2].startswith(f"> **{mark}**")
        assert report.describe_results(r).startswith(mark)
        (tmp_path / "results.json").write_text(json.dumps(r))
        assert _scale_note(tmp_path, {}).startswith(mark)
    r = make_results(synthetic=False)
    r["throughput"] = None
    table = report.table_findings(r)
    assert table.loc["1. Throughput parity", "Holds?"] == "not testable at this scale"
    assert "(toy data)" in report.table_findings(make_results(synthetic=True)).iloc[0, -1]


def test_the_discussion_is_written_from_the_verdicts():
    r = make_results(synthetic=False)
    by_key = {f["key"]: f for f in report.findings(r)}
    text = report.discussion(by_key, r["meta"])
    assert text.startswith("Of the paper's three findings, re-tested under the controlled protocol at this small")
    for i, key in enumerate(("FindingOne", "FindingTwo", "FindingThree"), 1):
        assert f"Finding {i} (" in text and by_key[key]["reason"] in text
    by_key["FindingOne"] = {**by_key["FindingOne"], "outcome": "does not hold"}
    assert "does not hold" in report.discussion(by_key, r["meta"])
    assert report.macros(r)["DiscussionText"]  # the paper's Discussion is this text


def test_the_discussion_in_main_tex_is_written_there_from_outcome_codes(results):
    # Issue 20: the paper's conclusion is read and edited in the .tex, not assembled in Python.
    from arche.report.paper import paper_sources
    from arche.study.findings import OUTCOMES

    tex = (paper_sources() / "main.tex").read_text()
    section = tex[tex.index("\\section{Discussion}") : tex.index("\\section{Limitations}")]
    assert "DiscussionText" not in section and "\\ifcase" in section
    m = report.macros(results)
    for key in ("FindingOne", "FindingTwo", "FindingThree"):
        assert f"\\V{{{key}OutcomeCode}}" in section and f"\\V{{{key}Why}}" in section
        assert OUTCOMES[int(m[f"{key}OutcomeCode"])] == m[f"{key}Verdict"]
        assert not m[f"{key}Why"].endswith(".")
