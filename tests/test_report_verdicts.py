"""Tests for the findings' rules (arche.study.findings) on the hand-made results fixture (tests/report_fixture.py):
each outcome of each rule, the noise allowance and the sanity gate."""

import pytest
from report_fixture import make_results

from arche import report


@pytest.fixture
def results():
    return make_results()


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
