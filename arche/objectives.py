"""Training objectives and the held-out likelihood measures of both paradigms.

AR: next-token cross-entropy. MDLM: tokens are masked independently with rate 1 - alpha(t),
alpha(t) = cos^2(pi t / 2), t ~ U(eps, 1). Two MDLM losses:

* `masked_mean` (the released code): cross-entropy averaged over the masked positions, with no
  weighting over t. Not a likelihood bound, so not comparable with AR's loss.
* `elbo` (Sahoo et al. 2024, SUBS parameterisation): the [MASK] class is never predicted (the head
  has no [MASK] output), unmasked positions carry their input token (they cost nothing), and each
  masked position's cross-entropy is weighted by -alpha'(t) / (1 - alpha(t)) = pi / tan(pi t / 2).
  Averaged over all tokens this is the NELBO, an upper bound on the negative log-likelihood in nats/token.

The MDLM's training noise is drawn from a generator keyed by (seed, step) (bit-exact resume) and for
the global batch (identical results under DDP): `mdlm_step_loss`. Evaluation passes its own noise in.
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


def draw_noise(generator: torch.Generator, batch: int, length: int, eps: float, stratified: bool = False):
    """t ~ U(eps, 1) per sequence and uniforms u per token: a token is masked where u < 1 - alpha(t).

    `stratified` is the MDLM reference's low-discrepancy sampler (kuleshov-group/mdlm, `_sample_t`):
    one shared uniform offset, then t_i = (offset + i / B) mod 1, so a batch of B sequences covers every
    1/B stratum of the noise levels once. Each t is still uniform (the bound stays unbiased), but two
    sequences of a step can no longer both land at high or both at low noise; the order of the strata
    over the batch is shuffled so that no sequence position is tied to a noise range."""
    if stratified:
        offset = torch.rand(1, generator=generator)
        order = torch.randperm(batch, generator=generator)
        t = eps + (1.0 - eps) * torch.remainder(offset + order.double() / batch, 1.0).float()
    else:
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
        # Cross-entropy over rows of a (B*L, V) view, as for AR: a (B, V, L) transpose is a strided
        # layout that made this loss ~3x slower on CPU (and the MDLM step ~2x slower than AR's).
        ce = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), tokens.reshape(-1), reduction="none")
        return (ce.view_as(tokens) * mask).sum()
    if kind == "elbo":
        logp = subs_log_probs(logits, mask_id)
        ce = -logp.gather(-1, tokens[..., None]).squeeze(-1)
        weight = nelbo_weight(t.to(tokens.device)).float()[:, None] * (1.0 - eps)
        return (ce * mask * weight).sum()
    raise ValueError(f"unknown MDLM loss {kind!r}; use 'masked_mean' or 'elbo'")


def nelbo_by_count(model, tokens, gen: torch.Generator, eps: float, mask_id: int | None = None):
    """Per-sequence NELBO (nats/token over tokens 1..L-1, token 0 kept as context), estimated by the
    number of masked tokens rather than by t. The continuous-time NELBO integrates over t; grouping
    its terms by k, the number of masked tokens among n = L-1, gives exactly

        NELBO / n = E_{k ~ U{1..n}} E_{t | k} E_{M: |M| = k} [ (1/k) sum_{i in M} CE_i(x_t, t) ]

    because  integral of -alpha'/(1 - alpha) * P(k masked | t) dt = 1/k,  with t | k distributed so
    that alpha(t) ~ Beta(n - k + 1, k) (the (n-k+1)-th smallest of n uniforms) and M a uniform
    k-subset. Each term is a mean cross-entropy, never a rare mask times a weight of ~2/t, so the
    estimate has a small variance; k is stratified over the batch. Same bound, same model inputs
    (t, x_t) as in training, whatever the schedule."""
    mask_id = model.mask_id if mask_id is None else mask_id
    B, L = tokens.shape
    n = L - 1
    k = 1 + ((torch.randperm(B, generator=gen) + torch.rand(1, generator=gen)) / B * n).long().clamp(max=n - 1)
    a = torch.rand(B, n, generator=gen).sort(dim=1).values.gather(1, (n - k)[:, None]).squeeze(1)
    t = ((2.0 / math.pi) * torch.acos(a.sqrt())).clamp(eps, 1.0)
    rank = torch.rand(B, n, generator=gen).argsort(dim=1).argsort(dim=1)  # a random order of positions
    mask = torch.zeros(B, L, dtype=torch.bool)
    mask[:, 1:] = rank < k[:, None]
    mask, t, k = mask.to(tokens.device), t.to(tokens.device), k.to(tokens.device)
    xt = torch.where(mask, torch.full_like(tokens, mask_id), tokens)
    logp = subs_log_probs(model(xt, t), mask_id)
    ce = -logp.gather(-1, tokens[..., None]).squeeze(-1)
    return (ce * mask).sum(dim=1) / k


def mdlm_normalizer(mask, kind: str) -> float:
    """What the summed loss is divided by: masked tokens (masked_mean) or all tokens (elbo)."""
    return float(max(int(mask.sum()), 1)) if kind == "masked_mean" else float(mask.numel())


# The validation noise (times and masks) is the same for every arm and training seed, so that
# differences between seeds are differences between models, not between draws of the noise.
EVAL_SEED = 7919


@torch.no_grad()
def held_out_losses(
    model,
    paradigm: str,
    batches,
    seed: int = EVAL_SEED,
    eps: float = 1e-3,
    mdlm_loss: str = "masked_mean",
    draws: int = 1,
    autocast=None,
) -> dict:
    """Deterministic held-out measures on a fixed list of token batches.

    AR: `val_nll` (nats/token over tokens 1..L-1 of each chunk, given the tokens before them).
    MDLM: `val_masked_mean` (the published loss) and `val_nelbo` (nats/token over the SAME tokens
    1..L-1, token 0 left unmasked as context, so the bound is comparable with AR's NLL). Perplexities
    are exp of those.

    The MDLM measures are Monte Carlo estimates over (t, mask). `draws` independent replicates of the
    whole validation set are averaged (at most 4 for the masked mean, which has far less noise): the
    masked mean with t stratified over the batch, the NELBO by
    `nelbo_by_count` (the same bound, grouped by the number of masked tokens: a far smaller variance
    than weighting rare masks by ~2/t). `val_nelbo_se` and `val_masked_mean_se` are the standard errors
    of the means over replicates, sd / sqrt(draws): the noise of the estimate for these weights and
    these tokens, not a between-model spread. The noise comes from a generator
    seeded by `seed`, so two evaluations of the same weights give the same numbers.
    """
    autocast = autocast or torch.autocast("cpu", enabled=False)
    was_training = model.training
    model.eval()
    try:
        if paradigm == "ar":
            return _ar_held_out(model, batches, autocast)
        return _mdlm_held_out(model, batches, torch.Generator().manual_seed(seed), eps, mdlm_loss, draws, autocast)
    finally:
        model.train(was_training)


def _ar_held_out(model, batches, autocast) -> dict:
    nll = nll_n = 0.0
    for tokens in batches:
        with autocast:
            s, n = ar_loss_sum(model, tokens)
        nll, nll_n = nll + float(s), nll_n + n
    v = nll / nll_n
    return {"val_loss": v, "val_nll": v, "val_ppl": math.exp(min(v, 700))}


def _mdlm_held_out(model, batches, gen, eps, mdlm_loss, draws, autocast) -> dict:
    # The published masked mean has far less noise than the NELBO (no weight over t): a few replicates
    # measure it; the rest of the forward passes go to the bound.
    mm_draws = min(draws, 4)
    mm, mm_n = [0.0] * mm_draws, [0.0] * mm_draws
    nelbo, nelbo_n = [0.0] * draws, [0.0] * draws
    for tokens in batches:
        B, L = tokens.shape
        with autocast:
            for r in range(draws):
                if r < mm_draws:
                    # Stratified t over the batch lowers the variance of each replicate at no cost.
                    t = eps + (1.0 - eps) * ((torch.arange(B) + torch.rand(1, generator=gen)) / B)
                    u = torch.rand(B, L, generator=gen)
                    # drawn on the CPU (the same noise on every device), used where the tokens are
                    mask = masked_positions(t, u).to(tokens.device)
                    t = t.to(tokens.device)
                    mm[r] += float(mdlm_loss_sum(model, tokens, t, mask, "masked_mean", eps))
                    mm_n[r] += mdlm_normalizer(mask, "masked_mean")
                nelbo[r] += float(nelbo_by_count(model, tokens, gen, eps).sum())
                nelbo_n[r] += B
    mm_r = [a / b for a, b in zip(mm, mm_n)]
    nelbo_r = [a / b for a, b in zip(nelbo, nelbo_n)]
    m_mm, m_nelbo = sum(mm_r) / mm_draws, sum(nelbo_r) / draws
    se_mm, se_nelbo = _standard_error(mm_r), _standard_error(nelbo_r)
    # val_loss follows the training objective, so "best checkpoint" means best at what was trained.
    return {
        "val_loss": m_mm if mdlm_loss == "masked_mean" else m_nelbo,
        "val_loss_se": se_mm if mdlm_loss == "masked_mean" else se_nelbo,
        "val_masked_mean": m_mm,
        "val_masked_mean_se": se_mm,
        "val_nelbo": m_nelbo,
        "val_nelbo_se": se_nelbo,
        "val_ppl_bound": math.exp(min(m_nelbo, 700)),
    }


def _standard_error(values) -> float | None:
    """sd / sqrt(n) of independent replicates; None for a single one."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def unigram_cross_entropy(train_tokens, val_tokens, vocab_size: int, seq_len: int | None = None) -> float:
    """The unigram baseline (nats/token): the held-out cross-entropy of a model that knows only how
    often each token occurs in the TRAINING tokens (add-1/2 smoothing over the vocabulary, so a token
    unseen in training costs a finite amount), on the validation tokens that the bounds score (tokens
    1..L-1 of each `seq_len` chunk). A model not below it has learned nothing about order; the entropy
    of the validation tokens' own frequencies would be a lower, in-sample, number."""
    import numpy as np

    counts = np.bincount(np.asarray(train_tokens).reshape(-1).astype(np.int64), minlength=vocab_size)[:vocab_size]
    p = (counts + 0.5) / (counts.sum() + 0.5 * vocab_size)
    val = np.asarray(val_tokens).astype(np.int64)
    if seq_len:
        val = val.reshape(-1, seq_len)[:, 1:]
    return float(-np.log(p[val.reshape(-1)]).mean())


def escape_step(curve: list[dict], baseline: float, key: str) -> int | None:
    """The first evaluated step whose bound (`key`: val_nll or val_nelbo) is below the unigram baseline
    by more than two standard errors of its estimate (`val_nelbo_se`): where a run left the unigram
    plateau. None when it never did."""
    for row in curve:
        value = row.get(key)
        if value is not None and value + 2 * (row.get("val_nelbo_se") or 0.0) < baseline:
            return int(row["step"])
    return None


def noise_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def mdlm_step_loss(fwd, tokens, cfg, step, rank, world, mask_id, micro=0):
    """Noise for the global batch, this rank's micro-batch of it, normalised by the global count (so
    the micro-batches of all ranks sum to the loss of the whole batch)."""
    t, u = draw_noise(
        noise_generator(cfg.seed, step),
        cfg.batch_size,
        cfg.seq_len,
        cfg.mdlm_eps,
        stratified=cfg.mdlm_time_sampling == "stratified",
    )
    mask = masked_positions(t, u)
    norm = mdlm_normalizer(mask, cfg.mdlm_loss)
    per = cfg.batch_size // world // cfg.grad_accum
    first = rank * (cfg.batch_size // world) + micro * per
    sl = slice(first, first + per)
    t, mask = _to(t[sl], tokens.device), _to(mask[sl], tokens.device)
    total = mdlm_loss_sum(fwd, tokens, t, mask, cfg.mdlm_loss, cfg.mdlm_eps, mask_id)
    return total * (world / norm)


def _to(x, device):
    """Host-to-device copy that does not stall the GPU queue (pinned, non-blocking)."""
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x
