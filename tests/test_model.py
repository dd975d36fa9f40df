"""The shared Transformer: exact sizes, causality, bidirectionality, KV cache."""

import pytest
import torch

from arche import build_model, load_config
from arche.model import KVCache, param_counts


def tiny(**kw):
    return load_config("smoke", d_model=32, n_layers=2, n_heads=4, d_ff=64, seq_len=16, vocab_size=50, **kw)


def test_paper_parameter_counts_are_exact():
    counts = param_counts(load_config("paper"))
    assert counts["ar"] == 123_551_232
    assert counts["mdlm"] == 162_739_968
    # The tied-head MDLM differs from AR only by the [MASK] row and the time MLP.
    assert counts["mdlm_tied"] == 123_551_232 + 768 + 768 * 768 + 768


def test_ar_is_causal():
    torch.manual_seed(0)
    model = build_model(tiny(), "ar").eval()
    x = torch.randint(0, 50, (2, 16))
    y = x.clone()
    y[:, 9:] = torch.randint(0, 50, (2, 7))
    a, b = model(x), model(y)
    assert torch.allclose(a[:, :9], b[:, :9], atol=1e-6)
    assert not torch.allclose(a[:, 9:], b[:, 9:], atol=1e-4)


def test_mdlm_is_bidirectional_and_time_conditioned():
    torch.manual_seed(0)
    model = build_model(tiny(), "mdlm").eval()
    x = torch.randint(0, 50, (2, 16))
    y = x.clone()
    y[:, 12] = (y[:, 12] + 1) % 50
    t = torch.full((2,), 0.5)
    a, b = model(x, t), model(y, t)
    assert not torch.allclose(a[:, :12], b[:, :12], atol=1e-5)  # earlier positions see a later change
    assert not torch.allclose(a, model(x, torch.full((2,), 0.1)), atol=1e-5)
    assert a.shape[-1] == 50  # the real vocabulary: [MASK] is never predicted
    assert model.mask_id == 50 and model.embed.weight.shape[0] == 51  # [MASK] is an input row


def test_forward_rejects_wrong_arguments():
    ar, mdlm = build_model(tiny(), "ar"), build_model(tiny(), "mdlm")
    x = torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="timestep"):
        mdlm(x)
    with pytest.raises(ValueError, match="no timestep"):
        ar(x, torch.zeros(1))
    with pytest.raises(ValueError, match="max_len"):
        ar(torch.zeros(1, 129, dtype=torch.long))  # max_len = max(seq_len, sample_length) = 128
    with pytest.raises(ValueError, match="paradigm"):
        build_model(tiny(), "gpt")


def test_kv_cache_matches_full_forward():
    torch.manual_seed(0)
    model = build_model(tiny(), "ar").eval()
    x = torch.randint(0, 50, (3, 12))
    full = model(x)
    cache = KVCache()
    pieces = [model(x[:, :5], cache=cache)]  # prefill
    for i in range(5, 12):
        pieces.append(model(x[:, i : i + 1], cache=cache))
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)
    # A multi-token step after a prefill is causal within itself too.
    cache = KVCache()
    model(x[:, :4], cache=cache)
    assert torch.allclose(model(x[:, 4:9], cache=cache), full[:, 4:9], atol=1e-5)
