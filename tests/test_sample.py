"""The autoregressive sampler and the logits filters and penalties both paradigms' samplers share, on tiny random
models (tests/tiny_models.py)."""

import pytest
import torch
from tiny_models import EOT, V, seeded_model

from arche.model import KVCache
from arche.sample import filter_logits, sample_ar
from arche.unmask import apply_repetition_penalty, token_counts


@pytest.fixture(scope="module")
def ar():
    return seeded_model("ar", 0)


# ---------------------------------------------------------------------------- logits filters


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([0.15, 0.5, 0.05, 0.3])
    logits = probs.log()

    def kept(p):
        return set(torch.isfinite(filter_logits(logits, top_p=p)).nonzero().flatten().tolist())

    assert kept(0.4) == {1}
    assert kept(0.6) == {1, 3}
    assert kept(0.9) == {1, 3, 0}
    assert kept(0.99) == {0, 1, 2, 3}
    assert kept(1.0) == {0, 1, 2, 3}
    assert kept(1e-6) == {1}  # never empty
    # kept logits are unchanged; rows are filtered independently
    out = filter_logits(torch.stack([logits, logits.flip(0)]), top_p=0.6)
    assert torch.equal(out[0, [1, 3]], logits[[1, 3]])
    assert torch.isfinite(out[1]).nonzero().flatten().tolist() == [0, 2]


def test_top_k_then_top_p():
    logits = torch.tensor([0.15, 0.5, 0.05, 0.3]).log()
    assert torch.isfinite(filter_logits(logits, top_k=2)).nonzero().flatten().tolist() == [1, 3]
    assert torch.equal(filter_logits(logits, top_k=0), logits)
    # after top-3 the renormalised mass of the best token is 0.5 / 0.95 < 0.6, so two are kept
    assert torch.isfinite(filter_logits(logits, top_k=3, top_p=0.6)).nonzero().flatten().tolist() == [1, 3]
    assert torch.isfinite(filter_logits(logits, top_k=3, top_p=0.5)).nonzero().flatten().tolist() == [1]


def test_repetition_penalty_pushes_down_both_signs():
    logits = torch.tensor([[2.0, -2.0, 1.0, -1.0]])
    seen = torch.tensor([[True, True, False, False]])
    out = apply_repetition_penalty(logits, seen, 1.3)
    assert torch.allclose(out, torch.tensor([[2.0 / 1.3, -2.6, 1.0, -1.0]]))
    assert out[0, 1] < logits[0, 1]  # a negative logit becomes more negative


def test_released_penalty_divides_whatever_the_sign():
    from arche.unmask import released_penalty_divisor

    divisor = released_penalty_divisor(torch.tensor([[0, 1, 2, 10]]))
    assert torch.allclose(divisor, torch.tensor([[1.0, 1.3, 1.69, 5.0]]))
    logits = torch.tensor([[1.0, -2.0, 2.0, -3.0]])
    assert torch.allclose(logits / divisor, torch.tensor([[1.0, -2.0 / 1.3, 2.0 / 1.69, -0.6]]))


def test_token_counts_ignore_mask():
    canvas = torch.tensor([[3, 3, V, 5], [V, V, V, V]])
    counts = token_counts(canvas, V)
    assert counts.shape == (2, V)
    assert counts[0, 3] == 2 and counts[0, 5] == 1 and counts[0].sum() == 3 and counts[1].sum() == 0


# ---------------------------------------------------------------------------- autoregressive


def test_kv_cache_logits_equal_uncached(ar):
    x = torch.randint(0, V, (3, 12), generator=torch.Generator().manual_seed(0))
    full = ar(x)
    cache = KVCache()
    steps = [ar(x[:, :5], cache=cache)] + [ar(x[:, i : i + 1], cache=cache) for i in range(5, 12)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_cached_sampling_equals_uncached(ar):
    kw = dict(n=5, length=16, temperature=0.8, top_p=0.9, seed=3, batch_size=2)
    cached = sample_ar(ar, [EOT], **kw)
    assert cached.shape == (5, 16) and cached.dtype == torch.long
    assert torch.equal(cached, sample_ar(ar, [EOT], use_cache=False, **kw))


def test_ar_is_deterministic_per_seed(ar):
    a = sample_ar(ar, [EOT, 7], 4, 16, seed=0)
    assert torch.equal(a, sample_ar(ar, [EOT, 7], 4, 16, seed=0))
    assert not torch.equal(a, sample_ar(ar, [EOT, 7], 4, 16, seed=1))


def test_ar_needs_a_prefix_and_room(ar):
    with pytest.raises(ValueError, match="at least one context token"):
        sample_ar(ar, [], 2, 8)
    sample_ar(ar, [EOT], 1, 32)  # the last new token is never fed: 32 positions fit max_len 32
    with pytest.raises(ValueError, match="max_len"):
        sample_ar(ar, [EOT, 5], 1, 32)


def test_sample_from_follows_the_distribution_and_skips_zeros():
    from arche.sample import sample_from

    probs = torch.tensor([0.0, 0.2, 0.0, 0.5, 0.3, 0.0]).expand(20000, -1).contiguous()
    draws = sample_from(probs, torch.Generator().manual_seed(0)).flatten()
    freq = torch.bincount(draws, minlength=6).float() / draws.numel()
    assert freq[[0, 2, 5]].sum() == 0
    assert torch.allclose(freq, probs[0], atol=0.015)
