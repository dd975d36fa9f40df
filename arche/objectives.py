"""Training objectives and the held-out likelihood measures of both paradigms.

AR: next-token cross-entropy. MDLM: tokens are masked independently with rate 1 - alpha(t),
alpha(t) = cos^2(pi t / 2), t ~ U(eps, 1). Two MDLM losses:

* `masked_mean` (the released code): cross-entropy averaged over the masked positions, with no
  weighting over t. Not a likelihood bound, so not comparable with AR's loss.
* `elbo` (Sahoo et al. 2024, SUBS parameterisation): the [MASK] class is never predicted (the head
  has no [MASK] output), unmasked positions carry their input token (they cost nothing), and each masked position's cross-entropy
  is weighted by -alpha'(t) / (1 - alpha(t)) = pi / tan(pi t / 2). Averaged over all tokens this is
  the NELBO, an upper bound on the negative log-likelihood in nats/token.

Noise is passed in rather than drawn here, so that the training loop can draw it from a generator
keyed by the step (bit-exact resume) and for the global batch (identical results under DDP).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def alpha(t):
    """Probability that a token is still unmasked at time t."""
    return torch.cos(0.5 * math.pi * t) ** 2


def mask_rate(t):
    return 1.0 - alpha(t)


def nelbo_weight(t):
    """-alpha'(t) / (1 - alpha(t)) for the cosine schedule; ~2/t near 0."""
    return math.pi / torch.tan(0.5 * math.pi * t)


def draw_noise(generator: torch.Generator, batch: int, length: int, eps: float):
    """t ~ U(eps, 1) per sequence and uniforms u per token: a token is masked where u < 1 - alpha(t)."""
    t = eps + (1.0 - eps) * torch.rand(batch, generator=generator)
    u = torch.rand(batch, length, generator=generator)
    return t, u


def masked_positions(t, u, keep_first: bool = False):
    mask = u < mask_rate(t)[:, None]
    if keep_first:
        mask[:, 0] = False
    return mask


def ar_loss_sum(model, tokens):
    """Summed next-token cross-entropy (nats) and the number of predicted tokens."""
    logits = model(tokens[:, :-1])
    targets = tokens[:, 1:]
    loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum")
    return loss, targets.numel()


def subs_log_probs(logits, mask_id: int):
    """SUBS: the [MASK] class gets probability zero; log-softmax over the real vocabulary."""
    return F.log_softmax(logits.float()[..., :mask_id], dim=-1)


def mdlm_loss_sum(model, tokens, t, mask, kind: str, eps: float, mask_id: int | None = None):
    """Summed MDLM loss terms over the batch; the caller divides by `mdlm_normalizer`.

    `masked_mean`: plain cross-entropy summed over masked positions.
    `elbo`: NELBO-weighted SUBS cross-entropy summed over masked positions, times (1 - eps) because
    t is drawn from U(eps, 1) rather than U(0, 1).
    """
    mask_id = model.mask_id if mask_id is None else mask_id  # wrappers (DDP) hide the attribute
    xt = torch.where(mask, torch.full_like(tokens, mask_id), tokens)
    logits = model(xt, t.to(tokens.device))
    if kind == "masked_mean":
        ce = F.cross_entropy(logits.float().transpose(1, 2), tokens, reduction="none")
        return (ce * mask).sum()
    if kind == "elbo":
        logp = subs_log_probs(logits, mask_id)
        ce = -logp.gather(-1, tokens[..., None]).squeeze(-1)
        weight = nelbo_weight(t.to(tokens.device)).float()[:, None] * (1.0 - eps)
        return (ce * mask * weight).sum()
    raise ValueError(f"unknown MDLM loss {kind!r}; use 'masked_mean' or 'elbo'")


def mdlm_normalizer(mask, kind: str) -> float:
    """What the summed loss is divided by: masked tokens (masked_mean) or all tokens (elbo)."""
    return float(max(int(mask.sum()), 1)) if kind == "masked_mean" else float(mask.numel())


@torch.no_grad()
def evaluate(model, paradigm: str, batches, seed: int, eps: float, mdlm_loss: str = "masked_mean",
             autocast=None) -> dict:
    """Deterministic held-out measures on a fixed list of token batches.

    AR: `val_nll` (nats/token over tokens 1..L-1 of each chunk, given the tokens before them).
    MDLM: `val_masked_mean` (the published loss) and `val_nelbo` (nats/token over the SAME tokens
    1..L-1, token 0 left unmasked as context, so the bound is comparable with AR's NLL). Perplexities
    are exp of those. The masking noise comes from a generator seeded by `seed`, so two evaluations
    of the same weights give the same numbers.
    """
    autocast = autocast or torch.autocast("cpu", enabled=False)
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    totals = {}

    def add(key, value):
        totals[key] = totals.get(key, 0.0) + float(value)

    for tokens in batches:
        with autocast:
            if paradigm == "ar":
                s, n = ar_loss_sum(model, tokens)
                add("nll", s), add("nll_n", n)
                continue
            B, L = tokens.shape
            # Stratified t over the batch lowers the variance of the estimate at no cost.
            offsets = torch.rand(1, generator=gen)
            t = eps + (1.0 - eps) * ((torch.arange(B) + offsets) / B)
            u = torch.rand(B, L, generator=gen)
            mask = masked_positions(t, u)
            add("mm", mdlm_loss_sum(model, tokens, t, mask, "masked_mean", eps))
            add("mm_n", mdlm_normalizer(mask, "masked_mean"))
            mask0 = masked_positions(t, u, keep_first=True)
            add("nelbo", mdlm_loss_sum(model, tokens, t, mask0, "elbo", eps))
            add("nelbo_n", B * (L - 1))
    model.train(was_training)
    if paradigm == "ar":
        nll = totals["nll"] / totals["nll_n"]
        return {"val_loss": nll, "val_nll": nll, "val_ppl": math.exp(min(nll, 700))}
    mm = totals["mm"] / totals["mm_n"]
    nelbo = totals["nelbo"] / totals["nelbo_n"]
    # val_loss follows the training objective, so "best checkpoint" means best at what was trained.
    return {"val_loss": mm if mdlm_loss == "masked_mean" else nelbo, "val_masked_mean": mm,
            "val_nelbo": nelbo, "val_ppl_bound": math.exp(min(nelbo, 700))}
