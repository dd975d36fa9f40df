"""Fluency and likelihood of token rows: AR NLL, generative perplexity under a judge, the MDLM
NELBO of given rows, and the infilling check (what only the MDLM can do)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .config import Config
from .denoise import infill
from .device import autocast_for, resolve_device
from .generate import load_model, read_run, reference_rows
from .objectives import alpha, mdlm_loss_sum
from .sample import cut_at_eot, model_device

# -----------------------------------------------------------------------------
# fluency: likelihood of token rows under the AR model and the MDLM bound


def _scored_rows(token_rows, eot):
    """Rows cut after their first EOT (the story's end is scored, what follows is not)."""
    return [cut_at_eot(row, eot, keep_eot=True) if eot is not None else list(row) for row in token_rows]


@torch.no_grad()
def ar_nll_sums(model, prefix, token_rows, device=None, batch_size: int = 64, eot: int | None = None):
    """(summed NLL in nats, number of tokens scored) per row, under the AR model given `prefix`.

    Every token of the row is scored given the prefix and the tokens before it; with an empty prefix
    the row's first token has no context and is not scored. With `eot`, a row is scored up to and
    including its first <|endoftext|>.
    """
    device = model_device(model, device)
    prefix = list(prefix)
    seqs = [prefix + row for row in _scored_rows(token_rows, eot)]
    first = max(len(prefix), 1)  # index in seq of the first token that is scored
    out = []
    for i in range(0, len(seqs), batch_size):
        batch = seqs[i : i + batch_size]
        T = max(len(s) for s in batch)
        if T - 1 > model.max_len:
            raise ValueError(f"a row of {T} tokens with its prefix exceeds the model's max_len {model.max_len}")
        if T < 2:
            out.extend((0.0, 0) for _ in batch)
            continue
        x = torch.zeros(len(batch), T, dtype=torch.long)
        scored = torch.zeros(len(batch), T - 1, dtype=torch.bool)
        for j, s in enumerate(batch):
            x[j, : len(s)] = torch.tensor(s)
            scored[j, first - 1 : len(s) - 1] = True  # target index first .. len-1
        x, scored = x.to(device), scored.to(device)
        logits = model(x[:, :-1]).float()  # causal: right padding does not change real positions
        targets = x[:, 1:]
        nll = (
            F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none").view_as(targets)
            * scored
        )
        out.extend(zip(nll.sum(1).tolist(), scored.sum(1).tolist()))
    return out


def generative_perplexity(
    model, samples, token_rows=None, device=None, batch_size: int = 64, eot: int | None = None
) -> float:
    """exp of the token-weighted mean NLL under the AR model, of either

    * sample records as `generate` writes them (`samples`, no `token_rows`): each record is scored given
      its own prefix, up to and including its first <|endoftext|>; or
    * `token_rows` given the prefix `samples` (cut after the first `eot` when given).
    """
    if token_rows is None:
        groups = {}  # records of one file share a prefix; group anyway so any mix works
        for rec in samples:
            key = (tuple(rec["settings"]["prefix_ids"]), rec["settings"]["eot"])
            groups.setdefault(key, []).append(rec["tokens"])
        sums = [
            s
            for (prefix, eot_id), rows in groups.items()
            for s in ar_nll_sums(model, list(prefix), rows, device, batch_size, eot_id)
        ]
    else:
        sums = ar_nll_sums(model, samples, token_rows, device, batch_size, eot)
    total, count = sum(s for s, _ in sums), sum(c for _, c in sums)
    if count == 0:
        raise ValueError("no tokens to score")
    return math.exp(min(total / count, 700))


@torch.no_grad()
def mdlm_nelbo(
    model, prefix, token_rows, seed: int = 0, n_t: int = 32, device=None, eot: int | None = None, eps: float = 1e-3
) -> list:
    """NELBO (nats/token, an upper bound on the NLL) of each row under the MDLM given `prefix`.

    Each row is one sequence, prefix + row, evaluated at n_t stratified times t in (eps, 1): the row's
    tokens are masked with rate 1 - alpha(t), the prefix never is, and the SUBS cross-entropy of the
    masked tokens is weighted as in training (objectives.mdlm_loss_sum "elbo"). The MDLM attends in both
    directions, so rows are never padded: each row is a batch of n_t copies. None for an empty row.
    """
    device = model_device(model, device)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for row in _scored_rows(token_rows, eot):
        if not row:
            out.append(None)
            continue
        seq = torch.tensor(list(prefix) + row, dtype=torch.long)
        if seq.numel() > model.max_len:
            raise ValueError(
                f"a row of {seq.numel()} tokens with its prefix exceeds max_len {model.max_len}; "
                "load the model with load_model(..., max_len=...)"
            )
        t = eps + (1.0 - eps) * (torch.arange(n_t) + torch.rand(1, generator=gen)) / n_t
        u = torch.rand(n_t, seq.numel(), generator=gen)
        mask = u < (1.0 - alpha(t))[:, None]
        mask[:, : len(prefix)] = False
        tokens = seq[None].expand(n_t, -1).to(device)
        total = mdlm_loss_sum(model, tokens, t.to(device), mask.to(device), "elbo", eps)
        out.append(float(total) / n_t / len(row))
    return out


# -----------------------------------------------------------------------------
# infilling: what only the MDLM can do


def _whole_openings(data, length: int, eot: int, n: int, rng, seed: int) -> list:
    """Up to n held-out story openings of `length` tokens with no story end inside, a seeded subsample in order."""
    rows = [r for r in reference_rows(data, 10**9, length, "openings", seed) if len(r) == length and eot not in r]
    if len(rows) > n:
        rows = [rows[i] for i in np.sort(rng.choice(len(rows), size=n, replace=False))]
    return rows


@torch.no_grad()
def infill_demo(cfg: Config, mdlm_dir, ar_dir, data, n: int = 100, device=None) -> dict:
    """MDLM infilling on held-out stories, scored by the AR model trained on the same data.

    The middle third of up to n held-out story openings (`cfg.sample_length` tokens with no story end
    inside) is masked and filled by the MDLM with `cfg.mdlm_sampler`, the rest of the row fixed. The AR
    model scores whole rows (mean NLL, nats/token, given the prefix), so a fill is rewarded for fitting
    the text on BOTH sides of it. Reference points: the original rows, and the span filled with tokens
    drawn from the held-out unigram distribution.
    """
    device = torch.device(device) if device is not None else resolve_device(cfg)
    saved, codec = read_run(mdlm_dir)
    prefix = [codec.eot] if saved["config"]["eos_between_stories"] else []
    length = cfg.sample_length
    mdlm, codec, _, _ = load_model(mdlm_dir, device=device, max_len=len(prefix) + length)
    ar, ar_codec, _, _ = load_model(ar_dir, device=device, max_len=len(prefix) + length)
    if ar_codec != codec:
        raise ValueError(f"{mdlm_dir} and {ar_dir} use different vocabularies")

    rng = np.random.default_rng(cfg.sample_seed)
    rows = _whole_openings(data, length, codec.eot, n, rng, cfg.sample_seed)
    result = {"n_stories": len(rows), "length": length, "sampler": cfg.mdlm_sampler, "steps": cfg.mdlm_steps}
    if not rows:
        return result
    original = torch.tensor(rows, dtype=torch.long, device=device)
    span = slice(length // 3, 2 * length // 3)
    canvas = original.clone()
    canvas[:, span] = mdlm.mask_id
    with autocast_for(cfg, device):
        filled = infill(
            mdlm,
            prefix,
            canvas,
            cfg.mdlm_sampler,
            cfg.mdlm_steps,
            seed=cfg.sample_seed,
            batch_size=cfg.sample_batch_size,
        )
    stream = np.asarray(data.val).reshape(-1)
    random_fill = original.clone()
    random_fill[:, span] = torch.from_numpy(rng.choice(stream, size=random_fill[:, span].shape).astype(np.int64))

    def mean_nll(batch):
        sums = ar_nll_sums(ar, prefix, batch.tolist(), device, cfg.sample_batch_size)
        return sum(s for s, _ in sums) / sum(c for _, c in sums)

    def show(ids):  # the row as text, the span in brackets
        return f"{codec.decode(ids[: span.start])}[{codec.decode(ids[span])}]{codec.decode(ids[span.stop :])}"

    result.update(
        {
            "span_tokens": span.stop - span.start,
            "ar_nll_original": mean_nll(original),
            "ar_nll_infilled": mean_nll(filled),
            "ar_nll_random": mean_nll(random_fill),
            "span_token_match": float((filled[:, span] == original[:, span]).float().mean()),
            "examples": [
                {"original": show(o), "infilled": show(f)} for o, f in zip(original[:3].tolist(), filled[:3].tolist())
            ],
        }
    )
    return result
