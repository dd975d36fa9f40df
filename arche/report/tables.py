"""The comparison's tables 2-4, one function each: DataFrames of formatted strings (see fmt.to_booktabs).
Table 1, the setup, is arche.report.setup."""

from __future__ import annotations

import math

import pandas as pd

from .common import (
    ARM_LABEL,
    CITATION,
    PROTOCOL_LABEL,
    PUBLISHED,
    arm_names,
    curve_table,
    main_protocol,
    protocol_names,
    run_stat,
)
from .figures import loss_name
from .fmt import SEED_VALUES_MAX, fmt, fmt_agg
from .regime import per_seed

# --------------------------------------------------------------------------- tables


def column_groups(results, with_tied=True) -> list[tuple[str, str, str]]:
    """(top header, sub header, key) columns: the paper's AR/MDLM, then ours per protocol and arm."""
    cols = [(CITATION, "AR", "paper/ar"), (CITATION, "MDLM", "paper/mdlm")]
    for protocol in protocol_names(results):
        for arm in arm_names(results, protocol):
            if arm == "mdlm_tied" and not with_tied:
                continue
            cols.append((PROTOCOL_LABEL.get(protocol, protocol), ARM_LABEL[arm], f"{protocol}/{arm}"))
    return cols


def table_frame(rows: dict[str, list[str]], columns: list[tuple[str, str, str]], stub: str, **attrs) -> pd.DataFrame:
    df = pd.DataFrame.from_dict(rows, orient="index", dtype=object)
    df.columns = pd.MultiIndex.from_tuples([(c[0], c[1]) for c in columns])
    df.index.name = stub
    df.attrs.update(attrs)
    return df


def seeds_note(results) -> str:
    """What a table's cells over seeds show (numfmt.fmt_agg): the seed values with few seeds, else an
    interval; both rules named when the arms ran different numbers of seeds (AR may run more)."""
    counts = {len(v) for v in (results["meta"].get("seeds_by_arm") or {}).values()}
    counts = counts or {len(results["meta"].get("seeds") or [0])}
    n = max(counts)
    if n <= 1:
        return ""
    if min(counts) <= SEED_VALUES_MAX < n:
        return (
            f" (mean over {' or '.join(str(c) for c in sorted(counts))} seeds: with at most {SEED_VALUES_MAX} "
            "each seed's value follows, with more the 95% CI)"
        )
    few = f" (mean over {n} seeds, then each seed's value)"
    return few if n <= SEED_VALUES_MAX else f" (mean and 95% CI over {n} seeds)"


def table_training(results) -> pd.DataFrame:
    """Table 2: parameters, training time, throughput, best validation loss and its step; ours per
    protocol and arm over seeds beside the paper's. Our throughput is only the interleaved benchmark
    of the main protocol (arche.speed: median [min, max] over rounds), which finding 1 uses, never the
    training logs (arms trained one after another: confounded by whatever else the machine did); the
    paper's is the figure it reports."""
    cols = column_groups(results)
    tp_row = "Throughput (tok/s)"
    names = (
        "Parameters",
        "Training time (min)",
        tp_row,
        "Best val loss",
        "Best step",
        "Val loss measured",
        "Final bound, each seed",
        "Plateau escape step, each seed",
    )
    rows = {k: [] for k in names}
    for _, _, key in cols:
        src, arm = key.split("/")
        if src == "paper":
            p = PUBLISHED[arm]
            cells = [
                fmt(p["n_params"], "params"),
                fmt(p["train_time_min"], "min"),
                fmt(p["tokens_per_s"], "tok"),
                fmt(p["best_val"], "f3"),
                fmt(p["best_step"], "int"),
                "NLL" if arm == "ar" else "masked mean",
                fmt(PUBLISHED["val_curve"]["ar"][-1], "f3") if arm == "ar" else "not reported",
                "not reported",
            ]
        else:
            st = lambda m: run_stat(results, m, src, arm)  # noqa: E731
            cells = [
                fmt(st("n_params")["mean"], "params"),
                fmt_agg(st("train_time_s"), "min", scale=1 / 60),
                _benchmark_cell(results, src, arm),
                fmt_agg(st("best_val"), "f3"),
                fmt_agg(st("best_step"), "int"),
                loss_name(results, src, arm),
                per_seed(results, src, arm, "bound"),
                per_seed(results, src, arm, "escape"),
            ]
        for name, cell in zip(names, cells):
            rows[name].append(cell)
    return table_frame(rows, cols, "Metric", title="Table 2. Training efficiency" + seeds_note(results))


def _benchmark_cell(results, protocol, arm) -> str:
    """An arm's interleaved throughput, median [min, max] over rounds, under the benchmark's protocol."""
    tp = results.get("throughput") or {}
    per = (tp.get("per_round") or {}).get(arm) if protocol == tp.get("protocol", main_protocol(results)) else None
    return f"{fmt(tp['median'][arm], 'tok')} [{fmt(min(per), 'tok')}, {fmt(max(per), 'tok')}]" if per else "n/a"


def table_val_loss(results) -> pd.DataFrame:
    """Table 3: validation loss at every evaluation, row k the k-th evaluation of each (the paper
    evaluated every 2,000 of 20,000 steps; ours every eval_every of its own steps), with both steps
    shown, so no row is half empty when the two evaluated equally often; the lowest of each column is bold."""
    cols = column_groups(results)
    pc = PUBLISHED["val_curve"]
    tables = {key: curve_table(results, *key.split("/")) for _, _, key in cols if not key.startswith("paper")}
    our_steps = sorted({s for t in tables.values() for s in t})
    best = {key: min(t, key=lambda s: t[s]["mean"]) for key, t in tables.items() if t}
    columns = [("", "Paper step", "paper_step"), ("", "Our step", "our_step")] + cols
    rows, bold = {}, set()
    for k in range(max(len(pc["step"]), len(our_steps))):
        paper_step = pc["step"][k] if k < len(pc["step"]) else None
        our_step = our_steps[k] if k < len(our_steps) else None
        label = str(k + 1)
        row = [fmt(paper_step, "int") if paper_step else "", fmt(our_step, "int") if our_step else ""]
        for top, sub, key in cols:
            if key.startswith("paper"):
                arm = key.split("/")[1]
                v = pc[arm][k] if paper_step else None
                row.append(fmt(v, "f3") if v is not None else "")
                if v is not None and v == min(pc[arm]):
                    bold.add((label, (top, sub)))
            else:
                t = tables[key]
                row.append(fmt_agg(t[our_step], "f3") if our_step in t else "")
                if our_step in t and best.get(key) == our_step:
                    bold.add((label, (top, sub)))
        rows[label] = row
    return table_frame(
        rows,
        columns,
        "Evaluation",
        bold=bold,
        title="Table 3. Validation loss at each evaluation (bold: lowest)" + seeds_note(results),
    )


def table_likelihood(results) -> pd.DataFrame:
    """Likelihoods that compare: AR validation NLL and perplexity against the MDLM's NELBO and its
    perplexity bound (an upper bound on the MDLM's perplexity), beside the masked-token mean loss the
    paper reported, which is not a likelihood bound. Lowest value over evaluations of each run."""
    cols = column_groups(results)
    rows = {
        k: []
        for k in (
            "AR NLL (nats/token)",
            "AR perplexity",
            "MDLM NELBO (nats/token, bound)",
            "MDLM perplexity bound",
            "MDLM masked-token mean (not a bound)",
        )
    }
    for _, _, key in cols:
        src, arm = key.split("/")
        if src == "paper":
            if arm == "ar":
                vals = [
                    fmt(PUBLISHED["ar"]["best_val"], "f3"),
                    fmt(math.exp(PUBLISHED["ar"]["best_val"]), "f2"),
                    "",
                    "",
                    "",
                ]
            else:
                vals = ["", "", "not reported", "not reported", fmt(PUBLISHED["mdlm"]["best_val"], "f3")]
        elif arm == "ar":
            vals = [
                fmt_agg(run_stat(results, "best_val_nll", src, arm), "f3"),
                fmt_agg(run_stat(results, "best_val_ppl", src, arm), "f2"),
                "",
                "",
                "",
            ]
        else:
            vals = [
                "",
                "",
                fmt_agg(run_stat(results, "best_val_nelbo", src, arm), "f3"),
                fmt_agg(run_stat(results, "best_val_ppl_bound", src, arm), "f2"),
                fmt_agg(run_stat(results, "best_val_masked_mean", src, arm), "f3"),
            ]
        for k, v in zip(rows, vals):
            rows[k].append(v)
    return table_frame(
        rows, cols, "Measure", title="Likelihoods: comparable AR and MDLM measures" + seeds_note(results)
    )
