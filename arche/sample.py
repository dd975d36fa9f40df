"""Sampling from trained models, real reference rows, and the fluency measures of samples.

Prefix rule. Both models start from the same context:

    prefix = [<|endoftext|>] if the training data had end-of-text between stories else []
             + the prompt's tokens (`ar_prompt` for AR, `mdlm_prompt` for MDLM)

Under the published protocol (no end-of-text in the data) AR is prompted with "Once" and MDLM starts
from a fully masked canvas with no prefix, as in the released code. Under the controlled protocol both
start from <|endoftext|>, the token that begins every story in their training data. An AR model with
an empty prefix has no context to start from, which is an error. Samples are `length` NEW tokens after
the prefix (AR does not stop at <|endoftext|>); a sample's text is the prompt plus the new tokens up
to the first <|endoftext|>, which is where the story ends (the tokens are kept in full).

Samplers:

* `sample_ar`: KV-cached incremental decoding, temperature, then top-k, then top-p.
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
  - "remask": LLaDA-style low-confidence remasking: temperature 1, no penalty, positions ranked by the
    probability of the token drawn there.

The MDLM's head predicts the real vocabulary only, as in the released code (`nn.Linear(d, V)`), so no
sampler can draw [MASK]; slicing `[..., :vocab_size]` keeps that true for a model with a [MASK] output.
`infill` runs the same samplers on a canvas whose known tokens are fixed (`infill_demo` scores it).

Randomness comes from one `torch.Generator` seeded by `seed`, consumed batch after batch, so a
(seed, batch_size) pair gives the same samples on the same device; other batch sizes give others.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint
from .config import Config
from .io import atomic_write, read_jsonl
from .model import KVCache, Transformer, build_model
from .objectives import alpha, mdlm_loss_sum
from .tokenizer import TokenCodec
from .device import autocast_for, resolve_device

MDLM_SAMPLERS = ("published", "confidence", "ancestral", "remask")

# Settings of each MDLM sampler besides steps; `sample_mdlm(..., **options)` overrides them.
SAMPLER_DEFAULTS = {
    "confidence": dict(temperature_start=1.2, temperature_end=0.5, repetition_penalty=1.3, rank_by="max"),
    "published": dict(temperature=0.8, min_temperature=0.1, repetition_penalty=1.3, penalty_cap=5.0),
    "ancestral": dict(temperature=1.0),
    "remask": dict(temperature_start=1.0, temperature_end=1.0, repetition_penalty=1.0, rank_by="sampled"),
}

ROW_CHUNK = 4096  # rows of (rows, vocab) probabilities handled at once: bounds memory at any batch size


# -----------------------------------------------------------------------------
# loading a run, the prefix


def read_run(run_dir) -> tuple[dict, TokenCodec]:
    """A run directory's config.json (as saved by training) and its tokenizer."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"no config.json in {run_dir}: is it a training run directory?")
    saved = json.loads(config_path.read_text())
    codec = TokenCodec.from_dict(json.loads((run_dir / "vocab.json").read_text()))
    return saved, codec


def load_model(run_dir, which: str = "best", device="cpu", max_len: int | None = None):
    """(model, codec, saved config.json dict, paradigm) of a run directory, in eval mode on `device`.

    Loads `which`.safetensors, falling back to last.safetensors when there is no best yet. The file
    and step loaded are added to the returned dict under "checkpoint". `max_len` lengthens the rotary
    tables (buffers, not weights), so a model can be asked for a few positions more than it was built for.
    """
    run_dir = Path(run_dir)
    saved, codec = read_run(run_dir)
    paradigm = saved["paradigm"]
    known = {f.name for f in dataclasses.fields(Config)}
    cfg = Config().replace(**{k: v for k, v in saved["config"].items() if k in known})
    if max_len is not None and max_len > max(cfg.seq_len, cfg.sample_length):
        cfg = cfg.replace(sample_length=max_len)  # build_model uses max(seq_len, sample_length)
    if saved["vocab_size"] != codec.vocab_size:
        raise ValueError(f"{run_dir}: config.json says vocab_size {saved['vocab_size']}, "
                         f"vocab.json holds {codec.vocab_size} tokens")
    path = run_dir / f"{which}.safetensors"
    if not path.exists() and which == "best":
        path = run_dir / "last.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"no {which}.safetensors (nor last.safetensors) in {run_dir}")
    model = build_model(cfg, paradigm, vocab_size=saved["vocab_size"])
    state = checkpoint.load(path, model)
    model.to(device).eval()
    saved = {**saved, "checkpoint": {"file": path.name, "step": state.get("step")}}
    return model, codec, saved, paradigm


def prefix_ids(codec: TokenCodec, eos_between_stories: bool, prompt: str) -> list[int]:
    """The context a sample starts from: <|endoftext|> if stories were separated by it in training
    (every story then starts right after one), then the prompt's tokens."""
    return ([codec.eot] if eos_between_stories else []) + list(codec.encode(prompt))


def cut_at_eot(tokens, eot: int, keep_eot: bool = False) -> list[int]:
    """Tokens up to the first <|endoftext|> (the end of the story), with it when keep_eot."""
    tokens = list(tokens)
    if eot in tokens:
        return tokens[: tokens.index(eot) + (1 if keep_eot else 0)]
    return tokens


def _device_of(model, device):
    if device is not None:
        return torch.device(device)
    return next(model.parameters(), torch.empty(0)).device  # a parameter-free test model: CPU


def _generator(seed: int, device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def _batches(n: int, batch_size: int | None):
    batch_size = batch_size or n
    return [(start, min(batch_size, n - start)) for start in range(0, n, batch_size)]


def _report(log, name, start, size, n, t0):
    if log is not None:
        log(f"[{name}] {start + size}/{n} samples, {time.perf_counter() - t0:.1f} s")


# -----------------------------------------------------------------------------
# autoregressive sampling


def filter_logits(logits, top_k: int = 0, top_p: float = 1.0):
    """Top-k, then top-p (nucleus), on (..., vocab) logits; removed tokens get -inf.

    top_k <= 0 and top_p >= 1 switch the filters off. The nucleus is the smallest set of most probable
    tokens whose probability reaches top_p: a token is kept when the tokens ranked above it hold less
    than top_p, so the most probable token is always kept.
    """
    if 0 < top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        mass_above = probs.cumsum(dim=-1) - probs
        drop_sorted = mass_above >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_from(probs, gen):
    """One index per row of `probs` (rows summing to 1), shape (rows, 1), by inverse CDF: a single
    uniform per row. Same distribution as torch.multinomial, several times faster on CPU, and a
    zero-probability entry is never returned."""
    u = torch.rand(probs.size(0), 1, generator=gen, device=probs.device, dtype=probs.dtype)
    return _inverse_cdf(probs, u)


def _inverse_cdf(probs, u):
    """`sample_from` given its uniforms u (rows, 1) in [0, 1), drawn beforehand."""
    cdf = probs.cumsum(dim=-1)
    total = cdf[:, -1:].contiguous()
    u = u.to(cdf.dtype) * total
    # u * total can round up to total; the last entry with positive probability catches that case.
    last = torch.searchsorted(cdf, total, right=False)
    return torch.minimum(torch.searchsorted(cdf, u, right=True), last)


def _next_token(logits, temperature, top_k, top_p, gen):
    logits = filter_logits(logits.float() / temperature, top_k, top_p)
    return sample_from(logits.softmax(dim=-1), gen)  # (B, 1)


@torch.no_grad()
def sample_ar(model, prefix, n: int, length: int, temperature: float = 1.0, top_p: float = 1.0,
              top_k: int = 0, seed: int = 0, batch_size: int | None = None, device=None,
              use_cache: bool = True, log=None):
    """(n, length) LongTensor of new tokens after `prefix`, exactly `length` each (no stop at EOT).

    With `use_cache` the prefix is run once and every later step feeds one token per sequence
    (KV cache); without it every step re-runs the whole sequence (same tokens, for testing).
    """
    if len(prefix) == 0:
        raise ValueError("the AR model needs at least one context token: set ar_prompt, or train with "
                         "eos_between_stories=True so that samples start from <|endoftext|>")
    # The last new token is never fed back, so the model sees len(prefix) + length - 1 positions.
    if len(prefix) + length - 1 > model.max_len:
        raise ValueError(f"a prefix of {len(prefix)} tokens plus {length} new tokens exceeds the model's "
                         f"max_len {model.max_len}")
    device = _device_of(model, device)
    gen = _generator(seed, device)
    context = torch.tensor(prefix, dtype=torch.long, device=device)[None]
    out, t0 = [], time.perf_counter()
    for start, size in _batches(n, batch_size):
        seq = context.expand(size, -1)
        cache = KVCache() if use_cache else None
        logits = model(seq, cache=cache)[:, -1]
        new = []
        for i in range(length):
            token = _next_token(logits, temperature, top_k, top_p, gen)
            new.append(token)
            if i == length - 1:
                break
            if use_cache:
                logits = model(token, cache=cache)[:, -1]
            else:
                seq = torch.cat([seq, token], dim=1)
                logits = model(seq)[:, -1]
        out.append(torch.cat(new, dim=1))
        _report(log, "ar", start, size, n, t0)
    return torch.cat(out)


# -----------------------------------------------------------------------------
# masked diffusion sampling: shared pieces


def _denoise(model, prefix, canvas, t: float):
    """Logits (B, length, vocab_size) of the canvas given the fixed prefix, at diffusion time t."""
    B = canvas.size(0)
    x = torch.cat([prefix.expand(B, -1), canvas], dim=1)
    logits = model(x, torch.full((B,), float(t), device=canvas.device))
    return logits[:, prefix.numel():]


def _denoise_at(model, prefix, canvas, t: float, where):
    """Logits (M, vocab_size) of the canvas positions where `where` (B, length) is True, in
    `canvas[where]` order: the same values as `_denoise(...)[where]`, with the output head computed
    only there when the model can (arche's Transformer); about half the work of a round."""
    if not isinstance(model, Transformer):
        return _denoise(model, prefix, canvas, t)[where]
    B = canvas.size(0)
    x = torch.cat([prefix.expand(B, -1), canvas], dim=1)
    full = torch.zeros(B, prefix.numel(), dtype=torch.bool, device=canvas.device)
    return model(x, torch.full((B,), float(t), device=canvas.device), where=torch.cat([full, where], dim=1))


def _draw(rows, seq, transform, gen, confidence: str = "sampled"):
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


def _max_confidence(rows, seq, transform, gen):
    """The first half of `_draw(..., confidence="max")`: each row's largest probability, and the
    uniform `sample_from` would have used for it (drawn in the same order from `gen`, so the stream
    is the same). The token itself is drawn later by `_draw_rows`, only for the rows that are kept:
    the ranking by maximum probability does not depend on the draw, and the rows are independent."""
    conf, uniforms = [], []
    for r, s in zip(rows.split(ROW_CHUNK), seq.split(ROW_CHUNK)):
        probs = transform(r, s).softmax(dim=-1)
        uniforms.append(torch.rand(probs.size(0), 1, generator=gen, device=probs.device, dtype=probs.dtype))
        conf.append(probs.amax(dim=1))
    return torch.cat(conf), torch.cat(uniforms)


def _draw_rows(rows, seq, transform, uniforms):
    """Tokens (M,) of `rows` drawn with their given uniforms: what `_draw` returns for those rows."""
    tokens = [_inverse_cdf(transform(r, s).softmax(dim=-1), u).squeeze(1)
              for r, s, u in zip(rows.split(ROW_CHUNK), seq.split(ROW_CHUNK), uniforms.split(ROW_CHUNK))]
    return torch.cat(tokens) if tokens else torch.zeros(0, dtype=torch.long, device=rows.device)


def _seen_pairs(seen):
    """(B, K) token ids each sequence has used (`seen` (B, V) bool), padded with -1, K the most used."""
    b, v = seen.nonzero(as_tuple=True)
    counts = seen.sum(dim=1)
    K = int(counts.max()) if counts.numel() else 0
    ids = torch.full((seen.size(0), K), -1, dtype=torch.long, device=seen.device)
    if K:
        offsets = torch.cumsum(counts, 0) - counts
        ids[b, torch.arange(b.numel(), device=seen.device) - offsets[b]] = v
    return ids


def _at_seen(rows, seq, seen_ids):
    """(row, column) index pairs of the entries of `rows` (M, V) whose token its sequence has used."""
    ids = seen_ids[seq]  # (M, K)
    r, k = (ids >= 0).nonzero(as_tuple=True)
    return r, ids[r, k]


def _fp32_copy(rows):
    return rows.to(torch.float32, copy=True)


def _sampled_at(masked, tokens, probs):
    """Scatter per-row draws back onto the (B, length) canvas; confidence -inf where nothing was drawn."""
    sampled = torch.zeros(masked.shape, dtype=torch.long, device=masked.device)
    confidence = torch.full(masked.shape, float("-inf"), device=masked.device)
    sampled[masked] = tokens
    confidence[masked] = probs
    return sampled, confidence


def _rows_of(masked):
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


def time_for_masked_fraction(frac: float) -> float:
    """The t whose mask rate 1 - cos^2(pi t / 2) equals `frac`: the model sees the time that matches
    how much of the canvas is actually masked."""
    return (2.0 / math.pi) * math.acos(math.sqrt(max(0.0, 1.0 - frac)))


# -----------------------------------------------------------------------------
# the MDLM samplers, one batch each


def _confidence_batch(model, prefix, canvas, steps, gen, trace, temperature_start, temperature_end,
                      repetition_penalty, rank_by):
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
        seen_ids = (_seen_pairs(token_counts(filled_only(canvas, fillable, mask_id), V) > 0)
                    if repetition_penalty != 1.0 else None)

        def transform(rows, seq):
            # Only the entries of used tokens change; the same values as
            # apply_repetition_penalty(rows, seen[seq], penalty) without an (M, V) mask.
            rows = _fp32_copy(rows[:, :V])  # [MASK] is never a candidate
            if seen_ids is not None and seen_ids.size(1):
                i, j = _at_seen(rows, seq, seen_ids)
                vals = rows[i, j]
                rows[i, j] = torch.where(vals > 0, vals / repetition_penalty, vals * repetition_penalty)
            return rows / temperature

        rows, seq = _denoise_at(model, prefix, canvas, t, masked), _rows_of(masked)
        k = math.ceil(remaining / (rounds - r))
        if rank_by == "max":  # rank first, then draw only the k tokens kept per sequence
            conf, uniforms = _max_confidence(rows, seq, transform, gen)
            confidence = torch.full(masked.shape, float("-inf"), device=canvas.device)
            confidence[masked] = conf
            chosen = most_confident(confidence, torch.full((B,), k, device=canvas.device), gen)
            keep = chosen[masked]
            canvas = canvas.clone()
            canvas[chosen] = _draw_rows(rows[keep], seq[keep], transform, uniforms[keep])
        else:
            sampled, confidence = _sampled_at(masked, *_draw(rows, seq, transform, gen, confidence=rank_by))
            chosen = most_confident(confidence, torch.full((B,), k, device=canvas.device), gen)
            canvas = torch.where(chosen, sampled, canvas)
        if trace is not None:
            trace.append({"round": r, "t": t, "temperature": temperature, "masked": remaining, "unmasked": k})
    return canvas


def _published_batch(model, prefix, canvas, steps, gen, trace, temperature, min_temperature,
                     repetition_penalty, penalty_cap):
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
        seen_ids = _seen_pairs(counts > 0)

        def transform(rows, seq):
            # The divisor is exactly 1 for unused tokens: only the used tokens' entries are divided
            # (the same values as rows / divisor[seq], without an (M, V) gather).
            rows = _fp32_copy(rows[:, :V])
            if seen_ids.size(1):
                i, j = _at_seen(rows, seq, seen_ids)
                rows[i, j] = rows[i, j] / divisor[seq[i], j]
            return rows / temp

        rows = _denoise_at(model, prefix, canvas, t, masked)
        sampled, confidence = _sampled_at(masked, *_draw(rows, _rows_of(masked), transform, gen))
        k = torch.minimum((n_masked // (steps - step)).clamp(min=1), n_masked)
        chosen = most_confident(confidence, k, gen)
        canvas = torch.where(chosen, sampled, canvas)
        if trace is not None:
            trace.append({"round": step, "t": t, "temperature": temp, "masked": n_masked.tolist(),
                          "unmasked": k.tolist()})
    masked = canvas == mask_id
    if bool(masked.any()):
        # Leftovers (only when steps ran out first): argmax of the plain logits at t = 0.
        fill = _denoise(model, prefix, canvas, 0.0)[..., :V].argmax(dim=-1)
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
        if trace is not None:
            trace.append({"round": i, "t": t, "masked": masked.sum(1).tolist(), "unmasked": reveal.sum(1).tolist()})
        if not bool(reveal.any()):
            continue  # nothing changes this step: skip the forward pass

        def transform(rows, seq):
            return rows[:, :V].float() / temperature

        tokens, _ = _draw(_denoise_at(model, prefix, canvas, t, reveal), _rows_of(reveal), transform, gen)
        canvas = canvas.masked_scatter(reveal, tokens)
    return canvas


_BATCH_SAMPLERS = {"confidence": _confidence_batch, "remask": _confidence_batch,
                   "published": _published_batch, "ancestral": _ancestral_batch}


@torch.no_grad()
def sample_mdlm(model, prefix, n: int, length: int, sampler: str = "confidence", steps: int = 100,
                seed: int = 0, batch_size: int | None = None, device=None, trace: list | None = None,
                log=None, **options):
    """(n, length) LongTensor of new tokens: `length` positions after the fixed `prefix` start fully
    masked and are unmasked by `sampler` in `steps` rounds. `options` override SAMPLER_DEFAULTS.
    `trace`, when a list, receives one dict per round (masked count before it, number unmasked, t...).
    """
    device = _device_of(model, device)
    canvas = torch.full((n, length), model.mask_id if model.mask_id is not None else 0, dtype=torch.long,
                        device=device)
    return _run_mdlm(model, prefix, canvas, sampler, steps, seed, batch_size, trace, log, options)


def _run_mdlm(model, prefix, canvas, sampler, steps, seed, batch_size, trace, log, options):
    """Unmask every [MASK] of `canvas` (n, length), batch by batch; the other tokens stay as they are."""
    if sampler not in _BATCH_SAMPLERS:
        raise ValueError(f"unknown MDLM sampler {sampler!r}; choose one of {list(MDLM_SAMPLERS)}")
    unknown = set(options) - set(SAMPLER_DEFAULTS[sampler])
    if unknown:
        raise ValueError(f"sampler {sampler!r} takes no option(s) {sorted(unknown)}")
    if model.mask_id is None:
        raise ValueError("MDLM sampling needs the diffusion model (this one is autoregressive)")
    if len(prefix) + canvas.size(1) > model.max_len:
        raise ValueError(f"a prefix of {len(prefix)} tokens plus a canvas of {canvas.size(1)} exceeds the "
                         f"model's max_len {model.max_len}")
    settings = {**SAMPLER_DEFAULTS[sampler], **options}
    gen = _generator(seed, canvas.device)
    prefix_t = torch.tensor(prefix, dtype=torch.long, device=canvas.device).reshape(1, -1)
    out, t0 = [], time.perf_counter()
    for start, size in _batches(canvas.size(0), batch_size):
        known = canvas[start:start + size]
        done = _BATCH_SAMPLERS[sampler](model, prefix_t, known.clone(), steps, gen, trace, **settings)
        assert not (done == model.mask_id).any(), f"{sampler} sampler left a [MASK] in its output"
        fixed = known != model.mask_id
        assert torch.equal(done[fixed], known[fixed]), f"{sampler} sampler changed a known token"
        out.append(done)
        _report(log, f"mdlm/{sampler}", start, size, canvas.size(0), t0)
    return torch.cat(out)


@torch.no_grad()
def infill(model, prefix, canvas, sampler: str = "confidence", steps: int = 100, seed: int = 0,
           batch_size: int | None = None, trace: list | None = None, log=None, **options):
    """Fill the [MASK] positions of `canvas` (n, length), keeping its other tokens and the prefix.
    The confidence samplers need the same number of masked positions in every row."""
    return _run_mdlm(model, prefix, canvas, sampler, steps, seed, batch_size, trace, log, options)


# -----------------------------------------------------------------------------
# samples of a run


def new_tokens(cfg: Config, paradigm: str, prompt_ids: list[int]) -> int:
    """How many tokens a sample adds after its prefix. The released code counted the AR prompt in the
    128 ("Once" + 127 new tokens), so the published protocol does too; otherwise `sample_length` new
    tokens, the same for both models."""
    if paradigm == "ar" and cfg.protocol == "published":
        return max(1, cfg.sample_length - len(prompt_ids))
    return cfg.sample_length


def sample_settings(cfg: Config, paradigm: str, prefix: list[int], length: int | None = None) -> tuple[str, dict]:
    """(sampler name, every setting the sampler uses) for a config."""
    common = {"length": length or cfg.sample_length, "prefix_ids": list(prefix),
              "batch_size": cfg.sample_batch_size}
    if paradigm == "ar":
        return "ar", {**common, "prompt": cfg.ar_prompt, "temperature": cfg.ar_temperature,
                      "top_p": cfg.ar_top_p, "top_k": cfg.ar_top_k, "kv_cache": True}
    sampler = cfg.mdlm_sampler
    return sampler, {**common, "prompt": cfg.mdlm_prompt, "steps": cfg.mdlm_steps, **SAMPLER_DEFAULTS[sampler]}


def generate(cfg: Config, paradigm: str, run_dir, device=None) -> list[dict]:
    """cfg.n_samples samples from the run's model, one record per sample (see the module docstring).

    Model shape and the end-of-text rule come from the run's saved training config; everything about
    sampling (count, length, prompts, sampler, steps, temperatures, seed, batch size, device) from `cfg`.
    """
    run_dir = Path(run_dir)
    device = torch.device(device) if device is not None else resolve_device(cfg)
    saved, codec = read_run(run_dir)
    if saved["paradigm"] != paradigm:
        raise ValueError(f"{run_dir} holds a {saved['paradigm'].upper()} model, not {paradigm.upper()}")
    train_cfg = saved["config"]
    prompt = cfg.ar_prompt if paradigm == "ar" else cfg.mdlm_prompt
    prefix = prefix_ids(codec, train_cfg["eos_between_stories"], prompt)
    prompt_ids = prefix[1:] if train_cfg["eos_between_stories"] else prefix  # the EOT is not text
    length = new_tokens(cfg, paradigm, prompt_ids)
    sampler, settings = sample_settings(cfg, paradigm, prefix, length)
    needed = len(prefix) + length - (1 if paradigm == "ar" else 0)
    if needed > train_cfg["seq_len"]:
        print(f"[{paradigm}] note: sampling uses {needed} positions, the model was trained on "
              f"{train_cfg['seq_len']}", flush=True)
    model, codec, saved, _ = load_model(run_dir, device=device, max_len=needed)
    settings.update(eot=codec.eot, checkpoint=saved["checkpoint"], device=str(device))

    def log(msg):
        print(msg, flush=True)

    log(f"[{paradigm}] sampling {cfg.n_samples} x {length} tokens with {sampler!r}, "
        f"prefix {prefix}, batch {cfg.sample_batch_size}, seed {cfg.sample_seed}, on {device}")
    t0 = time.perf_counter()
    with torch.no_grad(), autocast_for(cfg, device):
        if paradigm == "ar":
            tokens = sample_ar(model, prefix, cfg.n_samples, length, cfg.ar_temperature,
                               cfg.ar_top_p, cfg.ar_top_k, cfg.sample_seed, cfg.sample_batch_size, device,
                               log=log)
        else:
            tokens = sample_mdlm(model, prefix, cfg.n_samples, length, sampler, cfg.mdlm_steps,
                                 cfg.sample_seed, cfg.sample_batch_size, device, log=log)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - t0
    log(f"[{paradigm}] {cfg.n_samples} samples in {wall:.1f} s ({wall / cfg.n_samples:.4f} s/sample)")

    records = []
    for i, row in enumerate(tokens.tolist()):
        story = cut_at_eot(row, codec.eot)
        records.append({"index": i, "model": paradigm, "sampler": sampler, "settings": settings,
                         "seed": cfg.sample_seed, "tokens": row, "text": codec.decode(prompt_ids + story),
                         "n_story_tokens": len(story), "wall_time_s": wall})
    return records


def sample_run(cfg: Config, paradigm: str, run_dir, out=None) -> Path:
    """Generate and write the samples as JSONL (default RUN_DIR/samples.jsonl, written atomically).
    Every record carries `wall_time_s`, the wall time of the whole generation."""
    records = generate(cfg, paradigm, run_dir)
    path = Path(out) if out is not None else Path(run_dir) / "samples.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "".join(json.dumps(rec) + "\n" for rec in records).encode())
    print(f"[{paradigm}] wrote {len(records)} samples to {path}", flush=True)
    return path


def read_samples(path) -> list[dict]:
    rows = read_jsonl(path)
    if rows is None:
        raise FileNotFoundError(f"no samples file at {path}")
    return rows


# -----------------------------------------------------------------------------
# reference rows: real held-out text, cut the way samples are


def reference_rows(data, n: int, length: int, kind: str, seed: int) -> list[list[int]]:
    """Up to n rows of `length` held-out tokens (uncut; see `reference_texts`).

    "openings": the first `length` tokens from where held-out stories start (data.val_story_starts),
    a seeded subsample of n of them kept in stream order. "windows": n random `length`-token windows
    of the validation stream. Under the chunk-level split the held-out chunks are not contiguous
    text, so rows stop at the end of their chunk (a window is drawn inside one chunk when it fits).
    """
    if kind not in ("openings", "windows"):
        raise ValueError(f"kind must be 'openings' or 'windows', got {kind!r}")
    flat = np.asarray(data.val).reshape(-1)
    seq_len = data.val.shape[1]
    chunked = getattr(data, "manifest", {}).get("settings", {}).get("val_split") == "chunk"
    rng = np.random.default_rng(seed)
    if kind == "openings":
        starts = np.asarray(data.val_story_starts, dtype=np.int64)
        starts = starts[starts < flat.size]
        if starts.size > n:
            starts = np.sort(rng.choice(starts, size=n, replace=False))
    else:
        if flat.size < length:
            raise ValueError(f"the validation stream has {flat.size} tokens, fewer than length {length}")
        if chunked and length <= seq_len:
            chunk = rng.integers(0, flat.size // seq_len, size=n)
            starts = chunk * seq_len + rng.integers(0, seq_len - length + 1, size=n)
        else:
            starts = rng.integers(0, flat.size - length + 1, size=n)
    rows = []
    for s in starts.tolist():
        end = min(s + length, flat.size)
        if chunked:
            end = min(end, (s // seq_len + 1) * seq_len)
        rows.append(flat[s:end].astype(np.int64).tolist())
    return rows


def reference_texts(data, n: int, length: int, kind: str, seed: int) -> list[str]:
    """Held-out text cut like samples: `reference_rows` decoded up to the first <|endoftext|>.
    Windows are raw, so one may start mid-story; it still stops where its story ends."""
    return [data.codec.decode(cut_at_eot(row, data.codec.eot))
            for row in reference_rows(data, n, length, kind, seed)]


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
    device = _device_of(model, device)
    prefix = list(prefix)
    seqs = [prefix + row for row in _scored_rows(token_rows, eot)]
    first = max(len(prefix), 1)  # index in seq of the first token that is scored
    out = []
    for i in range(0, len(seqs), batch_size):
        batch = seqs[i:i + batch_size]
        T = max(len(s) for s in batch)
        if T - 1 > model.max_len:
            raise ValueError(f"a row of {T} tokens with its prefix exceeds the model's max_len {model.max_len}")
        if T < 2:
            out.extend((0.0, 0) for _ in batch)
            continue
        x = torch.zeros(len(batch), T, dtype=torch.long)
        scored = torch.zeros(len(batch), T - 1, dtype=torch.bool)
        for j, s in enumerate(batch):
            x[j, :len(s)] = torch.tensor(s)
            scored[j, first - 1:len(s) - 1] = True  # target index first .. len-1
        x, scored = x.to(device), scored.to(device)
        logits = model(x[:, :-1]).float()  # causal: right padding does not change real positions
        targets = x[:, 1:]
        nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                              reduction="none").view_as(targets) * scored
        out.extend(zip(nll.sum(1).tolist(), scored.sum(1).tolist()))
    return out


def ar_nll(model, prefix, token_rows, device=None, batch_size: int = 64, eot: int | None = None) -> list:
    """Mean NLL (nats/token) of each row under the AR model given `prefix` (see `ar_nll_sums`);
    None for a row with nothing to score, so that the list stays aligned with the rows."""
    return [s / c if c else None for s, c in ar_nll_sums(model, prefix, token_rows, device, batch_size, eot)]


def generative_perplexity(model, samples, token_rows=None, device=None, batch_size: int = 64,
                          eot: int | None = None) -> float:
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
        sums = [s for (prefix, eot_id), rows in groups.items()
                for s in ar_nll_sums(model, list(prefix), rows, device, batch_size, eot_id)]
    else:
        sums = ar_nll_sums(model, samples, token_rows, device, batch_size, eot)
    total, count = sum(s for s, _ in sums), sum(c for _, c in sums)
    if count == 0:
        raise ValueError("no tokens to score")
    return math.exp(min(total / count, 700))


@torch.no_grad()
def mdlm_nelbo(model, prefix, token_rows, seed: int = 0, n_t: int = 32, device=None, eot: int | None = None,
               eps: float = 1e-3) -> list:
    """NELBO (nats/token, an upper bound on the NLL) of each row under the MDLM given `prefix`.

    Each row is one sequence, prefix + row, evaluated at n_t stratified times t in (eps, 1): the row's
    tokens are masked with rate 1 - alpha(t), the prefix never is, and the SUBS cross-entropy of the
    masked tokens is weighted as in training (objectives.mdlm_loss_sum "elbo"). The MDLM attends in both
    directions, so rows are never padded: each row is a batch of n_t copies. None for an empty row.
    """
    device = _device_of(model, device)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for row in _scored_rows(token_rows, eot):
        if not row:
            out.append(None)
            continue
        seq = torch.tensor(list(prefix) + row, dtype=torch.long)
        if seq.numel() > model.max_len:
            raise ValueError(f"a row of {seq.numel()} tokens with its prefix exceeds max_len {model.max_len}; "
                             "load the model with load_model(..., max_len=...)")
        t = eps + (1.0 - eps) * (torch.arange(n_t) + torch.rand(1, generator=gen)) / n_t
        u = torch.rand(n_t, seq.numel(), generator=gen)
        mask = u < (1.0 - alpha(t))[:, None]
        mask[:, :len(prefix)] = False
        tokens = seq[None].expand(n_t, -1).to(device)
        total = mdlm_loss_sum(model, tokens, t.to(device), mask.to(device), "elbo", eps)
        out.append(float(total) / n_t / len(row))
    return out


# -----------------------------------------------------------------------------
# infilling: what only the MDLM can do


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

    rows = [r for r in reference_rows(data, 10**9, length, "openings", cfg.sample_seed)
            if len(r) == length and codec.eot not in r]
    rng = np.random.default_rng(cfg.sample_seed)
    if len(rows) > n:
        rows = [rows[i] for i in np.sort(rng.choice(len(rows), size=n, replace=False))]
    result = {"n_stories": len(rows), "length": length, "sampler": cfg.mdlm_sampler, "steps": cfg.mdlm_steps}
    if not rows:
        return result
    original = torch.tensor(rows, dtype=torch.long, device=device)
    span = slice(length // 3, 2 * length // 3)
    canvas = original.clone()
    canvas[:, span] = mdlm.mask_id
    with autocast_for(cfg, device):
        filled = infill(mdlm, prefix, canvas, cfg.mdlm_sampler, cfg.mdlm_steps, seed=cfg.sample_seed,
                        batch_size=cfg.sample_batch_size)
    stream = np.asarray(data.val).reshape(-1)
    random_fill = original.clone()
    random_fill[:, span] = torch.from_numpy(rng.choice(stream, size=random_fill[:, span].shape).astype(np.int64))

    def mean_nll(batch):
        sums = ar_nll_sums(ar, prefix, batch.tolist(), device, cfg.sample_batch_size)
        return sum(s for s, _ in sums) / sum(c for _, c in sums)

    def show(ids):  # the row as text, the span in brackets
        return f"{codec.decode(ids[:span.start])}[{codec.decode(ids[span])}]{codec.decode(ids[span.stop:])}"

    result.update({
        "span_tokens": span.stop - span.start,
        "ar_nll_original": mean_nll(original),
        "ar_nll_infilled": mean_nll(filled),
        "ar_nll_random": mean_nll(random_fill),
        "span_token_match": float((filled[:, span] == original[:, span]).float().mean()),
        "examples": [{"original": show(o), "infilled": show(f)}
                     for o, f in zip(original[:3].tolist(), filled[:3].tolist())],
    })
    return result
