"""Every setting of a run, in one flat dataclass, checked (the named profiles are arche.profiles).

A run is described by a profile name and a handful of overrides:

    cfg = load_config("smoke", steps=200, seed=1)  # arche.profiles

`paper` holds the published setup (numbers from the paper and its released code), `smoke` a tiny CPU
run on the synthetic corpus, `study` the small-scale controlled study, `replica` the paper's regime
(epochs, parameters per token, warmup, evaluations) scaled to the real sample by `scale_to_budget`
(arche.scaling); profiles are listed in arche.profiles. The `protocol` key switches a group of settings
at once: `published` reproduces the released code's choices (no end-of-text
between stories, chunk-level split, AR prompted with "Once", the released MDLM sampler and Self-BLEU
estimator), `controlled` removes those confounds. Explicit overrides always win over the protocol.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, fields


# fmt: off
@dataclass(frozen=True)
class Config:
    # --- data ---
    source: str = "synthetic"          # "tinystories" (HF hub), "synthetic", a .txt/.jsonl path, or
                                       # "tinystories-sample" (../shared sample or $ARCHE_SAMPLE_PATH, else an error)
    n_tokens: int = 50_000_000         # tokens taken from the start of the source
    data_seed: int = 1234              # synthetic stories, split permutation
    eos_between_stories: bool = False  # published code: stories concatenated with no separator
    val_split: str = "chunk"           # "chunk" (published: random 5% of chunks) or "story" (no leakage)
    val_fraction: float = 0.05
    train_chunks: int = 0              # 0 = every training chunk; N = the first N (a fixed unique-data budget)
    skip_stories: int = 0              # start after the first N stories of the source (the judges' and the
                                       # references' stories: ones no arm trains on, arche.study)
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
    mdlm_time_sampling: str = "iid"    # "iid" (released code: t per sequence independently) or "stratified"
                                       # (the MDLM reference's low-discrepancy sampler: one t per 1/B stratum)
    # --- optimisation ---
    steps: int = 20_000
    batch_size: int = 32
    seq_len: int = 512
    lr: float = 3e-4
    ar_lr: float = 0.0                 # controlled protocol: the AR arms' learning rate; 0 = lr
    mdlm_lr: float = 0.0               # controlled protocol: the MDLM arms' rate; 0 = lr (arche.study.regime
                                       # chooses both; the published protocol keeps `lr` for both)
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
    log_to: str = ""                   # also send the metrics rows to "tensorboard" (RUN/.../tensorboard) or "wandb"
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
    mdlm_temperature: float = 0.0      # 0 = the sampler's own (SAMPLER_DEFAULTS); else its temperature
    mdlm_prompt: str = ""              # "" = unconditional; else the prompt is fixed at the start
    # --- metrics and protocol ---
    self_bleu: str = "published"       # "published" (200 x 50 estimator) or "exact" (all pairs)
    protocol: str = "published"        # "published" or "controlled": see PROTOCOLS
    # --- the study: which models the pipeline trains and compares (see arche.study) ---
    compare_protocols: bool = False    # run both protocols side by side (else just `protocol`)
    n_seeds: int = 1                   # training + sampling seeds seed, seed+1, ...
    tied_mdlm: bool = False            # also train the parameter-matched (tied-head) MDLM
    ar_seeds: int = 0                  # AR arms of the main protocol: 0 = n_seeds (AR is cheap: more seeds)
    mdlm_judge: bool = False           # also train an MDLM judge (its NELBO of the samples: a second opinion)
    sweep: bool = False                # the quality-diversity frontier: AR and MDLM temperature, MDLM steps
    infill: bool = False               # MDLM infilling demonstration
    throughput_rounds: int = 5         # interleaved throughput benchmark (arche.speed): rounds
    throughput_steps: int = 3          # ... and timed optimizer steps per model and round
    # --- the repetition study (arche.study.repetition): the same unique data seen for more and more epochs ---
    study: str = "comparison"          # "comparison" (arche.study: AR vs MDLM) or "repetition"
    repetition_epochs: str = "1,2,4,8,16,32"  # epoch counts, each a run that ends its decay there
    repetition_shares: str = "1,0.25"  # unique-data budgets: shares of the training chunks
    repetition_sample_epochs: str = "2,8,32"  # the epoch counts whose models are sampled and scored
    repetition_max_tokens: int = 0     # 0: every budget runs every epoch count; else only those of at most this
                                       # many training tokens (epochs x budget): a smaller budget reaches more epochs

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **overrides) -> "Config":
        return _build(self.to_dict(), overrides)
# fmt: on


# Settings that one switch changes together; see the module docstring.
# The MDLM samplers (arche.denoise implements them; its settings and functions are keyed by these names).
MDLM_SAMPLERS = ("published", "confidence", "confidence_plain", "ancestral", "remask")

PROTOCOLS = {
    "published": dict(
        eos_between_stories=False,
        val_split="chunk",
        ar_prompt="Once",
        mdlm_sampler="published",
        self_bleu="published",
        mdlm_loss="masked_mean",
        ar_temperature=0.8,
        mdlm_time_sampling="iid",
    ),
    "controlled": dict(
        eos_between_stories=True,
        val_split="story",
        ar_prompt="",
        ar_temperature=1.0,  # both models' distributions as they are: no temperature, no penalty
        mdlm_sampler="ancestral",
        self_bleu="exact",
        mdlm_loss="elbo",
        mdlm_time_sampling="stratified",
    ),
}

CHOICES = {
    "val_split": ("chunk", "story"),
    "mdlm_loss": ("masked_mean", "elbo"),
    "precision": ("auto", "fp32", "bf16", "fp16"),
    "lr_schedule": ("cosine", "wsd"),
    "study": ("comparison", "repetition"),
    "mdlm_sampler": MDLM_SAMPLERS,
    "mdlm_time_sampling": ("iid", "stratified"),
    "self_bleu": ("published", "exact"),
    "protocol": tuple(PROTOCOLS),
    "log_to": ("", "tensorboard", "wandb"),
}

# Keys that may change when a run directory is resumed: they do not change what is computed.
RESUMABLE_KEYS = {
    "device",
    "compile",
    "log_every",
    "log_to",
    "checkpoint_every",
    "sample_batch_size",
    "keep_optimizer_state",
    "force_cpu",
}


class ConfigError(ValueError):
    """A bad key or value; the message names it."""


def build_config(overrides: dict) -> Config:
    """Config's defaults (the paper's setup), then the protocol's settings, then `overrides` (which always
    win); arche.profiles.load_config passes a profile's settings and the user's here."""
    return _build(Config().to_dict(), overrides, reapply_protocol=True)


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


MAX_POSITIONS = 8192  # seq_len and sample_length: attention memory grows with their square

# One-key ranges: (keys, test, what the error says the value must be).
RANGES = (
    (("n_tokens", "d_model", "n_layers", "n_heads", "d_ff", "steps", "batch_size", "seq_len", "eval_every",
      "eval_batches", "eval_draws", "grad_accum", "throughput_rounds", "throughput_steps", "log_every",
      "checkpoint_every", "n_samples", "sample_length", "sample_batch_size", "mdlm_steps", "vocab_size", "n_seeds",
      "ar_temperature", "lr", "grad_clip", "rope_base"), lambda v: v > 0, "must be positive"),
    (("ar_lr", "mdlm_lr", "mdlm_temperature"), lambda v: v >= 0, "must be >= 0 (0: the default)"),
    (("warmup_steps", "ar_top_k", "seed", "data_seed", "sample_seed", "train_chunks", "skip_stories", "ar_seeds",
      "weight_decay", "repetition_max_tokens"), lambda v: v >= 0, "must be >= 0"),
    (("val_fraction", "mdlm_eps"), lambda v: 0.0 < v < 1.0, "must be in (0, 1)"),
    (("ar_top_p", "decay_fraction"), lambda v: 0.0 < v <= 1.0, "must be in (0, 1]"),
    (("beta1", "beta2"), lambda v: 0.0 <= v < 1.0, "must be in [0, 1)"),
    (("min_lr_ratio",), lambda v: 0.0 <= v <= 1.0, "must be in [0, 1]"),
    # Attention memory grows with the length squared: 100,000 would hang a machine without a word (and a
    # million-token sample would run for hours before failing).
    (("seq_len", "sample_length"), lambda v: v <= MAX_POSITIONS, f"must be at most {MAX_POSITIONS}"),
)  # fmt: skip


def _validate(cfg: Config) -> None:
    """Every check of the settings, so that a bad value or combination fails before any work is done."""
    # NaN passes every comparison (and a run dir made with it could never be resumed: nan != nan).
    for f in fields(Config):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key {f.name!r} must be a finite number, got {value}")
    for keys, ok, must in RANGES:
        for key in keys:
            if not ok(getattr(cfg, key)):
                raise ConfigError(f"config key {key!r} {must}, got {getattr(cfg, key)}")
    _validate_combinations(cfg)


def _validate_combinations(cfg: Config) -> None:
    """The checks that involve more than one key, or a key's format."""
    if cfg.d_model % cfg.n_heads or (cfg.d_model // cfg.n_heads) % 2:
        raise ConfigError(f"d_model ({cfg.d_model}) must split into n_heads ({cfg.n_heads}) heads of even size")
    if cfg.batch_size % cfg.grad_accum:
        raise ConfigError(
            f"batch_size ({cfg.batch_size}) must split into grad_accum ({cfg.grad_accum}) equal micro-batches"
        )
    epochs = parse_list(cfg, "repetition_epochs", int)
    parse_list(cfg, "repetition_shares", float, upper=1.0)
    missing = [e for e in parse_list(cfg, "repetition_sample_epochs", int) if e not in epochs]
    if missing:
        raise ConfigError(f"repetition_sample_epochs {missing} are not in repetition_epochs {epochs}")
    if 2 * cfg.seq_len > cfg.n_tokens:
        raise ConfigError(f"n_tokens ({cfg.n_tokens}) must hold at least two chunks of seq_len ({cfg.seq_len})")
    # cuda:N with N past any machine's count (torch.device overflows on a 20-digit N) is refused here.
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d{1,3})?", cfg.device):
        raise ConfigError(f"config key 'device' must be auto, cpu, mps, cuda or cuda:N (N < 1000), got {cfg.device!r}")


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
    """Keys whose values differ between two config dicts: {key: (old, new)}. A key one side lacks (a
    run directory made before the key existed) counts as its default, which is what that run did."""
    defaults = Config().to_dict()
    keys = (set(old) | set(new)) - set(ignore)
    diff = {}
    for k in sorted(keys):
        a, b = old.get(k, defaults.get(k)), new.get(k, defaults.get(k))
        if a != b:
            diff[k] = (a, b)
    return diff


def dumps(cfg: Config) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True)
