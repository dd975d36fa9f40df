"""The comparison's analysis: everything a trained, sampled run measured, read back and scored into
RUN/results.json (study.analyse calls it for a comparison run, arche.repetition.analyse for a repetition
study). It never trains or samples; it scores saved samples under the common judge, measures diversity
at one number of texts, and runs the interleaved throughput benchmark (arche.speed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from . import findings, metrics
from .config import Config
from .data import TokenData
from .device import device_name, resolve_device
from .io import write_json as _write_json
from .rundir import read_metrics
from .study import Arm, arm_dir, arms, data_dir, judge_arm, main_protocol, protocols, sample_settings


def analyse(cfg: Config, run_dir, profile: str | None = None, log=print) -> dict:
    """Read every saved result of the run and write RUN/results.json (long format):

    meta        profile, config, data source and size, whether the data is synthetic, device, the
                unigram entropy of each protocol's validation tokens (the sanity gate), the judge,
                the number of texts every diversity row is computed on (`n_match`)
    runs        one row per arm: sizes, timing, best/final validation, likelihoods, the val curve
    samples     one row per sample set: sampler, knob/value, diversity at n_match texts (and at a
                matched length), Self-BLEU (both estimators), gen-PPL under the common judge, length,
                wall time, a few example texts
    references  one row per protocol and kind ("openings", "windows") of real held-out text, at the
                same n_match
    throughput  the interleaved benchmark (arche.speed): tokens/s per round and model, on one device
    infill      the infilling check, or null
    """
    from .evaluate import generative_perplexity
    from .generate import load_model, read_samples, reference_rows

    run_dir = Path(run_dir)
    device = str(resolve_device(cfg))
    judge = judge_arm(cfg)
    jmodel, jcodec, _, _ = load_model(arm_dir(run_dir, judge), device=device, max_len=cfg.sample_length + 32)
    datas = {p: TokenData(data_dir(run_dir, p)) for p in protocols(cfg)}

    def judge_rows(codec, rows):
        """Token rows of another codec in the judge's ids (both compact views of GPT-2)."""
        return [jcodec.to_model(codec.to_gpt2(r)).tolist() if r else [] for r in rows]

    def judged_ppl(codec, prompt_ids, rows, story_start=True):
        # Every text is scored as the judge reads a story: after <|endoftext|>, then its prompt.
        prefix = ([jcodec.eot] if story_start else []) + judge_rows(codec, [prompt_ids])[0]
        # generative_perplexity scores each row up to and including its first end-of-text.
        return generative_perplexity(jmodel, prefix, judge_rows(codec, rows), device=device, eot=jcodec.eot)

    # Reference texts first: every diversity row is computed at the same number of texts.
    refs = {}
    for protocol, data in datas.items():
        for kind in ("openings", "windows"):
            rows = reference_rows(data, cfg.n_samples, cfg.sample_length, kind, seed=cfg.sample_seed)
            if len(rows) < 2:
                log(f"analysis: too few held-out {kind} for a reference row in {protocol}")
                continue
            refs[(protocol, kind)] = rows
    n_match = min([cfg.n_samples] + [len(r) for r in refs.values()])
    if n_match < cfg.n_samples:
        log(
            f"analysis: {n_match} held-out story openings < {cfg.n_samples} samples: every diversity row "
            f"is computed on {n_match} texts (a seeded subsample of the larger sets)"
        )

    sample_sets = []
    for arm in arms(cfg):
        for stem, scfg in sample_settings(cfg, arm).items():
            path = arm_dir(run_dir, arm) / f"{stem}.jsonl"
            if path.exists():
                sample_sets.append((arm, stem, scfg, read_samples(path)))
            else:
                log(f"analysis: {path} missing, skipped")
    # Length confound: n-gram metrics are also computed with every text cut to a common number of
    # words, the smallest median length of the main protocol's unconditional sets and references.
    main = main_protocol(cfg)
    medians = [
        _median_words([r["text"] for r in recs])
        for arm, stem, _, recs in sample_sets
        if arm.protocol == main and stem == "samples"
    ]
    match_words = max(5, min(medians)) if medians else None

    rows_runs = [_run_row(arm, arm_dir(run_dir, arm)) for arm in arms(cfg)]
    rows_samples = []
    for arm, stem, scfg, recs in sample_sets:
        codec = datas[arm.protocol].codec
        texts = _subsample([r["text"] for r in recs], n_match, cfg.sample_seed)
        picked = _subsample(recs, n_match, cfg.sample_seed)
        eos = datas[arm.protocol].manifest["settings"]["eos_between_stories"]
        prompt_ids = recs[0]["settings"]["prefix_ids"][1 if eos else 0 :]
        row = {
            "protocol": arm.protocol,
            "arm": arm.name,
            "paradigm": arm.paradigm,
            "seed": arm.seed,
            "setting": stem,
            "sampler": recs[0]["sampler"],
            **_knob(stem),
            "wall_time_s": recs[0].get("wall_time_s"),
            "n_generated": len(recs),
            **_text_metrics(texts, scfg.self_bleu, arm.seed, match_words),
            "gen_ppl": judged_ppl(codec, prompt_ids, [r["tokens"] for r in picked]),
            "examples": [r["text"] for r in recs[:5]],
        }
        rows_samples.append(row)
    rows_refs = []
    for (protocol, kind), rows in refs.items():
        data = datas[protocol]
        codec = data.codec
        rows = _subsample(rows, n_match, cfg.sample_seed)
        texts = [codec.decode(r[: r.index(codec.eot)] if codec.eot in r else r) for r in rows]
        # The judge trained on the main protocol's split: held-out text of another split may be in its
        # training data, so only the main protocol's references calibrate fluency.
        ppl = judged_ppl(codec, [], rows, story_start=kind == "openings") if protocol == judge.protocol else None
        rows_refs.append(
            {
                "protocol": protocol,
                "kind": kind,
                **_text_metrics(
                    texts, "exact" if protocol == "controlled" else "published", cfg.sample_seed, match_words
                ),
                "gen_ppl": ppl,
                "examples": texts[:5],
            }
        )
    infill = None
    for protocol in protocols(cfg):
        path = run_dir / protocol / "infill.json"
        if path.exists():
            infill = json.loads(path.read_text())
    manifests = {p: d.manifest for p, d in datas.items()}
    first = manifests[protocols(cfg)[0]]
    results = {
        "meta": {
            "profile": profile,
            "config": cfg.to_dict(),
            "protocols": protocols(cfg),
            "main_protocol": main,
            "seeds": sorted({a.seed for a in arms(cfg)}),
            "source": first.get("source", cfg.source),
            "synthetic": first.get("source", cfg.source) == "synthetic",
            "n_tokens": first["n_tokens"],
            "vocab_size": first["vocab_size"],
            "data": {p: {k: v for k, v in m.items() if k != "sha256"} for p, m in manifests.items()},
            "unigram_entropy": {p: unigram_entropy(d.val) for p, d in datas.items()},
            "judge": {**_run_row(judge, arm_dir(run_dir, judge)), "key": judge.key},
            "n_match": n_match,
            "match_words": match_words,
            "device": device_name(cfg),
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
        "runs": rows_runs,
        "samples": rows_samples,
        "references": rows_refs,
        "throughput": measure_throughput(cfg, datas[main].codec.vocab_size, log=log),
        "infill": infill,
    }
    results["verdicts"] = findings.verdicts(results)  # the rules' outcomes, as data
    _write_json(run_dir / "results.json", results)
    log(f"analysis: wrote {run_dir / 'results.json'}")
    return results


def measure_throughput(cfg: Config, vocab_size: int, log=print) -> dict:
    """The interleaved training-throughput benchmark (arche.speed) at the run's model shape, for
    AR, MDLM and (when trained) the tied MDLM of the main protocol."""
    from .speed import interleaved

    main = [a for a in arms(cfg) if a.protocol == main_protocol(cfg) and a.seed == cfg.seed]
    models = {a.name: (a.config, a.paradigm) for a in main}
    out = interleaved(
        models, vocab_size, str(resolve_device(cfg)), rounds=cfg.throughput_rounds, steps=cfg.throughput_steps, log=log
    )
    return {
        **out,
        "device": device_name(cfg),
        "precision": cfg.precision,
        "protocol": main_protocol(cfg),
        "batch_size": cfg.batch_size,
        "seq_len": cfg.seq_len,
    }


def unigram_entropy(tokens) -> float:
    """Entropy (nats/token) of the token frequencies of `tokens`: the loss of a model that knows only
    how often each token occurs. A model no better than this has learned nothing about order."""
    import numpy as np

    counts = np.bincount(np.asarray(tokens).reshape(-1).astype(np.int64))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _subsample(items: list, n: int, seed: int) -> list:
    """n items kept in their order, a seeded choice when there are more."""
    if len(items) <= n:
        return list(items)
    import numpy as np

    keep = np.sort(np.random.default_rng(seed).choice(len(items), size=n, replace=False))
    return [items[i] for i in keep]


def _median_words(texts) -> int:
    lengths = sorted(len(metrics.words(t)) for t in texts)
    return lengths[len(lengths) // 2] if lengths else 0


def _run_row(arm: Arm, adir: Path) -> dict:
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
    }
    for key in ("val_nll", "val_ppl", "val_masked_mean", "val_nelbo", "val_ppl_bound", "val_nelbo_se", "val_loss_se"):
        if evals[-1].get(key) is not None:
            row[key] = evals[-1][key]
            if not key.endswith("_se"):
                row["best_" + key] = min(r[key] for r in evals)
    return row


def _knob(stem: str) -> dict:
    if stem.startswith("sweep_steps"):
        return {"knob": "mdlm_steps", "value": int(stem[len("sweep_steps") :])}
    if stem.startswith("sweep_temp"):
        return {"knob": "ar_temperature", "value": float(stem[len("sweep_temp") :])}
    return {"knob": None, "value": None}


SELF_BLEU_LABEL = {
    "exact": "exact all-pairs BLEU-4 on lowercased words",
    "published": "released 200x50 unsmoothed BLEU-4 estimate on lowercased words",
}


def _text_metrics(texts, self_bleu_kind: str, seed: int, match_words: int | None = None) -> dict:
    """Diversity of a set of texts. Every metric counts lowercased whitespace words (metrics.words),
    Self-BLEU included: "exact" scores all pairs on words, "published" is the released estimator.
    With `match_words`, Distinct-n and Self-BLEU again on every text cut to that many words
    (suffix `_matched`), which removes the dependence of both on text length."""
    exact = metrics.self_bleu(texts, tokenize="words")
    published = metrics.published_self_bleu(texts, seed=seed)
    div = metrics.diversity(texts, self_bleu_fn=lambda _: exact if self_bleu_kind == "exact" else published)
    firsts = [metrics.words(t)[0] for t in texts if metrics.words(t)]
    counts = {w: firsts.count(w) for w in set(firsts)}
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]  # ties in word order: stable
    out = {
        **div,
        "n_texts": len(texts),
        "self_bleu_exact": exact,
        "self_bleu_published": published,
        "self_bleu_13a": metrics.self_bleu(texts, tokenize="13a"),
        "self_bleu_kind": self_bleu_kind,
        "self_bleu_label": SELF_BLEU_LABEL[self_bleu_kind],
        "first_words_top": [[w, c / max(len(texts), 1)] for w, c in top],
    }
    if match_words:
        cut = [metrics.truncate_words(t, match_words) for t in texts]
        out["match_words"] = match_words
        for n in range(1, 5):
            out[f"distinct_{n}_matched"] = metrics.distinct_n(cut, n)
        out["self_bleu_matched"] = (
            metrics.self_bleu(cut, tokenize="words")
            if self_bleu_kind == "exact"
            else metrics.published_self_bleu(cut, seed=seed)
        )
    return out


# --------------------------------------------------------------------------- helpers
