"""The masked diffusion samplers: a canvas of [MASK] filled over `steps` rounds (tensors in, out). AR's
KV-cached decoding is arche.sample; what a round does to its rows (draws, ranking, penalties) is arche.unmask.

* `sample_mdlm` with `sampler=` one of
  - "confidence": the paper's text (section 3.4, Appendix A). Each round predicts every masked
    position with temperature linear from 1.2 to 0.5 and a repetition penalty of 1.3 on tokens already
    in the sequence (applied correctly for both signs), samples a token per position, and unmasks the
    ceil(remaining / rounds_left) positions with the highest MAXIMUM softmax probability (ties broken
    at random). Ranking by the probability of the sampled token instead would favour positions whose
    draw hit the mode and collapse the samples onto it; that is the "published" and "remask" rule.
  - "published": the released code, batched (it sampled one sequence at a time): t from 1 to 1/steps,
    temperature 0.8 (0.4 + 0.6 t) floored at 0.1, logits DIVIDED by min(1.3^count, 5) whatever their
    sign (which boosts tokens whose logit is negative), unmask the top max(1, masked // steps_left),
    argmax fill of any leftovers at t = 0.
  - "ancestral": MDLM's own sampler (Sahoo et al. 2024): from t to s every masked position is revealed
    with probability (alpha(s) - alpha(t)) / (1 - alpha(t)), its token drawn from the SUBS distribution.
  - "confidence_plain": the paper's confidence rule (unmask the positions of highest maximum
    probability) with neither its temperature schedule nor its repetition penalty: temperature 1, the
    model's own distribution at every position it reveals. The controlled comparison's second sampler.
  - "remask": LLaDA-style low-confidence remasking: temperature 1, no penalty, positions ranked by the
    probability of the token drawn there.

The MDLM's head predicts the real vocabulary only, as in the released code (`nn.Linear(d, V)`), so no
sampler can draw [MASK]; slicing `[..., :vocab_size]` keeps that true for a model with a [MASK] output.
`infill` runs the same samplers on a canvas whose known tokens are fixed (`infill_demo` scores it).

Randomness comes from one `torch.Generator` seeded by `seed`, consumed batch after batch, so a
(seed, batch_size) pair gives the same samples on the same device; other batch sizes give others.
"""

from __future__ import annotations

import math
import time

import torch

from .config import MDLM_SAMPLERS
from .model import Transformer
from .objectives import alpha
from .progress import Progress
from .sample import batch_spans, log_sample_progress, model_device, seeded_generator
from .unmask import (
    at_seen,
    draw_rows,
    draw_tokens,
    filled_only,
    fp32_copy,
    max_confidence,
    most_confident,
    released_penalty_divisor,
    rows_of,
    sampled_at,
    seen_pairs,
    token_counts,
)

# Settings of each MDLM sampler besides steps; `sample_mdlm(..., **options)` overrides them.
SAMPLER_DEFAULTS = {
    "confidence": dict(temperature_start=1.2, temperature_end=0.5, repetition_penalty=1.3, rank_by="max"),
    "published": dict(temperature=0.8, min_temperature=0.1, repetition_penalty=1.3, penalty_cap=5.0),
    "confidence_plain": dict(temperature_start=1.0, temperature_end=1.0, repetition_penalty=1.0, rank_by="max"),
    "ancestral": dict(temperature=1.0),
    "remask": dict(temperature_start=1.0, temperature_end=1.0, repetition_penalty=1.0, rank_by="sampled"),
}

# -----------------------------------------------------------------------------
# masked diffusion sampling: shared pieces


def denoise_logits(model, prefix, canvas, t: float):
    """Logits (B, length, vocab_size) of the canvas given the fixed prefix, at diffusion time t."""
    B = canvas.size(0)
    x = torch.cat([prefix.expand(B, -1), canvas], dim=1)
    logits = model(x, torch.full((B,), float(t), device=canvas.device))
    return logits[:, prefix.numel() :]


def denoise_logits_at(model, prefix, canvas, t: float, where):
    """Logits (M, vocab_size) of the canvas positions where `where` (B, length) is True, in
    `canvas[where]` order: the same values as `denoise_logits(...)[where]`, with the output head computed
    only there when the model can (arche's Transformer); about half the work of a round."""
    if not isinstance(model, Transformer):
        return denoise_logits(model, prefix, canvas, t)[where]
    B = canvas.size(0)
    x = torch.cat([prefix.expand(B, -1), canvas], dim=1)
    full = torch.zeros(B, prefix.numel(), dtype=torch.bool, device=canvas.device)
    return model(x, torch.full((B,), float(t), device=canvas.device), where=torch.cat([full, where], dim=1))


def time_for_masked_fraction(frac: float) -> float:
    """The t whose mask rate 1 - cos^2(pi t / 2) equals `frac`: the model sees the time that matches
    how much of the canvas is actually masked."""
    return (2.0 / math.pi) * math.acos(math.sqrt(max(0.0, 1.0 - frac)))


# -----------------------------------------------------------------------------
# the MDLM samplers, one batch each


def _penalised_and_tempered(V, seen_ids, repetition_penalty, temperature):
    """The confidence sampler's logits transform for one round: the paper's repetition penalty on the tokens
    already in the row (seen_ids), then the round's temperature."""

    def transform(rows, seq):
        # Only the entries of used tokens change; the same values as
        # apply_repetition_penalty(rows, seen[seq], penalty) without an (M, V) mask.
        rows = fp32_copy(rows[:, :V])  # [MASK] is never a candidate
        if seen_ids is not None and seen_ids.size(1):
            i, j = at_seen(rows, seq, seen_ids)
            vals = rows[i, j]
            rows[i, j] = torch.where(vals > 0, vals / repetition_penalty, vals * repetition_penalty)
        return rows / temperature

    return transform


def _confidence_batch(
    model, prefix, canvas, steps, gen, trace, temperature_start, temperature_end, repetition_penalty, rank_by
):
    """The paper's confidence-based unmasking (see the module docstring); also "remask".

    `rank_by="max"` ranks positions by their largest softmax probability (the paper, Appendix A):
    where to commit does not depend on what was drawn, so each committed token keeps the sampling
    distribution. `"sampled"` ranks by the drawn token's probability (LLaDA's low-confidence
    remasking), which prefers positions whose draw hit the mode and so skews commits towards it."""
    V, mask_id = model.vocab_size, model.mask_id
    B, length = canvas.shape
    n_masked = (canvas == mask_id).sum(dim=1)
    if bool((n_masked != n_masked[0]).any()):
        raise ValueError("the confidence sampler needs the same number of masked positions in every row")
    # With more steps than masked positions the ceil rule unmasks one per round and finishes early;
    # the temperature schedule spans the rounds that actually run.
    rounds = min(steps, int(n_masked[0]))
    fillable = canvas == mask_id
    for r in range(rounds):
        masked = canvas == mask_id
        remaining = int(masked[0].sum())  # every row unmasks the same number, so all rows agree
        t = time_for_masked_fraction(remaining / length)
        temperature = temperature_start + (temperature_end - temperature_start) * r / max(rounds - 1, 1)
        seen_ids = (
            seen_pairs(token_counts(filled_only(canvas, fillable, mask_id), V) > 0)
            if repetition_penalty != 1.0
            else None
        )
        transform = _penalised_and_tempered(V, seen_ids, repetition_penalty, temperature)
        rows, seq = denoise_logits_at(model, prefix, canvas, t, masked), rows_of(masked)
        k = math.ceil(remaining / (rounds - r))
        if rank_by == "max":  # rank first, then draw only the k tokens kept per sequence
            conf, uniforms = max_confidence(rows, seq, transform, gen)
            confidence = torch.full(masked.shape, float("-inf"), device=canvas.device)
            confidence[masked] = conf
            chosen = most_confident(confidence, torch.full((B,), k, device=canvas.device), gen)
            keep = chosen[masked]
            canvas = canvas.clone()
            canvas[chosen] = draw_rows(rows[keep], seq[keep], transform, uniforms[keep])
        else:
            sampled, confidence = sampled_at(masked, *draw_tokens(rows, seq, transform, gen, confidence=rank_by))
            chosen = most_confident(confidence, torch.full((B,), k, device=canvas.device), gen)
            canvas = torch.where(chosen, sampled, canvas)
        record(
            trace,
            lambda: {
                "round": r,
                "t": t,
                "temperature": temperature,
                "masked": remaining,
                "unmasked": k,
                "canvas": canvas.detach().cpu().clone(),
            },
        )  # the canvas after this round: for a denoising trace
    return canvas


def _published_batch(
    model, prefix, canvas, steps, gen, trace, temperature, min_temperature, repetition_penalty, penalty_cap
):
    """The released code's sampler, batched with the same per-sequence semantics."""
    V, mask_id = model.vocab_size, model.mask_id
    fillable = canvas == mask_id
    for step in range(steps):
        masked = canvas == mask_id
        n_masked = masked.sum(dim=1)
        if not bool(n_masked.any()):
            break
        t = 1.0 - step / steps
        temp = max(temperature * (0.4 + 0.6 * t), min_temperature)
        counts = token_counts(filled_only(canvas, fillable, mask_id), V)
        divisor = released_penalty_divisor(counts, repetition_penalty, penalty_cap)
        seen_ids = seen_pairs(counts > 0)

        def transform(rows, seq):
            # The divisor is exactly 1 for unused tokens: only the used tokens' entries are divided
            # (the same values as rows / divisor[seq], without an (M, V) gather).
            rows = fp32_copy(rows[:, :V])
            if seen_ids.size(1):
                i, j = at_seen(rows, seq, seen_ids)
                rows[i, j] = rows[i, j] / divisor[seq[i], j]
            return rows / temp

        rows = denoise_logits_at(model, prefix, canvas, t, masked)
        sampled, confidence = sampled_at(masked, *draw_tokens(rows, rows_of(masked), transform, gen))
        k = torch.minimum((n_masked // (steps - step)).clamp(min=1), n_masked)
        chosen = most_confident(confidence, k, gen)
        canvas = torch.where(chosen, sampled, canvas)
        row = {"round": step, "t": t, "temperature": temp}
        record(trace, lambda: {**row, "masked": n_masked.tolist(), "unmasked": k.tolist()})
    masked = canvas == mask_id
    if bool(masked.any()):
        # Leftovers (only when steps ran out first): argmax of the plain logits at t = 0.
        fill = denoise_logits(model, prefix, canvas, 0.0)[..., :V].argmax(dim=-1)
        canvas = torch.where(masked, fill, canvas)
    return canvas


def _ancestral_batch(model, prefix, canvas, steps, gen, trace, temperature):
    """MDLM's ancestral sampler on the cosine schedule (SUBS: [MASK] never drawn)."""
    V, mask_id = model.vocab_size, model.mask_id
    B, length = canvas.shape
    grid = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    for i in range(steps):
        t, s = float(grid[i]), float(grid[i + 1])
        a_t, a_s = float(alpha(grid[i])), float(alpha(grid[i + 1]))
        p_reveal = 1.0 if s == 0.0 else (a_s - a_t) / (1.0 - a_t)
        masked = canvas == mask_id
        reveal = masked & (torch.rand(B, length, generator=gen, device=canvas.device) < p_reveal)
        record(
            trace, lambda: {"round": i, "t": t, "masked": masked.sum(1).tolist(), "unmasked": reveal.sum(1).tolist()}
        )
        if not bool(reveal.any()):
            continue  # nothing changes this step: skip the forward pass

        def transform(rows, seq):
            return rows[:, :V].float() / temperature

        tokens, _ = draw_tokens(denoise_logits_at(model, prefix, canvas, t, reveal), rows_of(reveal), transform, gen)
        canvas = canvas.masked_scatter(reveal, tokens)
    return canvas


BATCH_SAMPLERS = {  # keyed by config.MDLM_SAMPLERS (tests/test_denoise.py checks they match)
    "confidence": _confidence_batch,
    "confidence_plain": _confidence_batch,
    "remask": _confidence_batch,
    "published": _published_batch,
    "ancestral": _ancestral_batch,
}


@torch.no_grad()
def sample_mdlm(
    model,
    prefix,
    n: int,
    length: int,
    sampler: str = "confidence",
    steps: int = 100,
    seed: int = 0,
    batch_size: int | None = None,
    device=None,
    trace: list | None = None,
    log=None,
    **options,
):
    """(n, length) LongTensor of new tokens: `length` positions after the fixed `prefix` start fully
    masked and are unmasked by `sampler` in `steps` rounds. `options` override SAMPLER_DEFAULTS.
    `trace`, when a list, receives one dict per round (masked count before it, number unmasked, t...).
    """
    device = model_device(model, device)
    canvas = torch.full((n, length), model.mask_id if model.mask_id is not None else 0, dtype=torch.long, device=device)
    return run_mdlm(model, prefix, canvas, sampler, steps, seed, batch_size, trace, log, options)


def record(trace, row) -> None:
    """One round into `trace`: a list gets the dict `row()` builds (copies of the canvas: a trace to read);
    a RoundProgress gets only the count, so progress costs no copy and no device sync."""
    if trace is not None:
        trace.append(row() if isinstance(trace, list) else None)


PROGRESS_EVERY_S = 20.0  # seconds between two progress lines of a sample set


class RoundProgress:
    """A stand-in for a sampler's trace list that keeps nothing and counts rounds on a progress line
    (arche.progress: live where the output can redraw, and logged every `every` seconds, since a whole
    sample set is otherwise silent for minutes)."""

    def __init__(self, log, name: str, total: int, every: float | None = None):
        every = PROGRESS_EVERY_S if every is None else every
        self.progress = Progress(name, total, unit="round", log=log, every_s=every)

    def append(self, _row) -> None:
        self.progress.update(self.progress.done + 1)


def run_mdlm(model, prefix, canvas, sampler, steps, seed, batch_size, trace, log, options):
    """Unmask every [MASK] of `canvas` (n, length), batch by batch; the other tokens stay as they are."""
    if sampler not in BATCH_SAMPLERS:
        raise ValueError(f"unknown MDLM sampler {sampler!r}; choose one of {list(MDLM_SAMPLERS)}")
    unknown = set(options) - set(SAMPLER_DEFAULTS[sampler])
    if unknown:
        raise ValueError(f"sampler {sampler!r} takes no option(s) {sorted(unknown)}")
    if model.mask_id is None:
        raise ValueError("MDLM sampling needs the diffusion model (this one is autoregressive)")
    if len(prefix) + canvas.size(1) > model.max_len:
        raise ValueError(
            f"a prefix of {len(prefix)} tokens plus a canvas of {canvas.size(1)} exceeds the "
            f"model's max_len {model.max_len}"
        )
    settings = {**SAMPLER_DEFAULTS[sampler], **options}
    gen = seeded_generator(seed, canvas.device)
    prefix_t = torch.tensor(prefix, dtype=torch.long, device=canvas.device).reshape(1, -1)
    out, t0 = [], time.perf_counter()
    spans = batch_spans(canvas.size(0), batch_size)
    if trace is None and log is not None:  # a set of 300 x 100 rounds runs for minutes: say how far it is
        trace = RoundProgress(log, f"mdlm/{sampler}", steps * len(spans))
    say = trace.progress.write if isinstance(trace, RoundProgress) else log
    try:
        for start, size in spans:
            known = canvas[start : start + size]
            done = BATCH_SAMPLERS[sampler](model, prefix_t, known.clone(), steps, gen, trace, **settings)
            assert not (done == model.mask_id).any(), f"{sampler} sampler left a [MASK] in its output"
            fixed = known != model.mask_id
            assert torch.equal(done[fixed], known[fixed]), f"{sampler} sampler changed a known token"
            out.append(done)
            log_sample_progress(say, f"mdlm/{sampler}", start, size, canvas.size(0), t0)
    finally:  # the live line ends with the set, or before its error
        if isinstance(trace, RoundProgress):
            trace.progress.close()
    return torch.cat(out)


@torch.no_grad()
def infill(
    model,
    prefix,
    canvas,
    sampler: str = "confidence",
    steps: int = 100,
    seed: int = 0,
    batch_size: int | None = None,
    trace: list | None = None,
    log=None,
    **options,
):
    """Fill the [MASK] positions of `canvas` (n, length), keeping its other tokens and the prefix.
    The confidence samplers need the same number of masked positions in every row."""
    return run_mdlm(model, prefix, canvas, sampler, steps, seed, batch_size, trace, log, options)
