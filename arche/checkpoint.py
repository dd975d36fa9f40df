"""Checkpoints as one safetensors file: weights, optimizer moments, and a JSON state in its metadata.

Loading never unpickles anything. Writes go to a temporary file that is renamed over the old one,
so a kill during a write leaves the previous checkpoint loadable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

FORMAT = 1


def save(path, model, state: dict, optimizer=None) -> None:
    tensors = {f"model.{k}": v for k, v in _unique_params(model).items()}
    opt_meta = None
    if optimizer is not None:
        sd = optimizer.state_dict()
        for idx, slots in sd["state"].items():
            for name, value in slots.items():
                tensors[f"optim.{idx}.{name}"] = value
        opt_meta = sd["param_groups"]
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {"state": json.dumps({**state, "format": FORMAT}), "param_groups": json.dumps(opt_meta)}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_state(path) -> dict:
    """The JSON state of a checkpoint, without loading its tensors."""
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["state"])


def load(path, model, optimizer=None, map_location="cpu") -> dict:
    """Load weights (and optimizer moments when given) in place; return the JSON state."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    model_sd, optim_slots = {}, {}
    with safe_open(str(path), framework="pt", device=str(map_location)) as f:
        meta = f.metadata()
        for key in f.keys():
            kind, rest = key.split(".", 1)
            if kind == "model":
                model_sd[rest] = f.get_tensor(key)
            else:
                idx, name = rest.split(".", 1)
                optim_slots.setdefault(int(idx), {})[name] = f.get_tensor(key)
    expected = _unique_params(model)
    missing, unexpected = set(expected) - set(model_sd), set(model_sd) - set(expected)
    if missing or unexpected:
        raise ValueError(f"checkpoint {path} does not fit this model: missing {sorted(missing)[:5]}, "
                         f"unexpected {sorted(unexpected)[:5]}")
    for name, p in expected.items():
        if p.shape != model_sd[name].shape:
            raise ValueError(f"checkpoint {path}: {name} has shape {tuple(model_sd[name].shape)}, "
                             f"the model expects {tuple(p.shape)}")
    with torch.no_grad():
        for name, p in expected.items():
            p.copy_(model_sd[name])
    if optimizer is not None:
        groups = json.loads(meta["param_groups"])
        if groups is None:
            raise ValueError(f"checkpoint {path} holds no optimizer state (is it a 'best' weights file?)")
        optimizer.load_state_dict({"state": optim_slots, "param_groups": groups})
    return json.loads(meta["state"])


def _unique_params(model) -> dict:
    """Named parameters and persistent buffers, tied weights once (safetensors refuses aliases)."""
    out = dict(model.named_parameters())
    out.update({k: v for k, v in model.named_buffers() if k in model.state_dict()})
    return out
