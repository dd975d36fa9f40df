"""Checkpoints as one safetensors file: weights, optimizer moments, and a JSON state in its metadata.

Loading never unpickles anything. Writes go to a temporary file that is renamed over the old one, so
a kill during a write leaves the previous checkpoint loadable. Every file carries a sha256 of its
tensors and metadata, checked on load: a truncated or damaged file is refused by name (CheckpointError)
instead of loading into a different run. `save(..., keep_previous=True)` first renames the current
file to PREV (last.safetensors -> prev.safetensors), so the step before stays as a fallback.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from .errors import UserError
from .io import write_new

FORMAT = 1


class CheckpointError(UserError, ValueError):
    """A checkpoint file that cannot be read, or whose content does not match its checksum."""


def previous(path) -> Path:
    """Where save(keep_previous=True) keeps the file it replaces: last.safetensors -> prev.safetensors."""
    path = Path(path)
    return path.with_name(("prev" if path.stem == "last" else path.stem + ".prev") + path.suffix)


def save(path, model, state: dict, optimizer=None, keep_previous: bool = False) -> None:
    tensors = {f"model.{k}": v for k, v in _unique_params(model).items()}
    opt_meta = None
    if optimizer is not None:
        sd = optimizer.state_dict()
        for idx, slots in sd["state"].items():
            for name, value in slots.items():
                tensors[f"optim.{idx}.{name}"] = value
        opt_meta = sd["param_groups"]
    write(path, tensors, state, opt_meta, keep_previous)


def write(path, tensors: dict, state: dict, param_groups, keep_previous: bool = False) -> None:
    """Write a checkpoint from its parts (as `read` returns them): used by save, and to re-label a
    checkpoint as the start of another run (arche.train.fork)."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {"state": json.dumps({**state, "format": FORMAT}), "param_groups": json.dumps(param_groups)}
    meta["sha256"] = checksum(tensors, meta)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    write_new(
        tmp, safetensors_bytes(tensors, metadata=meta)
    )  # a leftover or a planted link at tmp is never written through
    if keep_previous and path.exists():
        os.replace(path, previous(path))  # a kill right here leaves PREV and TMP; loading falls back to PREV
    os.replace(tmp, path)


def checksum(tensors: dict, meta: dict) -> str:
    """sha256 over every tensor (name, dtype, shape, bytes) and the JSON metadata."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().to("cpu").contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    for key in ("state", "param_groups"):
        h.update(f"{key}|{meta.get(key)}|".encode())
    return h.hexdigest()


def read_state(path) -> dict:
    """The JSON state of a checkpoint, without loading (or verifying) its tensors."""
    with _open(path) as f:
        return json.loads(f.metadata()["state"])


def read(path, map_location="cpu") -> tuple[dict, dict]:
    """(tensors, metadata) of a checkpoint, verified against its checksum (files written before
    checksums existed are read unverified)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    tensors = {}
    try:
        with _open(path, map_location) as f:
            meta = f.metadata() or {}
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types for damaged data
        raise CheckpointError(f"checkpoint {path} is damaged ({type(e).__name__}: {e})") from None
    if "state" not in meta:
        raise CheckpointError(f"checkpoint {path} has no arche state in its metadata")
    if "sha256" in meta and checksum(tensors, meta) != meta["sha256"]:
        raise CheckpointError(f"checkpoint {path} is damaged: its content does not match its sha256")
    return tensors, meta


def load(path, model, optimizer=None, map_location="cpu") -> dict:
    """Load weights (and optimizer moments when given) in place; return the JSON state."""
    path = Path(path)
    tensors, meta = read(path, map_location)
    model_sd, optim_slots = {}, {}
    for key, value in tensors.items():
        kind, rest = key.split(".", 1)
        if kind == "model":
            model_sd[rest] = value
        else:
            idx, name = rest.split(".", 1)
            optim_slots.setdefault(int(idx), {})[name] = value
    expected = _unique_params(model)
    missing, unexpected = set(expected) - set(model_sd), set(model_sd) - set(expected)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {path} does not fit this model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    for name, p in expected.items():
        if p.shape != model_sd[name].shape:
            raise ValueError(
                f"checkpoint {path}: {name} has shape {tuple(model_sd[name].shape)}, the model expects {tuple(p.shape)}"
            )
    with torch.no_grad():
        for name, p in expected.items():
            p.copy_(model_sd[name])
    if optimizer is not None:
        groups = json.loads(meta["param_groups"])
        if groups is None:
            raise ValueError(f"checkpoint {path} holds no optimizer state (is it a 'best' weights file?)")
        optimizer.load_state_dict({"state": optim_slots, "param_groups": groups})
    return json.loads(meta["state"])


def all_finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in _unique_params(model).values() if p.is_floating_point())


def _open(path, map_location="cpu"):
    try:
        return safe_open(str(path), framework="pt", device=str(map_location))
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - a truncated header, not a safetensors file, ...
        raise CheckpointError(f"checkpoint {path} is damaged or not a checkpoint ({type(e).__name__}: {e})") from None


def _unique_params(model) -> dict:
    """Named parameters and persistent buffers, tied weights once (safetensors refuses aliases)."""
    out = dict(model.named_parameters())
    out.update({k: v for k, v in model.named_buffers() if k in model.state_dict()})
    return out
