"""Training throughput of the two paradigms, measured so that the two can be compared.

Throughput read from training logs is confounded: the arms train one after another, so anything
else the machine did meanwhile (another job on the cores, a thermal state, a noisy neighbour) lands
on one paradigm and not the other. `interleaved` instead builds every model in one process and
alternates them, round after round (the order rotates each round), timing a few optimizer steps of
each on random tokens of the training shape. Each round gives one tokens/s per model; the ratio
MDLM / AR within a round is paired, so a slow round slows both. The verdict on throughput parity uses
the interval of that paired ratio (arche.stats.paired_ratio).
"""

from __future__ import annotations

import statistics
import time

import torch

from .config import Config
from .model import build_model
from .objectives import ar_loss_sum, draw_noise, masked_positions, mdlm_loss_sum, mdlm_normalizer


def step_fn(cfg: Config, paradigm: str, vocab_size: int, device, compiled: bool = False):
    """One optimizer step of a fresh model on random tokens, as train.py does it; `compiled`: through
    torch.compile on any device (training compiles on CUDA only: benchmarks/cpu_compile_ab.py asks
    whether it would pay on a CPU)."""
    from .device import autocast_for  # the precision policy of training
    from .trainrun import make_optimizer  # and its optimizer

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, paradigm, vocab_size=vocab_size).to(device).train()
    opt = make_optimizer(cfg, model, device)
    fwd = torch.compile(model) if compiled else model
    gen = torch.Generator().manual_seed(cfg.seed)
    tokens = torch.randint(0, vocab_size, (cfg.batch_size, cfg.seq_len), generator=gen).to(device)
    autocast = autocast_for(cfg, device)

    def step():
        with autocast:
            if paradigm == "ar":
                s, n = ar_loss_sum(fwd, tokens)
                loss = s / n
            else:
                t, u = draw_noise(
                    gen, cfg.batch_size, cfg.seq_len, cfg.mdlm_eps, cfg.mdlm_time_sampling == "stratified"
                )
                mask = masked_positions(t, u)
                loss = mdlm_loss_sum(fwd, tokens, t.to(device), mask.to(device), cfg.mdlm_loss, cfg.mdlm_eps)
                loss = loss / mdlm_normalizer(mask, cfg.mdlm_loss)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step


def interleaved(
    models: dict[str, tuple[Config, str]],
    vocab_size: int,
    device,
    rounds: int = 5,
    steps: int = 3,
    warmup: int = 1,
    log=print,
) -> dict:
    """Tokens/s of each model, alternated in one process.

    `models` maps a name ("ar", "mdlm", "mdlm_tied") to (config, paradigm). Every model first runs
    `warmup` untimed steps; then in each of `rounds` rounds every model runs `steps` timed steps, in
    an order that rotates by one each round. Returns {"per_round": {name: [tokens/s, ...]},
    "median": {...}, "min": {...}, "max": {...}, "rounds", "steps", "tokens_per_step"}."""
    device = torch.device(device)
    step_fns = {name: step_fn(cfg, paradigm, vocab_size, device) for name, (cfg, paradigm) in models.items()}
    cfg0 = next(iter(models.values()))[0]
    return interleave(step_fns, cfg0.batch_size * cfg0.seq_len, rounds, steps, warmup, log)


def interleave(
    step_fns: dict, tokens_per_step: int, rounds: int = 5, steps: int = 3, warmup: int = 1, log=print
) -> dict:
    """The rounds of `interleaved` over ready step functions {name: step()} of the same tokens per step."""
    for fn in step_fns.values():
        for _ in range(warmup):
            fn()
    names = list(step_fns)
    per_round = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            for _ in range(steps):
                step_fns[name]()
            per_round[name].append(steps * tokens_per_step / (time.perf_counter() - t0))
        if log is not None:
            log(
                "throughput round %d/%d: " % (r + 1, rounds)
                + ", ".join(f"{n} {per_round[n][-1]:,.0f} tok/s" for n in names)
            )
    return {
        "per_round": per_round,
        "median": {n: statistics.median(v) for n, v in per_round.items()},
        "min": {n: min(v) for n, v in per_round.items()},
        "max": {n: max(v) for n, v in per_round.items()},
        "rounds": rounds,
        "steps": steps,
        "tokens_per_step": tokens_per_step,
    }
