"""With few seeds the report prints each seed's value, not a Student-t interval (arche.numfmt.fmt_agg),
and every caller (tables, macros, the repetition study, figures, the paper's text) says so."""

import json
import re
from pathlib import Path

import pytest

from arche import numfmt, report, stats
from arche.report import repetition as report_repetition

ROOT = Path(__file__).resolve().parents[1]


def show(values, on="raw", kind="f3", n_items=None, **kw):
    return numfmt.fmt_agg(stats.interval(values, on, n_items), kind, **kw)


def test_few_seeds_print_their_values():
    assert numfmt.SEED_VALUES_MAX == 3
    assert show([3.071, 3.098, 3.120]) == "3.096 (3.071, 3.098, 3.120)"
    assert show([0.251, 0.402, 0.540], "logit", "pct", n_items=150) == "39.8% (25.1, 40.2, 54.0)"
    assert show([120.0, 240.0], "log", "sig") == "170 (120, 240)"  # geometric mean, seed order
    assert show([600.0, 660.0, 720.0], "log", "min", scale=1 / 60) == "11.0 (10.0, 11.0, 12.0)"
    assert show([1_750, 1_500, 1_750], kind="int") == "1,667 (1,750, 1,500, 1,750)"


def test_three_seeds_at_one_print_one_hundred_percent():
    assert show([1.0, 1.0, 1.0], "logit", "pct", n_items=150) == "100.0%"
    assert show([1.0, 1.0, 1.0], "logit", "f3", n_items=66) == "1.000"


def test_seeds_that_print_alike_show_one_number():
    assert show([1_750, 1_750, 1_750], kind="int") == "1,750"
    assert show([2.0001, 2.0002], kind="f3") == "2.000"
    assert show([2.5], kind="f3") == "2.500"


def test_more_seeds_keep_the_interval():
    agg = stats.interval([3.0, 3.1, 3.2, 3.3])
    assert show([3.0, 3.1, 3.2, 3.3]) == f"3.150 ± {(agg['hi'] - agg['lo']) / 2:.3f}"
    agg = stats.interval([0.2, 0.3, 0.25, 0.28], "logit", 100)
    text = f"{100 * agg['mean']:.1f}% [{100 * agg['lo']:.1f}, {100 * agg['hi']:.1f}]"
    assert show([0.2, 0.3, 0.25, 0.28], "logit", "pct", n_items=100) == text
    # An aggregate without its seed values (from before they were kept) still prints its interval.
    old = {k: v for k, v in stats.interval([3.0, 3.1, 3.2]).items() if k != "values"}
    assert " ± " in numfmt.fmt_agg(old, "f3")


def test_seed_values_need_no_new_latex_escaping():
    text = show([0.251, 0.402, 0.540], "logit", "pct", n_items=150)
    assert report.latex_escape(text) == r"39.8\% (25.1, 40.2, 54.0)"


def test_repetition_tables_pad_by_the_texts_and_print_seed_values():
    results = json.loads((ROOT / "tests" / "data" / "repetition-2026-11-23.json").read_text())
    df = report_repetition.table_repetition_samples(results)
    cells = [c for c in df.to_numpy().ravel() if isinstance(c, str)]
    assert not any("[0.000, 1.000]" in c for c in cells)  # the unpadded interval of 1.0 and 0.879
    assert df.loc["Unique first 5-grams", ("MDLM", "32 ep.")] == "0.939 (1.000, 0.879)"
    m = report_repetition.macros(results)
    assert m["RepOutcomePhrase"] in {"holds", "does not hold", "is inconclusive", "is not testable here"}
    assert "each seed's value" in m["RepSeedsSpread"]


def test_the_paper_states_verdicts_with_verbs_and_throughput_from_the_benchmark():
    tex = (ROOT / "paper" / "main.tex").read_text()
    # "the finding \V{...Verdict}" reads "the finding inconclusive": the sentences use ...Phrase
    assert not re.search(r"finding\s+\\V\{\w+Verdict\}", tex)
    assert not re.search(r"\bit \\V\{\w+Verdict\}", tex)
    for name in ("repetition-section.tex", "repetition-discussion.tex", "repetition.tex"):
        assert not re.search(r"finding\s+\\V\{RepOutcome\}", (ROOT / "paper" / name).read_text())
    # our throughput only from the interleaved benchmark: never a training-log figure of ours
    assert "PubMdlmThroughputRatio" not in tex and "\\V{ArTokPerSec}" not in tex
    assert "\\V{SeedValuesMax}" in tex


def test_figures_show_seed_values_and_a_log_perplexity_axis():
    pytest.importorskip("matplotlib")
    from report_fixture import make_results

    results = make_results()
    fig = report.fig_diversity(results)
    titles = {ax.get_title(): ax for ax in fig.axes}
    assert titles["gen. perplexity under the judge AR"].get_yscale() == "log"
    # three seeds: the seeds as dots beside each centre, no interval bars
    assert all(not ax.containers for ax in fig.axes)
    assert not report.fig_likelihood(results).axes[0].containers


def test_discussion_sentences_have_their_verbs():
    from report_fixture import make_results

    results = make_results(synthetic=False)
    text = report.macros(results)["DiscussionText"]
    assert "Why: " in text and "Measured: " in text
    assert not re.search(r"\) (holds|does not hold|is inconclusive|is not testable): ", text)


def test_more_ar_seeds_than_mdlm_seeds_print_both_ways():
    """AR may run five seeds and the MDLM three: the AR cells carry an interval, the MDLM cells each seed's
    value, the titles name both rules, and the per-seed rows list every seed."""
    from report_fixture import make_results, run_row

    r = make_results()
    for seed in (3, 4):
        r["runs"].append(
            run_row("controlled", "ar", seed, [2.6, 2.0 + 0.1 * seed, 2.1 + 0.1 * seed], 500_000, 1e4, "elbo")
        )
    r["meta"]["seeds"] = [0, 1, 2, 3, 4]
    r["meta"]["seeds_by_arm"]["controlled/ar"] = [0, 1, 2, 3, 4]
    df = report.table_training(r)
    assert "mean over 3 or 5 seeds: with at most 3 each seed's value follows, with more the 95% CI" in df.attrs["title"]
    assert " ± " in df.loc["Best val loss", ("Ours: controlled", "AR")]
    assert df.loc["Best val loss", ("Ours: controlled", "MDLM")] == "2.600 (2.500, 2.600, 2.700)"
    assert df.loc["Final bound, each seed", ("Ours: controlled", "AR")] == "2.050, 2.150, 2.250, 2.400, 2.500"
    m = report.macros(r)
    assert m["ArSeedsRun"] == "0, 1, 2, 3, 4" and m["MdlmNSeedsRun"] == "3"
    assert m["ArEscapeSteps"] == "100, 100, 100, 100, 100"
