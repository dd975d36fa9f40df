"""The comparison's analysis: everything a trained, sampled run measured, read back and scored into
RUN/results.json (study.analyse calls it for a comparison run, arche.study.repetition.analyse for a repetition
study). It never trains or samples; it scores saved samples under the common judge, measures diversity
at one number of texts, and runs the interleaved throughput benchmark (arche.speed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import metrics
from ..batches import TokenData
from ..config import Config
from ..device import device_name, resolve_device, resolve_precision
from ..io import read_json
from ..io import write_json as _write_json
from ..objectives import escape_step, unigram_cross_entropy
from ..rundir import read_metrics
from ..scaling import flops_per_token
from . import findings
from .comparison import Arm, arm_dir, arms, data_dir, main_protocol, protocols, references_path, sample_sets
from .judges import Judges, reference_sets
from .texts import frontier_se, median_words, subsample, text_metrics, token_entropy_nats


def analyse(cfg: Config, run_dir, profile: str | None = None, log=print) -> dict:
    """Read every saved result of the run and write RUN/results.json (long format):

    meta        profile, config, data source and size, whether the data is synthetic, device, the
                unigram baseline of each protocol (held-out cross-entropy of a unigram fitted on the
                training tokens: the sanity gate), the judges, the regime, the number of texts every
                diversity row is computed on (`n_match`)
    runs        one row per arm: sizes, timing, compute, best/final validation, likelihoods, the val
                curve, the step where the run left the unigram plateau
    samples     one row per sample set: decoding, knob/value, diversity at n_match texts (and at a
                matched length), Self-BLEU (both estimators), gen-PPL under the AR judge, NELBO under the
                MDLM judge, word-frequency distance to the real openings, length, wall time, examples
    references  real text at the same n_match: "openings" of stories no arm or judge trains on,
                "windows" of the main protocol's held-out stream
    throughput  the interleaved benchmark (arche.speed): tokens/s per round and model, on one device
    infill      the infilling check, or null
    verdicts    the findings' rules applied (arche.study.findings), the equal-quality frontier included
    """
    run_dir = Path(run_dir)
    datas = {p: TokenData(data_dir(run_dir, p)) for p in protocols(cfg)}
    scorer = Judges(cfg, run_dir)
    refs = reference_sets(cfg, run_dir, datas, log)
    n_match = min([cfg.n_samples] + [len(r) for r in refs.values()])
    if n_match < cfg.n_samples:
        log(f"analysis: {n_match} reference texts < {cfg.n_samples} samples: every diversity row uses {n_match}")
    sample_sets = _read_sample_sets(cfg, run_dir, log)
    match_words = _match_words(cfg, sample_sets, refs)
    ref_texts = [scorer.text(r) for r in subsample(refs.get("openings", []), n_match, cfg.sample_seed)]
    baselines = {p: unigram_cross_entropy(d.train, d.val, d.codec.vocab_size, d.seq_len) for p, d in datas.items()}
    rows_runs = [_run_row(a, arm_dir(run_dir, a), baselines[a.protocol]) for a in arms(cfg)]
    main = main_protocol(cfg)
    rows_samples = []
    for arm, stem, scfg, recs in sample_sets:
        log(f"analysis: scoring {arm.key} [{stem}]")
        rows_samples.append(
            _sample_row(
                arm,
                stem,
                scfg,
                recs,
                datas[arm.protocol],
                scorer,
                n_match,
                match_words,
                ref_texts,
                on_frontier=arm.protocol == main and arm.seed == cfg.seed and arm.name in ("ar", "mdlm"),
            )
        )
    rows_refs = [
        _reference_row(kind, rows, scorer, n_match, match_words, ref_texts, cfg) for kind, rows in refs.items()
    ]
    results = {
        "meta": _meta(cfg, run_dir, profile, datas, baselines, scorer, n_match, match_words),
        "runs": rows_runs,
        "samples": rows_samples,
        "references": [{"protocol": main, **r} for r in rows_refs],
        "throughput": measure_throughput(cfg, datas[main].codec.vocab_size, log=log),
        "infill": _read_infill(cfg, run_dir),
    }
    results["verdicts"] = findings.verdicts(results)  # the rules' outcomes, as data
    _write_json(run_dir / "results.json", results)
    log(f"analysis: wrote {run_dir / 'results.json'}")
    return results


def _read_sample_sets(cfg: Config, run_dir, log) -> list[tuple]:
    from ..generate import read_samples

    out = []
    for arm in arms(cfg):
        for stem, scfg in sample_sets(cfg, arm).items():
            path = arm_dir(run_dir, arm) / f"{stem}.jsonl"
            if path.exists():
                out.append((arm, stem, scfg, read_samples(path)))
            else:
                log(f"analysis: {path} missing, skipped")
    return out


def _match_words(cfg: Config, sample_sets, refs) -> int | None:
    """Length confound: n-gram metrics are also computed with every text cut to a common number of
    words, the smallest median length of the main protocol's unconditional sets."""
    main = main_protocol(cfg)
    medians = [
        median_words([r["text"] for r in recs])
        for arm, stem, _, recs in sample_sets
        if arm.protocol == main and stem == "samples"
    ]
    return max(5, min(medians)) if medians else None


def _sample_row(arm, stem, scfg, recs, data, scorer, n_match, match_words, ref_texts, on_frontier=False) -> dict:
    texts = subsample([r["text"] for r in recs], n_match, scfg.sample_seed)
    picked = subsample(recs, n_match, scfg.sample_seed)
    eos = data.manifest["settings"]["eos_between_stories"]
    prompt_ids = recs[0]["settings"]["prefix_ids"][1 if eos else 0 :]
    tokens = [r["tokens"] for r in picked]
    return {
        "protocol": arm.protocol,
        "arm": arm.name,
        "paradigm": arm.paradigm,
        "seed": arm.seed,
        "setting": stem,
        "sampler": recs[0]["sampler"],
        "decoding": decoding_label(arm.paradigm, recs[0]["sampler"], recs[0]["settings"]),
        **_knob(stem, arm.paradigm),
        "wall_time_s": recs[0].get("wall_time_s"),
        "n_generated": len(recs),
        **text_metrics(texts, scfg.self_bleu, arm.seed, match_words),
        "jsd_words": metrics.word_jsd(texts, ref_texts) if ref_texts else None,
        "gen_ppl": scorer.perplexity(data.codec, prompt_ids, tokens),
        "judge_nelbo": scorer.nelbo(data.codec, prompt_ids, tokens),
        "examples": [r["text"] for r in recs[:5]],
        **({"se": frontier_se(texts, match_words, arm.seed)} if on_frontier else {}),
    }


def _reference_row(kind, rows, scorer, n_match, match_words, ref_texts, cfg) -> dict:
    rows = subsample(rows, n_match, cfg.sample_seed)
    texts = [scorer.text(r) for r in rows]
    opening = kind == "openings"
    return {
        "kind": kind,
        **text_metrics(texts, "exact", cfg.sample_seed, match_words),
        "jsd_words": metrics.word_jsd(texts, ref_texts) if ref_texts and not opening else (0.0 if opening else None),
        "gen_ppl": scorer.perplexity(None, [], rows, story_start=opening),
        "judge_nelbo": scorer.nelbo(None, [], rows) if opening else None,
        "examples": texts[:5],
    }


def decoding_label(paradigm: str, sampler: str, settings: dict) -> str:
    """How a sample set was decoded, in words (the tables' row labels say it)."""
    if paradigm == "ar":
        extra = [f"top-p {settings['top_p']:g}"] if settings.get("top_p", 1.0) < 1.0 else []
        extra += [f"top-k {settings['top_k']}"] if settings.get("top_k") else []
        return ", ".join([f"AR, temperature {settings['temperature']:g}"] + extra)
    steps = settings.get("steps")
    if sampler == "ancestral":
        return f"MDLM ancestral, temperature {settings['temperature']:g}, {steps} steps"
    if sampler == "confidence_plain":
        return f"MDLM confidence rule, temperature {settings['temperature_start']:g}, no penalty, {steps} steps"
    if sampler == "confidence":
        return (
            f"MDLM paper-text sampler: temperature {settings['temperature_start']:g} to "
            f"{settings['temperature_end']:g}, repetition penalty {settings['repetition_penalty']:g}, {steps} steps"
        )
    if sampler == "published":
        return f"MDLM released sampler (penalty, temperature {settings['temperature']:g} schedule), {steps} steps"
    return f"MDLM {sampler}, {steps} steps"


def _read_infill(cfg: Config, run_dir: Path):
    infill = None
    for protocol in protocols(cfg):
        path = run_dir / protocol / "infill.json"
        if path.exists():
            infill = json.loads(path.read_text())
    return infill


def common_meta(cfg: Config, profile: str | None, manifest: dict, n_match: int, model_dirs: list[Path]) -> dict:
    """The meta fields every study's results.json shares (this module's and arche.study.repetition's):
    what ran, on which data (its first protocol's manifest), where, in which precision, and when."""
    source = manifest.get("source", cfg.source)
    return {
        "profile": profile,
        "config": cfg.to_dict(),
        "source": source,
        "synthetic": source == "synthetic",
        "n_tokens": manifest["n_tokens"],
        "vocab_size": manifest["vocab_size"],
        "n_match": n_match,
        "device": device_name(cfg),
        # what ran, which can differ from cfg.precision (bf16 on a CPU without it runs fp32: arche.device)
        "precision_used": precision_used(cfg, model_dirs),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _meta(cfg, run_dir, profile, datas, baselines, scorer, n_match, match_words) -> dict:
    manifests = {p: d.manifest for p, d in datas.items()}
    judges = {p: {**_run_row(a, arm_dir(run_dir, a)), "key": a.key} for p, a in scorer.arms.items()}
    refs = read_json(references_path(run_dir)) or {}
    return {
        **common_meta(cfg, profile, manifests[protocols(cfg)[0]], n_match, [arm_dir(run_dir, a) for a in arms(cfg)]),
        "protocols": protocols(cfg),
        "main_protocol": main_protocol(cfg),
        "seeds": sorted({a.seed for a in arms(cfg)}),
        "seeds_by_arm": _seeds_by_arm(cfg),
        "data": {p: {k: v for k, v in m.items() if k != "sha256"} for p, m in manifests.items()},
        "unigram_entropy": {p: token_entropy_nats(d.val) for p, d in datas.items()},
        "unigram_xent": baselines,
        "judge": judges["ar"],
        "judges": judges,
        "references": {"skip_stories": refs.get("skip_stories"), "n": len(refs.get("rows_gpt2") or [])},
        "regime": {k: getattr(main_config(cfg), k) for k in REGIME_KEYS},
        "match_words": match_words,
    }


# The training regime a results file records (arche.study.regime chooses batch_size, ar_lr and mdlm_lr).
REGIME_KEYS = ("batch_size", "lr", "ar_lr", "mdlm_lr", "mdlm_time_sampling", "precision")


def main_config(cfg: Config) -> Config:
    """The config as the main protocol runs it (its protocol's settings applied: e.g. its noise sampling)."""
    main = main_protocol(cfg)
    return cfg if cfg.protocol == main else cfg.replace(protocol=main)


def precision_used(cfg: Config, model_dirs) -> str:
    """The precision the models trained in, as their config.json records it ("mixed: ..." when they differ);
    runs from before it was recorded: what this machine resolves the config to."""
    found = {(read_json(Path(d) / "config.json") or {}).get("precision") for d in model_dirs}
    found.discard(None)
    if not found:
        return resolve_precision(cfg, resolve_device(cfg))
    return found.pop() if len(found) == 1 else "mixed: " + ", ".join(sorted(found))


def _seeds_by_arm(cfg: Config) -> dict[str, list[int]]:
    out = {}
    for a in arms(cfg):
        out.setdefault(f"{a.protocol}/{a.name}", []).append(a.seed)
    return out


def measure_throughput(cfg: Config, vocab_size: int, log=print) -> dict:
    """The interleaved training-throughput benchmark (arche.speed) at the run's model shape, for
    AR, MDLM and (when trained) the tied MDLM of the main protocol."""
    from ..speed import interleaved

    main = [a for a in arms(cfg) if a.protocol == main_protocol(cfg) and a.seed == cfg.seed]
    models = {a.name: (a.config, a.paradigm) for a in main}
    out = interleaved(
        models, vocab_size, str(resolve_device(cfg)), rounds=cfg.throughput_rounds, steps=cfg.throughput_steps, log=log
    )
    return {
        **out,
        "device": device_name(cfg),
        "precision": cfg.precision,
        "precision_used": resolve_precision(cfg, resolve_device(cfg)),
        "protocol": main_protocol(cfg),
        "batch_size": cfg.batch_size,
        "seq_len": cfg.seq_len,
    }


def _run_row(arm: Arm, adir: Path, baseline: float | None = None) -> dict:
    saved = json.loads((adir / "config.json").read_text())
    recs = read_metrics(adir)
    evals = [r for r in recs if "val_loss" in r]
    if not evals:
        raise FileNotFoundError(f"{adir} has no evaluated steps; has it been trained?")
    best = min(evals, key=lambda r: r["val_loss"])
    last = recs[-1]
    cfg = arm.config
    train_time = last["train_time_s"]
    eval_time = sum(r.get("eval_time_s", 0.0) for r in evals)
    # The bound every model is judged by: AR NLL, MDLM NELBO (both nats/token on the same tokens).
    bound_key = "val_nll" if arm.paradigm == "ar" else "val_nelbo"
    row = {
        "protocol": arm.protocol,
        "arm": arm.name,
        "paradigm": arm.paradigm,
        "seed": arm.seed,
        "n_params": saved["n_params"],
        "vocab_size": saved["vocab_size"],
        "steps": last["step"],
        "train_time_s": train_time,
        "wall_time_s": train_time + eval_time,
        "tokens_per_s": last["step"] * cfg.batch_size * cfg.seq_len / train_time,
        "tokens_seen": last["step"] * cfg.batch_size * cfg.seq_len,
        "best_val": best["val_loss"],
        "best_step": best["step"],
        "final_val": evals[-1]["val_loss"],
        "first_val": evals[0]["val_loss"],
        "best_bound": min(r[bound_key] for r in evals if r.get(bound_key) is not None),
        "first_bound": evals[0].get(bound_key),
        "curve": [{k: r[k] for k in r if k == "step" or k.startswith("val_")} for r in evals],
        "lr": cfg.lr,
        "batch_size": cfg.batch_size,
        "flops": last["step"] * cfg.batch_size * cfg.seq_len * flops_per_token(cfg, saved["vocab_size"]),
    }
    if baseline is not None:
        row["escape_step"] = escape_step(row["curve"], baseline, bound_key)
    for key in ("val_nll", "val_ppl", "val_masked_mean", "val_nelbo", "val_ppl_bound", "val_nelbo_se", "val_loss_se"):
        if evals[-1].get(key) is not None:
            row[key] = evals[-1][key]
            if not key.endswith("_se"):
                row["best_" + key] = min(r[key] for r in evals)
    return row


def _knob(stem: str, paradigm: str = "ar") -> dict:
    """The frontier knob a sample set turned, and its value ({None, None} for the other sets)."""
    if stem.startswith("frontier_steps"):
        return {"knob": "mdlm_steps", "value": int(stem[len("frontier_steps") :])}
    if stem.startswith("frontier_temp"):
        return {"knob": f"{paradigm}_temperature", "value": float(stem[len("frontier_temp") :])}
    return {"knob": None, "value": None}
