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

This module loads a trained run, draws its sample sets (arche.sample, arche.denoise) into
JSONL files, and cuts real held-out text the way samples are cut (reference rows).
"""

from __future__ import annotations

import dataclasses
import json
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .config import Config
from .denoise import SAMPLER_DEFAULTS, sample_mdlm
from .device import autocast_for, resolve_device
from .io import atomic_write, read_jsonl
from .model import build_model
from .rundir import read_config_json
from .sample import cut_at_eot, prefix_ids, sample_ar
from .tokenizer import TokenCodec

# -----------------------------------------------------------------------------
# loading a run, the prefix


def read_run(run_dir) -> tuple[dict, TokenCodec]:
    """A run directory's config.json (as saved by training) and its tokenizer."""
    run_dir = Path(run_dir)
    saved = read_config_json(run_dir)  # RunDirError naming a damaged one
    if saved is None:
        raise FileNotFoundError(f"no config.json in {run_dir}: is it a training run directory?")
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
        raise ValueError(
            f"{run_dir}: config.json says vocab_size {saved['vocab_size']}, vocab.json holds {codec.vocab_size} tokens"
        )
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


# -----------------------------------------------------------------------------
# samples of a run


def new_tokens(cfg: Config, paradigm: str, prompt_ids: list[int]) -> int:
    """How many tokens a sample adds after its prefix. The released code counted the AR prompt in the
    128 ("Once" + 127 new tokens), so the published protocol does too; otherwise `sample_length` new
    tokens, the same for both models."""
    if paradigm == "ar" and cfg.protocol == "published":
        return max(1, cfg.sample_length - len(prompt_ids))
    return cfg.sample_length


def decoding(cfg: Config, paradigm: str, prefix: list[int], length: int | None = None) -> tuple[str, dict]:
    """(sampler name, every setting the sampler uses) for a config."""
    common = {"length": length or cfg.sample_length, "prefix_ids": list(prefix), "batch_size": cfg.sample_batch_size}
    if paradigm == "ar":
        return "ar", {
            **common,
            "prompt": cfg.ar_prompt,
            "temperature": cfg.ar_temperature,
            "top_p": cfg.ar_top_p,
            "top_k": cfg.ar_top_k,
            "kv_cache": True,
        }
    sampler = cfg.mdlm_sampler
    return sampler, {
        **common,
        "prompt": cfg.mdlm_prompt,
        "steps": cfg.mdlm_steps,
        **SAMPLER_DEFAULTS[sampler],
        **temperature_options(sampler, cfg.mdlm_temperature),
    }


def temperature_options(sampler: str, temperature: float) -> dict:
    """The sampler options that set one constant temperature (`mdlm_temperature`; 0 keeps the sampler's
    own). A sampler with a schedule (confidence) gets it flat at that value."""
    if not temperature:
        return {}
    keys = [k for k in ("temperature", "temperature_start", "temperature_end") if k in SAMPLER_DEFAULTS[sampler]]
    if not keys:
        raise ValueError(f"sampler {sampler!r} has no temperature to set")
    return {k: temperature for k in keys}


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
    sampler, settings = decoding(cfg, paradigm, prefix, length)
    needed = len(prefix) + length - (1 if paradigm == "ar" else 0)
    if needed > train_cfg["seq_len"]:
        print(
            f"[{paradigm}] note: sampling uses {needed} positions, the model was trained on {train_cfg['seq_len']}",
            flush=True,
        )
    model, codec, saved, _ = load_model(run_dir, device=device, max_len=needed)
    settings.update(eot=codec.eot, checkpoint=saved["checkpoint"], device=str(device))

    def log(msg):
        print(msg, flush=True)

    log(
        f"[{paradigm}] sampling {cfg.n_samples} x {length} tokens with {sampler!r}, "
        f"prefix {prefix}, batch {cfg.sample_batch_size}, seed {cfg.sample_seed}, on {device}"
    )
    t0 = time.perf_counter()
    tokens = _draw(model, paradigm, cfg, prefix, length, sampler, device, log)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - t0
    log(f"[{paradigm}] {cfg.n_samples} samples in {wall:.1f} s ({wall / cfg.n_samples:.4f} s/sample)")
    common = {"model": paradigm, "sampler": sampler, "settings": settings, "seed": cfg.sample_seed}
    records = []
    for i, row in enumerate(tokens.tolist()):
        story = cut_at_eot(row, codec.eot)
        text = codec.decode(prompt_ids + story)
        records.append(
            {"index": i, **common, "tokens": row, "text": text, "n_story_tokens": len(story), "wall_time_s": wall}
        )
    return records


def _draw(model, paradigm: str, cfg: Config, prefix, length: int, sampler: str, device, log):
    """The (n_samples, len(prefix) + length) token ids, drawn without gradients."""
    # On a CPU, sampling runs in fp32 whatever the training precision: bf16 autocast sampled markedly slower
    # there in a first timing (not yet a benchmark in benchmarks/), while bf16 training is faster.
    sampling_autocast = autocast_for(cfg, device) if device.type == "cuda" else nullcontext()
    with torch.no_grad(), sampling_autocast:
        if paradigm == "ar":
            return sample_ar(
                model,
                prefix,
                cfg.n_samples,
                length,
                cfg.ar_temperature,
                cfg.ar_top_p,
                cfg.ar_top_k,
                cfg.sample_seed,
                cfg.sample_batch_size,
                device,
                log=log,
            )
        return sample_mdlm(
            model,
            prefix,
            cfg.n_samples,
            length,
            sampler,
            cfg.mdlm_steps,
            cfg.sample_seed,
            cfg.sample_batch_size,
            device,
            log=log,
            **temperature_options(sampler, cfg.mdlm_temperature),
        )


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
    return [data.codec.decode(cut_at_eot(row, data.codec.eot)) for row in reference_rows(data, n, length, kind, seed)]
