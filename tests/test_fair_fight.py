"""The fair-fight machinery: stratified noise levels, the regime rule, the frontier rule, the unigram
baseline, judges and references on stories no arm trains on, and no silent toy data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config

from arche import study
from arche.batches import TokenData
from arche.data import DataError, resolve_source
from arche.io import read_json
from arche.objectives import draw_noise, escape_step, unigram_cross_entropy
from arche.profiles import REPLICA_REGIME, load_config, with_regime
from arche.runner.pipeline import run_pipeline
from arche.scaling import replica_overrides
from arche.study import comparison, findings, frontier, regime


def test_stratified_noise_covers_every_stratum_once_and_stays_uniform():
    gen = torch.Generator().manual_seed(0)
    ts = []
    for _ in range(2000):
        t, _ = draw_noise(gen, 8, 4, eps=0.0, stratified=True)
        assert sorted((t * 8).floor().long().tolist()) == list(range(8))  # one t per 1/8 stratum
        ts.append(t)
    t = torch.cat(ts)
    assert abs(float(t.mean()) - 0.5) < 0.01  # still uniform: the bound stays unbiased
    assert abs(float((t < 0.25).float().mean()) - 0.25) < 0.01
    iid, _ = draw_noise(torch.Generator().manual_seed(0), 8, 4, eps=0.0)
    assert sorted((iid * 8).floor().long().tolist()) != list(range(8))  # iid draws need not


def test_protocols_decode_and_sample_noise_as_their_references():
    ctl, pub = load_config("smoke", protocol="controlled"), load_config("smoke", protocol="published")
    assert (ctl.ar_temperature, ctl.mdlm_sampler, ctl.mdlm_time_sampling) == (1.0, "ancestral", "stratified")
    assert (pub.ar_temperature, pub.mdlm_sampler, pub.mdlm_time_sampling) == (0.8, "published", "iid")


def test_unigram_baseline_is_a_held_out_cross_entropy():
    train = np.array([0, 0, 0, 1] * 50)
    val = np.array([0, 1, 1, 1] * 8)
    xent = unigram_cross_entropy(train, val, vocab_size=3)
    p0, p1 = (150 + 0.5) / (200 + 1.5), (50 + 0.5) / (200 + 1.5)
    assert math.isclose(xent, -(8 * math.log(p0) + 24 * math.log(p1)) / 32)
    own = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))  # the plug-in entropy of val: lower
    assert xent > own
    curve = [{"step": 1, "val_nelbo": 2.0, "val_nelbo_se": 0.2}, {"step": 2, "val_nelbo": 1.0, "val_nelbo_se": 0.1}]
    assert escape_step(curve, 2.1, "val_nelbo") == 2 and escape_step(curve, 0.5, "val_nelbo") is None


def test_regime_rule_minimises_the_worst_regret_and_picks_rates_per_paradigm():
    pilots = [
        {"paradigm": "ar", "batch_size": 2, "seed": 0, "lr": 1e-3, "final_bound": 3.0},
        {"paradigm": "ar", "batch_size": 8, "seed": 0, "lr": 1e-3, "final_bound": 3.2},
        {"paradigm": "mdlm", "batch_size": 2, "seed": 0, "lr": 1e-3, "final_bound": 5.5},
        {"paradigm": "mdlm", "batch_size": 8, "seed": 0, "lr": 1e-3, "final_bound": 5.0},
    ]
    assert regime.choose_batch(pilots) == 8  # regret 0.2 (AR) beats 0.5 (MDLM)
    pilots += [
        {"paradigm": "ar", "batch_size": 8, "seed": 0, "lr": 2e-3, "final_bound": 3.1},
        {"paradigm": "mdlm", "batch_size": 8, "seed": 0, "lr": 5e-4, "final_bound": 5.2},
    ]
    assert regime.choose_lr(pilots, 8, 0) == {"ar": 2e-3, "mdlm": 1e-3}
    cfg = load_config("replica")
    wide = regime.at_batch(cfg, 8)
    assert wide.steps * 8 == pytest.approx(cfg.steps * cfg.batch_size, rel=0.03)  # the same tokens per run
    moved = with_regime(replica_overrides(), {"batch_size": 8, "ar_lr": 1e-3, "mdlm_lr": 1e-3})
    assert (moved["batch_size"], moved["steps"], moved["eval_every"]) == (8, wide.steps, wide.eval_every)


def _point(setting, ppl, first5, bleu, se=0.01):
    return {
        "protocol": "controlled",
        "arm": "mdlm" if setting.startswith("m") else "ar",
        "seed": 0,
        "setting": setting[1:],
        "gen_ppl": ppl,
        "unique_first_5gram": first5,
        "self_bleu_matched": bleu,
        "se": {"unique_first_5gram": se, "self_bleu_matched": se},
    }


def _results(points):
    return {"meta": {"main_protocol": "controlled", "seeds": [0]}, "samples": points}


def test_frontier_rule_compares_at_equal_perplexity_and_says_when_it_cannot():
    ar = [
        _point("afrontier_temp0.7", 10, 0.3, 0.5),
        _point("asamples", 20, 0.5, 0.4),
        _point("afrontier_temp2", 200, 0.9, 0.1),
    ]
    more = _results(ar + [_point("msamples", 100, 0.99, 0.05)])
    eq = frontier.equal_quality(more)
    assert eq["outcome"] == "holds" and eq["comparisons"][0]["verdict"] == "more diverse"
    ar_at_100 = 0.5 + (0.9 - 0.5) * math.log(100 / 20) / math.log(200 / 20)
    assert eq["comparisons"][0]["measures"]["unique_first_5gram"]["ar"] == pytest.approx(ar_at_100)
    less = frontier.equal_quality(_results(ar + [_point("msamples", 100, 0.5, 0.5)]))
    assert less["outcome"] == "does not hold"
    apart = frontier.equal_quality(_results(ar + [_point("msamples", 2000, 1.0, 0.0)]))
    assert apart["outcome"] == "not testable" and apart["ranges"]["mdlm"] == [2000, 2000]


def test_half_sampling_se_is_the_standard_error_of_a_mean():
    rng = np.random.default_rng(0)
    texts = [str(int(v)) for v in rng.integers(0, 2, size=400)]
    se = frontier.half_sample_se(texts, lambda ts: sum(t == "1" for t in ts) / len(ts), draws=400)
    assert se == pytest.approx(0.5 / math.sqrt(400), rel=0.2)


def test_a_profile_that_names_the_sample_fails_before_any_work_without_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHE_SAMPLE_PATH", str(tmp_path / "absent.jsonl"))
    with pytest.raises(DataError, match="ARCHE_SAMPLE_PATH.*source=tinystories"):
        resolve_source("tinystories-sample")
    with pytest.raises(DataError, match="not at"):
        run_pipeline("replica", run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # nothing written


def test_judges_and_references_use_stories_no_arm_trains_on(tmp_path):
    cfg = tiny_config(compare_protocols=True, mdlm_judge=True, n_samples=6)
    manifests = study.prepare_all(cfg, tmp_path, log=lambda *_: None)
    refs = read_json(comparison.references_path(tmp_path))
    used = max(m["n_stories"] for m in manifests.values())
    assert refs["skip_stories"] == used and len(refs["rows_gpt2"]) == 6
    judge_data = TokenData(tmp_path / "judges" / "data")
    assert judge_data.manifest["settings"]["skip_stories"] == used + 6  # after the references
    for protocol in manifests:  # the judges can read every token an arm can write
        codec = TokenData(comparison.data_dir(tmp_path, protocol)).codec
        ids = codec.to_gpt2(np.arange(codec.vocab_size))
        judge_data.codec.to_model(ids)
    judge_data.codec.to_model(np.array([i for row in refs["rows_gpt2"] for i in row]))
    keys = {a.key for a in comparison.judge_arms(cfg)}
    assert keys == {"controlled/judge_s1000", "controlled/judge_mdlm_s1000"}
    assert all(comparison.arm_dir(tmp_path, a).parent.name == "judges" for a in comparison.judge_arms(cfg))


def test_arms_run_more_ar_seeds_and_each_paradigm_its_rate():
    cfg = tiny_config(compare_protocols=True, n_seeds=2, ar_seeds=4, ar_lr=3e-3, mdlm_lr=2e-3, lr=1e-3)
    arms = comparison.arms(cfg)
    ctl_ar = [a.seed for a in arms if a.protocol == "controlled" and a.name == "ar"]
    assert ctl_ar == [0, 1, 2, 3]
    assert [a.seed for a in arms if a.protocol == "published" and a.name == "ar"] == [0, 1]
    ctl_md = next(a for a in arms if a.protocol == "controlled" and a.name == "mdlm")
    pub_md = next(a for a in arms if a.protocol == "published" and a.name == "mdlm")
    assert ctl_md.config.lr == 2e-3 and pub_md.config.lr == 1e-3  # published: one rate for both
    ctl_ar = next(a for a in arms if a.protocol == "controlled" and a.name == "ar")
    pub_ar = next(a for a in arms if a.protocol == "published" and a.name == "ar")
    assert ctl_ar.config.lr == 3e-3 and pub_ar.config.lr == 1e-3
    prompted = [a for a in arms if "samples_prompted" in comparison.sample_sets(cfg, a)]
    assert {a.seed for a in prompted} == {0, 1}  # only the seeds both paradigms have


@pytest.mark.slow
def test_a_controlled_run_scores_every_set_under_both_judges_and_judges_finding_3_on_the_frontier(tmp_path):
    cfg = tiny_config(protocol="controlled", sweep=True, mdlm_judge=True, n_samples=6, sample_batch_size=6)
    quiet = lambda *_: None  # noqa: E731
    study.prepare_all(cfg, tmp_path, log=quiet)
    study.train_all(cfg, tmp_path, "ar", log=quiet)
    study.train_all(cfg, tmp_path, "mdlm", log=quiet)
    study.sample_all(cfg, tmp_path, log=quiet)
    results = study.analyse(cfg, tmp_path, profile="test", log=quiet)
    settings = {(r["arm"], r["setting"]) for r in results["samples"]}
    assert {("mdlm", "samples_confidence"), ("mdlm", "samples_papertext"), ("ar", "frontier_temp2")} <= settings
    for row in results["samples"]:
        assert row["gen_ppl"] > 0 and row["judge_nelbo"] > 0 and 0 <= row["jsd_words"] <= 1
    assert all("escape_step" in r for r in results["runs"])
    assert set(results["meta"]["judges"]) == {"ar", "mdlm"}
    three = next(f for f in results["verdicts"]["findings"] if f["key"] == "FindingThree")
    assert three["outcome"] in ("holds", "does not hold", "inconclusive", "not testable") and "frontier" in three
    ref = next(r for r in results["references"] if r["kind"] == "openings")
    assert ref["n_texts"] == 6 and ref["jsd_words"] == 0.0


def test_equal_quality_is_not_testable_when_a_model_is_no_better_than_unigram():
    # The frontier rule's sanity gate: a model at the unigram plateau writes noise, not text of some fluency.
    results = json.loads((Path(__file__).parents[1] / "results" / "replica.json").read_text())
    main = results["meta"].get("main_protocol", "controlled")
    unigram = (results["meta"].get("unigram_xent") or results["meta"]["unigram_entropy"])[main]
    for run in results["runs"]:
        if run["protocol"] == main and run["arm"] == "mdlm":
            run["best_bound"] = unigram + 0.5
    three = next(f for f in findings.findings(results) if f["key"] == "FindingThree")
    assert three["outcome"] == "not testable"
    assert "unigram baseline" in three["reason"] and "MDLM" in three["reason"]


def test_the_replica_trains_in_the_regime_its_pilots_chose():
    # results/replica-regime.json holds the pilots run before the replica; the profile must be the rule's output.
    pilots_file = json.loads((Path(__file__).parents[1] / "results" / "replica-regime.json").read_text())
    pilots = pilots_file["pilots"]
    batch = regime.choose_batch([p for p in pilots if p["lr"] == pilots_file["base"]["lr"]])
    rates = regime.choose_lr(pilots, batch, regime.PILOT_SEEDS[0])
    assert REPLICA_REGIME == {"batch_size": batch, "ar_lr": rates["ar"], "mdlm_lr": rates["mdlm"]}
    chosen = pilots_file["chosen"]  # the first file names AR's rate `lr`
    assert (chosen["batch_size"], chosen.get("ar_lr", chosen.get("lr")), chosen["mdlm_lr"]) == tuple(
        REPLICA_REGIME.values()
    )
    cfg, scaled = load_config("replica"), replica_overrides()
    assert {k: scaled[k] for k in ("batch_size", "lr")} == {k: pilots_file["base"][k] for k in ("batch_size", "lr")}
    assert (cfg.batch_size, cfg.ar_lr, cfg.mdlm_lr, cfg.lr) == (batch, rates["ar"], rates["mdlm"], scaled["lr"])
    ar, mdlm = (
        next(a for a in comparison.arms(cfg) if a.protocol == "controlled" and a.name == n) for n in ("ar", "mdlm")
    )
    assert (ar.config.lr, mdlm.config.lr) == (rates["ar"], rates["mdlm"])
    assert {a.config.lr for a in comparison.arms(cfg) if a.protocol == "published"} == {scaled["lr"]}


def test_the_paper_names_the_noise_sampling_the_main_protocol_trained_with():
    """results.json's `regime` once held the base (published) config's noise sampling; the paper must say what the
    main protocol's MDLMs trained with (controlled: stratified), as their own config.json records it."""
    from arche import report
    from arche.study.analysis import main_config

    results = json.loads((Path(__file__).parents[1] / "results" / "replica.json").read_text())
    assert results["meta"]["main_protocol"] == "controlled"
    assert report.macros(results)["RegimeNoise"] == "stratified"
    published = dict(results, meta={**results["meta"], "main_protocol": "published"})
    assert report.macros(published)["RegimeNoise"] == "independent per sequence"
    cfg = load_config("replica")
    assert cfg.protocol == "published" and main_config(cfg).mdlm_time_sampling == "stratified"
    assert main_config(cfg).protocol == comparison.main_protocol(cfg)
