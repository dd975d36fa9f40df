"""Where each repetition curve stands at its last epoch count (arche.study.shape.SHAPE_RULE), and how the
compute multiplier reads against the literature (arche.report.repetition_text), on rows whose answers are
known by construction."""

import pytest
from repetition_rows import repetition_rows

from arche.report.repetition_text import literature_text, shape_text
from arche.study import verdicts
from arche.study.shape import last_doubling


def test_a_curve_turned_flat_or_still_falling_over_its_last_doubling():
    rows = repetition_rows(
        {
            **{("ar", s): {8: 3.0 + d, 16: 3.5 + d, 32: 5.0 + 2 * d} for s, d in enumerate((0.0, 0.1, -0.05))},
            # seeds that disagree in sign: the mean change is small and its interval spans zero
            **{("mdlm", s): {8: 5.0, 16: 4.6 + d, 32: 4.6 - d} for s, d in enumerate((0.0, 0.1, -0.2))},
        }
    )
    ar, mdlm = last_doubling(rows, 100, "ar"), last_doubling(rows, 100, "mdlm")
    assert (ar["from"], ar["to"], ar["shape"]) == (16, 32, "turned")
    assert ar["change"]["diff"] == pytest.approx(1.5 + (0.0 + 0.1 - 0.05) / 3)
    assert mdlm["shape"] == "flat" and mdlm["change"]["lo"] < 0 < mdlm["change"]["hi"]
    falling = repetition_rows({("mdlm", s): {16: 5.0 + d, 32: 4.5 + d / 2} for s, d in enumerate((0.0, 0.1, 0.3))})
    assert last_doubling(falling, 100, "mdlm")["shape"] == "still falling"


def test_a_diverged_seed_drops_out_of_the_pairs_and_says_so():
    rows = repetition_rows({("mdlm", s): {16: 5.0 + s / 10, 32: 4.5 + s / 20} for s in range(3)})
    rows += repetition_rows({("mdlm", 3): {16: 5.0, 32: float("nan")}})
    out = last_doubling(rows, 100, "mdlm")
    assert out["shape"] == "still falling" and out["change"]["n_pairs"] == 3
    gone = repetition_rows({("mdlm", s): {16: 5.0, 32: float("nan")} for s in range(2)})
    none = last_doubling(gone, 100, "mdlm")
    assert none["shape"] == "not testable"
    assert shape_text(none) == "not testable (no seed has finite losses at both 16 and 32 epochs)"


def test_a_curve_without_its_half_or_a_second_seed_is_not_testable():
    odd = repetition_rows({("ar", 0): {1: 4.0, 3: 3.0}, ("ar", 1): {1: 4.1, 3: 3.1}})
    assert last_doubling(odd, 100, "ar") == {"from": None, "to": 3, "change": None, "shape": "not testable"}
    assert shape_text(last_doubling(odd, 100, "ar")) == "not testable (no run at half its last epoch count, 3)"
    one = last_doubling(repetition_rows({("ar", 0): {4: 4.0, 8: 3.0}}), 100, "ar")
    assert one["shape"] == "not testable" and one["change"]["n_pairs"] == 1
    assert shape_text(one) == "not testable: -1.000 from 4 to 8 epochs (1 seed, no interval)"


def test_the_shapes_are_reported_per_budget_and_post_hoc_for_runs_analysed_by_the_rules_day():
    curves = {("ar", s): {4: 3.0, 8: 4.0 + s / 10} for s in range(3)}
    curves |= {("mdlm", s): {4: 6.0, 8: 5.0 - s / 10} for s in range(3)}
    rows = repetition_rows(curves, 400) + repetition_rows(curves, 100)
    meta = {"unigram_entropy": {"controlled": 9.0}, "main_protocol": "controlled"}
    for created, post_hoc in (("2026-12-01 11:26:39", True), ("2026-12-02 08:00:00", False), (None, True)):
        shapes = verdicts.repetition({"repetition": rows, "meta": {**meta, "created": created}})["curve_shapes"]
        assert shapes["post_hoc"] is post_hoc
    assert [b["chunks"] for b in shapes["per_budget"]] == [400, 100]
    assert [(b["ar"]["shape"], b["mdlm"]["shape"]) for b in shapes["per_budget"]] == [("turned", "still falling")] * 2


def _mult(kind: str, x: float) -> dict:
    return {"kind": kind, "multiplier": x, "ar_best": 3.0, "ar_flops": 1.0, "mdlm_flops": x}


def test_the_multiplier_reads_against_nie_et_al_and_the_crossover():
    flat = {"from": 64, "to": 128, "shape": "flat"}
    turned = {"from": 64, "to": 128, "shape": "turned"}
    falling = {"from": 16, "to": 32, "shape": "still falling"}
    past = literature_text(_mult("more_than", 16.0), flat)
    assert past.startswith("not within 16.0 times AR's FLOPs, already at or past their ~16 times")
    assert "bound showed no real change from 64 to 128 epochs, still above AR's best" in past
    assert past.endswith("no sign of the crossover")
    assert "was rising again from 64 to 128 epochs" in literature_text(_mult("more_than", 32.0), turned)
    short = literature_text(_mult("more_than", 15.6), falling)
    assert short.startswith("not within 15.6 times AR's FLOPs, short of their ~16 times, so this run cannot tell")
    assert "still falling from 16 to 32 epochs, so more epochs might yet reach" in short
    # a multiplier found says nothing about the curve's tail
    assert literature_text(_mult("interpolated", 4.2), flat) == "at 4.2 times AR's FLOPs, below their ~16 times"
    assert literature_text(_mult("interpolated", 20.0), None) == "at 20.0 times AR's FLOPs, above their ~16 times"
    assert literature_text(_mult("interpolated", 16.0), None) == "at 16.0 times AR's FLOPs, equal to their ~16 times"
    assert literature_text(_mult("at_most", 1.0), flat) == "within at most 1.0 times AR's FLOPs, below their ~16 times"
    # an upper bound of 20 cannot say whether the multiplier is above 16
    assert literature_text(_mult("at_most", 20.0), None).endswith("which cannot tell against their ~16 times")
    not_testable = {"from": None, "to": 3, "shape": "not testable"}
    assert literature_text(_mult("more_than", 4.0), not_testable).endswith("cannot tell against it")
