"""The named profiles and `load_config`: a profile is a dict of config overrides, applied on Config's
defaults, then its protocol's settings, then the user's overrides (arche.config.build_config). `paper*`
are the published setup on a GPU, `smoke` a few minutes on a CPU, `replica`/`replica_full` the paper's
regime scaled to the real sample by arche.scaling, `repetition` the repetition study
(arche.study.repetition), `repetition_fair` the same in the replica's fair-fight regime, to 128 epochs."""

from .config import Config, ConfigError, build_config
from .scaling import SAMPLE_VOCAB, rebatch, replica_overrides

PROFILES = {
    # The published setup: 50M TinyStories tokens, GPT-2 BPE, 20K steps x 32 x 512, d768 L12 H12.
    "paper": dict(source="tinystories", keep_optimizer_state=False),
    "paper_controlled": dict(source="tinystories", protocol="controlled", keep_optimizer_state=False),
    # Everything at paper scale on a GPU: both protocols, 3 seeds, tied MDLM, sweep, infilling.
    "paper_study": dict(
        source="tinystories",
        compare_protocols=True,
        n_seeds=3,
        tied_mdlm=True,
        sweep=True,
        infill=True,
        keep_optimizer_state=False,
    ),
}

# The CPU-sized run both `smoke` and `study` make: d128, two layers, 300 steps of 16 x 128 tokens, both
# protocols, the frontier and infilling.
CPU_SMALL = dict(
    n_tokens=300_000,
    compact_vocab=True,
    d_model=128,
    n_layers=2,
    n_heads=4,
    d_ff=384,
    seq_len=128,
    batch_size=16,
    steps=300,
    warmup_steps=30,
    eval_batches=8,
    eval_draws=32,
    log_every=25,
    checkpoint_every=100,
    lr=1e-3,
    mdlm_steps=50,
    compare_protocols=True,
    sweep=True,
    infill=True,
)
# Tiny and fast: the whole five-notebook pipeline on 2 CPU cores in a few minutes, on synthetic stories.
PROFILES["smoke"] = dict(
    **CPU_SMALL, source="synthetic", eval_every=100, n_samples=100, sample_batch_size=100, mdlm_judge=True
)
# The controlled study at CPU scale, on the real sample: see arche.study.
PROFILES["study"] = dict(
    **CPU_SMALL, source="tinystories-sample", eval_every=50, n_samples=150, sample_batch_size=150, n_seeds=3,
    tied_mdlm=True,
)  # fmt: skip

# The paper's regime at a size this machine can run (about an hour on 2 CPU cores), and at the size
# of the whole real sample (hours on a CPU): see replica_overrides.
# The replica's controlled regime is what arche.study.regime's rule chose from its pilots (2026-11-30, fp32:
# results/replica-regime.json; tests/test_fair_fight.py checks these values are that rule applied to
# that file): the scaled paper's batch (2 sequences per step) and, for each paradigm, the top of the
# rate grid (2 x the scaled paper's 1e-3). The published protocol keeps `lr` for both.
REPLICA_REGIME = {"batch_size": 2, "ar_lr": 2e-3, "mdlm_lr": 2e-3}


def with_regime(profile: dict, chosen: dict) -> dict:
    """`profile` trained in the regime `chosen` (batch_size, ar_lr, mdlm_lr): a new batch keeps the tokens
    per run and the shares of warmup, evaluations and logging (arche.scaling.rebatch)."""
    out = {**profile, "ar_lr": chosen["ar_lr"], "mdlm_lr": chosen["mdlm_lr"]}
    if chosen["batch_size"] != profile["batch_size"]:
        out.update(rebatch(profile, chosen["batch_size"]))
    return out


PROFILES["replica"] = with_regime(replica_overrides(), REPLICA_REGIME)
PROFILES["replica_full"] = replica_overrides(share=1.0, vocab_size=SAMPLE_VOCAB)


# The repetition study (arche.study.repetition): the replica's model and unique data (and a quarter of it),
# seen for 1 to 32 epochs by both paradigms under the controlled protocol. bf16 autocast on a CPU with
# native bf16 (tests/test_bf16_cpu.py: within 0.05 nats of fp32) kept it within an hour on 2 cores; a
# CPU without it runs fp32 (arche.device), as results.json's precision_used records.
PROFILES["repetition"] = {
    **replica_overrides(),
    "study": "repetition",
    "protocol": "controlled",
    "compare_protocols": False,
    "n_seeds": 2,
    "tied_mdlm": False,
    "sweep": False,
    "infill": False,
    "precision": "bf16",
    "repetition_epochs": "1,2,4,8,16,32",
    "repetition_shares": "1,0.25",
    "repetition_sample_epochs": "2,8,32",
    "decay_fraction": 0.2,
    "n_samples": 100,
    "sample_batch_size": 100,
}


# The repetition study re-run fairly (issue 22): the replica's fair-fight regime (REPLICA_REGIME; the controlled
# protocol as the replica ran it), 3 seeds, epoch counts up to 128. repetition_max_tokens gives both budgets' trunks
# the same cost, 32 epochs of the whole budget (506 chunks of 512 tokens) = 128 of the quarter (126 chunks): the
# whole budget runs 1-32 epochs, as the first study did, the quarter 1-128. About 119M training tokens in all (each
# trunk 0.8 x its longest run, plus every branch's decay): ~5-6 h at this CPU's fp32 5-7K tok/s.
# fp32, as the replica: a run resumed on another CPU (with or without native bf16) keeps the same arithmetic.
PROFILES["repetition_fair"] = {
    **with_regime(PROFILES["repetition"], REPLICA_REGIME),
    "precision": "fp32",
    "n_seeds": 3,
    "repetition_epochs": "1,2,4,8,16,32,64,128",
    "repetition_max_tokens": 32 * 506 * 512,
    "repetition_sample_epochs": "2,8,32",
}


def load_config(profile: str = "smoke", **overrides) -> Config:
    """The profile's settings, then its protocol's, then `overrides` (which always win)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    return build_config({**PROFILES[profile], **overrides})
