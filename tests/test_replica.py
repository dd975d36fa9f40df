"""The replica: the paper's protocol scaled to a training-token budget (scaling.scale_to_budget),
and the `replica` profile built by it on the whole real TinyStories sample."""

import math

import pytest

from arche import build_model, load_config
from arche.data import prepare
from arche.profiles import PROFILES, REPLICA_REGIME, with_regime
from arche.scaling import (
    REPLICA_SHARE,
    REPLICA_VOCAB,
    SAMPLE_TOKENS,
    SAMPLE_VOCAB,
    ar_param_counts,
    replica_overrides,
    scale_to_budget,
)

PAPER = load_config("paper")
PAPER_TRAIN = PAPER.n_tokens * (1 - PAPER.val_fraction)  # 47.5M
PAPER_EPOCHS = PAPER.steps * PAPER.batch_size * PAPER.seq_len / PAPER_TRAIN  # 6.9
PAPER_COUNTS = ar_param_counts(PAPER.vocab_size, PAPER.d_model, PAPER.n_layers, PAPER.d_ff)


def ratios(cfg, train_tokens):
    counts = ar_param_counts(cfg.vocab_size, cfg.d_model, cfg.n_layers, cfg.d_ff)
    return {
        "epochs": cfg.steps * cfg.batch_size * cfg.seq_len / train_tokens,
        "warmup": cfg.warmup_steps / cfg.steps,
        "evals": cfg.steps / cfg.eval_every,
        "head_dim": cfg.d_model / cfg.n_heads,
        "ff_ratio": cfg.d_ff / cfg.d_model,
        "params_per_token": counts["total"] / train_tokens,
        "non_emb_per_token": counts["non_embedding"] / train_tokens,
        "params": counts["total"],
    }


def test_paper_ratios_are_the_ones_the_issue_quotes():
    assert PAPER_EPOCHS == pytest.approx(6.9, abs=0.01)
    assert PAPER_COUNTS["total"] == 123_551_232
    assert PAPER_COUNTS["total"] / PAPER_TRAIN == pytest.approx(2.6, abs=0.01)
    assert PAPER_COUNTS["non_embedding"] / PAPER_TRAIN == pytest.approx(1.79, abs=0.01)


def test_param_count_formula_matches_the_model():
    cfg = load_config("smoke", d_model=192, n_layers=3, n_heads=3, d_ff=512, vocab_size=7303)
    counts = ar_param_counts(7303, 192, 3, 512)
    assert build_model(cfg, "ar").n_params() == counts["total"]


def test_the_paper_budget_gives_the_paper_back():
    assert scale_to_budget(PAPER, int(PAPER_TRAIN)) == PAPER


@pytest.mark.parametrize("train_tokens,vocab", [(778_690, SAMPLE_VOCAB), (5_000_000, 16_000)])
def test_scaled_config_keeps_the_paper_ratios(train_tokens, vocab):
    cfg = scale_to_budget(PAPER, train_tokens, vocab_size=vocab)
    r = ratios(cfg, train_tokens)
    assert r["epochs"] == pytest.approx(PAPER_EPOCHS, rel=0.10)
    assert r["warmup"] == pytest.approx(0.025, abs=0.002)
    assert r["evals"] == 10 and cfg.steps % cfg.eval_every == 0
    assert r["head_dim"] == 64
    assert r["ff_ratio"] == pytest.approx(2048 / 768, rel=0.05)
    assert cfg.min_lr_ratio == PAPER.min_lr_ratio and cfg.seq_len == PAPER.seq_len
    paper_total, paper_ne = PAPER_COUNTS["total"] / PAPER_TRAIN, PAPER_COUNTS["non_embedding"] / PAPER_TRAIN
    assert paper_total / 2 <= r["params_per_token"] <= paper_total * 2
    assert paper_ne / 2 <= r["non_emb_per_token"] <= paper_ne * 2
    assert cfg.vocab_size == vocab and cfg.steps >= 1000
    assert cfg.n_tokens * (1 - cfg.val_fraction) == pytest.approx(train_tokens, abs=1)


def test_a_bigger_budget_gives_a_bigger_replica():
    small = scale_to_budget(PAPER, 778_690, vocab_size=SAMPLE_VOCAB)
    big = scale_to_budget(PAPER, 5_000_000, vocab_size=16_000)
    assert ratios(big, 5_000_000)["params"] > 3 * ratios(small, 778_690)["params"]
    assert big.d_model > small.d_model and big.n_layers >= small.n_layers


@pytest.mark.parametrize(
    "profile,share,vocab", [("replica", REPLICA_SHARE, REPLICA_VOCAB), ("replica_full", 1.0, SAMPLE_VOCAB)]
)
def test_replica_profiles_are_the_scaled_paper(profile, share, vocab):
    cfg = load_config(profile)
    scaled = scale_to_budget(PAPER, round(SAMPLE_TOKENS * (1 - PAPER.val_fraction) * share), vocab_size=vocab)
    for key in (
        "d_model",
        "n_layers",
        "n_heads",
        "d_ff",
        "batch_size",
        "steps",
        "warmup_steps",
        "eval_every",
        "lr",
        "seq_len",
        "min_lr_ratio",
    ):
        assert getattr(cfg, key) == getattr(scaled, key), key
    if share >= 1:
        assert cfg.n_tokens >= SAMPLE_TOKENS  # every story of the sample, end-of-text included
    assert cfg.source == "tinystories-sample" and cfg.compact_vocab
    assert (cfg.compare_protocols, cfg.n_seeds, cfg.tied_mdlm, cfg.sweep, cfg.infill) == (True, 3, True, True, True)
    assert cfg.n_samples >= 300 and cfg.precision == "fp32"  # the same arithmetic on every CPU
    # the controlled regime on top (tests/test_fair_fight.py: the rule applied to its pilots)
    scaled_profile = replica_overrides(share, vocab)
    want = with_regime(scaled_profile, REPLICA_REGIME) if profile == "replica" else scaled_profile
    assert PROFILES[profile] == want


def test_cpu_replica_keeps_the_ratios():
    cfg = load_config("replica")
    train_tokens = SAMPLE_TOKENS * (1 - PAPER.val_fraction) * REPLICA_SHARE
    epochs = cfg.steps * cfg.batch_size * cfg.seq_len / train_tokens
    assert epochs == pytest.approx(6.9, abs=0.7)
    counts = ar_param_counts(REPLICA_VOCAB, cfg.d_model, cfg.n_layers, cfg.d_ff)
    assert 2.6 / 2 <= counts["total"] / train_tokens <= 2.6 * 2
    assert cfg.warmup_steps / cfg.steps == pytest.approx(0.025, abs=0.002)
    assert cfg.steps // cfg.eval_every == 10


@pytest.mark.parametrize("protocol", ["published", "controlled"])
def test_full_replica_takes_the_whole_real_sample(real_sample, tmp_path, monkeypatch, protocol):
    """The counted constants match the sample, every story is used, and the published protocol's
    models see 6.9 +- 0.7 epochs of their actual training chunks."""
    monkeypatch.setenv("ARCHE_SAMPLE_PATH", str(real_sample))
    cfg = load_config("replica_full", protocol=protocol)
    manifest = prepare(cfg, tmp_path / "data", log=lambda *a: None)
    assert manifest["n_stories"] == 4000
    if protocol == "controlled":
        assert manifest["n_tokens"] == SAMPLE_TOKENS
        assert manifest["vocab_size"] == SAMPLE_VOCAB
    else:
        assert manifest["n_tokens"] == SAMPLE_TOKENS - 4000  # no <|endoftext|> between stories
        assert abs(manifest["vocab_size"] - SAMPLE_VOCAB) <= 1
    epochs = cfg.steps * cfg.batch_size * cfg.seq_len / (manifest["n_train_chunks"] * cfg.seq_len)
    assert epochs == pytest.approx(6.9, abs=0.7)
    counts = ar_param_counts(manifest["vocab_size"], cfg.d_model, cfg.n_layers, cfg.d_ff)
    per_token = counts["total"] / manifest["n_train_tokens"]
    assert 1.3 <= per_token <= 5.2 and not math.isnan(per_token)
    assert cfg.eval_batches * cfg.batch_size <= manifest["n_val_chunks"]
