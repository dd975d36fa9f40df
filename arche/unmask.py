"""What a masked diffusion sampler does to the rows of one round: draw a token per masked position, rank
positions by confidence, penalise repeated tokens (both the paper's rule and the released code's). Tensors
in, tensors out; the samplers that call these in their rounds are arche.denoise."""

from __future__ import annotations

import torch

from .sample import sample_from, sample_with_uniforms

ROW_CHUNK = 4096  # rows of (rows, vocab) probabilities handled at once: bounds memory at any batch size


def draw_tokens(rows, seq, transform, gen, confidence: str = "sampled"):
    """One token per row of `rows` (M, vocab_size) from softmax(transform(rows, seq)); `seq` (M,) is each
    row's sequence in the batch. Returns (tokens, confidences), where a row's confidence is the
    probability of the token drawn (`confidence="sampled"`) or the row's largest probability
    (`"max"`, the paper's rule). Done in chunks of rows so that the float copies stay small."""
    tokens, conf = [], []
    for r, s in zip(rows.split(ROW_CHUNK), seq.split(ROW_CHUNK)):
        probs = transform(r, s).softmax(dim=-1)
        tok = sample_from(probs, gen)
        tokens.append(tok.squeeze(1))
        conf.append(probs.amax(dim=1) if confidence == "max" else probs.gather(1, tok).squeeze(1))
    return torch.cat(tokens), torch.cat(conf)


def max_confidence(rows, seq, transform, gen):
    """The first half of `draw_tokens(..., confidence="max")`: each row's largest probability, and the
    uniform `sample_from` would have used for it (drawn in the same order from `gen`, so the stream
    is the same). The token itself is drawn later by `draw_rows`, only for the rows that are kept:
    the ranking by maximum probability does not depend on the draw, and the rows are independent."""
    conf, uniforms = [], []
    for r, s in zip(rows.split(ROW_CHUNK), seq.split(ROW_CHUNK)):
        probs = transform(r, s).softmax(dim=-1)
        uniforms.append(torch.rand(probs.size(0), 1, generator=gen, device=probs.device, dtype=probs.dtype))
        conf.append(probs.amax(dim=1))
    return torch.cat(conf), torch.cat(uniforms)


def draw_rows(rows, seq, transform, uniforms):
    """Tokens (M,) of `rows` drawn with their given uniforms: what `draw_tokens` returns for those rows."""
    tokens = [
        sample_with_uniforms(transform(r, s).softmax(dim=-1), u).squeeze(1)
        for r, s, u in zip(rows.split(ROW_CHUNK), seq.split(ROW_CHUNK), uniforms.split(ROW_CHUNK))
    ]
    return torch.cat(tokens) if tokens else torch.zeros(0, dtype=torch.long, device=rows.device)


def seen_pairs(seen):
    """(B, K) token ids each sequence has used (`seen` (B, V) bool), padded with -1, K the most used."""
    b, v = seen.nonzero(as_tuple=True)
    counts = seen.sum(dim=1)
    K = int(counts.max()) if counts.numel() else 0
    ids = torch.full((seen.size(0), K), -1, dtype=torch.long, device=seen.device)
    if K:
        offsets = torch.cumsum(counts, 0) - counts
        ids[b, torch.arange(b.numel(), device=seen.device) - offsets[b]] = v
    return ids


def at_seen(rows, seq, seen_ids):
    """(row, column) index pairs of the entries of `rows` (M, V) whose token its sequence has used."""
    ids = seen_ids[seq]  # (M, K)
    r, k = (ids >= 0).nonzero(as_tuple=True)
    return r, ids[r, k]


def fp32_copy(rows):
    return rows.to(torch.float32, copy=True)


def sampled_at(masked, tokens, probs):
    """Scatter per-row draws back onto the (B, length) canvas; confidence -inf where nothing was drawn."""
    sampled = torch.zeros(masked.shape, dtype=torch.long, device=masked.device)
    confidence = torch.full(masked.shape, float("-inf"), device=masked.device)
    sampled[masked] = tokens
    confidence[masked] = probs
    return sampled, confidence


def rows_of(masked):
    """Index of the sequence each masked position belongs to, in the order `x[masked]` lists them."""
    B, L = masked.shape
    return torch.arange(B, device=masked.device)[:, None].expand(B, L)[masked]


def most_confident(confidence, k, gen):
    """Boolean (B, length): the k[b] most confident positions of each row, ties broken at random.

    Positions are shuffled by random keys first and then stably sorted by confidence, which orders them
    by (confidence, random key). Positions with confidence -inf are never chosen.
    """
    B, L = confidence.shape
    shuffle = torch.rand(B, L, generator=gen, device=confidence.device).argsort(dim=1)
    order = confidence.gather(1, shuffle).argsort(dim=1, descending=True, stable=True)
    ranked = shuffle.gather(1, order)  # positions, most confident first
    take = torch.arange(L, device=confidence.device)[None, :] < k[:, None]
    chosen = torch.zeros(B, L, dtype=torch.bool, device=confidence.device).scatter(1, ranked, take)
    assert not (chosen & (confidence == float("-inf"))).any(), "asked to unmask more positions than drawn"
    return chosen


def token_counts(canvas, vocab_size: int):
    """(B, vocab_size) occurrences of each real token on the canvas ([MASK] not counted)."""
    counts = torch.zeros(canvas.size(0), vocab_size + 1, dtype=torch.long, device=canvas.device)
    counts.scatter_add_(1, canvas, torch.ones_like(canvas))
    return counts[:, :vocab_size]


def filled_only(canvas, fillable, mask_id: int):
    """The canvas with its fixed tokens (infilling context) hidden as [MASK]: the repetition penalty
    counts only what the sampler itself wrote. For unconditional sampling every position is fillable."""
    return torch.where(fillable, canvas, torch.full_like(canvas, mask_id))


def apply_repetition_penalty(logits, seen, penalty: float):
    """Push down the logits of tokens already used, whatever their sign: positive logits are divided by
    `penalty`, negative ones multiplied (dividing a negative logit would RAISE its probability)."""
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


def released_penalty_divisor(counts, base: float = 1.3, cap: float = 5.0):
    """What the released code divided each logit by: min(base^count, cap), 1 for unused tokens.
    Dividing regardless of sign RAISES a negative logit, so a repeated unlikely token gains probability."""
    return (base ** counts.float()).clamp(max=cap)
