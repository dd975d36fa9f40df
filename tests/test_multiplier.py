"""The repetition study's analyses beside the pre-registered rule: the paired verdict (PAIRED_RULE) and the
MDLM's compute multiplier (MULTIPLIER_RULE), on rows whose answers are known by construction."""

import math

import pytest
from repetition_rows import repetition_rows

from arche.study import verdicts
from arche.study.multiplier import compute_multiplier, crossing


def test_the_crossing_is_interpolated_in_log_flops():
    # 4 -> 2 between 2 and 4 FLOPs: the target 3 lies halfway, i.e. at the geometric mean of 2 and 4
    assert crossing([(1, 5.0), (2, 4.0), (4, 2.0)], 3.0) == {
        "flops": pytest.approx(2 * math.sqrt(2)),
        "kind": "interpolated",
    }
    assert crossing([(4, 2.0), (1, 5.0), (2, 4.0)], 4.0) == {"flops": 2, "kind": "interpolated"}  # order-free
    assert crossing([(1, 2.0), (2, 1.0)], 3.0) == {"flops": 1, "kind": "at_most"}
    assert crossing([(1, 5.0), (2, 4.0)], 3.0) == {"flops": 2, "kind": "more_than"}


def _results(rows: list[dict], entropy: float = 9.0) -> dict:
    return {"repetition": rows, "meta": {"unigram_entropy": {"controlled": entropy}, "main_protocol": "controlled"}}


def test_the_multiplier_is_the_mdlm_flops_to_ar_best_over_ar_flops():
    ar = {1: 5.0, 2: 4.0, 4: 3.0, 8: 3.5}  # best 3.0 at 4
    rows = repetition_rows({("ar", 0): ar, ("ar", 1): ar, ("mdlm", 0): {1: 6.0, 4: 5.0, 16: 3.0, 32: 2.0},
                  ("mdlm", 1): {1: 6.0, 4: 5.0, 16: 4.0, 32: 2.0}})  # fmt: skip
    b = compute_multiplier(_results(rows))["per_budget"][0]
    assert (b["ar_best"], b["ar_flops"]) == (3.0, 4.0)
    # the seed mean 3.5 at 16, 2.0 at 32: 3.0 is a third of the way, in log FLOPs
    assert b["kind"] == "interpolated" and b["multiplier"] == pytest.approx(16 * 2 ** (1 / 3) / 4)
    assert b["per_seed"]["0"]["multiplier"] == pytest.approx(4.0)  # seed 0 reaches 3.0 exactly at 16 FLOPs
    assert b["per_seed"]["1"]["multiplier"] == pytest.approx(16 * 2**0.5 / 4)


def test_a_multiplier_never_reached_is_a_lower_bound():
    rows = repetition_rows({("ar", 0): {1: 4.0, 2: 3.0}, ("mdlm", 0): {1: 6.0, 2: 5.0, 8: 4.0}})
    b = compute_multiplier(_results(rows))["per_budget"][0]
    assert b["kind"] == "more_than" and b["multiplier"] == 4.0  # more than 8 / 2


def test_the_paired_rule_sees_a_gain_every_seed_shares_that_the_unpaired_rule_cannot():
    # Seeds far apart in level (1 nat) but each MDLM gains 0.5 +- 0.01 from AR's best epoch count to its own.
    curves = {}
    for s, (offset, wiggle) in enumerate([(0.0, 0.0), (1.0, 0.01), (2.0, -0.01)]):
        curves[("ar", s)] = {1: 4.0 + offset / 100, 2: 3.0 + offset / 100, 4: 3.8 + offset / 100}
        curves[("mdlm", s)] = {1: 6.0 + offset, 2: 5.5 + offset, 4: 5.0 + offset + wiggle}
    results = _results(repetition_rows(curves))
    v = verdicts.repetition(results)
    assert v["finding_2"]["outcome"] == "inconclusive"  # unpaired: the 1-nat spread between seeds hides it
    paired = v["finding_2_paired"]
    assert paired["outcome"] == "holds" and paired["post_hoc"] is True, paired["reason"]
    gain = paired["per_budget"][0]["mdlm_gain"]
    assert gain["n_pairs"] == 3 and gain["diff"] == pytest.approx(0.5) and gain["lo"] > 0
    # and an MDLM whose best comes no later than AR's does not hold, paired or not
    for s in range(3):
        curves[("mdlm", s)] = {1: 5.0 + s, 2: 4.5 + s, 4: 4.9 + s}
    assert verdicts.repetition(_results(repetition_rows(curves)))["finding_2_paired"]["outcome"] == "does not hold"


def test_one_seed_pairs_nothing():
    rows = repetition_rows({("ar", 0): {1: 4.0, 2: 3.0, 4: 3.5}, ("mdlm", 0): {1: 6.0, 2: 5.0, 4: 4.0}})
    paired = verdicts.repetition(_results(rows))["finding_2_paired"]
    assert paired["outcome"] == "not testable" and "fewer than two seeds pair" in paired["reason"]


def test_a_missing_or_failed_run_leaves_the_other_seeds_and_epochs_alone():
    ar = {1: 5.0, 2: 4.0, 4: 3.5, 8: 3.0, 16: 3.4, 32: 3.6}
    md = {1: 6.0, 2: 5.5, 4: 5.0, 8: 4.5, 16: 4.0, 32: 2.0}
    rows = repetition_rows({("ar", 0): ar, ("ar", 1): {e: v for e, v in ar.items() if e != 8}, ("mdlm", 0): md,
                  ("mdlm", 1): {**md, 16: float("nan")}})  # fmt: skip
    b = compute_multiplier(_results(rows))["per_budget"][0]
    # AR's 8 epochs ran for seed 0 only: its mean there is seed 0's 3.0, still AR's best
    assert (b["ar_best"], b["ar_flops"]) == (3.0, 8.0) and b["dropped"] == 1
    # the MDLM's mean at 16 epochs is seed 0's 4.0 (seed 1 failed); 3.0 lies halfway from 4.0 to 2.0
    assert b["kind"] == "interpolated" and b["multiplier"] == pytest.approx(16 * 2**0.5 / 8)
    paired = verdicts.repetition(_results(rows))["finding_2_paired"]
    assert paired["outcome"] == "not testable" and "fewer than two seeds pair (1)" in paired["reason"]


def test_a_budget_without_the_mdlm_is_left_out_and_the_first_run_can_already_be_there():
    rows = repetition_rows({("ar", 0): {1: 4.0, 2: 3.0}, ("mdlm", 0): {1: 2.5, 2: 2.0}}, chunks=200)
    rows += repetition_rows({("ar", 0): {1: 4.0, 2: 3.0}}, chunks=300)  # the largest budget, AR only
    v = verdicts.repetition_paired(_results(rows))
    assert [b["chunks"] for b in v["per_budget"]] == [200]
    (b,) = compute_multiplier(_results(rows))["per_budget"]
    assert (b["chunks"], b["kind"], b["multiplier"]) == (200, "at_most", 0.5)  # 1 FLOP against AR's 2


def test_the_post_hoc_label_follows_the_runs_date():
    """PAIRED_RULE and MULTIPLIER_RULE were decided on 2026-11-30 after the first study: post hoc for a run analysed
    by then (or undated), fixed beforehand for a later run such as repetition_fair; the paper and README say which."""
    import json
    from pathlib import Path

    from arche.report import repetition as rep
    from arche.report.repetition_text import post_hoc_lines

    assert verdicts.decided_after({"created": "2026-11-23 15:40:47"}) and verdicts.decided_after({})
    assert verdicts.decided_after({"created": "2026-11-30 23:59:59"})
    assert not verdicts.decided_after({"created": "2026-12-02 08:00:00"})
    first = json.loads((Path(__file__).parent / "data" / "repetition-2026-11-23.json").read_text())  # the first run
    assert rep.macros(first)["RepPostHoc"] == "1"
    assert any("post hoc" in line for line in post_hoc_lines(first))
    later = {**first, "meta": {**first["meta"], "created": "2026-12-02 08:00:00"}}
    later["verdicts"] = verdicts.repetition(later)
    assert later["verdicts"]["finding_2_paired"]["post_hoc"] is False
    assert later["verdicts"]["compute_multiplier"]["post_hoc"] is False
    assert rep.macros(later)["RepPostHoc"] == "0"
    lines = [line for line in post_hoc_lines(later) if line]
    # paired, two multipliers and the curve shapes (arche.study.shape, written 2026-12-01: before a later run)
    assert len(lines) == 4 and all("fixed before the run" in line and "post hoc" not in line for line in lines)
    assert lines[-1].startswith("Where the curves stand") and "post hoc" in post_hoc_lines(first)[-1]
