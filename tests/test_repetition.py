"""The repetition study: exact epochs, branches that end where separate runs would, the verdict rule."""

import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from arche import checkpoint, study
from arche.batches import TokenData
from arche.config import ConfigError
from arche.data import prepare
from arche.profiles import load_config
from arche.rundir import RunDirError, fork, read_metrics
from arche.schedule import decay_start, lr_at
from arche.study import comparison, repetition, verdicts
from arche.train import train


def rep_config(**overrides):
    base = dict(
        study="repetition",
        protocol="controlled",
        compare_protocols=False,
        sweep=False,
        infill=False,
        n_seeds=1,
        repetition_epochs="1,2,4",
        repetition_shares="1,0.5",
        repetition_sample_epochs="2,4",
        checkpoint_every=1000,
        device="cpu",  # the judge's scores are recomputed on the CPU and compared exactly
    )
    return tiny_config(**{**base, **overrides})


def test_wsd_schedule_shares_the_stable_phase():
    short, long = (tiny_config(lr_schedule="wsd", steps=s, warmup_steps=2, decay_fraction=0.25) for s in (20, 40))
    assert decay_start(short) == 15 and decay_start(long) == 30
    assert [lr_at(s, short) for s in range(15)] == [lr_at(s, long) for s in range(15)]
    assert lr_at(15, short) < short.lr and lr_at(19, short) == pytest.approx(short.lr * short.min_lr_ratio)
    assert all(lr_at(s, long) == long.lr for s in range(2, 30))


def test_epoch_accounting_is_exact(tmp_path):
    cfg = rep_config()
    prepare(cfg, tmp_path / "data", log=lambda *_: None)
    n = len(TokenData(tmp_path / "data").train)
    for b in repetition.branches(cfg, n):
        assert b.chunks % cfg.batch_size == 0 and b.chunks <= n
        assert b.config.steps * cfg.batch_size == b.epochs * b.chunks  # tokens seen / unique tokens = epochs
        data = TokenData(tmp_path / "data", train_chunks=b.chunks)
        seen = torch.bincount(
            torch.as_tensor([i for s in range(b.config.steps) for i in data.batch_indices(s, cfg.batch_size, b.seed)]),
            minlength=b.chunks,
        )
        assert seen.numel() == b.chunks and bool((seen == b.epochs).all()), b.key  # every chunk e times, no other
    with pytest.raises(Exception, match="only"):
        TokenData(tmp_path / "data", train_chunks=n + 1)


@pytest.mark.slow
def test_a_branch_ends_bit_for_bit_where_a_separate_run_ends(tmp_path):
    """Tolerance: none on CPU (the same weights and validation loss, exactly)."""
    cfg = rep_config(repetition_epochs="2,4", repetition_shares="0.5")
    for paradigm in ("ar", "mdlm"):
        ddir = tmp_path / paradigm / "data"
        prepare(cfg, ddir, log=lambda *_: None)
        n = len(TokenData(ddir).train)
        short = next(b for b in repetition.branches(cfg, n, paradigm) if b.epochs == 2)
        trunk_cfg = repetition.trunk_config(cfg, short)
        quiet = dict(log=lambda *_: None)
        train(trunk_cfg, paradigm, tmp_path / paradigm / "trunk", ddir, stop_at=decay_start(short.config), **quiet)
        fork(tmp_path / paradigm / "trunk", tmp_path / paradigm / "branch", short.config, paradigm, **quiet)
        a = train(short.config, paradigm, tmp_path / paradigm / "branch", ddir, **quiet)
        b = train(short.config, paradigm, tmp_path / paradigm / "separate", ddir, **quiet)
        assert a["steps"] == b["steps"] == short.config.steps
        assert a["best_val"] == b["best_val"]
        wa, _ = checkpoint.read(tmp_path / paradigm / "branch" / "last.safetensors")
        wb, _ = checkpoint.read(tmp_path / paradigm / "separate" / "last.safetensors")
        assert all(torch.equal(wa[k], wb[k]) for k in wb if k.startswith("model."))
        # The trunk is past the short run's decay now: forking it again would change the lr history.
        train(trunk_cfg, paradigm, tmp_path / paradigm / "trunk", ddir, stop_at=short.config.steps - 1, **quiet)
        with pytest.raises(RunDirError, match="learning rate differs"):
            fork(tmp_path / paradigm / "trunk", tmp_path / paradigm / "late", short.config, paradigm, **quiet)
        with pytest.raises(RunDirError, match="more than length"):
            fork(
                tmp_path / paradigm / "trunk",
                tmp_path / paradigm / "other",
                short.config.replace(lr=1e-2),
                paradigm,
                **quiet,
            )


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A whole repetition study at the tiny size: (config, run directory, results)."""
    cfg = rep_config()
    run = tmp_path_factory.mktemp("repetition") / "run"
    quiet = lambda *_: None  # noqa: E731
    study.prepare_all(cfg, run, log=quiet)
    study.train_all(cfg, run, "ar", log=quiet)
    study.train_all(cfg, run, "mdlm", log=quiet)
    study.sample_all(cfg, run, log=quiet)
    return cfg, run, study.analyse(cfg, run, "test", log=quiet)


@pytest.mark.slow
def test_the_repetition_study_runs_and_records_exact_epochs(tiny_study):
    cfg, run, results = tiny_study
    rows = results["repetition"]
    assert len(rows) == 2 * 2 * 3  # paradigms x budgets x epoch counts
    assert all(r["epochs_seen"] == r["epochs"] for r in rows)
    assert {r["chunks"] for r in rows} == {
        b.chunks for b in repetition.branches(cfg, results["meta"]["n_train_chunks"])
    }
    # One trunk per (paradigm, budget, seed), and a branch per epoch count that took its steps from it.
    for b in repetition.branches(cfg, results["meta"]["n_train_chunks"]):
        state = checkpoint.read_state(repetition.branch_dir(run, b) / "last.safetensors")
        assert state["forked_from"]["step"] == decay_start(b.config)
        assert read_metrics(repetition.branch_dir(run, b))[-1]["step"] == b.config.steps
    assert {(s["paradigm"], s["epochs"]) for s in results["samples"]} == {
        (p, e) for p in ("ar", "mdlm") for e in (2, 4)
    }
    assert results["verdicts"]["finding_2"]["outcome"] in verdicts.OUTCOMES
    assert json.loads((run / "results.json").read_text())["verdicts"] == results["verdicts"]
    # Re-running a stage trains nothing: every branch is complete.
    before = {p.stat().st_mtime_ns for p in run.rglob("last.safetensors")}
    study.train_all(cfg, run, "ar", log=lambda *_: None)
    assert {p.stat().st_mtime_ns for p in run.rglob("last.safetensors")} == before


@pytest.mark.slow
def test_trained_tokens_count_the_steps_the_study_trained(tiny_study):
    """What `python -m arche config` prints for a repetition study: the trunks' steps plus each branch's decay,
    counted here from the checkpoints train_all wrote."""
    cfg, run, results = tiny_study
    n = results["meta"]["n_train_chunks"]
    steps, homes = 0, set()
    for b in repetition.branches(cfg, n):
        state = checkpoint.read_state(repetition.branch_dir(run, b) / "last.safetensors")
        steps += state["step"] - state["forked_from"]["step"]
        homes.add(repetition.home(run, b))
    steps += sum(checkpoint.read_state(h / "trunk" / "last.safetensors")["step"] for h in homes)
    t = repetition.trained_tokens(cfg, n)
    assert t["tokens"] == steps * cfg.batch_size * cfg.seq_len
    assert (t["runs"], t["trunks"]) == (len(results["repetition"]), len(homes))
    assert t["tokens_as_separate_runs"] == sum(b.config.steps for b in repetition.branches(cfg, n)) * (
        cfg.batch_size * cfg.seq_len
    )
    assert f"{t['tokens'] / 1e6:,.1f}M training tokens" in repetition.describe(cfg, n)


@pytest.mark.slow
def test_the_wall_time_script_counts_each_trunk_once_and_every_set(tiny_study, monkeypatch):
    """benchmarks/study_wall_time.py: a forked branch's own tokens and seconds start at its fork, so the study's
    tokens are the trunks' plus the decays' (trained_tokens) plus the judge's, and its seconds the trunks' plus
    what each branch trained after its fork."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from study_wall_time import study_time

    cfg, run, results = tiny_study
    t = study_time(run)
    judge = comparison.judge_arm(cfg).config
    want = repetition.trained_tokens(cfg, results["meta"]["n_train_chunks"])["tokens"]
    assert t["tokens"] == want + judge.steps * judge.batch_size * judge.seq_len
    forked = [m for m in t["models"] if m["forked"]]
    assert len(forked) == len(results["repetition"])  # every branch
    for b in repetition.branches(cfg, results["meta"]["n_train_chunks"]):
        state = checkpoint.read_state(repetition.branch_dir(run, b) / "last.safetensors")
        mine = next(m for m in forked if m["dir"] == str(repetition.branch_dir(run, b)))
        assert mine["train_s"] == state["train_time"] - state["forked_from"]["train_time"] > 0
    assert len(t["samples"]) == len(results["samples"]) and all(s["wall_s"] > 0 for s in t["samples"])
    parts = t["recorded_s"]
    assert t["recorded_total_s"] == pytest.approx(sum(parts.values())) and parts["training"] > 0


@pytest.mark.slow
def test_the_samples_are_scored_by_the_comparisons_judge_code_exactly(tiny_study):
    """The repetition study scores through arche.study.judges.Judges (shared with the comparison): its gen-PPL
    is the AR judge's perplexity of the same texts after <|endoftext|>, computed directly from the model."""
    from arche.evaluate import generative_perplexity
    from arche.generate import load_model, read_samples, reference_rows
    from arche.study import comparison
    from arche.study.texts import subsample

    cfg, run, results = tiny_study
    judge = comparison.judge_arm(cfg)
    model, codec, _, _ = load_model(comparison.arm_dir(run, judge), device="cpu", max_len=cfg.sample_length + 32)
    n_match = results["meta"]["n_match"]
    data = TokenData(comparison.data_dir(run, "controlled"))
    sampled = repetition.sampled(cfg, len(data.train))
    assert len(results["samples"]) == len(sampled) > 0
    for b, row in zip(sampled, results["samples"]):
        picked = subsample(read_samples(repetition.branch_dir(run, b) / "samples.jsonl"), n_match, cfg.sample_seed)
        direct = generative_perplexity(model, [codec.eot], [r["tokens"] for r in picked], "cpu", eot=codec.eot)
        assert (row["paradigm"], row["epochs"]) == (b.paradigm, b.epochs)
        assert row["gen_ppl"] == pytest.approx(direct, rel=1e-9)
    refs = reference_rows(data, cfg.n_samples, cfg.sample_length, "openings", seed=cfg.sample_seed)
    direct = generative_perplexity(model, [codec.eot], subsample(refs, n_match, cfg.sample_seed), "cpu", eot=codec.eot)
    assert results["references"][0]["gen_ppl"] == pytest.approx(direct, rel=1e-9)
    assert results["meta"]["judge"]["key"] == judge.key and "judges" not in results["meta"]  # AR's judge only


@pytest.mark.slow
def test_a_repetition_results_file_renders_its_own_paper(tiny_study, tmp_path):
    from arche import report

    _, run, results = tiny_study
    assert report.artefact(results, "fig-val-curves").__class__ is report.Skipped
    table = report.repetition.table_repetition(results)
    assert list(table.index) == ["1", "2", "4"] and table.shape[1] == 4  # 2 budgets x 2 paradigms
    assert sum("*" in v for v in table.iloc[:, 0]) == 1  # one best per column
    pdf = report.render_results(run / "results.json", tmp_path / "out", log=lambda *_: None)
    gen = tmp_path / "out" / "paper" / "generated"
    assert {"fig-repetition.pdf", "tab-repetition.tex", "tab-repetition-samples.tex"} <= {p.name for p in gen.iterdir()}
    assert not (gen / "tab-findings.tex").exists() and report.main_document(gen) == "repetition.tex"
    if pdf is None:
        pytest.skip("latexmk not installed: the PDF itself is not built")
    text = _pdf_text(pdf)
    assert "repeating the same data" in text.lower() and results["verdicts"]["finding_2"]["outcome"] in text


@pytest.mark.slow
def test_a_capped_study_whose_budgets_run_different_epochs_renders(tiny_study):
    """Under repetition_max_tokens the larger budget runs fewer epoch counts: the verdicts, the table (n/a where a
    budget did not run), the figure and the macros take the uneven grid (simulated by dropping its 4-epoch rows)."""
    import copy

    from arche import report
    from arche.study import verdicts as rules

    _, _, results = tiny_study
    capped = copy.deepcopy(results)
    big = max(r["chunks"] for r in capped["repetition"])
    capped["repetition"] = [r for r in capped["repetition"] if not (r["chunks"] == big and r["epochs"] == 4)]
    capped["verdicts"] = rules.repetition(capped)
    assert capped["verdicts"]["finding_2"]["outcome"] in rules.OUTCOMES
    table = report.repetition.table_repetition(capped)
    assert list(table.index) == ["1", "2", "4"]
    assert sum(v == "n/a" for v in table.loc["4"]) == 2  # the larger budget's two paradigms
    assert report.repetition.fig_repetition(capped) is not None
    assert report.repetition.macros(capped)["RepEpochsList"] == "1, 2, 4"
    tokens = {r["chunks"]: r["unique_tokens"] for r in capped["repetition"]}
    small = min(tokens)
    assert report.repetition.macros(capped)["RepEpochsPhrase"] == (
        f"1, 2 epochs ({tokens[big]:,} unique tokens) and 1, 2, 4 epochs ({tokens[small]:,})"
    )
    assert report.repetition.macros(results)["RepEpochsPhrase"] == "1, 2, 4 epochs"
    assert f"{len(capped['repetition'])} runs (2 unique-data budgets x 2/3 epoch counts" in report.describe_results(
        capped
    )


@pytest.mark.slow
def test_the_comparison_paper_gets_the_repetition_section(tiny_study, tmp_path):
    from arche import report

    _, run, _ = tiny_study
    committed = report.repo_root() / "results" / "replica.json"
    pdf = report.render_results(committed, tmp_path / "out", log=lambda *_: None, repetition_path=run / "results.json")
    gen = tmp_path / "out" / "paper" / "generated"
    assert (gen / "fig-repetition.pdf").exists() and (gen / "tab-findings.tex").exists()
    assert report.main_document(gen) == "main.tex"
    if pdf is None:
        pytest.skip("latexmk not installed: the PDF itself is not built")
    assert "Beyond the paper: repeating the same data" in _pdf_text(pdf)


def _pdf_text(pdf) -> str:
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def curve(values, se=0.01):
    return {e: (v, se) for e, v in zip((1, 2, 4, 8, 16, 32), values)}


@pytest.mark.parametrize(
    "ar,mdlm,outcome",
    [
        ([4.0, 3.5, 3.2, 3.3, 3.6, 4.0], [5.0, 4.6, 4.3, 4.1, 3.9, 3.85], "holds"),
        ([4.0, 3.5, 3.2, 3.3, 3.6, 4.0], [5.0, 4.6, 4.3, 4.5, 4.8, 5.0], "does not hold"),
        ([4.0, 3.5, 3.2, 3.3, 3.6, 4.0], [5.0, 4.6, 4.3, 4.295, 4.4, 4.6], "inconclusive"),
        ([4.0, 3.5, 3.2, 3.1, 3.0, 2.95], [5.0, 4.6, 4.3, 4.1, 3.9, 3.85], "not testable"),
    ],
)
def test_the_rule_gives_each_outcome(ar, mdlm, outcome):
    v = verdicts.repetition_budget({"ar": curve(ar), "mdlm": curve(mdlm)}, unigram_entropy=5.5, flops={})
    assert v["outcome"] == outcome, v["reason"]


def test_the_rule_is_not_testable_above_the_unigram_baseline_and_finds_the_crossover():
    ar, mdlm = curve([4.0, 3.5, 3.2, 3.3, 3.6, 4.0]), curve([5.0, 4.6, 4.3, 4.1, 3.9, 3.1])
    flat = curve([5.0, 4.6, 4.3, 4.1, 4.05, 4.0])
    v = verdicts.repetition_budget({"ar": ar, "mdlm": flat}, unigram_entropy=4.0, flops={})
    assert v["outcome"] == "not testable" and "MDLM" in v["reason"]
    v = verdicts.repetition_budget({"ar": ar, "mdlm": mdlm}, 5.5, flops={("mdlm", 32): 1e15})
    assert v["crossover_epochs"] == 32 and v["crossover_flops"] == 1e15


def test_bad_repetition_settings_are_named():
    with pytest.raises(ConfigError, match="repetition_sample_epochs"):
        load_config("repetition", repetition_sample_epochs="3")
    with pytest.raises(ConfigError, match="repetition_shares"):
        load_config("repetition", repetition_shares="1.5")
    with pytest.raises(ConfigError, match="repetition_epochs"):
        load_config("repetition", repetition_epochs="a,b")


def test_a_token_cap_gives_the_smaller_budget_more_epochs_at_no_more_trunk_cost():
    cfg = rep_config(repetition_epochs="1,2,4,8,16", repetition_shares="1,0.25", repetition_sample_epochs="2")
    n = 64  # training chunks: budgets of 64 and 16 chunks (batch 2)
    big, small = (repetition.budget_chunks(cfg, s, n) for s in (1.0, 0.25))
    capped = cfg.replace(repetition_max_tokens=16 * small * cfg.seq_len)  # 16 epochs of the smaller budget
    assert repetition.budget_epochs(cfg, big) == repetition.budget_epochs(cfg, small) == [1, 2, 4, 8, 16]
    assert repetition.budget_epochs(capped, small) == [1, 2, 4, 8, 16]
    assert repetition.budget_epochs(capped, big) == [1, 2, 4]  # 4 x 64 chunks = 16 x 16 chunks
    by_budget = {}
    for b in repetition.branches(capped, n, "ar"):
        by_budget.setdefault(b.chunks, set()).add(b.epochs)
        trunk = repetition.trunk_config(capped, b)
        assert trunk.steps == max(repetition.budget_epochs(capped, b.chunks)) * b.chunks // cfg.batch_size
        assert trunk.steps * cfg.batch_size * cfg.seq_len <= capped.repetition_max_tokens  # same cost, at most
    assert by_budget == {big: {1, 2, 4}, small: {1, 2, 4, 8, 16}}
    # The sampled branches are those of the largest budget that it runs.
    assert {b.epochs for b in repetition.sampled(capped, n)} == {2}
    with pytest.raises(ConfigError, match=r"repetition_sample_epochs \[8\] are not run by the largest budget"):
        repetition.sampled(capped.replace(repetition_sample_epochs="2,8"), n)
    with pytest.raises(ConfigError, match="repetition_max_tokens .* leaves no epoch count"):
        repetition.budget_epochs(cfg.replace(repetition_max_tokens=big * cfg.seq_len - 1), big)


def test_the_fair_repetition_profile_trains_in_the_replicas_regime_to_128_epochs():
    from arche.profiles import REPLICA_REGIME

    cfg, replica = load_config("repetition_fair"), load_config("replica")
    assert (cfg.batch_size, cfg.ar_lr, cfg.mdlm_lr) == tuple(
        REPLICA_REGIME[k] for k in ("batch_size", "ar_lr", "mdlm_lr")
    )
    assert cfg.protocol == "controlled" and cfg.mdlm_time_sampling == "stratified" and cfg.n_seeds == 3
    assert (cfg.d_model, cfg.n_layers, cfg.n_tokens, cfg.seq_len) == (
        replica.d_model,
        replica.n_layers,
        replica.n_tokens,
        replica.seq_len,
    )
    first = json.loads((Path(__file__).parent / "data" / "repetition-2026-11-23.json").read_text())  # the first run
    n = first["meta"]["n_train_chunks"]
    epochs = {b.chunks: max(repetition.budget_epochs(cfg, b.chunks)) for b in repetition.branches(cfg, n, "ar")}
    assert epochs == {min(epochs): 128, max(epochs): 32}  # both trunks within 0.4% of the same cost
    # every branch and trunk trains at its paradigm's rate (the old profile, with no per-paradigm rate, at `lr`)
    for b in repetition.branches(cfg, n):
        want = REPLICA_REGIME["ar_lr" if b.paradigm == "ar" else "mdlm_lr"]
        assert b.config.lr == repetition.trunk_config(cfg, b).lr == want, b.key
    old = load_config("repetition")
    assert {b.config.lr for b in repetition.branches(old, n)} == {old.lr}
