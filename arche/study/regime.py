"""The controlled training regime, chosen by pilots under a rule fixed before the main run.

At the replica's size `scale_to_budget` left 2 sequences per optimizer step, so each MDLM step saw two
noise levels: every MDLM run sat on the unigram plateau for a seed-dependent number of steps, and
when it left decided its final bound. Two changes follow the MDLM reference (kuleshov-group/mdlm):
the noise levels of a batch are stratified (`mdlm_time_sampling="stratified"`, arche.objectives), and
the number of sequences per step is measured, not assumed. Both paradigms are treated alike: the same
candidates, the same share of the budget, the same rule.

REGIME_RULE (committed before the main run; `python -m arche regime --profile P` runs it):

1. Batch (sequences per optimizer step, tokens per run fixed, so more sequences means fewer steps):
   each candidate in BATCH_CANDIDATES trains AR and MDLM under the controlled protocol at the profile's
   learning rate for PILOT_SHARE of the run's tokens (its own warmup and cosine schedule), seeds
   PILOT_SEEDS. A paradigm's score at a batch is the mean over seeds of its final validation bound (AR
   NLL, MDLM NELBO, nats/token). The batch chosen is the one whose worse paradigm is closest to its own
   best batch (minimise over batches the largest regret, score minus the paradigm's best score);
   ties go to the smaller batch (more updates).
2. Learning rate, at that batch: each paradigm trains at LR_FACTORS times the profile's rate (and the
   profile's rate, from step 1), first seed, the same share; each takes the rate of its lowest final
   bound. AR's becomes `ar_lr`, the MDLM's `mdlm_lr`, both for the controlled protocol (the published
   protocol keeps the profile's `lr` for both, as the released code has one rate; the batch is shared).
   (The first file this rule wrote, results/replica-regime.json, names AR's rate `lr`.)

Every pilot's plateau-escape step (arche.objectives.escape_step) is recorded beside its bound.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..io import write_json
from ..scaling import rebatch

# The rule's constants are imported by the report, which loads no torch: the trainer and what reads
# its runs are imported where the pilots run.

BATCH_CANDIDATES = (2, 8)
LR_FACTORS = (0.5, 2.0)
PILOT_SHARE = 0.5
PILOT_SEEDS = (0, 1)


def at_batch(cfg: Config, batch: int, share: float = 1.0) -> Config:
    """cfg with `batch` sequences per step and `share` of its tokens per run (arche.scaling.rebatch)."""
    return cfg.replace(**rebatch(cfg.to_dict(), batch, share), grad_accum=1)


def _pilot(cfg: Config, paradigm: str, batch: int, lr: float, seed: int, out_dir: Path, log) -> dict:
    from ..batches import TokenData
    from ..objectives import escape_step, unigram_cross_entropy
    from ..rundir import read_metrics
    from ..train import train

    pcfg = at_batch(cfg, batch, PILOT_SHARE).replace(lr=lr, seed=seed, keep_optimizer_state=False)
    run_dir = out_dir / f"{paradigm}_b{batch}_lr{lr:g}_s{seed}"
    log(f"== pilot {run_dir.name}: {pcfg.steps} steps of {batch} x {pcfg.seq_len} ==")
    train(pcfg, paradigm, run_dir, out_dir / "data", log=log)
    evals = [r for r in read_metrics(run_dir) if "val_loss" in r]
    data = TokenData(out_dir / "data")
    baseline = unigram_cross_entropy(data.train, data.val, data.codec.vocab_size, data.seq_len)
    key = "val_nll" if paradigm == "ar" else "val_nelbo"
    return {
        "paradigm": paradigm,
        "batch_size": batch,
        "lr": lr,
        "seed": seed,
        "steps": pcfg.steps,
        "final_bound": evals[-1][key],
        "escape_step": escape_step(evals, baseline, key),
        "unigram_xent": baseline,
    }


def choose_batch(pilots: list[dict]) -> int:
    """Rule step 1: the batch with the smallest largest regret over the paradigms (ties: smaller)."""
    score = {}
    for p in pilots:
        score.setdefault((p["paradigm"], p["batch_size"]), []).append(p["final_bound"])
    mean = {k: sum(v) / len(v) for k, v in score.items()}
    batches = sorted({b for _, b in mean})
    best = {par: min(mean[(par, b)] for b in batches) for par, _ in mean}
    regret = {b: max(mean[(par, b)] - best[par] for par in best) for b in batches}
    return min(batches, key=lambda b: (regret[b], b))


def choose_lr(pilots: list[dict], batch: int, seed: int) -> dict[str, float]:
    """Rule step 2: each paradigm's rate of lowest final bound at the chosen batch and first seed."""
    out = {}
    for paradigm in ("ar", "mdlm"):
        rows = [p for p in pilots if p["paradigm"] == paradigm and p["batch_size"] == batch and p["seed"] == seed]
        out[paradigm] = min(rows, key=lambda p: (p["final_bound"], p["lr"]))["lr"]
    return out


def run_regime(cfg: Config, out_dir, results_path=None, log=print) -> dict:
    """Run both steps of REGIME_RULE under the controlled protocol; write and return the choice."""
    from ..device import resolve_device, resolve_precision

    out_dir = Path(out_dir)
    base = cfg.replace(protocol="controlled", study="comparison")
    pilots = [
        _pilot(base, paradigm, batch, base.lr, seed, out_dir, log)
        for batch in BATCH_CANDIDATES
        for seed in PILOT_SEEDS
        for paradigm in ("ar", "mdlm")
    ]
    batch = choose_batch(pilots)
    for factor in LR_FACTORS:
        for paradigm in ("ar", "mdlm"):
            pilots.append(_pilot(base, paradigm, batch, base.lr * factor, PILOT_SEEDS[0], out_dir, log))
    lrs = choose_lr(pilots, batch, PILOT_SEEDS[0])
    chosen = {"batch_size": batch, "ar_lr": lrs["ar"], "mdlm_lr": lrs["mdlm"]}
    result = {
        "rule": "arche.study.regime.REGIME_RULE",
        "candidates": {"batch": list(BATCH_CANDIDATES), "lr_factors": [1.0, *LR_FACTORS], "share": PILOT_SHARE},
        "base": {k: getattr(base, k) for k in ("batch_size", "steps", "lr", "seq_len", "precision")},
        "precision_used": resolve_precision(base, resolve_device(base)),
        "pilots": pilots,
        "chosen": chosen,
    }
    if results_path:
        write_json(results_path, result)
    log(f"regime: chosen {chosen}")
    return result
