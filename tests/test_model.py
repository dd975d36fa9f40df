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


def test_params_and_cost_report_the_compact_vocabulary_a_run_trains_with(tmp_path):
    # Issue 24: `params`/`config` reported the 50,257-token model (6.86M parameters for smoke) where the run
    # trains a 966-token one (550K).
    from conftest import tiny_config

    from arche.data import prepare, run_vocab_size
    from arche.scaling import describe_cost

    cfg = tiny_config()
    vocab = run_vocab_size(cfg)
    assert vocab == prepare(cfg, tmp_path / "data", log=lambda *_: None)["vocab_size"] < 50_257
    assert param_counts(cfg, vocab)["ar"] == build_model(cfg, "ar", vocab_size=vocab).n_params()
    assert f"at vocab_size {vocab:,} (compact_vocab: the corpus' own vocabulary)" in describe_cost(cfg, vocab)
    assert run_vocab_size(cfg.replace(compact_vocab=False)) == 50_257
