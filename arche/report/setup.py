"""Table 1, the setup: the paper's beside ours per protocol (shared settings, the paradigms' own, and what
the two protocols do differently), and the precision a results file trained in."""

from __future__ import annotations

import pandas as pd

from .common import (
    PROTOCOL_LABEL,
    PUBLISHED,
    describe_source,
    protocol_config,
    protocol_names,
    run_stat,
    runs_where,
)
from .fmt import fmt, is_number
from .regime import NOISE_LABEL, arm_lr


def table_setup(results) -> pd.DataFrame:
    """Table 1: the setup, the paper's beside ours per protocol; parameter counts are our models'
    real counts (from the trained runs), the paper's are its reported 123.6M / 162.7M."""
    protos = protocol_names(results)
    cols = ["Vicentino (2026)"] + [PROTOCOL_LABEL.get(p, p) for p in protos]
    data = {"Shared": [""] * len(cols)}
    data.update(_setup_shared(results, protos))
    data["Paradigm-specific"] = [""] * len(cols)
    data.update(_setup_paradigms(results, protos, len(cols)))
    data["Protocol"] = [""] * len(cols)
    data.update(_setup_protocols(results, protos))
    df = pd.DataFrame.from_dict(data, orient="index", columns=cols, dtype=object)
    df.index.name = "Setting"
    df.attrs.update(
        sections=["Shared", "Paradigm-specific", "Protocol"],
        align="l",
        title="Table 1. Setup: the paper's and ours",
    )
    return df


def per_protocol(protos, fn) -> list[str]:
    """One cell per protocol: fn(protocol)."""
    return [fn(p) for p in protos]


def _setup_shared(results, protos) -> dict[str, list[str]]:
    """Table 1's shared rows: data, vocabulary, schedule, shape, optimizer, rates, precision, seeds."""
    meta, pub = results["meta"], PUBLISHED["setup"]
    cfg = meta["config"]

    data = {}
    data["Data"] = [pub["data"]] + per_protocol(
        protos, lambda p: f"{describe_source(meta, short=True)}, {fmt(meta['n_tokens'], 'params')} tokens"
    )
    recorded = {p: (meta.get("data") or {}).get(p) or {} for p in protos}
    if any(r.get("text_sha256") for r in recorded.values()):  # results from before it was recorded: no row
        data["Stories used (sha256 of their text)"] = ["not released"] + per_protocol(
            protos,
            lambda p: (
                f"{fmt(recorded[p].get('n_stories'), 'int')} ({recorded[p]['text_sha256'][:12]}...)"
                if recorded[p].get("text_sha256")
                else "n/a"
            ),
        )
    data["Vocabulary"] = ["50,257 (GPT-2)"] + per_protocol(
        protos,
        lambda p: (
            f"{fmt((meta.get('data') or {}).get(p, {}).get('vocab_size', meta['vocab_size']), 'int')} "
            f"({'compact GPT-2' if cfg.get('compact_vocab') else 'GPT-2'})"
        ),
    )
    data["Steps"] = [fmt(pub["steps"], "int")] + per_protocol(protos, lambda p: fmt(cfg["steps"], "int"))
    data["Batch size"] = [str(pub["batch_size"])] + per_protocol(protos, lambda p: str(cfg["batch_size"]))
    data["Sequence length"] = [str(pub["seq_len"])] + per_protocol(protos, lambda p: str(cfg["seq_len"]))
    data["d_model / layers / heads"] = [f"{pub['d_model']} / {pub['n_layers']} / {pub['n_heads']}"] + per_protocol(
        protos, lambda p: f"{cfg['d_model']} / {cfg['n_layers']} / {cfg['n_heads']}"
    )
    data["FFN dim"] = [fmt(pub["d_ff"], "int")] + per_protocol(protos, lambda p: fmt(cfg["d_ff"], "int"))
    data["Optimizer"] = [pub["optimizer"]] + per_protocol(protos, lambda p: f"AdamW (wd {cfg['weight_decay']:g})")
    data["Learning rate: AR / MDLM"] = [f"{fmt(pub['lr'], 'sig')} / {fmt(pub['lr'], 'sig')}"] + per_protocol(
        protos, lambda p: f"{fmt(arm_lr(results, p, 'ar'), 'sig')} / {fmt(arm_lr(results, p, 'mdlm'), 'sig')}"
    )
    data["Precision"] = [pub["precision"]] + per_protocol(protos, lambda p: describe_precision(meta))
    data["Hardware"] = [pub["hardware"]] + per_protocol(protos, lambda p: str(meta.get("device", "n/a")))
    data["Seeds"] = ["1"] + per_protocol(
        protos, lambda p: str(len({r["seed"] for r in runs_where(results, protocol=p)}))
    )
    return data


def _setup_paradigms(results, protos, n_cols) -> dict[str, list[str]]:
    """Table 1's paradigm rows: attention, the MDLM's noise and conditioning, parameter counts."""
    cfg = results["meta"]["config"]

    def params(p, arm):
        st = run_stat(results, "n_params", p, arm)
        return fmt(st["mean"], "params") if st["n"] else "n/a"

    def gap(p, arm):
        a, m = run_stat(results, "n_params", p, "ar")["mean"], run_stat(results, "n_params", p, arm)["mean"]
        return f"+{fmt(m / a - 1, 'pct')}" if is_number(a) and is_number(m) else "n/a"

    data = {}
    data["Attention (AR / MDLM)"] = ["causal / bidirectional"] * n_cols
    data["MDLM noise schedule"] = ["cosine"] * n_cols
    data["MDLM timestep conditioning"] = ["sinusoidal"] * n_cols
    data["MDLM noise levels of a batch"] = [NOISE_LABEL["iid"]] + per_protocol(
        protos,
        lambda p: (
            NOISE_LABEL.get(protocol_config(cfg, p)["mdlm_time_sampling"], "n/a")
            if "mdlm_time_sampling" in cfg
            else "n/a"
        ),
    )
    data["Parameters: AR"] = [fmt(PUBLISHED["ar"]["n_params"], "params")] + per_protocol(
        protos, lambda p: params(p, "ar")
    )
    data["Parameters: MDLM"] = [fmt(PUBLISHED["mdlm"]["n_params"], "params")] + per_protocol(
        protos, lambda p: params(p, "mdlm")
    )
    data["MDLM over AR"] = [
        f"+{fmt(PUBLISHED['mdlm']['n_params'] / PUBLISHED['ar']['n_params'] - 1, 'pct')}"
    ] + per_protocol(protos, lambda p: gap(p, "mdlm"))
    if any(runs_where(results, arm="mdlm_tied")):
        data["Parameters: MDLM (tied head)"] = ["not trained"] + per_protocol(
            protos,
            lambda p: params(p, "mdlm_tied") if runs_where(results, protocol=p, arm="mdlm_tied") else "not trained",
        )
        data["MDLM (tied) over AR"] = ["n/a"] + per_protocol(
            protos, lambda p: gap(p, "mdlm_tied") if runs_where(results, protocol=p, arm="mdlm_tied") else "n/a"
        )
    return data


def _setup_protocols(results, protos) -> dict[str, list[str]]:
    """Table 1's protocol rows: what the published and the controlled protocol do differently."""
    cfg = results["meta"]["config"]

    data = {}
    pc = {p: protocol_config(cfg, p) for p in protos}
    data["End-of-text between stories"] = ["no"] + per_protocol(
        protos, lambda p: "yes" if pc[p]["eos_between_stories"] else "no"
    )
    data["Validation split"] = ["random 5% of chunks"] + per_protocol(
        protos, lambda p: "whole held-out stories" if pc[p]["val_split"] == "story" else "random 5% of chunks"
    )
    data["MDLM training loss"] = ["masked-token mean"] + per_protocol(
        protos, lambda p: "NELBO (likelihood bound)" if pc[p]["mdlm_loss"] == "elbo" else "masked-token mean"
    )
    data["AR prompt"] = ['"Once"'] + per_protocol(
        protos, lambda p: f'"{pc[p]["ar_prompt"]}"' if pc[p]["ar_prompt"] else "none (from end-of-text)"
    )
    data["MDLM sampler"] = ["released code (100 steps)"] + per_protocol(
        protos,
        lambda p: (
            f"{'released code' if pc[p]['mdlm_sampler'] == 'published' else pc[p]['mdlm_sampler']} "
            f"({pc[p]['mdlm_steps']} steps)"
        ),
    )
    data["Samples"] = [f"{PUBLISHED['n_samples']:,} x {PUBLISHED['sample_length']} tokens"] + per_protocol(
        protos, lambda p: f"{cfg['n_samples']:,} x {cfg['sample_length']} tokens"
    )
    data["Self-BLEU"] = ["200 x 50 unsmoothed estimate"] + per_protocol(
        protos,
        lambda p: (
            "exact, all pairs, lowercased words" if pc[p]["self_bleu"] == "exact" else "200 x 50 unsmoothed estimate"
        ),
    )
    return data


def describe_precision(meta) -> str:
    used = meta.get("precision_used")  # results written before it existed hold only the config's
    if used:
        return "fp32" if used == "fp32" else f"{used} autocast"
    cfg = meta["config"]
    gpu = not str(meta.get("device", "")).startswith("CPU")
    if cfg.get("precision") == "fp32" or (cfg.get("precision") == "auto" and not gpu):
        return "fp32"
    return "bf16 autocast"
