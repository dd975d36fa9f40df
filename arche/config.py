"""Every setting of a run, in one flat dataclass, plus the named profiles.

A run is described by a profile name and a handful of overrides:

    cfg = load_config("smoke", steps=200, seed=1)

`paper` holds the published setup (numbers from the paper and its released code), `smoke` a tiny CPU
run on the synthetic corpus, `study` the small-scale controlled study, `replica` the paper's regime
(epochs, parameters per token, warmup, evaluations) scaled to the real sample by `scale_to_budget`. The `protocol` key switches a
group of settings at once: `published` reproduces the released code's choices (no end-of-text
between stories, chunk-level split, AR prompted with "Once", the released MDLM sampler and Self-BLEU
estimator), `controlled` removes those confounds. Explicit overrides always win over the protocol.
"""

from __future__ import annotations

import dataclasses
import math
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class Config:
    # --- data ---
    source: str = "synthetic"          # "tinystories" (HF hub), "synthetic", a .txt/.jsonl path, or
                                       # "tinystories-sample" (../shared sample if present, else synthetic)
    n_tokens: int = 50_000_000         # tokens taken from the start of the source
    data_seed: int = 1234              # synthetic stories, split permutation
    eos_between_stories: bool = False  # published code: stories concatenated with no separator
    val_split: str = "chunk"           # "chunk" (published: random 5% of chunks) or "story" (no leakage)
    val_fraction: float = 0.05
    train_chunks: int = 0              # 0 = every training chunk; N = the first N (a fixed unique-data budget)
    compact_vocab: bool = False        # keep only the token ids the corpus uses (small CPU heads)
    # --- model (both paradigms share the backbone) ---
    vocab_size: int = 50257            # GPT-2; replaced by the corpus vocabulary when compact_vocab
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    d_ff: int = 2048
    rope_base: float = 10000.0
    mdlm_tied_head: bool = False       # published MDLM: untied head (+38.6M parameters)
    # --- objective ---
    mdlm_loss: str = "masked_mean"     # "masked_mean" (published) or "elbo" (MDLM's NELBO)
    mdlm_eps: float = 1e-3             # t ~ U(eps, 1): keeps the NELBO weight finite
    # --- optimisation ---
    steps: int = 20_000
    batch_size: int = 32
    seq_len: int = 512
    lr: float = 3e-4
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    grad_clip: float = 1.0
    warmup_steps: int = 500
    min_lr_ratio: float = 0.05         # the schedule decays to 5% of lr
    lr_schedule: str = "cosine"        # "cosine" (published) or "wsd": warmup, stable, linear decay over
    decay_fraction: float = 0.2        # ... the last decay_fraction of the steps (wsd only)
    seed: int = 0                      # training seed: init, data order, masking noise
    # --- bookkeeping ---
    eval_every: int = 2000
    eval_batches: int = 20
    eval_draws: int = 4                # MDLM: independent (t, mask) replicates of the validation set
    log_every: int = 100
    checkpoint_every: int = 1000
    keep_optimizer_state: bool = True  # False: a finished run keeps weights only (no resume needs more)
    device: str = "auto"               # "auto", "cpu", "cuda", "cuda:1", ...
    precision: str = "auto"            # "auto" (bf16 on a GPU with bf16, else fp16 + loss scaling; fp32
                                       # on CPU: arche.device), "fp32", "bf16", "fp16"
    grad_accum: int = 1                # micro-batches per step: the same global batch in less memory
    force_cpu: bool = False            # let a paper-size run start without CUDA (arche.device.check_fits)
    compile: bool = True               # torch.compile, used on CUDA only
    # --- sampling ---
    n_samples: int = 1000
    sample_length: int = 128
    sample_batch_size: int = 250
    sample_seed: int = 0
    ar_prompt: str = "Once"            # "" = unconditional, from <|endoftext|>
    ar_temperature: float = 0.8
    ar_top_p: float = 1.0
    ar_top_k: int = 0
    mdlm_sampler: str = "published"    # "published", "confidence", "ancestral", "remask"
    mdlm_steps: int = 100
    mdlm_prompt: str = ""              # "" = unconditional; else the prompt is fixed at the start
    # --- metrics and protocol ---
    self_bleu: str = "published"       # "published" (200 x 50 estimator) or "exact" (all pairs)
    protocol: str = "published"        # "published" or "controlled": see PROTOCOLS
    # --- the study: which models the pipeline trains and compares (see arche.study) ---
    compare_protocols: bool = False    # run both protocols side by side (else just `protocol`)
    n_seeds: int = 1                   # training + sampling seeds seed, seed+1, ...
    tied_mdlm: bool = False            # also train the parameter-matched (tied-head) MDLM
    sweep: bool = False                # MDLM steps / AR temperature sweep (diversity vs fluency)
    infill: bool = False               # MDLM infilling demonstration
    throughput_rounds: int = 5         # interleaved throughput benchmark (arche.speed): rounds
    throughput_steps: int = 3          # ... and timed optimizer steps per model and round
    # --- the repetition study (arche.repetition): the same unique data seen for more and more epochs ---
    study: str = "comparison"          # "comparison" (arche.study: AR vs MDLM) or "repetition"
    repetition_epochs: str = "1,2,4,8,16,32"  # epoch counts, each a run that ends its decay there
    repetition_shares: str = "1,0.25"  # unique-data budgets: shares of the training chunks
    repetition_sample_epochs: str = "2,8,32"  # the epoch counts whose models are sampled and scored

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **overrides) -> "Config":
        return _build(self.to_dict(), overrides)


# Settings that one switch changes together; see the module docstring.
PROTOCOLS = {
    "published": dict(eos_between_stories=False, val_split="chunk", ar_prompt="Once",
                      mdlm_sampler="published", self_bleu="published", mdlm_loss="masked_mean"),
    "controlled": dict(eos_between_stories=True, val_split="story", ar_prompt="",
                       mdlm_sampler="confidence", self_bleu="exact", mdlm_loss="elbo"),
}

CHOICES = {
    "val_split": ("chunk", "story"),
    "mdlm_loss": ("masked_mean", "elbo"),
    "precision": ("auto", "fp32", "bf16", "fp16"),
    "lr_schedule": ("cosine", "wsd"),
    "study": ("comparison", "repetition"),
    "mdlm_sampler": ("published", "confidence", "ancestral", "remask"),
    "self_bleu": ("published", "exact"),
    "protocol": tuple(PROTOCOLS),
}

PROFILES = {
    # The published setup: 50M TinyStories tokens, GPT-2 BPE, 20K steps x 32 x 512, d768 L12 H12.
    "paper": dict(source="tinystories", keep_optimizer_state=False),
    "paper_controlled": dict(source="tinystories", protocol="controlled", keep_optimizer_state=False),
    # Everything at paper scale on a GPU: both protocols, 3 seeds, tied MDLM, sweep, infilling.
    "paper_study": dict(source="tinystories", compare_protocols=True, n_seeds=3, tied_mdlm=True,
                        sweep=True, infill=True, keep_optimizer_state=False),
    # Tiny and fast: the whole five-notebook pipeline on 2 CPU cores in a few minutes.
    "smoke": dict(
        source="synthetic", n_tokens=300_000, compact_vocab=True,
        d_model=128, n_layers=2, n_heads=4, d_ff=384, seq_len=128, batch_size=16,
        steps=300, warmup_steps=30, eval_every=100, eval_batches=8, eval_draws=32, log_every=25,
        checkpoint_every=100, lr=1e-3, n_samples=100, sample_batch_size=100, mdlm_steps=50,
        compare_protocols=True, sweep=True, infill=True,
    ),
    # The controlled study at CPU scale (real sample when present, else synthetic): see arche.study.
    "study": dict(
        source="tinystories-sample", n_tokens=300_000, compact_vocab=True,
        d_model=128, n_layers=2, n_heads=4, d_ff=384, seq_len=128, batch_size=16,
        steps=300, warmup_steps=30, eval_every=50, eval_batches=8, eval_draws=32, log_every=25,
        checkpoint_every=100, lr=1e-3, n_samples=150, sample_batch_size=150, mdlm_steps=50,
        compare_protocols=True, n_seeds=3, tied_mdlm=True, sweep=True, infill=True,
    ),
}

# Keys that may change when a run directory is resumed: they do not change what is computed.
RESUMABLE_KEYS = {"device", "compile", "log_every", "checkpoint_every", "sample_batch_size", "keep_optimizer_state",
                  "force_cpu"}


class ConfigError(ValueError):
    """A bad key or value; the message names it."""


def load_config(profile: str = "smoke", **overrides) -> Config:
    """The profile's settings, then its protocol's, then `overrides` (which always win)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    return _build(Config().to_dict(), {**PROFILES[profile], **overrides}, reapply_protocol=True)


def parse_overrides(items: list[str] | None) -> dict:
    """`["steps=100", "ar_prompt=Once"]` -> typed dict; names the offending item on error."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, text = item.split("=", 1)
        key = key.strip()
        out[key] = _parse_value(key, text)
    return out


def _build(base: dict, overrides: dict, reapply_protocol: bool = False) -> Config:
    known = {f.name for f in fields(Config)}
    for key in overrides:
        if key not in known:
            raise ConfigError(f"unknown config key {key!r}")
    values = dict(base)
    if reapply_protocol:
        protocol = overrides.get("protocol", values["protocol"])
        _check("protocol", protocol)
        values.update(PROTOCOLS[protocol])
    elif "protocol" in overrides:
        values.update(PROTOCOLS[_check("protocol", overrides["protocol"])])
    for key, value in overrides.items():
        values[key] = _check(key, value)
    cfg = Config(**values)
    _validate(cfg)
    return cfg


_TYPES = {f.name: f.type for f in fields(Config)}


def _expected_type(key: str) -> type:
    t = _TYPES[key]
    return {"int": int, "float": float, "bool": bool, "str": str}[t] if isinstance(t, str) else t


def _check(key: str, value):
    """Type-check one value; ints are accepted where a float is expected."""
    want = _expected_type(key)
    ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(f"config key {key!r} expects {want.__name__}, got {type(value).__name__} {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"config key {key!r} must be one of {list(CHOICES[key])}, got {value!r}")
    return value


def _parse_value(key: str, text: str):
    if key not in _TYPES:
        raise ConfigError(f"unknown config key {key!r}")
    want = _expected_type(key)
    try:
        if want is bool:
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if want is int:
            return int(text.replace("_", ""))
        if want is float:
            return float(text)
    except ValueError:
        raise ConfigError(f"config key {key!r} expects {want.__name__}, got {text!r}") from None
    return text


def _validate(cfg: Config) -> None:
    """Cross-field checks, so that a bad combination fails before any work is done."""
    import math
    import re

    positive = ["n_tokens", "d_model", "n_layers", "n_heads", "d_ff", "steps", "batch_size", "seq_len",
                "eval_every", "eval_batches", "eval_draws", "grad_accum", "throughput_rounds", "throughput_steps", "log_every", "checkpoint_every", "n_samples",
                "sample_length", "sample_batch_size", "mdlm_steps", "vocab_size", "n_seeds"]
    for key in positive:
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"config key {key!r} must be positive, got {getattr(cfg, key)}")
    if cfg.d_model % cfg.n_heads or (cfg.d_model // cfg.n_heads) % 2:
        raise ConfigError(f"d_model ({cfg.d_model}) must split into n_heads ({cfg.n_heads}) heads of even size")
    if cfg.batch_size % cfg.grad_accum:
        raise ConfigError(f"batch_size ({cfg.batch_size}) must split into grad_accum ({cfg.grad_accum}) equal "
                          "micro-batches")
    if not 0.0 < cfg.val_fraction < 1.0:
        raise ConfigError(f"config key 'val_fraction' must be in (0, 1), got {cfg.val_fraction}")
    # NaN passes every comparison below (and a run dir made with it could never be resumed: nan != nan).
    for f in fields(Config):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key {f.name!r} must be a finite number, got {value}")
    if not 0.0 < cfg.ar_top_p <= 1.0:
        raise ConfigError(f"config key 'ar_top_p' must be in (0, 1], got {cfg.ar_top_p}")
    for key in ("ar_temperature", "lr", "grad_clip", "rope_base"):
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"config key {key!r} must be positive, got {getattr(cfg, key)}")
    for key in ("warmup_steps", "ar_top_k", "seed", "data_seed", "sample_seed", "train_chunks"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"config key {key!r} must be >= 0, got {getattr(cfg, key)}")
    if cfg.weight_decay < 0:
        raise ConfigError(f"config key 'weight_decay' must be >= 0, got {cfg.weight_decay}")
    for key in ("beta1", "beta2"):
        if not 0.0 <= getattr(cfg, key) < 1.0:
            raise ConfigError(f"config key {key!r} must be in [0, 1), got {getattr(cfg, key)}")
    if not 0.0 <= cfg.min_lr_ratio <= 1.0:
        raise ConfigError(f"config key 'min_lr_ratio' must be in [0, 1], got {cfg.min_lr_ratio}")
    if not 0.0 < cfg.decay_fraction <= 1.0:
        raise ConfigError(f"config key 'decay_fraction' must be in (0, 1], got {cfg.decay_fraction}")
    epochs = parse_list(cfg, "repetition_epochs", int)
    parse_list(cfg, "repetition_shares", float, upper=1.0)
    missing = [e for e in parse_list(cfg, "repetition_sample_epochs", int) if e not in epochs]
    if missing:
        raise ConfigError(f"repetition_sample_epochs {missing} are not in repetition_epochs {epochs}")
    if not 0.0 < cfg.mdlm_eps < 1.0:
        raise ConfigError(f"config key 'mdlm_eps' must be in (0, 1), got {cfg.mdlm_eps}")
    # Attention memory grows with seq_len squared: 100,000 would hang a machine without a word.
    if cfg.seq_len > 8192:
        raise ConfigError(f"config key 'seq_len' must be at most 8192, got {cfg.seq_len}")
    if 2 * cfg.seq_len > cfg.n_tokens:
        raise ConfigError(f"n_tokens ({cfg.n_tokens}) must hold at least two chunks of seq_len ({cfg.seq_len})")
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", cfg.device):
        raise ConfigError(f"config key 'device' must be auto, cpu, mps, cuda or cuda:N, got {cfg.device!r}")


def parse_list(cfg: Config, key: str, kind=int, upper: float | None = None) -> list:
    """A comma-separated list setting ("1,2,4") as sorted unique positive numbers; ConfigError naming it."""
    text = getattr(cfg, key)
    try:
        values = sorted({kind(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise ConfigError(f"config key {key!r} must be comma-separated {kind.__name__}s, got {text!r}") from None
    if not values or values[0] <= 0 or (upper is not None and values[-1] > upper):
        bound = f" and at most {upper:g}" if upper is not None else ""
        raise ConfigError(f"config key {key!r} must list positive numbers{bound}, got {text!r}")
    return values


def config_diff(old: dict, new: dict, ignore=RESUMABLE_KEYS) -> dict:
    """Keys whose values differ between two config dicts: {key: (old, new)}."""
    keys = (set(old) | set(new)) - set(ignore)
    return {k: (old.get(k), new.get(k)) for k in sorted(keys) if old.get(k) != new.get(k)}


def dumps(cfg: Config) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True)


# --------------------------------------------------------------------------- where runs live

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def project_root() -> Path:
    """The checkout arche is installed from (editable install, Colab clone), else the working directory."""
    return PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").exists() else Path.cwd()


def resource_dir(name: str) -> Path:
    """notebooks/ or paper/: the checkout's own when arche runs from one (editable install, Colab
    clone), else the copy the wheel ships inside the package (pyproject.toml maps both into it)."""
    if (PACKAGE_ROOT / "pyproject.toml").exists() and (PACKAGE_ROOT / name).is_dir():
        return PACKAGE_ROOT / name
    return Path(__file__).resolve().parent / name


# The five stages of the pipeline, one notebook each, run in this order (arche.pipeline).
STAGES = ("01_data", "02_train_ar", "03_train_mdlm", "04_sample", "05_analysis")


def scale_level(synthetic: bool, n_tokens: int, steps: int, d_model: int, n_layers: int) -> int:
    """0: the paper's scale on real data; 1: toy data (the synthetic corpus); 2: a small-scale run on
    real data (fewer tokens, steps or a smaller model than the paper's: the `paper` profile)."""
    if synthetic:
        return 1
    paper = Config()
    small = (n_tokens < paper.n_tokens or steps < paper.steps or d_model < paper.d_model or n_layers < paper.n_layers)
    return 2 if small else 0


def scale_note(level: int, n_tokens: int) -> str:
    """The mark every artefact of a run below the paper's scale carries (figure titles, the HTML
    report, notebook output, the README block, the PDF banner); "" at the paper's scale."""
    share = n_tokens / Config().n_tokens
    return {0: "",
            1: "TOY DATA: the synthetic corpus; these numbers test the pipeline and say nothing about the models",
            2: f"SMALL-SCALE RUN: {n_tokens:,} tokens ({share:.1%} of the paper's 50M) and a smaller model; "
               "it shows the method, not the paper-scale result"}[level]


def config_scale_note(cfg: Config) -> str:
    return scale_note(scale_level(cfg.source == "synthetic", cfg.n_tokens, cfg.steps, cfg.d_model, cfg.n_layers),
                      cfg.n_tokens)


def default_run_dir(profile: str) -> str:
    """Where a profile's run goes when no run directory is named: runs/PROFILE (one name shared by the
    five notebooks and the runner, so that changing the profile alone moves the whole run)."""
    return f"runs/{profile}"


def resolve_run_dir(run_dir) -> Path:
    """An absolute run directory. A relative one is taken from $ARCHE_RUNS_ROOT when set (Colab sets
    it to Google Drive), else from the repository root, whatever the current directory is (papermill
    runs a notebook from notebooks/)."""
    path = Path(run_dir).expanduser()
    if path.is_absolute():
        return path
    base = Path(os.environ["ARCHE_RUNS_ROOT"]) if os.environ.get("ARCHE_RUNS_ROOT") else project_root()
    return (base / path).resolve()


# --------------------------------------------------------------------------- scaling a protocol down

# The whole real TinyStories sample (4,000 stories, ../shared/data/tinystories-sample), counted once
# with the GPT-2 tokenizer (tests/test_replica.py recounts it when the sample is present):
# tokens with one <|endoftext|> after each story (the controlled protocol; the published one has
# 4,000 fewer), and the compact vocabulary `prepare` builds from them (manifest vocab_size).
SAMPLE_TOKENS = 819_674
SAMPLE_VOCAB = 7_302


def ar_param_counts(vocab_size: int, d_model: int, n_layers: int, d_ff: int) -> dict:
    """Parameters of the AR model (arche.model, tied head) without building it: embedding V*d,
    per layer 4d^2 (attention) + 3*d*d_ff (SwiGLU) + 2d (RMSNorm), and the final RMSNorm."""
    non_embedding = n_layers * (4 * d_model ** 2 + 3 * d_model * d_ff + 2 * d_model) + d_model
    return {"total": vocab_size * d_model + non_embedding, "non_embedding": non_embedding}


def flops_per_token(cfg: Config, vocab_size: int) -> float:
    """Training FLOPs per token (forward + backward = 3 x forward): 6 per non-embedding parameter, 6 d V
    for the output head, and 12 L d T for attention scores and values (dense: no saving for causality)."""
    counts = ar_param_counts(vocab_size, cfg.d_model, cfg.n_layers, cfg.d_ff)
    return float(6 * counts["non_embedding"] + 6 * cfg.d_model * vocab_size
                 + 12 * cfg.n_layers * cfg.d_model * cfg.seq_len)


def study_models(cfg: Config) -> dict[str, int]:
    """How many models of each kind a run trains (the judge counted as an AR model); torch-free."""
    if cfg.study == "repetition":
        n = cfg.n_seeds * len(parse_list(cfg, "repetition_shares", float)) * (len(parse_list(cfg, "repetition_epochs")) + 1)
        return {"ar": n + 1, "mdlm": n, "mdlm_tied": 0}
    protocols = 2 if cfg.compare_protocols else 1
    return {"ar": protocols * cfg.n_seeds + 1, "mdlm": protocols * cfg.n_seeds,
            "mdlm_tied": cfg.n_seeds if cfg.tied_mdlm else 0}


def disk_bytes(cfg: Config, vocab_size: int | None = None) -> dict[str, float]:
    """Checkpoint bytes of a whole run (fp32 weights, Adam's two moments), at its peak: every finished
    model plus the largest one in training (last + prev with optimizer state, best without: 28 bytes per
    parameter). A finished model keeps 28 bytes per parameter with keep_optimizer_state, 4 without (one
    file of weights: arche.train.drop_optimizer_state). Samples and token files are small beside these."""
    v = vocab_size or cfg.vocab_size
    ar = ar_param_counts(v, cfg.d_model, cfg.n_layers, cfg.d_ff)["total"]
    params = {"ar": ar, "mdlm": ar + v * cfg.d_model + cfg.d_model, "mdlm_tied": ar + cfg.d_model}
    n = study_models(cfg)
    total = sum(n[k] * params[k] for k in n)
    largest = max(params[k] for k in n if n[k])
    return {"keep": 28.0 * total, "drop": 4.0 * total + 24.0 * largest, "params": params, "models": n}


def describe_cost(cfg: Config) -> str:
    """What a run costs, in words: models, tokens and FLOPs per model, and its disk under both policies."""
    d = disk_bytes(cfg)
    tokens = cfg.steps * cfg.batch_size * cfg.seq_len
    flops = tokens * flops_per_token(cfg, cfg.vocab_size)
    models = ", ".join(f"{n} {k.upper().replace('_TIED', ' (tied)')}" for k, n in d["models"].items() if n)
    gb = lambda b: f"{b / 1e9:,.1f} GB" if b >= 1e8 else f"{b / 1e6:,.1f} MB"  # noqa: E731
    policy = "keep" if cfg.keep_optimizer_state else "drop"
    lines = [f"# models: {models}; AR {d['params']['ar'] / 1e6:,.1f}M parameters at vocab_size {cfg.vocab_size:,}"
             + (" (compact_vocab: the corpus' vocabulary replaces it, fewer)" if cfg.compact_vocab else ""),
             f"# per model: {tokens:,} training tokens, {flops:.2g} FLOPs"
             + (" (repetition: each epoch count its own length)" if cfg.study == "repetition" else ""),
             f"# checkpoint disk at peak: {gb(d['keep'])} keeping optimizer state, {gb(d['drop'])} with "
             f"keep_optimizer_state=False (this profile: {policy})"]
    return "\n".join(lines)


def scale_to_budget(base: Config, train_tokens: int, vocab_size: int | None = None,
                    base_train_tokens: int | None = None, min_steps: int = 1000,
                    n_evals: int | None = None, val_tokens: int | None = None) -> Config:
    """The replica of `base` for a budget of `train_tokens` training tokens: the same regime, smaller.

    Kept from `base` (the paper profile): epochs over the training tokens (steps * batch * seq_len /
    train_tokens; paper 20,000 * 32 * 512 / 47.5M = 6.9), the warmup fraction (500 / 20,000 = 2.5%),
    the number of evaluations (20,000 / 2,000 = 10), the schedule shape (cosine to min_lr_ratio),
    seq_len, the head size (d_model / n_heads = 64) and d_ff / d_model (2048 / 768).
    Chosen: the width (a multiple of the head size, at most base's) and depth whose AR model is closest,
    in log ratio summed over the three, to base's parameters per training token (total, which counts
    the embedding of `vocab_size` rows, and non-embedding) and to base's width/depth (768 / 12 = 64).
    The batch is base's, halved until the run has at least `min_steps` optimizer steps (a few hundred
    steps of a small model is too few updates to learn from); steps are then rounded to a multiple of
    the number of evaluations. The learning rate grows as 1/width (the muP rule for Adam's hidden
    matrices), capped at 1e-3, the value this repository's d128 profiles train with.

    `base_train_tokens` defaults to base.n_tokens * (1 - base.val_fraction) (the paper: 47.5M);
    `vocab_size` to base's (pass the compact vocabulary of the corpus: it shrinks the embedding);
    `val_tokens` (default train_tokens * val_fraction / (1 - val_fraction)) sets eval_batches to
    cover the held-out set once, at most base's. The returned config has n_tokens = train_tokens /
    (1 - val_fraction), so that `prepare` takes that many tokens.
    """
    vocab = vocab_size or base.vocab_size
    base_train = base_train_tokens or int(round(base.n_tokens * (1 - base.val_fraction)))
    if train_tokens <= 0 or base_train <= 0:
        raise ConfigError("train_tokens must be positive")
    base_tokens_per_step = base.batch_size * base.seq_len
    epochs = base.steps * base_tokens_per_step / base_train
    n_evals = n_evals or max(1, round(base.steps / base.eval_every))
    warmup_fraction = base.warmup_steps / base.steps
    head_dim = base.d_model // base.n_heads
    ff_ratio = base.d_ff / base.d_model
    aspect = base.d_model / base.n_layers
    base_counts = ar_param_counts(base.vocab_size, base.d_model, base.n_layers, base.d_ff)
    target_total = base_counts["total"] / base_train
    target_non_emb = base_counts["non_embedding"] / base_train

    def d_ff_for(d):
        return max(8, int(round(d * ff_ratio / 8)) * 8)

    best = None
    for d in range(head_dim, base.d_model + 1, head_dim):
        for layers in range(1, base.n_layers + 1):
            counts = ar_param_counts(vocab, d, layers, d_ff_for(d))
            score = (abs(math.log(counts["total"] / train_tokens / target_total))
                     + abs(math.log(counts["non_embedding"] / train_tokens / target_non_emb))
                     + abs(math.log(d / layers / aspect)))
            if best is None or score < best[0] - 1e-12:
                best = (score, d, layers)
    _, d, layers = best

    tokens_seen = epochs * train_tokens
    batch = base.batch_size
    while batch > 1 and tokens_seen / (batch * base.seq_len) < min_steps:
        batch //= 2
    steps = max(n_evals, int(round(tokens_seen / (batch * base.seq_len) / n_evals)) * n_evals)
    val = val_tokens if val_tokens is not None else train_tokens * base.val_fraction / (1 - base.val_fraction)
    eval_batches = max(1, min(base.eval_batches, int(val // (batch * base.seq_len))))
    lr = min(1e-3, base.lr * base.d_model / d)
    overrides = dict(
        n_tokens=int(math.ceil(train_tokens / (1 - base.val_fraction))), vocab_size=vocab,
        d_model=d, n_layers=layers, n_heads=d // head_dim, d_ff=d_ff_for(d),
        batch_size=batch, steps=steps, warmup_steps=int(round(warmup_fraction * steps)),
        eval_every=steps // n_evals, eval_batches=eval_batches, lr=lr,
        checkpoint_every=max(1, round(base.checkpoint_every * steps / base.steps)),
        log_every=max(1, round(base.log_every * steps / base.steps)),
    )
    return base.replace(**overrides)


# The replica on this project's 2-core CPU: the whole sample's replica projects to ~11 h there
# (benchmarks/RESULTS.md), and training cost grows with the square of the budget (model size and
# tokens seen both scale with it), so `replica` takes the first third of the sample, whose study
# fits the 75-minute limit; `replica_full` is the whole sample, for a GPU or a long CPU run.
REPLICA_SHARE = 1 / 3
REPLICA_VOCAB = 5_019  # distinct GPT-2 tokens (end-of-text included) in that first third, counted once


def replica_overrides(share: float = REPLICA_SHARE, vocab_size: int = REPLICA_VOCAB) -> dict:
    """A replica profile: the paper's protocol scaled (scale_to_budget) to `share` of the real sample's
    training tokens (SAMPLE_TOKENS), plus the study's settings. Its sizes are computed, not typed."""
    paper = _build(Config().to_dict(), PROFILES["paper"], reapply_protocol=True)
    train_tokens = int(round(SAMPLE_TOKENS * (1 - paper.val_fraction) * share))
    cfg = scale_to_budget(paper, train_tokens, vocab_size=vocab_size)
    keys = ("n_tokens", "d_model", "n_layers", "n_heads", "d_ff", "batch_size", "steps", "warmup_steps",
            "eval_every", "eval_batches", "lr", "checkpoint_every", "log_every")
    out = {
        "source": "tinystories-sample", "compact_vocab": True,  # vocab_size comes from the corpus
        **{k: getattr(cfg, k) for k in keys},
        "n_samples": 300, "sample_batch_size": 300, "mdlm_steps": 100, "precision": "fp32",
        "eval_draws": 8,  # the NELBO's standard error at the last evaluation: see results.json
        "compare_protocols": True, "n_seeds": 3, "tied_mdlm": True, "sweep": True, "infill": True,
    }
    if share >= 1:
        out["n_tokens"] = max(out["n_tokens"], SAMPLE_TOKENS)  # every story, whatever the rounding
    return out


# The paper's regime at a size this machine can run (about an hour on 2 CPU cores), and at the size
# of the whole real sample (hours on a CPU): see replica_overrides.
PROFILES["replica"] = replica_overrides()
PROFILES["replica_full"] = replica_overrides(share=1.0, vocab_size=SAMPLE_VOCAB)


# The repetition study (arche.repetition): the replica's model and unique data (and a quarter of it),
# seen for 1 to 32 epochs by both paradigms under the controlled protocol. bf16 autocast on the CPU
# (tests/test_bf16_cpu.py: within 0.05 nats of fp32) keeps it within an hour on 2 cores.
PROFILES["repetition"] = {
    **replica_overrides(), "study": "repetition", "protocol": "controlled", "compare_protocols": False,
    "n_seeds": 2, "tied_mdlm": False, "sweep": False, "infill": False, "precision": "bf16",
    "repetition_epochs": "1,2,4,8,16,32", "repetition_shares": "1,0.25", "repetition_sample_epochs": "2,8,32",
    "decay_fraction": 0.2, "n_samples": 100, "sample_batch_size": 100,
}
