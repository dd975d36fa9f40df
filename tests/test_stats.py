"""Intervals stay inside their quantity's range; two arms are compared by a two-sample test."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from arche import stats

STORED_DIR = Path(__file__).resolve().parents[1] / "results"
RANGES = {"log": (0.0, math.inf), "logit": (0.0, 1.0)}


def test_skewed_perplexities_and_throughputs_keep_a_positive_interval():
    # Seeds like the shipped study's: a raw t-interval gave 753 +- 1,103, i.e. a negative bound.
    for values in ([120.0, 240.0, 1900.0], [2_000.0, 4_400.0, 14_000.0]):
        agg = stats.interval(values, "log")
        assert 0 < agg["lo"] < agg["mean"] < agg["hi"]
        assert agg["mean"] == pytest.approx(math.exp(sum(math.log(v) for v in values) / 3))  # geometric


def test_perplexity_interval_is_exp_of_the_loss_interval():
    nelbo = [4.1, 4.3, 4.6]
    loss = stats.interval(nelbo, "raw")
    ppl = stats.interval([math.exp(v) for v in nelbo], "log")
    for key in ("mean", "lo", "hi"):
        assert ppl[key] == pytest.approx(math.exp(loss[key]))


def test_proportions_stay_in_zero_one_even_at_the_edges():
    for values in ([0.01, 0.02, 0.30], [0.97, 0.99, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.2]):
        agg = stats.interval(values, "logit", n_items=150)
        assert 0.0 <= agg["lo"] <= agg["mean"] <= agg["hi"] <= 1.0


def _results_files():
    """The committed results files (results/*.json with a meta block; the regime's pilots are not one)."""
    return sorted(p for p in STORED_DIR.glob("*.json") if "meta" in json.loads(p.read_text()))


@pytest.mark.parametrize("stored", _results_files(), ids=lambda p: p.name)
def test_no_stored_interval_leaves_its_range(stored):
    """Every per-arm metric of a committed results file, aggregated over seeds as the tables do."""
    results = json.loads(stored.read_text())
    checked = 0
    for table in ("runs", "samples"):
        # A repetition study's sample rows are keyed by paradigm and epochs (arche.study.repetition).
        rows = [
            {
                **r,
                "protocol": r.get("protocol", "controlled"),
                "arm": r.get("arm", r.get("paradigm")),
                "setting": r.get("setting", f"e{r['epochs']}" if "epochs" in r else None),
            }
            for r in results.get(table, [])
        ]
        groups = {(r["protocol"], r["arm"], r.get("setting")) for r in rows}
        metrics = {k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        for protocol, arm, setting in groups:
            where = dict(protocol=protocol, arm=arm) | ({"setting": setting} if setting else {})
            for metric in metrics:
                agg = stats.summarise(rows, metric, **where)
                scale = stats.scale_of(metric)
                if agg["n"] < 2 or scale not in RANGES:
                    continue
                lo, hi = RANGES[scale]
                assert lo <= agg["lo"] <= agg["hi"] <= hi, (table, protocol, arm, setting, metric, agg)
                checked += 1
    assert checked > 20 if "runs" in results else checked > 10


def test_compare_returns_the_interval_of_the_difference():
    a, b = [0.30, 0.32, 0.31], [0.50, 0.52, 0.49]
    res = stats.compare(a, b, "logit", n_items=200)
    assert res["direction"] == -1 and res["hi"] < 0 and res["p"] < 0.05
    # overlapping noisy arms: no difference shown, even though the means differ
    res = stats.compare([0.2, 0.5, 0.35], [0.3, 0.6, 0.4], "logit", n_items=200)
    assert res["direction"] == 0 and res["lo"] < 0 < res["hi"]
    # one seed per arm: nothing can be tested
    assert stats.compare([0.2], [0.3], "logit")["direction"] is None


def test_paired_ratio_cancels_a_shared_slowdown():
    # round 3 ran with the machine busy: both paradigms slowed down, their ratio did not
    ar = [10_000, 10_200, 5_000, 9_900]
    mdlm = [9_600, 9_800, 4_800, 9_500]
    r = stats.paired_ratio(mdlm, ar)
    assert r["lo"] <= 0.96 <= r["hi"] and r["hi"] - r["lo"] < 0.01
    assert r["n"] == 4


def test_the_centre_is_unpadded_and_within_the_values():
    # Padding pulls 0 and 1 in so the logit is finite; it must never show in the centre.
    agg = stats.interval([1.0, 1.0, 1.0], "logit", n_items=150)
    assert agg["mean"] == 1.0 and agg["lo"] == agg["hi"] == 1.0
    agg = stats.interval([0.0, 0.0, 0.2], "logit", n_items=150)
    assert agg["mean"] == pytest.approx(0.2 / 3)  # the plain mean of the proportions
    rng = np.random.default_rng(0)
    cases = [([0.3, 0.3, 0.3], "logit"), ([1.0, 0.879], "logit"), ([0.0, 1.0, 1.0, 1.0], "logit")]
    cases += [(list(rng.uniform(0, 1, n)), "logit") for n in (2, 3, 5)]
    cases += [(list(rng.lognormal(3, 2, n)), "log") for n in (2, 3, 5)]
    cases += [(list(rng.normal(0, 5, n)), "raw") for n in (2, 3, 5)]
    for values, scale in cases:
        agg = stats.interval(values, scale, n_items=100)
        assert min(values) <= agg["mean"] <= max(values), (values, scale, agg)
        assert agg["lo"] <= agg["mean"] <= agg["hi"], (values, scale, agg)


def test_interval_returns_the_seed_values_in_order():
    agg = stats.interval([3.1, None, float("nan"), 3.0, 3.2])
    assert agg["values"] == [3.1, 3.0, 3.2] and agg["n"] == 3
    assert stats.interval([])["values"] == [] and stats.interval([2.0])["values"] == [2.0]


def test_paired_compare_is_scipys_paired_t_test():
    from scipy import stats as st

    a = [2.31, 2.45, 2.10, 2.60, 2.38]
    b = [2.20, 2.41, 1.95, 2.49, 2.30]  # the same seeds: a shared seed effect, a small steady gain
    res = stats.paired_compare(a, b)
    ref = st.ttest_rel(a, b)
    ci = ref.confidence_interval(confidence_level=0.95)
    assert res["p"] == pytest.approx(ref.pvalue) and res["n_pairs"] == 5
    assert res["lo"] == pytest.approx(ci.low) and res["hi"] == pytest.approx(ci.high)
    assert res["diff"] == pytest.approx(0.098)
    assert res["direction"] == 1  # the pairs show it; Welch, blind to the pairing, does not
    assert stats.compare(a, b)["direction"] == 0
    assert set(stats.compare(a, b)) <= set(res)


def test_paired_compare_on_a_scale_and_by_seed():
    from scipy import stats as st

    a = {0: 0.30, 1: 0.35, 2: 0.28, 7: 0.5}
    b = {2: 0.38, 0: 0.41, 1: 0.44}  # keyed by seed: seed 7 has no partner
    res = stats.paired_compare(a, b, "logit", n_items=200)
    logit = [math.log(p / (1 - p)) for p in (0.30, 0.35, 0.28)], [math.log(p / (1 - p)) for p in (0.41, 0.44, 0.38)]
    ref = st.ttest_rel(*logit)
    assert res["p"] == pytest.approx(ref.pvalue) and res["direction"] == -1
    assert (res["n_a"], res["n_b"], res["n_pairs"]) == (4, 3, 3)
    one = stats.paired_compare([1.0, None], [2.0, 3.0])
    assert one["direction"] is None and one["n_pairs"] == 1 and one["diff"] == -1.0
    with pytest.raises(ValueError):
        stats.paired_compare([1.0, 2.0], [1.0])


def test_padding_moves_only_zero_and_one():
    # Distinct-3 over thousands of n-grams: values above 1 - 0.5/66 are real, not to be clipped.
    agg = stats.interval([0.996, 0.993, 0.998, 0.997], "logit", n_items=66)
    assert agg["lo"] < 0.993 and 0.998 < agg["hi"] < 1.0
    # an exact 1 is pulled in, but never below a value strictly inside (0, 1)
    agg = stats.interval([1.0, 0.999, 0.998, 0.9995], "logit", n_items=66)
    assert 0.998 < agg["mean"] < agg["hi"] < 1.0
    # counts over the texts (k / 66): the padding is half a text, as before
    assert stats.interval([1.0, 65 / 66, 64 / 66], "logit", n_items=66)["lo"] < 64 / 66
