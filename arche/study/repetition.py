"""The repetition study: a fixed set of unique training tokens, seen for 1, 2, 4, ... epochs by both paradigms.

The paper's second finding ("AR overfits while MDLM still improves") is one point of a curve: the
validation loss a model reaches as the same data is repeated for more epochs. Here that curve is
measured for AR and MDLM at the replica's model size, for two unique-data budgets (`repetition_shares`
of the training chunks: the first chunks, in the order `prepare` wrote the stories), under the
controlled protocol (AR NLL and MDLM NELBO in nats/token on the same held-out stories).

Each epoch count is its own run with a warmup-stable-decay schedule (`lr_schedule="wsd"`): constant lr,
then a linear decay over its last `decay_fraction` of steps. Runs of different lengths share the
stable phase, so one *trunk* per (paradigm, budget, seed) trains at constant lr and each epoch count
*branches* off it where its decay starts (`arche.train.fork`): the branch ends bit for bit where a
separate run would (tests/test_repetition.py). Epochs are exact: a budget is a whole number of batches
(steps_per_epoch = chunks / batch_size), and the data order visits every chunk once per epoch.

    RUN/controlled/data/                       the replica's data (one protocol)
    RUN/judges/judge_s1000/                    the common judge of fluency (arche.study.comparison.judge_arm)
    RUN/controlled/repetition/ar_u506_s0/trunk the constant-lr trunk, paused at each branch point
    RUN/controlled/repetition/ar_u506_s0/e8    the 8-epoch run (forked, then decayed)

The verdict on finding 2 follows RULE, fixed before the study was run (arche.study.verdicts.repetition).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..batches import TokenData
from ..config import Config, ConfigError, parse_list
from ..data import prepare
from ..io import write_json
from ..rundir import fork, read_metrics
from ..scaling import flops_per_token
from ..schedule import decay_start
from ..train import train
from . import analysis, comparison
from .judges import Judges
from .texts import subsample, text_metrics, token_entropy_nats

PARADIGMS = ("ar", "mdlm")


@dataclass(frozen=True)
class Branch:
    paradigm: str
    share: float  # of the training chunks, as configured
    chunks: int  # the unique-data budget actually used: a whole number of batches
    seed: int
    epochs: int
    config: Config  # this epoch count's run

    @property
    def key(self) -> str:
        return f"{self.paradigm}_u{self.chunks}_s{self.seed}/e{self.epochs}"


def budget_chunks(cfg: Config, share: float, n_train_chunks: int) -> int:
    """`share` of the training chunks, rounded down to a whole number of batches (at least one)."""
    chunks = int(share * n_train_chunks) // cfg.batch_size * cfg.batch_size
    if chunks < cfg.batch_size:
        raise ConfigError(
            f"repetition share {share} of {n_train_chunks} training chunks is less than one batch of {cfg.batch_size}"
        )
    return chunks


def run_config(cfg: Config, chunks: int, epochs: int, seed: int, paradigm: str) -> Config:
    """The config of one epoch count: wsd schedule, `epochs` passes over the first `chunks` chunks, one
    evaluation at the end, at the paradigm's learning rate (comparison.arm_lr: `ar_lr`/`mdlm_lr` under the
    controlled protocol where set, else `lr`)."""
    steps = epochs * chunks // cfg.batch_size
    return cfg.replace(
        lr=comparison.arm_lr(cfg, comparison.main_protocol(cfg), paradigm),
        lr_schedule="wsd",
        train_chunks=chunks,
        steps=steps,
        eval_every=steps,
        seed=seed,
        sample_seed=cfg.sample_seed + seed - cfg.seed,
        checkpoint_every=steps,
    )


def budget_epochs(cfg: Config, chunks: int) -> list[int]:
    """The epoch counts a budget of `chunks` runs: all of repetition_epochs, or with repetition_max_tokens
    those whose tokens fit (the smaller budget then reaches more epochs for the same cost)."""
    epochs = parse_list(cfg, "repetition_epochs", int)
    if not cfg.repetition_max_tokens:
        return epochs
    fit = [e for e in epochs if e * chunks * cfg.seq_len <= cfg.repetition_max_tokens]
    if not fit:
        raise ConfigError(
            f"repetition_max_tokens {cfg.repetition_max_tokens:,} leaves no epoch count for a budget of {chunks} "
            f"chunks ({chunks * cfg.seq_len:,} tokens per epoch); raise it or lower the repetition_shares"
        )
    return fit


def branches(cfg: Config, n_train_chunks: int, paradigm: str | None = None) -> list[Branch]:
    out = []
    for p in PARADIGMS:
        if paradigm not in (None, p):
            continue
        for i in range(cfg.n_seeds):
            for share in sorted(parse_list(cfg, "repetition_shares", float), reverse=True):
                chunks = budget_chunks(cfg, share, n_train_chunks)
                for e in budget_epochs(cfg, chunks):
                    out.append(Branch(p, share, chunks, cfg.seed + i, e, run_config(cfg, chunks, e, cfg.seed + i, p)))
    return out


def trained_tokens(cfg: Config, n_train_chunks: int) -> dict:
    """What the study trains, in tokens: each trunk to its longest branch's decay start plus every branch's
    decay (how train_all runs it), against every epoch count trained as its own run; the judge not included."""
    per_trunk: dict[tuple, list[Branch]] = {}
    for b in branches(cfg, n_train_chunks):
        per_trunk.setdefault((b.paradigm, b.chunks, b.seed), []).append(b)
    steps = separate = 0
    for bs in per_trunk.values():
        steps += max(decay_start(b.config) for b in bs) + sum(b.config.steps - decay_start(b.config) for b in bs)
        separate += sum(b.config.steps for b in bs)
    per_step = cfg.batch_size * cfg.seq_len
    return {
        "runs": sum(len(bs) for bs in per_trunk.values()),
        "trunks": len(per_trunk),
        "tokens": steps * per_step,
        "tokens_as_separate_runs": separate * per_step,
        "epochs": {c: budget_epochs(cfg, c) for c in sorted({k[1] for k in per_trunk}, reverse=True)},
    }


def describe(cfg: Config, n_train_chunks: int) -> str:
    """trained_tokens in one line (python -m arche config)."""
    t = trained_tokens(cfg, n_train_chunks)
    budgets = "; ".join(f"{c} chunks: {', '.join(map(str, e))} epochs" for c, e in t["epochs"].items())
    return (
        f"# repetition: {t['runs']} runs from {t['trunks']} trunks ({budgets}): {t['tokens'] / 1e6:,.1f}M training "
        f"tokens ({t['tokens_as_separate_runs'] / 1e6:,.1f}M as separate runs), plus the judge's"
    )


def home(run_dir, b: Branch) -> Path:
    return Path(run_dir) / comparison.main_protocol(b.config) / "repetition" / f"{b.paradigm}_u{b.chunks}_s{b.seed}"


def branch_dir(run_dir, b: Branch) -> Path:
    return home(run_dir, b) / f"e{b.epochs}"


def trunk_config(cfg: Config, b: Branch) -> Config:
    """The trunk of b's (paradigm, budget, seed): its budget's longest run, never evaluated (it stops before its
    decay)."""
    longest = max(budget_epochs(cfg, b.chunks))
    return run_config(cfg, b.chunks, longest, b.seed, b.paradigm)


def model_dirs(cfg: Config, run_dir, paradigm: str | None = None) -> list[tuple[str, str, Path]]:
    """(key, paradigm, directory) of every epoch-count run (before 01_data has run: none)."""
    try:
        n = len(_data(run_dir, cfg).train)
    except FileNotFoundError:
        return []
    return [(b.key, b.paradigm, branch_dir(run_dir, b)) for b in branches(cfg, n, paradigm)]


def _data(run_dir, cfg: Config) -> TokenData:
    return TokenData(comparison.data_dir(run_dir, comparison.main_protocol(cfg)))


# --------------------------------------------------------------------------- stages


def prepare_all(cfg: Config, run_dir, log=print) -> dict:
    protocol = comparison.main_protocol(cfg)
    return {protocol: prepare(cfg, comparison.data_dir(run_dir, protocol), log=log)}


def train_all(cfg: Config, run_dir, paradigm: str, log=print, on_row=None) -> list[dict]:
    """Every epoch count of one paradigm, shortest first: the trunk trains to the branch's decay start,
    the branch forks from it and decays (each step skipped when already done)."""
    ddir = comparison.data_dir(run_dir, comparison.main_protocol(cfg))
    summaries = []
    for b in branches(cfg, len(_data(run_dir, cfg).train), paradigm):
        out = branch_dir(run_dir, b)
        if not (out / "last.safetensors").exists():
            log(f"== trunk {b.key}: to step {decay_start(b.config)} ==")
            train(
                trunk_config(cfg, b), paradigm, home(run_dir, b) / "trunk", ddir, log=log, stop_at=decay_start(b.config)
            )
            fork(home(run_dir, b) / "trunk", out, b.config, paradigm, log=log)
        log(f"== decay {b.key} ({b.config.steps} steps) ==")
        summaries.append({"branch": b.key, **train(b.config, paradigm, out, ddir, log=log, on_row=on_row)})
    if paradigm == "ar":  # the judge of fluency: the replica's AR, with a seed no branch uses
        judge = comparison.judge_arm(cfg)
        log(f"== training the judge {judge.key} ==")
        train(judge.config, "ar", comparison.arm_dir(run_dir, judge), ddir, log=log)
    return summaries


def sampled(cfg: Config, n_train_chunks: int) -> list[Branch]:
    """The branches whose models are sampled: the largest budget, every seed, repetition_sample_epochs."""
    keep = set(parse_list(cfg, "repetition_sample_epochs", int))
    bs = branches(cfg, n_train_chunks)
    top = max(b.chunks for b in bs)
    run = budget_epochs(cfg, top)
    missing = sorted(keep - set(run))
    if missing:  # under repetition_max_tokens the largest budget may stop short of an epoch count
        raise ConfigError(
            f"repetition_sample_epochs {missing} are not run by the largest budget ({top} chunks runs "
            f"{run} epochs under repetition_max_tokens {cfg.repetition_max_tokens:,})"
        )
    return [b for b in bs if b.epochs in keep and b.chunks == top]


def sample_all(cfg: Config, run_dir, log=print) -> list[Path]:
    from ..generate import sample_run

    paths = []
    for b in sampled(cfg, len(_data(run_dir, cfg).train)):
        out = branch_dir(run_dir, b) / "samples.jsonl"
        if not out.exists():
            log(f"== sampling {b.key} ==")
            sample_run(b.config, b.paradigm, branch_dir(run_dir, b), out=out)
        paths.append(out)
    return paths


# --------------------------------------------------------------------------- analysis


def _row(b: Branch, bdir: Path, vocab_size: int, n_params: int) -> dict:
    evals = [r for r in read_metrics(bdir) if "val_loss" in r]
    if not evals or evals[-1]["step"] != b.config.steps:
        raise FileNotFoundError(f"{bdir} has not finished its {b.config.steps} steps; run the training stages")
    last = evals[-1]
    bound, se = ("val_nll", None) if b.paradigm == "ar" else ("val_nelbo", "val_nelbo_se")
    seq = b.config.seq_len
    tokens = last["step"] * b.config.batch_size * seq
    return {
        "paradigm": b.paradigm,
        "share": b.share,
        "chunks": b.chunks,
        "unique_tokens": b.chunks * seq,
        "seed": b.seed,
        "epochs": b.epochs,
        "steps": last["step"],
        "tokens_seen": tokens,
        "epochs_seen": tokens / (b.chunks * seq),
        "decay_start": decay_start(b.config),
        "flops": tokens * flops_per_token(b.config, vocab_size),
        "n_params": n_params,
        "val": last[bound],
        "val_se": last.get(se) if se else 0.0,
        "train_time_s": last["train_time_s"],
    }


def analyse(cfg: Config, run_dir, profile: str | None = None, log=print) -> dict:
    """RUN/results.json of a repetition study: meta, one row per branch (`repetition`), the samples
    of the sampled branches scored like the comparison's (diversity at n_match texts, gen-PPL under the
    judge), the held-out openings, and the verdicts (arche.study.verdicts.repetition)."""
    import json

    from ..generate import reference_rows
    from . import verdicts

    run_dir = Path(run_dir)
    data = _data(run_dir, cfg)
    rows = []
    for b in branches(cfg, len(data.train)):
        saved = json.loads((branch_dir(run_dir, b) / "config.json").read_text())
        rows.append(_row(b, branch_dir(run_dir, b), saved["vocab_size"], saved["n_params"]))
    scorer = Judges(cfg, run_dir, arms=[comparison.judge_arm(cfg)])  # the AR judge of fluency only
    refs = reference_rows(data, cfg.n_samples, cfg.sample_length, "openings", seed=cfg.sample_seed)
    n_match = min(cfg.n_samples, len(refs))
    results = {
        "meta": _meta(cfg, run_dir, profile, data, rows, n_match, scorer.arms["ar"]),
        "repetition": rows,
        "samples": _sample_rows(cfg, run_dir, data, n_match, scorer),
        "references": [_reference_row(cfg, data, refs, n_match, scorer)],
    }
    results["verdicts"] = verdicts.repetition(results)
    write_json(run_dir / "results.json", results)
    log(f"analysis: wrote {run_dir / 'results.json'}")
    return results


def _sample_rows(cfg: Config, run_dir: Path, data, n_match: int, scorer: Judges) -> list[dict]:
    """Each sampled branch's texts, n_match of them scored: diversity, and perplexity under the judge."""
    from ..generate import read_samples

    out = []
    for b in sampled(cfg, len(data.train)):
        recs = read_samples(branch_dir(run_dir, b) / "samples.jsonl")
        picked = subsample(recs, n_match, cfg.sample_seed)
        texts = [r["text"] for r in picked]
        out.append(
            {
                "paradigm": b.paradigm,
                "seed": b.seed,
                "epochs": b.epochs,
                "chunks": b.chunks,
                "sampler": recs[0]["sampler"],
                "n_generated": len(recs),
                **text_metrics(texts, "exact", b.seed),
                "gen_ppl": scorer.perplexity(data.codec, [], [r["tokens"] for r in picked]),
                "examples": [r["text"] for r in recs[:3]],
            }
        )
    return out


def _reference_row(cfg: Config, data, refs, n_match: int, scorer: Judges) -> dict:
    """The held-out stories' openings, scored as the samples are."""
    codec = data.codec
    refs = subsample(refs, n_match, cfg.sample_seed)
    ref_texts = [codec.decode(r[: r.index(codec.eot)] if codec.eot in r else r) for r in refs]
    return {
        "kind": "openings",
        **text_metrics(ref_texts, "exact", cfg.sample_seed),
        "gen_ppl": scorer.perplexity(codec, [], refs),
        "examples": ref_texts[:3],
    }


def _meta(cfg: Config, run_dir: Path, profile, data, rows, n_match: int, judge) -> dict:
    protocol = comparison.main_protocol(cfg)
    dirs = [d for _, _, d in model_dirs(cfg, run_dir)]
    return {
        **analysis.common_meta(cfg, profile, data.manifest, n_match, dirs),
        "study": "repetition",
        "protocols": [protocol],
        "main_protocol": protocol,
        "seeds": sorted({r["seed"] for r in rows}),
        "n_train_chunks": len(data.train),
        "seq_len": cfg.seq_len,
        "unigram_entropy": {protocol: token_entropy_nats(data.val)},
        "judge": {"key": judge.key, "steps": judge.config.steps},
        "decay_fraction": cfg.decay_fraction,
    }
