"""The study: which models a run trains, samples and compares, and the analysis into results.json.

A run directory holds one data directory per protocol and one model directory per *arm*:

    RUN/published/data/            RUN/controlled/data/
    RUN/published/ar_s0/           RUN/controlled/ar_s0/  mdlm_s0/  mdlm_tied_s0/ ...
    RUN/results.json               every number the figures, tables and paper use

An arm is (protocol, model, seed). `compare_protocols` runs both protocols side by side, `n_seeds`
repeats every arm with seeds seed, seed+1, ..., `tied_mdlm` adds the parameter-matched MDLM (under
the controlled protocol, where the comparison is meant to be fair). Each step skips work already
done, so an interrupted pipeline continues where it stopped.

results.json is a flat, long-format record of everything measured (see `analyse`); aggregation
over seeds (mean and a 95% Student-t interval) is done by `aggregate` when tables are drawn.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import metrics
from .config import Config
from .data import TokenData, atomic_write, prepare
from .train import read_metrics, train

SWEEP_MDLM_STEPS = (10, 25, 50, 100, 200)
SWEEP_AR_TEMPERATURES = (0.7, 0.8, 1.0)
PROMPT = "Once"  # the second controlled setting: both models given the same prompt


@dataclass(frozen=True)
class Arm:
    protocol: str
    name: str        # "ar", "mdlm" or "mdlm_tied"
    paradigm: str    # "ar" or "mdlm"
    seed: int
    config: Config

    @property
    def key(self) -> str:
        return f"{self.protocol}/{self.name}_s{self.seed}"


def protocols(cfg: Config) -> list[str]:
    return ["published", "controlled"] if cfg.compare_protocols else [cfg.protocol]


def arms(cfg: Config, paradigm: str | None = None) -> list[Arm]:
    out = []
    for protocol in protocols(cfg):
        pcfg = cfg.replace(protocol=protocol) if protocol != cfg.protocol else cfg
        # The parameter-matched MDLM belongs to the controlled comparison (or the only protocol run).
        tied = cfg.tied_mdlm and (protocol == "controlled" or not cfg.compare_protocols)
        names = ["ar", "mdlm"] + (["mdlm_tied"] if tied else [])
        for i in range(cfg.n_seeds):
            seed = cfg.seed + i
            for name in names:
                arm_cfg = pcfg.replace(seed=seed, sample_seed=pcfg.sample_seed + i,
                                       mdlm_tied_head=name == "mdlm_tied")
                arm = Arm(protocol, name, "ar" if name == "ar" else "mdlm", seed, arm_cfg)
                if paradigm in (None, arm.paradigm):
                    out.append(arm)
    return out


def data_dir(run_dir, protocol: str) -> Path:
    return Path(run_dir) / protocol / "data"


def arm_dir(run_dir, arm: Arm) -> Path:
    return Path(run_dir) / arm.protocol / f"{arm.name}_s{arm.seed}"


# --------------------------------------------------------------------------- pipeline stages

def prepare_all(cfg: Config, run_dir, log=print) -> dict:
    """Token files for every protocol of the run; returns {protocol: manifest}."""
    out = {}
    for protocol in protocols(cfg):
        pcfg = cfg.replace(protocol=protocol) if protocol != cfg.protocol else cfg
        out[protocol] = prepare(pcfg, data_dir(run_dir, protocol), log=log)
    return out


def train_all(cfg: Config, run_dir, paradigm: str, log=print) -> list[dict]:
    """Train (or resume, or skip when finished) every arm of one paradigm."""
    summaries = []
    for arm in arms(cfg, paradigm):
        log(f"== training {arm.key} ==")
        summary = train(arm.config, arm.paradigm, arm_dir(run_dir, arm), data_dir(run_dir, arm.protocol), log=log)
        summaries.append({"arm": arm.key, **summary})
    return summaries


def sample_settings(cfg: Config, arm: Arm) -> dict[str, Config]:
    """Every sample set of an arm: {file stem: config}. The main set, the prompted controlled
    setting, and the sweep on the first seed."""
    sets = {"samples": arm.config}
    if arm.protocol == "controlled":
        sets["samples_prompted"] = arm.config.replace(ar_prompt=PROMPT, mdlm_prompt=PROMPT)
    sweep_protocol = "controlled" if "controlled" in protocols(cfg) else protocols(cfg)[0]
    if cfg.sweep and arm.seed == cfg.seed and arm.protocol == sweep_protocol and arm.name in ("ar", "mdlm"):
        if arm.paradigm == "mdlm":
            for steps in SWEEP_MDLM_STEPS:
                sets[f"sweep_steps{steps}"] = arm.config.replace(mdlm_steps=steps)
        else:
            for temp in SWEEP_AR_TEMPERATURES:
                sets[f"sweep_temp{temp:g}"] = arm.config.replace(ar_temperature=temp)
    return sets


def sample_all(cfg: Config, run_dir, log=print) -> list[Path]:
    """Draw every sample set (skipping those already written)."""
    from .sample import sample_run

    paths = []
    for arm in arms(cfg):
        for stem, scfg in sample_settings(cfg, arm).items():
            out = arm_dir(run_dir, arm) / f"{stem}.jsonl"
            if out.exists():
                log(f"samples: {out} exists, skipping")
            else:
                log(f"== sampling {arm.key} [{stem}] ==")
                sample_run(scfg, arm.paradigm, arm_dir(run_dir, arm), out=out)
            paths.append(out)
    if cfg.infill:
        infill_all(cfg, run_dir, log)
    return paths


def infill_all(cfg: Config, run_dir, log=print) -> Path | None:
    """MDLM infilling on held-out stories, scored by the AR model of the same protocol and seed."""
    from .sample import infill_demo

    protocol = "controlled" if "controlled" in protocols(cfg) else protocols(cfg)[0]
    mdlm = next(a for a in arms(cfg, "mdlm") if a.protocol == protocol and a.name == "mdlm")
    ar = next(a for a in arms(cfg, "ar") if a.protocol == protocol and a.seed == mdlm.seed)
    out = Path(run_dir) / protocol / "infill.json"
    if out.exists():
        return out
    log(f"== infilling with {mdlm.key} ==")
    result = infill_demo(mdlm.config, arm_dir(run_dir, mdlm), arm_dir(run_dir, ar),
                         TokenData(data_dir(run_dir, protocol)))
    _write_json(out, {"protocol": protocol, "seed": mdlm.seed, **result})
    return out


# --------------------------------------------------------------------------- analysis

def analyse(cfg: Config, run_dir, profile: str | None = None, log=print) -> dict:
    """Read every saved result of the run and write RUN/results.json (long format):

    meta        profile, config, data source and size, whether the data is synthetic, device
    runs        one row per arm: sizes, timing, best/final validation, likelihoods, the val curve
    samples     one row per sample set: sampler, knob/value, diversity, Self-BLEU (both estimators),
                gen-PPL under the same-seed AR model, wall time, a few example texts
    references  one row per protocol and kind ("openings", "windows") of real held-out text
    infill      the infilling check, or null
    """
    from .sample import generative_perplexity, load_model, read_samples, reference_rows, reference_texts

    run_dir = Path(run_dir)
    rows_runs, rows_samples, rows_refs = [], [], []
    scorers = {}

    def scorer(protocol, seed):
        key = (protocol, seed)
        if key not in scorers:
            ar = next(a for a in arms(cfg, "ar") if a.protocol == protocol and a.seed == seed)
            # Room for the prefix (<|endoftext|> and a prompt) in front of a sample.
            scorers[key] = load_model(arm_dir(run_dir, ar), device=_device(cfg), max_len=cfg.sample_length + 32)
        return scorers[key]

    for arm in arms(cfg):
        adir = arm_dir(run_dir, arm)
        rows_runs.append(_run_row(arm, adir))
        for stem, scfg in sample_settings(cfg, arm).items():
            path = adir / f"{stem}.jsonl"
            if not path.exists():
                log(f"analysis: {path} missing, skipped")
                continue
            recs = read_samples(path)
            model, codec, _, _ = scorer(arm.protocol, arm.seed)
            row = {"protocol": arm.protocol, "arm": arm.name, "paradigm": arm.paradigm, "seed": arm.seed,
                   "setting": stem, "sampler": recs[0]["sampler"], **_knob(stem),
                   "wall_time_s": recs[0].get("wall_time_s"),
                   **_text_metrics([r["text"] for r in recs], scfg.self_bleu, arm.seed),
                   "gen_ppl": generative_perplexity(model, recs, device=_device(cfg)),
                   "examples": [r["text"] for r in recs[:3]]}
            rows_samples.append(row)
    for protocol in protocols(cfg):
        data = TokenData(data_dir(run_dir, protocol))
        model, _, _, _ = scorer(protocol, cfg.seed)
        for kind in ("openings", "windows"):
            texts = reference_texts(data, cfg.n_samples, cfg.sample_length, kind, seed=cfg.sample_seed)
            if len(texts) < 2:
                log(f"analysis: too few held-out {kind} for a reference row in {protocol}")
                continue
            # Fluency of real text under the same scorer calibrates the samples' gen-PPL.
            rows = reference_rows(data, cfg.n_samples, cfg.sample_length, kind, seed=cfg.sample_seed)
            eos = data.manifest["settings"]["eos_between_stories"]
            prefix = [data.codec.eot] if (eos and kind == "openings") else []
            rows_refs.append({"protocol": protocol, "kind": kind,
                              **_text_metrics(texts, "exact" if protocol == "controlled" else "published",
                                              cfg.sample_seed),
                              "gen_ppl": generative_perplexity(model, prefix, rows, device=_device(cfg),
                                                               eot=data.codec.eot),
                              "examples": texts[:3]})
    infill = None
    for protocol in protocols(cfg):
        path = run_dir / protocol / "infill.json"
        if path.exists():
            infill = json.loads(path.read_text())
    manifests = {p: TokenData(data_dir(run_dir, p)).manifest for p in protocols(cfg)}
    first = manifests[protocols(cfg)[0]]
    results = {
        "meta": {"profile": profile, "config": cfg.to_dict(), "protocols": protocols(cfg),
                 "seeds": sorted({a.seed for a in arms(cfg)}), "source": first.get("source", cfg.source),
                 "synthetic": first.get("source", cfg.source) == "synthetic",
                 "n_tokens": first["n_tokens"], "vocab_size": first["vocab_size"],
                 "data": {p: {k: v for k, v in m.items() if k != "sha256"} for p, m in manifests.items()},
                 "device": _device_name(cfg), "created": time.strftime("%Y-%m-%d %H:%M:%S")},
        "runs": rows_runs, "samples": rows_samples, "references": rows_refs, "infill": infill,
    }
    _write_json(run_dir / "results.json", results)
    log(f"analysis: wrote {run_dir / 'results.json'}")
    return results


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
    row = {"protocol": arm.protocol, "arm": arm.name, "paradigm": arm.paradigm, "seed": arm.seed,
           "n_params": saved["n_params"], "vocab_size": saved["vocab_size"], "steps": last["step"],
           "train_time_s": train_time, "wall_time_s": train_time + eval_time,
           "tokens_per_s": last["step"] * cfg.batch_size * cfg.seq_len / train_time,
           "best_val": best["val_loss"], "best_step": best["step"], "final_val": evals[-1]["val_loss"],
           "curve": [{k: r[k] for k in r if k == "step" or k.startswith("val_")} for r in evals]}
    for key in ("val_nll", "val_ppl", "val_masked_mean", "val_nelbo", "val_ppl_bound"):
        if key in evals[-1]:
            row[key] = evals[-1][key]
            row["best_" + key] = min(r[key] for r in evals)
    return row


def _knob(stem: str) -> dict:
    if stem.startswith("sweep_steps"):
        return {"knob": "mdlm_steps", "value": int(stem[len("sweep_steps"):])}
    if stem.startswith("sweep_temp"):
        return {"knob": "ar_temperature", "value": float(stem[len("sweep_temp"):])}
    return {"knob": None, "value": None}


def _text_metrics(texts, self_bleu_kind: str, seed: int) -> dict:
    exact = metrics.self_bleu(texts)
    published = metrics.published_self_bleu(texts, seed=seed)
    div = metrics.diversity(texts, self_bleu_fn=lambda _: exact if self_bleu_kind == "exact" else published)
    firsts = [metrics.words(t)[0] for t in texts if metrics.words(t)]
    top = sorted({w: firsts.count(w) for w in set(firsts)}.items(), key=lambda kv: -kv[1])[:5]
    return {**div, "self_bleu_exact": exact, "self_bleu_published": published, "self_bleu_kind": self_bleu_kind,
            "first_words_top": [[w, c / max(len(texts), 1)] for w, c in top]}


# --------------------------------------------------------------------------- aggregation

# Two-sided 95% Student-t quantiles for 1..30 degrees of freedom.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042]


def t_quantile_95(df: int) -> float:
    if df < 1:
        raise ValueError("a confidence interval needs at least 2 values")
    return _T95[df - 1] if df <= len(_T95) else 1.96


def aggregate(values) -> dict:
    """Mean and 95% Student-t interval over seeds; with one value the interval is the value itself."""
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    n = len(vals)
    if n == 0:
        return {"mean": None, "lo": None, "hi": None, "sd": None, "n": 0}
    mean = sum(vals) / n
    if n == 1:
        return {"mean": mean, "lo": mean, "hi": mean, "sd": None, "n": 1}
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = t_quantile_95(n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "sd": sd, "n": n}


def summarise(rows: list[dict], metric: str, **where) -> dict:
    """aggregate(metric) over the rows matching `where` (e.g. protocol="controlled", arm="ar")."""
    picked = [r.get(metric) for r in rows if all(r.get(k) == v for k, v in where.items())]
    return aggregate(picked)


# --------------------------------------------------------------------------- helpers

def _device(cfg: Config) -> str:
    from .train import resolve_device
    return str(resolve_device(cfg))


def _device_name(cfg: Config) -> str:
    import platform

    import torch
    if _device(cfg).startswith("cuda"):
        return torch.cuda.get_device_name()
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(obj, indent=1, default=float).encode())
