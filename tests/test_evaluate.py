"""Fluency and likelihood measures (arche.evaluate): the AR judge's NLL and generative perplexity, the MDLM's NELBO
on given rows, the infilling demonstration, on tiny random models (tests/tiny_models.py)."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from tiny_models import EOT, Recorder, V, prepare_story_data, seeded_model, tiny

from arche import build_model, checkpoint
from arche.evaluate import ar_nll_sums, generative_perplexity, infill_demo, mdlm_nelbo


@pytest.fixture(scope="module")
def ar():
    return seeded_model("ar", 0)


@pytest.fixture(scope="module")
def mdlm():
    return seeded_model("mdlm", 1)


@pytest.fixture(scope="module")
def story_data(tmp_path_factory):
    return prepare_story_data(tmp_path_factory.mktemp("story"))


def ar_nll(model, prefix, rows, **kw) -> list:
    """Mean NLL of each row (None: nothing scored), from the sums generative perplexity weights."""
    return [s / c if c else None for s, c in ar_nll_sums(model, prefix, rows, **kw)]


def test_ar_nll_matches_cross_entropy(ar):
    row = [3, 5, EOT, 7, 9]
    got = ar_nll(ar, [EOT], [row, [1, 2, 3, 4]], eot=EOT)
    logits = ar(torch.tensor([[EOT, 3, 5]]))[0]
    assert got[0] == pytest.approx(F.cross_entropy(logits, torch.tensor([3, 5, EOT])).item(), rel=1e-5)
    logits = ar(torch.tensor([[EOT, 1, 2, 3]]))[0]
    assert got[1] == pytest.approx(F.cross_entropy(logits, torch.tensor([1, 2, 3, 4])).item(), rel=1e-5)
    # no prefix: the first token has no context and is not scored; a 1-token row has nothing to score
    got = ar_nll(ar, [], [[3, 5, 7], [4]], batch_size=1)
    logits = ar(torch.tensor([[3, 5]]))[0]
    assert got[0] == pytest.approx(F.cross_entropy(logits, torch.tensor([5, 7])).item(), rel=1e-5)
    assert got[1] is None


def test_generative_perplexity_is_token_weighted(ar):
    rows = [[3, 5, 7, 9, 11, 13], [4]]
    nll = ar_nll(ar, [EOT], rows)
    assert generative_perplexity(ar, [EOT], rows) == pytest.approx(math.exp((6 * nll[0] + nll[1]) / 7), rel=1e-5)
    # sample records: each scored given its own prefix, up to and including its first EOT
    recs = [
        {"tokens": [3, 5, EOT, 8], "settings": {"prefix_ids": [EOT], "eot": EOT}},
        {"tokens": [6, 7, 8], "settings": {"prefix_ids": [38], "eot": EOT}},
    ]
    a, b = ar_nll(ar, [EOT], [[3, 5, EOT]]), ar_nll(ar, [38], [[6, 7, 8]])
    assert generative_perplexity(ar, recs) == pytest.approx(math.exp((3 * a[0] + 3 * b[0]) / 6), rel=1e-5)


class Uniform(torch.nn.Module):
    """An MDLM that predicts the uniform distribution over the real tokens everywhere."""

    mask_id, vocab_size, max_len, causal = V, V, 64, False

    def forward(self, tokens, t):
        return torch.zeros(*tokens.shape, V)


def test_mdlm_nelbo_of_a_uniform_model_is_log_vocab():
    rows = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, EOT, 11]]
    got = mdlm_nelbo(Uniform(), [EOT], rows, seed=0, n_t=256, eot=EOT)
    assert got == pytest.approx([math.log(V)] * 2, rel=0.03)
    assert got == mdlm_nelbo(Uniform(), [EOT], rows, seed=0, n_t=256, eot=EOT)


def test_mdlm_nelbo_never_masks_the_prefix(mdlm):
    probe = Recorder(mdlm)
    got = mdlm_nelbo(probe, [EOT, 7], [[1, 2, 3]], seed=0, n_t=8)
    assert len(got) == 1 and got[0] > 0
    assert all((x[:, :2] == torch.tensor([EOT, 7])).all() for x in probe.inputs)


def test_infill_demo_scores_fills(tmp_path, story_data):
    cfg = tiny(protocol="controlled", sample_length=24, n_samples=4, sample_batch_size=4, mdlm_steps=4, device="cpu")
    codec = story_data.codec
    runs = {}
    for paradigm in ("ar", "mdlm"):
        torch.manual_seed(0)
        model = build_model(cfg, paradigm, vocab_size=codec.vocab_size)
        run = tmp_path / paradigm
        run.mkdir()
        (run / "config.json").write_text(
            json.dumps({"paradigm": paradigm, "config": cfg.to_dict(), "vocab_size": codec.vocab_size})
        )
        (run / "vocab.json").write_text(json.dumps(codec.to_dict()))
        checkpoint.save(run / "best.safetensors", model, {"step": 1})
        runs[paradigm] = run
    out = infill_demo(cfg, runs["mdlm"], runs["ar"], story_data, n=3)
    assert out["n_stories"] == 3 and out["span_tokens"] == 8
    for key in ("ar_nll_original", "ar_nll_infilled", "ar_nll_random"):
        assert math.isfinite(out[key]) and out[key] > 0
    assert 0.0 <= out["span_token_match"] <= 1.0
    assert len(out["examples"]) == 3 and "[" in out["examples"][0]["infilled"]
    json.dumps(out)
