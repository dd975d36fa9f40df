"""The learning-rate schedule: linear warmup, then cosine decay to min_lr_ratio * lr (the paper's), or
warmup-stable-decay (lr_schedule="wsd": constant lr, then a linear decay over the last decay_fraction of
the steps). A wsd run of more steps has the same lr as a shorter one up to the shorter one's decay, which
is what lets one long run branch into the decays of shorter ones (arche.rundir.fork, arche.study.repetition)."""

from __future__ import annotations

import math

from .config import Config


def lr_at(step: int, cfg: Config) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio * lr at the last step; or, with
    lr_schedule="wsd", a constant lr until decay_start(cfg), then linear decay to min_lr_ratio * lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "wsd":
        start = decay_start(cfg)
        if step < start:
            return cfg.lr
        progress = (step - start + 1) / (cfg.steps - start)
        return cfg.lr * (1 - (1 - cfg.min_lr_ratio) * min(1.0, progress))
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def decay_start(cfg: Config) -> int:
    """The first step of a wsd run's decay: the last decay_fraction of its steps decay, the rest is warmup
    and a constant lr. A run of more steps has the same lr up to here, which is what lets one long run
    branch into the decays of shorter ones (arche.study.repetition)."""
    return max(cfg.warmup_steps, cfg.steps - max(1, round(cfg.decay_fraction * cfg.steps)))
