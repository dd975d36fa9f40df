"""The cost and scale of a run, without torch: parameter counts, FLOPs, disk, the paper's regime scaled
to a smaller token budget (`scale_to_budget`, the replica profiles), and the scale mark of a run below
the paper's (toy data, small scale)."""

from __future__ import annotations

import math

from .config import Config, ConfigError, build_config, parse_list

# The whole real TinyStories sample (4,000 stories, ../shared/data/tinystories-sample), counted once
# with the GPT-2 tokenizer (tests/test_replica.py recounts it when the sample is present):
# tokens with one <|endoftext|> after each story (the controlled protocol; the published one has
# 4,000 fewer), and the compact vocabulary `prepare` builds from them (manifest vocab_size).
SAMPLE_TOKENS = 819_674
SAMPLE_VOCAB = 7_302


def ar_param_counts(vocab_size: int, d_model: int, n_layers: int, d_ff: int) -> dict:
    """Parameters of the AR model (arche.model, tied head) without building it: embedding V*d,
    per layer 4d^2 (attention) + 3*d*d_ff (SwiGLU) + 2d (RMSNorm), and the final RMSNorm."""
    non_embedding = n_layers * (4 * d_model**2 + 3 * d_model * d_ff + 2 * d_model) + d_model
    return {"total": vocab_size * d_model + non_embedding, "non_embedding": non_embedding}


def flops_per_token(cfg: Config, vocab_size: int) -> float:
    """Training FLOPs per token (forward + backward = 3 x forward): 6 per non-embedding parameter, 6 d V
    for the output head, and 12 L d T for attention scores and values (dense: no saving for causality)."""
    counts = ar_param_counts(vocab_size, cfg.d_model, cfg.n_layers, cfg.d_ff)
    return float(
        6 * counts["non_embedding"] + 6 * cfg.d_model * vocab_size + 12 * cfg.n_layers * cfg.d_model * cfg.seq_len
    )


def study_models(cfg: Config) -> dict[str, int]:
    """How many models of each kind a run trains (the judge counted as an AR model); torch-free. A repetition
    study counts every epoch count at every budget: an upper bound under repetition_max_tokens."""
    if cfg.study == "repetition":
        n = (
            cfg.n_seeds
            * len(parse_list(cfg, "repetition_shares", float))
            * (len(parse_list(cfg, "repetition_epochs")) + 1)
        )
        return {"ar": n + 1, "mdlm": n, "mdlm_tied": 0}
    protocols = 2 if cfg.compare_protocols else 1
    return {
        "ar": protocols * cfg.n_seeds + 1,
        "mdlm": protocols * cfg.n_seeds,
        "mdlm_tied": cfg.n_seeds if cfg.tied_mdlm else 0,
    }


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


def describe_cost(cfg: Config, vocab_size: int | None = None) -> str:
    """What a run costs, in words: models, tokens and FLOPs per model, and its disk under both policies.
    `vocab_size`: the vocabulary the run will have (arche.data.run_vocab_size), when known."""
    v = vocab_size or cfg.vocab_size
    d = disk_bytes(cfg, v)
    tokens = cfg.steps * cfg.batch_size * cfg.seq_len
    flops = tokens * flops_per_token(cfg, v)
    models = ", ".join(f"{n} {k.upper().replace('_TIED', ' (tied)')}" for k, n in d["models"].items() if n)
    gb = lambda b: f"{b / 1e9:,.1f} GB" if b >= 1e8 else f"{b / 1e6:,.1f} MB"  # noqa: E731
    policy = "keep" if cfg.keep_optimizer_state else "drop"
    if not cfg.compact_vocab:
        vocab = ""
    elif vocab_size:
        vocab = " (compact_vocab: the corpus' own vocabulary)"
    else:
        vocab = " (compact_vocab: the corpus' vocabulary replaces it, fewer; not known before the data is prepared)"
    lines = [
        f"# models: {models}; AR {d['params']['ar'] / 1e6:,.2f}M parameters at vocab_size {v:,}{vocab}",
        f"# per model: {tokens:,} training tokens, {flops:.2g} FLOPs"
        + (" (repetition: each epoch count its own length)" if cfg.study == "repetition" else ""),
        f"# checkpoint disk at peak: {gb(d['keep'])} keeping optimizer state, {gb(d['drop'])} with "
        f"keep_optimizer_state=False (this profile: {policy})",
    ]
    return "\n".join(lines)


def scale_to_budget(
    base: Config,
    train_tokens: int,
    vocab_size: int | None = None,
    base_train_tokens: int | None = None,
    min_steps: int = 1000,
    n_evals: int | None = None,
    val_tokens: int | None = None,
) -> Config:
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
    d, layers = _closest_shape(base, vocab, train_tokens, base_train)

    tokens_seen = epochs * train_tokens
    batch = base.batch_size
    while batch > 1 and tokens_seen / (batch * base.seq_len) < min_steps:
        batch //= 2
    steps = max(n_evals, int(round(tokens_seen / (batch * base.seq_len) / n_evals)) * n_evals)
    val = val_tokens if val_tokens is not None else train_tokens * base.val_fraction / (1 - base.val_fraction)
    eval_batches = max(1, min(base.eval_batches, int(val // (batch * base.seq_len))))
    lr = min(1e-3, base.lr * base.d_model / d)
    overrides = dict(
        n_tokens=int(math.ceil(train_tokens / (1 - base.val_fraction))),
        vocab_size=vocab,
        d_model=d,
        n_layers=layers,
        n_heads=d // head_dim,
        d_ff=_d_ff_for(base, d),
        batch_size=batch,
        steps=steps,
        warmup_steps=int(round(warmup_fraction * steps)),
        eval_every=steps // n_evals,
        eval_batches=eval_batches,
        lr=lr,
        checkpoint_every=max(1, round(base.checkpoint_every * steps / base.steps)),
        log_every=max(1, round(base.log_every * steps / base.steps)),
    )
    return base.replace(**overrides)


def _d_ff_for(base: Config, d: int) -> int:
    """base's d_ff / d_model at width d, a multiple of 8."""
    ff_ratio = base.d_ff / base.d_model
    return max(8, int(round(d * ff_ratio / 8)) * 8)


def _closest_shape(base: Config, vocab: int, train_tokens: int, base_train: int) -> tuple[int, int]:
    """(width, depth) of the AR model closest, in log ratio summed over the three, to base's parameters per
    training token (total and non-embedding) and to base's width/depth; widths step by base's head size."""
    head_dim = base.d_model // base.n_heads
    aspect = base.d_model / base.n_layers
    base_counts = ar_param_counts(base.vocab_size, base.d_model, base.n_layers, base.d_ff)
    target_total = base_counts["total"] / base_train
    target_non_emb = base_counts["non_embedding"] / base_train
    best = None
    for d in range(head_dim, base.d_model + 1, head_dim):
        for layers in range(1, base.n_layers + 1):
            counts = ar_param_counts(vocab, d, layers, _d_ff_for(base, d))
            score = (
                abs(math.log(counts["total"] / train_tokens / target_total))
                + abs(math.log(counts["non_embedding"] / train_tokens / target_non_emb))
                + abs(math.log(d / layers / aspect))
            )
            if best is None or score < best[0] - 1e-12:
                best = (score, d, layers)
    return best[1], best[2]


# The replica on this project's 2-core CPU: the whole sample's replica projects to ~11 h there
# (benchmarks/RESULTS.md), and training cost grows with the square of the budget (model size and
# tokens seen both scale with it), so `replica` takes the first third of the sample, whose study
# fits the 75-minute limit; `replica_full` is the whole sample, for a GPU or a long CPU run.
REPLICA_SHARE = 1 / 3
REPLICA_VOCAB = 5_019  # distinct GPT-2 tokens (end-of-text included) in that first third, counted once


def rebatch(fields: dict, batch: int, share: float = 1.0) -> dict:
    """The step settings of `fields` (a config's steps, batch_size, warmup_steps, eval_every, log_every)
    at `batch` sequences per step and `share` of its tokens per run: warmup, evaluations, logging and
    checkpoints keep their shares of the steps (the same number of evaluations: at least that many steps)."""
    n_evals = max(1, round(fields["steps"] / fields["eval_every"]))
    tokens = fields["steps"] * fields["batch_size"] * share
    steps = max(n_evals, int(round(tokens / batch / n_evals)) * n_evals)
    return {
        "batch_size": batch,
        "steps": steps,
        "warmup_steps": int(round(fields["warmup_steps"] / fields["steps"] * steps)),
        "eval_every": steps // n_evals,
        "log_every": max(1, round(fields["log_every"] / fields["steps"] * steps)),
        "checkpoint_every": max(1, steps // 2),
    }


def replica_overrides(share: float = REPLICA_SHARE, vocab_size: int = REPLICA_VOCAB) -> dict:
    """A replica profile: the paper's protocol scaled (scale_to_budget) to `share` of the real sample's
    training tokens (SAMPLE_TOKENS), plus the study's settings. Its sizes are computed, not typed."""
    paper = build_config({})  # the paper's setup: Config's defaults (its profile adds only the data source)
    train_tokens = int(round(SAMPLE_TOKENS * (1 - paper.val_fraction) * share))
    cfg = scale_to_budget(paper, train_tokens, vocab_size=vocab_size)
    keys = (
        "n_tokens",
        "d_model",
        "n_layers",
        "n_heads",
        "d_ff",
        "batch_size",
        "steps",
        "warmup_steps",
        "eval_every",
        "eval_batches",
        "lr",
        "checkpoint_every",
        "log_every",
    )
    out = {
        "source": "tinystories-sample",
        "compact_vocab": True,  # vocab_size comes from the corpus
        **{k: getattr(cfg, k) for k in keys},
        "n_samples": 300,
        "sample_batch_size": 300,
        "mdlm_steps": 100,
        # fp32: the same arithmetic on every CPU (bf16 is native on some, emulated and ~100x slower on
        # others, where arche.device runs fp32 anyway: benchmarks/RESULTS.md), and what the regime's
        # pilots (results/replica-regime.json) trained in.
        "precision": "fp32",
        "eval_draws": 8,  # the NELBO's standard error at the last evaluation: see results.json
        "compare_protocols": True,
        "n_seeds": 3,
        "ar_seeds": 5,  # AR is cheap: five seeds on its side of every comparison
        "mdlm_judge": True,
        "tied_mdlm": True,
        "sweep": True,
        "infill": True,
    }
    if share >= 1:
        out["n_tokens"] = max(out["n_tokens"], SAMPLE_TOKENS)  # every story, whatever the rounding
    return out


def scale_level(synthetic: bool, n_tokens: int, steps: int, d_model: int, n_layers: int) -> int:
    """0: the paper's scale on real data; 1: toy data (the synthetic corpus); 2: a small-scale run on
    real data (fewer tokens, steps or a smaller model than the paper's: the `paper` profile)."""
    if synthetic:
        return 1
    paper = Config()
    small = n_tokens < paper.n_tokens or steps < paper.steps or d_model < paper.d_model or n_layers < paper.n_layers
    return 2 if small else 0


def scale_note(level: int, n_tokens: int) -> str:
    """The mark every artefact of a run below the paper's scale carries (figure titles, the HTML
    report, notebook output, the README block, the PDF banner); "" at the paper's scale."""
    share = n_tokens / Config().n_tokens
    return {
        0: "",
        1: "TOY DATA: the synthetic corpus; these numbers test the pipeline and say nothing about the models",
        2: f"SMALL-SCALE RUN: {n_tokens:,} tokens ({share:.1%} of the paper's 50M) and a smaller model; "
        "it shows the method, not the paper-scale result",
    }[level]


def config_scale_note(cfg: Config) -> str:
    return scale_note(
        scale_level(cfg.source == "synthetic", cfg.n_tokens, cfg.steps, cfg.d_model, cfg.n_layers), cfg.n_tokens
    )
