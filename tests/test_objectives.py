"""Masking schedule, loss placement, and the NELBO's calibration."""

import math

import pytest
import torch

from arche import build_model, load_config
from arche.objectives import (
    alpha,
    draw_noise,
    held_out_losses,
    masked_positions,
    mdlm_loss_sum,
    mdlm_normalizer,
    nelbo_by_count,
    nelbo_weight,
)


def test_mask_rate_follows_cosine_schedule():
    gen = torch.Generator().manual_seed(0)
    for t0 in (0.1, 0.3, 0.5, 0.8, 0.95):
        t = torch.full((400,), t0)
        u = torch.rand(400, 256, generator=gen)
        rate = masked_positions(t, u).float().mean().item()
        assert rate == pytest.approx(1 - math.cos(math.pi * t0 / 2) ** 2, abs=0.01)


def test_nelbo_weight_is_minus_alpha_prime_over_one_minus_alpha():
    t = torch.tensor([0.05, 0.3, 0.7, 0.99], dtype=torch.float64).requires_grad_()
    a = alpha(t)
    (grad,) = torch.autograd.grad(a.sum(), t)
    assert torch.allclose(nelbo_weight(t.detach()), -grad / (1 - a.detach()))


class Probe(torch.nn.Module):
    """Logits that reveal which inputs the loss looked at: uniform over the vocabulary, or a fixed table."""

    def __init__(self, vocab, logits=None):
        super().__init__()
        self.mask_id = vocab
        self.causal = False
        self.vocab = vocab
        self.fixed = logits

    def forward(self, tokens, t):
        B, L = tokens.shape
        if self.fixed is not None:
            return self.fixed.expand(B, L, -1)
        return torch.zeros(B, L, self.vocab)


def test_mdlm_loss_counts_only_masked_positions():
    V = 10
    # Logits heavily favour token 0: a token-0 target costs ~0, any other ~50 nats.
    logits = torch.full((1, 1, V), -50.0)
    logits[..., 0] = 0.0
    tokens = torch.ones(2, 8, dtype=torch.long)  # expensive everywhere...
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[0, 3] = mask[1, 5] = True
    tokens[0, 3] = tokens[1, 5] = 0  # ...except at the two masked positions
    loss = mdlm_loss_sum(Probe(V, logits), tokens, torch.full((2,), 0.5), mask, "masked_mean", 1e-3)
    assert loss.item() < 1e-6
    assert mdlm_normalizer(mask, "masked_mean") == 2


def test_uniform_model_nelbo_is_log_vocab():
    V = 100
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, V, (64, 64), generator=gen) for _ in range(8)]
    out = held_out_losses(Probe(V), "mdlm", batches, seed=0, eps=1e-3, draws=2)
    # Grouped by the number of masked tokens every term is a mean cross-entropy: ln(V) exactly.
    assert out["val_nelbo"] == pytest.approx(math.log(V), rel=1e-6)
    assert out["val_nelbo_se"] == pytest.approx(0.0, abs=1e-9)
    # The published loss is the plain cross-entropy at masked positions: ln(V) for a uniform model.
    assert out["val_masked_mean"] == pytest.approx(math.log(V), rel=1e-6)


def test_evaluation_is_deterministic():
    cfg = load_config("smoke", d_model=32, n_layers=1, n_heads=2, d_ff=64, seq_len=16, vocab_size=30)
    torch.manual_seed(0)
    model = build_model(cfg, "mdlm")
    batches = [torch.randint(0, 30, (4, 16))]
    a = held_out_losses(model, "mdlm", batches, seed=5, eps=1e-3)
    b = held_out_losses(model, "mdlm", batches, seed=5, eps=1e-3)
    assert a == b
    ar = held_out_losses(build_model(cfg, "ar"), "ar", batches, seed=5, eps=1e-3)
    assert ar["val_ppl"] == pytest.approx(math.exp(ar["val_nll"]))


def test_draw_noise_range():
    t, u = draw_noise(torch.Generator().manual_seed(1), 1000, 4, eps=0.01)
    assert t.min() >= 0.01 and t.max() <= 1.0 and u.shape == (1000, 4)


def test_nelbo_by_count_estimates_the_same_bound_as_the_time_weighted_loss():
    # Same weights, same tokens: the estimator grouped by mask count and the training-time estimator
    # (t ~ U(eps, 1), weight -alpha'/(1 - alpha)) agree within their Monte Carlo errors.
    cfg = load_config("smoke", d_model=32, n_layers=1, n_heads=2, d_ff=64, seq_len=16, vocab_size=30)
    torch.manual_seed(0)
    model = build_model(cfg, "mdlm").eval()
    tokens = torch.randint(0, 30, (8, 16), generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(0)
    by_count, by_time = [], []
    with torch.no_grad():
        for _ in range(300):
            by_count.append(float(nelbo_by_count(model, tokens, gen, 1e-3).mean()))
            t, u = draw_noise(gen, 8, 16, 1e-3)
            mask = masked_positions(t, u, keep_first=True)
            by_time.append(float(mdlm_loss_sum(model, tokens, t, mask, "elbo", 1e-3)) / (8 * 15))
    a, b = torch.tensor(by_count), torch.tensor(by_time)
    se = math.sqrt(a.var() / len(a) + b.var() / len(b))
    assert abs(float(a.mean() - b.mean())) < 4 * se
    assert a.std() < b.std()  # and it is the less noisy of the two


def test_evaluation_noise_does_not_depend_on_the_training_seed():
    # Two arms evaluated with the default seed see the same (t, mask) draws: a model evaluated twice
    # gives identical numbers, and the standard error of the replicates is reported.
    cfg = load_config("smoke", d_model=32, n_layers=1, n_heads=2, d_ff=64, seq_len=16, vocab_size=30)
    torch.manual_seed(0)
    model = build_model(cfg, "mdlm")
    batches = [torch.randint(0, 30, (4, 16), generator=torch.Generator().manual_seed(1))]
    a = held_out_losses(model, "mdlm", batches, draws=4)
    assert a == held_out_losses(model, "mdlm", batches, draws=4)
    assert a["val_nelbo_se"] > 0 and a["val_masked_mean_se"] > 0


def test_the_validation_noise_goes_to_the_device_of_the_tokens(monkeypatch):
    """The noise is drawn on the CPU (the same on every device); each term must get it where the tokens are.
    Found on an H200: an MDLM's first evaluation on CUDA mixed cuda:0 tokens with a CPU mask. The meta
    device stands in for the GPU on a CPU-only machine."""
    import arche.objectives as objectives

    seen = []

    def loss_sum(model, tokens, t, mask, kind, eps):
        seen.append((tokens.device, t.device, mask.device))
        return torch.tensor(1.0)

    monkeypatch.setattr(objectives, "mdlm_loss_sum", loss_sum)
    monkeypatch.setattr(objectives, "mdlm_normalizer", lambda mask, kind: 1.0)
    monkeypatch.setattr(objectives, "nelbo_by_count", lambda model, tokens, gen, eps: torch.ones(tokens.shape[0]))
    tokens = torch.zeros(2, 8, dtype=torch.long, device="meta")
    held_out_losses(torch.nn.Identity(), "mdlm", [tokens], seed=0, draws=2)
    meta = torch.device("meta")
    assert seen == [(meta, meta, meta)] * 2
