"""Intervals stay inside their quantity's range; two arms are compared by a two-sample test."""

import json
import math
from pathlib import Path

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


@pytest.mark.parametrize("stored", sorted(STORED_DIR.glob("*.json")), ids=lambda p: p.name)
def test_no_stored_interval_leaves_its_range(stored):
    """Every per-arm metric of a committed results file, aggregated over seeds as the tables do."""
    results = json.loads(stored.read_text())
    checked = 0
    for table in ("runs", "samples"):
        # A repetition study's sample rows are keyed by paradigm and epochs (arche.repetition).
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
