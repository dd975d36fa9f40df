"""The repetition study's figure, tables and macros, from its results.json alone (no torch).

`results["repetition"]` has one row per (paradigm, budget, seed, epochs), `results["verdicts"]` the
outcome of the rule fixed before the run (arche.study.verdicts.REPETITION_RULE), `results["samples"]` the
scored samples of the sampled epoch counts. arche.report wraps these for the notebook and the paper.
"""

from __future__ import annotations

import pandas as pd

from .. import stats
from ..numfmt import SEED_VALUES_MAX, fmt_agg
from ..study.results import epochs_by_budget, is_repetition  # noqa: F401  (arche.report.repetition.is_repetition)
from ..study.verdicts import curves
from .discussion import VERDICT_PHRASE
from .repetition_text import multiplier_label, post_hoc_macros

LABEL = {"ar": "AR", "mdlm": "MDLM"}
COLORS = {"ar": "#3366aa", "mdlm": "#dd7733"}
STYLES = ("-", "--", ":", "-.")  # one per budget, largest first
SAMPLE_ROWS = [
    ("distinct_1", "Distinct-1"),
    ("distinct_2", "Distinct-2"),
    ("distinct_3", "Distinct-3"),
    ("distinct_4", "Distinct-4"),
    ("self_bleu", "Self-BLEU (exact, words)"),
    ("unique_first_5gram", "Unique first 5-grams"),
    ("gen_ppl", "Gen. PPL (judge)"),
]


def budgets(results) -> list[int]:
    return sorted({r["chunks"] for r in results["repetition"]}, reverse=True)


def _tokens(results, chunks) -> int:
    return next(r["unique_tokens"] for r in results["repetition"] if r["chunks"] == chunks)


def _budget_label(results, chunks) -> str:
    return f"{_tokens(results, chunks) / 1e3:,.0f}K unique tokens"


def fig_repetition(results):
    """Validation bound at the end of each run against epochs (left) and training FLOPs (right): thin
    lines are seeds, thick lines their mean; a star marks each curve's best epoch count; black, on the right,
    the compute multiplier (AR's best, carried to where the MDLM's bound reaches it, or an arrow: not by then)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True)
    rows = results["repetition"]
    _plot_curves(axes, results)
    _mark_compute(axes[1], results)
    axes[0].set_xscale("log", base=2)
    axes[0].set_xticks(sorted({r["epochs"] for r in rows}), [str(e) for e in sorted({r["epochs"] for r in rows})])
    axes[0].set(xlabel="epochs over the same unique tokens", ylabel="validation NLL (AR) / NELBO (MDLM), nats/token")
    axes[1].set_xscale("log")
    axes[1].set(xlabel="training FLOPs")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7.5, frameon=False)
    fig.suptitle("Repeating the same data: AR vs MDLM (star: each curve's best epoch count)", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend below the panels
    return fig


def _plot_curves(axes, results) -> None:
    """Each budget's and paradigm's seeds (thin) and mean (thick, its best starred), against epochs on the
    left and training FLOPs on the right."""
    rows = results["repetition"]
    mean = curves(rows)
    for k, chunks in enumerate(budgets(results)):
        style = STYLES[k % len(STYLES)]
        for p in ("ar", "mdlm"):
            mine = [r for r in rows if r["chunks"] == chunks and r["paradigm"] == p]
            if not mine:
                continue
            for seed in sorted({r["seed"] for r in mine}):
                pts = sorted((r["epochs"], r["flops"], r["val"]) for r in mine if r["seed"] == seed)
                for ax, x in zip(axes, (0, 1)):
                    ax.plot([q[x] for q in pts], [q[2] for q in pts], style, color=COLORS[p], lw=0.7, alpha=0.45)
            epochs = sorted(mean[chunks][p])
            flops = {r["epochs"]: r["flops"] for r in mine}
            ys = [mean[chunks][p][e][0] for e in epochs]
            best = min(epochs, key=lambda e: mean[chunks][p][e][0])
            label = f"{LABEL[p]}, {_budget_label(results, chunks)}"
            for ax, xs in zip(axes, (epochs, [flops[e] for e in epochs])):
                ax.plot(xs, ys, style, color=COLORS[p], lw=2, marker="o", ms=3.5, label=label)
                ax.plot(
                    [xs[epochs.index(best)]],
                    [mean[chunks][p][best][0]],
                    "*",
                    color=COLORS[p],
                    ms=13,
                    mec="black",
                    mew=0.6,
                    zorder=5,
                )


def _mark_compute(ax, results) -> None:
    """On the FLOPs panel: each budget's compute crossover (arche.study.verdicts: where the MDLM's best bound
    so far falls below AR's best so far) and compute multiplier (arche.study.multiplier: from AR's best to
    where the MDLM's bound reaches it)."""
    for k, b in enumerate((results.get("verdicts") or {}).get("finding_2", {}).get("per_budget", [])):
        if b.get("crossover_flops"):
            ax.axvline(b["crossover_flops"], color="grey", ls=STYLES[k % len(STYLES)], lw=0.8)
            ax.annotate(
                f"crossover ({b['crossover_epochs']} ep.)",
                (b["crossover_flops"], 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                ha="right",
                va="top",
                rotation=90,
            )
    for b in (results.get("verdicts") or {}).get("compute_multiplier", {}).get("per_budget", []):
        xs, y, k = (b["ar_flops"], b["mdlm_flops"]), b["ar_best"], budgets(results).index(b["chunks"])
        ax.plot(xs, (y, y), STYLES[k % len(STYLES)], color="black", lw=0.9)
        ax.plot([xs[1]], [y], ">" if b["kind"] == "more_than" else "o", color="black", ms=5)
        ax.annotate(multiplier_label(b), (xs[1], y), textcoords="offset points", xytext=(-2, 4), ha="right", fontsize=7)


def _agg_text(values, scale="raw", digits=3, n_items=None) -> str:
    """Values over seeds as every table prints them (numfmt.fmt_agg): the seed values with few seeds,
    else the 95% interval; proportions padded by half a text of the `n_items` behind each."""
    return fmt_agg(stats.interval(values, scale, n_items), f"f{digits}")


def table_repetition(results) -> pd.DataFrame:
    """Validation bound (nats/token) at the end of each epoch count over seeds (numfmt.fmt_agg: the seed
    values with few seeds, else mean ± 95% half-width), per budget and paradigm; a star marks each
    column's best."""
    rows = results["repetition"]
    epochs = sorted({r["epochs"] for r in rows})
    cols, data = [], {}
    for chunks in budgets(results):
        for p in ("ar", "mdlm"):
            col = (_budget_label(results, chunks), LABEL[p])
            cols.append(col)
            vals = {
                e: [r["val"] for r in rows if r["chunks"] == chunks and r["paradigm"] == p and r["epochs"] == e]
                for e in epochs
            }
            best = min((e for e in epochs if vals[e]), key=lambda e: sum(vals[e]) / len(vals[e]))
            data[col] = [(_agg_text(vals[e]) + ("*" if e == best else "")) if vals[e] else "n/a" for e in epochs]
    df = pd.DataFrame(data, index=[str(e) for e in epochs])
    df.columns = pd.MultiIndex.from_tuples(cols)
    df.index.name = "Epochs"
    return df


def table_repetition_samples(results) -> pd.DataFrame:
    """Diversity and fluency of samples after 2, 8, ... epochs (largest budget), beside real openings."""
    samples = results["samples"]
    epochs = sorted({s["epochs"] for s in samples})
    cols, data = [], {}
    for p in ("ar", "mdlm"):
        for e in epochs:
            picked = [s for s in samples if s["paradigm"] == p and s["epochs"] == e]
            if not picked:
                continue
            col = (LABEL[p], f"{e} ep.")
            cols.append(col)
            n_items = min((s["n_texts"] for s in picked if s.get("n_texts")), default=None)
            data[col] = [
                _agg_text([s[k] for s in picked], stats.scale_of(k), 1 if k == "gen_ppl" else 3, n_items)
                for k, _ in SAMPLE_ROWS
            ]
    ref = (results.get("references") or [None])[0]
    if ref:
        cols.append(("Real text", "openings"))
        data[cols[-1]] = [
            f"{ref[k]:.{1 if k == 'gen_ppl' else 3}f}" if ref.get(k) is not None else "n/a" for k, _ in SAMPLE_ROWS
        ]
    df = pd.DataFrame(data, index=[label for _, label in SAMPLE_ROWS])
    df.columns = pd.MultiIndex.from_tuples(cols)
    df.index.name = f"n = {results['meta']['n_match']} texts"
    return df


def macros(results) -> dict[str, str]:
    """The numbers the repetition section cites (prefix Rep), LaTeX-ready strings."""
    v = results["verdicts"]["finding_2"]
    meta = results["meta"]
    m = {
        "RepOutcome": v["outcome"],
        "RepRunDate": str(meta.get("created", "n/a")),  # the PDF's date (arche.report.paper)
        "RepOutcomePhrase": VERDICT_PHRASE[v["outcome"]][0],  # "the finding is inconclusive"
        "RepReason": v["reason"].rstrip("."),
        "RepRule": v["rule"],
        "RepSeeds": str(len(meta["seeds"])),
        "RepSeedsSpread": _spread_text(len(meta["seeds"])),
        "RepEpochsList": ", ".join(str(e) for e in sorted({r["epochs"] for r in results["repetition"]})),
        "RepEpochsPhrase": _epochs_phrase(results),
        "RepDecayPct": f"{100 * meta['decay_fraction']:.0f}\\%",
        "RepNMatch": str(meta["n_match"]),
        "RepDevice": meta["device"],
    }
    names = ("Full", "Small", "Third", "Fourth")
    for name, b in zip(names, v["per_budget"]):
        m[f"Rep{name}Tokens"] = f"{b['unique_tokens']:,}"
        m[f"Rep{name}Outcome"] = b["outcome"]
        for p in ("ar", "mdlm"):
            P = LABEL[p].capitalize()
            m[f"Rep{name}{P}Best"] = f"{b['best'][p]['mean']:.3f}"
            m[f"Rep{name}{P}BestEpochs"] = str(b["e_star"][p])
        # Seed by seed: how much the MDLM's bound fell from AR's best epoch count to its own.
        gains = []
        for seed in meta["seeds"]:
            by_e = {
                r["epochs"]: r["val"]
                for r in results["repetition"]
                if r["chunks"] == b["chunks"] and r["paradigm"] == "mdlm" and r["seed"] == seed
            }
            if b["e_star"]["ar"] in by_e and b["e_star"]["mdlm"] in by_e:
                gains.append(by_e[b["e_star"]["ar"]] - by_e[b["e_star"]["mdlm"]])
        m[f"Rep{name}MdlmSeedGains"] = " and ".join(f"{g:.3f}" for g in gains) or "n/a"
        cross = b["crossover_epochs"]
        m[f"Rep{name}Crossover"] = (
            f"at {cross} epochs ({b['crossover_flops']:.2g} FLOPs)" if cross else f"none within {b['e_max']} epochs"
        )
    m.update(post_hoc_macros(results, dict(zip(budgets(results), names))))
    train_time = sum(r["train_time_s"] for r in results["repetition"])
    m["RepTrainMinutes"] = f"{train_time / 60:.0f}"
    return {k: _tex(val) if k not in ("RepDecayPct",) else val for k, val in m.items()}


def _epochs_phrase(results) -> str:
    """The epoch counts run, "1, 2, 4 epochs"; per budget when they differ (repetition_max_tokens), largest first:
    "1, 2, 4 epochs (259,072 unique tokens) and 1, 2, 4, 8 epochs (64,512)"."""
    rows = results["repetition"]
    per = epochs_by_budget(results)
    if len({tuple(e) for e in per.values()}) == 1:
        return ", ".join(map(str, next(iter(per.values())))) + " epochs"
    parts = []
    for i, (c, epochs) in enumerate(per.items()):
        tokens = next(r["unique_tokens"] for r in rows if r["chunks"] == c)
        parts.append(f"{', '.join(map(str, epochs))} epochs ({tokens:,}{' unique tokens' if i == 0 else ''})")
    return " and ".join(parts)


def _spread_text(n_seeds: int) -> str:
    """What a table cell over seeds shows (numfmt.fmt_agg), for the captions."""
    if n_seeds <= SEED_VALUES_MAX:
        return f"the mean over {n_seeds} seeds followed by each seed's value (too few seeds for a useful interval)"
    return f"the mean and 95% interval over {n_seeds} seeds"


def _tex(text: str) -> str:
    out = str(text)
    for a, b in (
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("~", r"\textasciitilde{}"),
        ("^", r"\^{}"),
    ):
        out = out.replace(a, b)
    return out.replace("<=", r"$\le$").replace(">=", r"$\ge$")
