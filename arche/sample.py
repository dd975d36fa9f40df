"""Sampling primitives and the autoregressive sampler (tensors in, tensors out).

* `sample_ar`: KV-cached incremental decoding, temperature, then top-k, then top-p.
* `filter_logits`, `sample_from`: the shared draw, one uniform per row from a seeded generator.
* `prefix_ids`, `cut_at_eot`: the context a sample starts from and where its story ends.

The MDLM samplers are in arche.denoise; loading a run and writing sample files in arche.generate;
likelihoods of samples in arche.evaluate. Randomness comes from one `torch.Generator` seeded by
`seed`, consumed batch after batch, so a (seed, batch_size) pair gives the same samples on the
same device.
"""

from __future__ import annotations

import time

import torch

from .model import KVCache
from .progress import Progress
from .tokenizer import TokenCodec


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


def model_device(model, device):
    if device is not None:
        return torch.device(device)
    return next(model.parameters(), torch.empty(0)).device  # a parameter-free test model: CPU


def seeded_generator(seed: int, device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def batch_spans(n: int, batch_size: int | None):
    batch_size = batch_size or n
    return [(start, min(batch_size, n - start)) for start in range(0, n, batch_size)]


def log_sample_progress(log, name, start, size, n, t0):
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
    return sample_with_uniforms(probs, u)


def sample_with_uniforms(probs, u):
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
def sample_ar(
    model,
    prefix,
    n: int,
    length: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    batch_size: int | None = None,
    device=None,
    use_cache: bool = True,
    log=None,
):
    """(n, length) LongTensor of new tokens after `prefix`, exactly `length` each (no stop at EOT).

    With `use_cache` the prefix is run once and every later step feeds one token per sequence
    (KV cache); without it every step re-runs the whole sequence (same tokens, for testing).
    """
    if len(prefix) == 0:
        raise ValueError(
            "the AR model needs at least one context token: set ar_prompt, or train with "
            "eos_between_stories=True so that samples start from <|endoftext|>"
        )
    # The last new token is never fed back, so the model sees len(prefix) + length - 1 positions.
    if len(prefix) + length - 1 > model.max_len:
        raise ValueError(
            f"a prefix of {len(prefix)} tokens plus {length} new tokens exceeds the model's max_len {model.max_len}"
        )
    device = model_device(model, device)
    gen = seeded_generator(seed, device)
    context = torch.tensor(prefix, dtype=torch.long, device=device)[None]
    out, t0 = [], time.perf_counter()
    # live where the output can redraw (arche.progress); the per-batch lines stay the record
    with Progress("ar", n * length, unit="token", log=log) as progress:
        for start, size in batch_spans(n, batch_size):
            seq = context.expand(size, -1)
            cache = KVCache() if use_cache else None
            logits = model(seq, cache=cache)[:, -1]
            new = []
            for i in range(length):
                token = _next_token(logits, temperature, top_k, top_p, gen)
                new.append(token)
                progress.update(start * length + (i + 1) * size)
                if i == length - 1:
                    break
                if use_cache:
                    logits = model(token, cache=cache)[:, -1]
                else:
                    seq = torch.cat([seq, token], dim=1)
                    logits = model(seq)[:, -1]
            out.append(torch.cat(new, dim=1))
            log_sample_progress(progress.write, "ar", start, size, n, t0)
    return torch.cat(out)
