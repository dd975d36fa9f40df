"""The comparison's figures, one function each, from a results dict (matplotlib, no pyplot state)."""

from __future__ import annotations

from .common import (
    ARM_LABEL,
    ARMS,
    CITATION,
    COLORS,
    PROTOCOL_LABEL,
    PUBLISHED,
    arm_names,
    curve_table,
    main_protocol,
    protocol_names,
    reference_row,
    run_stat,
    runs_where,
    sample_stat,
    samples_where,
)
from .fmt import SEED_VALUES_MAX, is_number
from .plotting import kilo_formatter, log_y, new_figure, pct_formatter

# --------------------------------------------------------------------------- figures


def _draw_agg(ax, x, st, color, ms, capsize, label=None) -> None:
    """One aggregate over seeds at x, as the tables print it (numfmt.fmt_agg): the centre with each
    seed's value as a small dot beside it with at most SEED_VALUES_MAX seeds, else the centre with its
    95% interval as an error bar."""
    if st.get("values") and st["n"] <= SEED_VALUES_MAX:
        ax.plot([x], [st["mean"]], "o", color=color, ms=ms, label=label)
        ax.plot([x + 0.06] * len(st["values"]), st["values"], ".", color=color, ms=ms * 0.6, alpha=0.7)
        return
    err = [[st["mean"] - st["lo"]], [st["hi"] - st["mean"]]]
    ax.errorbar([x], [st["mean"]], yerr=err, fmt="o", color=color, capsize=capsize, ms=ms, label=label)


def loss_name(results, protocol, arm) -> str:
    """What an arm's val_loss measured, read off its curve (so overrides cannot mislead it)."""
    if arm == "ar":
        return "NLL"
    for row in runs_where(results, protocol=protocol, arm=arm):
        rec = (row.get("curve") or [{}])[-1]
        if rec.get("val_nelbo") is not None and rec.get("val_loss") == rec.get("val_nelbo"):
            return "NELBO bound"
        if rec.get("val_masked_mean") is not None and rec.get("val_loss") == rec.get("val_masked_mean"):
            return "masked mean"
    return "NELBO bound" if protocol == "controlled" else "masked mean"


def fig_val_curves(results):
    """Figure 1: validation loss over training steps. One panel for the published curve
    (Table 3 of Vicentino 2026) and one per protocol of ours; seeds as thin lines, their mean thick,
    the best evaluation marked. Scales differ between panels (different data and model sizes)."""
    protos = protocol_names(results)
    fig, axes = new_figure(1, len(protos) + 1, 2.45 * (len(protos) + 1), 2.7)
    ax = axes[0, 0]
    pc = PUBLISHED["val_curve"]
    for arm in ("ar", "mdlm"):
        ax.plot(
            pc["step"],
            pc[arm],
            "o-",
            color=COLORS[arm],
            ms=3,
            lw=1.5,
            label=f"{ARM_LABEL[arm]} ({'NLL' if arm == 'ar' else 'masked mean'})",
        )
        best = min(range(len(pc[arm])), key=lambda i: pc[arm][i])
        ax.plot(pc["step"][best], pc[arm][best], "*", color="k", ms=9, zorder=5)
    ax.set_title(f"{CITATION}, Table 3\n(published, not ours)", fontsize=8)
    ax.xaxis.set_major_formatter(kilo_formatter())
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("validation loss (nats/token)", fontsize=8)
    ax.legend(fontsize=6, frameon=False)
    for k, protocol in enumerate(protos, start=1):
        ax = axes[0, k]
        for arm in arm_names(results, protocol):
            runs = runs_where(results, protocol=protocol, arm=arm)
            for row in runs:
                steps = [r["step"] for r in row["curve"]]
                ax.plot(
                    steps,
                    [r["val_loss"] for r in row["curve"]],
                    "-",
                    color=COLORS[arm],
                    lw=0.7,
                    alpha=0.35 if len(runs) > 1 else 1.0,
                )
            table = curve_table(results, protocol, arm)
            steps = list(table)
            means = [table[s]["mean"] for s in steps]
            label = f"{ARM_LABEL[arm]}: {loss_name(results, protocol, arm)}"
            ax.plot(steps, means, "o-", color=COLORS[arm], ms=3, lw=1.6, label=label)
            if means:
                best = min(range(len(means)), key=lambda i: means[i])
                ax.plot(steps[best], means[best], "*", color="k", ms=9, zorder=5)
        n_seeds = len({r["seed"] for r in runs_where(results, protocol=protocol)})
        ax.set_title(
            f"{PROTOCOL_LABEL.get(protocol, protocol)} protocol"
            + (f"\n(mean of {n_seeds} seeds, thin: each seed)" if n_seeds > 1 else "\n(one seed)"),
            fontsize=8,
        )
        ax.set_xlabel("step", fontsize=8)
        ax.xaxis.set_major_formatter(kilo_formatter())
        ax.legend(fontsize=6, frameon=False)
    return fig


def fig_likelihood(results):
    """Comparable likelihoods: AR validation NLL against the MDLM's NELBO (an upper bound on its
    NLL) per protocol and arm over seeds (_draw_agg); the published masked-mean loss shown
    hollow for contrast (not a bound). Right: the same two quantities over training."""
    protos = protocol_names(results)
    fig, axes = new_figure(1, 2, 6.8, 3.4)
    ax = axes[0, 0]
    x, ticks, labels, used = 0.0, [], [], set()
    for protocol in protos:
        arms = arm_names(results, protocol)
        for i, arm in enumerate(arms):
            key = "best_val_nll" if arm == "ar" else "best_val_nelbo"
            st = run_stat(results, key, protocol, arm)
            xi = x + i * 0.8
            if is_number(st["mean"]):
                label = f"{ARM_LABEL[arm]}: {'NLL' if arm == 'ar' else 'NELBO bound'}"
                _draw_agg(ax, xi, st, COLORS[arm], 6, 3, label=None if label in used else label)
                used.add(label)
            if arm != "ar":
                mm = run_stat(results, "best_val_masked_mean", protocol, arm)
                if is_number(mm["mean"]):
                    label = "MDLM: masked mean (not a bound)"
                    ax.plot(
                        [xi],
                        [mm["mean"]],
                        "o",
                        mfc="none",
                        color=COLORS[arm],
                        ms=6,
                        label=None if label in used else label,
                    )
                    used.add(label)
            ticks.append(xi)
            labels.append(ARM_LABEL[arm])
        ax.text(x + 0.4 * (len(arms) - 1), 1.02, protocol, transform=ax.get_xaxis_transform(), ha="center", fontsize=8)
        x += 0.8 * len(arms) + 0.8
    ax.set_xticks(ticks, labels, fontsize=7, rotation=20)
    ax.set_ylabel("best validation nats/token", fontsize=8)
    ax.legend(fontsize=6.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    ax = axes[0, 1]
    for protocol in protos:
        style = "-" if protocol == main_protocol(results) else "--"
        for arm in arm_names(results, protocol):
            key = "val_nll" if arm == "ar" else "val_nelbo"
            table = curve_table(results, protocol, arm, key)
            if table:
                ax.plot(
                    list(table),
                    [v["mean"] for v in table.values()],
                    style,
                    color=COLORS[arm],
                    lw=1.4,
                    marker="o",
                    ms=2.5,
                    label=f"{ARM_LABEL[arm]}, {protocol}",
                )
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("validation NLL / NELBO (nats/token)", fontsize=8)
    ax.set_title("comparable likelihoods over training", fontsize=9)
    ax.legend(fontsize=6.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    return fig


DIVERSITY_PANELS = [
    ("unique_first_word", "unique first words", True),
    ("unique_first_5gram", "unique first 5-grams", True),
    ("self_bleu", "Self-BLEU (exact; published: 200x50 est.)", False),
    ("distinct_2", "Distinct-2", False),
    ("distinct_4", "Distinct-4", False),
    ("gen_ppl", "gen. perplexity under the judge AR", False),
]


def _diversity_groups(results) -> list[tuple[str, str | None, str]]:
    """(label, protocol, setting) groups for the diversity plot, the paper's first."""
    groups = [(CITATION.replace(" (", "\n("), None, "paper")]
    for protocol in protocol_names(results):
        if samples_where(results, protocol=protocol, setting="samples"):
            groups.append((f"{protocol}\n(main)", protocol, "samples"))
        if samples_where(results, protocol=protocol, setting="samples_prompted"):
            groups.append((f"{protocol},\nboth 'Once'", protocol, "samples_prompted"))
    return groups


def fig_diversity(results):
    """Diversity metrics per arm and setting over seeds (_draw_agg: seed values with few seeds, else 95%
    intervals; generative perplexity on a log axis); the published values (grey group) and real
    held-out text as horizontal lines (dashed: story openings, dotted: random windows) over the
    groups of the same protocol."""
    groups = _diversity_groups(results)
    fig, axes = new_figure(2, 3, 7.4, 4.9)
    for ax, (metric, title, pct) in zip(axes.flat, DIVERSITY_PANELS):
        x = 0.0
        ticks, labels = [], []
        for label, protocol, setting in groups:
            arms = ("ar", "mdlm") if protocol is None else arm_names(results, protocol)
            start = x
            for i, arm in enumerate(arms):
                xi = x + i * 0.3
                if protocol is None:
                    val = PUBLISHED["diversity"][arm].get(metric)
                    if val is not None:
                        ax.plot([xi], [val], "s", color=COLORS[arm], mec="k", mew=0.5, ms=5)
                else:
                    st = sample_stat(results, metric, protocol, arm, setting)
                    if is_number(st["mean"]):
                        _draw_agg(ax, xi, st, COLORS[arm], 4, 2)
            end = x + 0.3 * (len(arms) - 1)
            if protocol is not None:
                for kind, ls in (("openings", "--"), ("windows", ":")):
                    ref = reference_row(results, protocol, kind)
                    if ref and is_number(ref.get(metric)):
                        ax.hlines(ref[metric], start - 0.15, end + 0.15, colors="k", linestyles=ls, lw=1)
            ticks.append((start + end) / 2)
            labels.append(label)
            x = end + 1.0
        ax.set_xticks(ticks, labels, fontsize=6.5)
        ax.set_title(title, fontsize=9)
        if pct:
            ax.yaxis.set_major_formatter(pct_formatter())
        if metric == "gen_ppl":  # a ratio scale whose seeds spread over orders of magnitude
            log_y(ax)
    from matplotlib.lines import Line2D

    present = {r["arm"] for r in results["samples"]} | {"ar", "mdlm"}
    handles = [Line2D([], [], color=COLORS[a], marker="o", ls="", label=ARM_LABEL[a]) for a in ARMS if a in present]
    handles += [
        Line2D([], [], color="k", ls="--", label="data: story openings"),
        Line2D([], [], color="k", ls=":", label="data: random windows"),
        Line2D([], [], color="#999999", marker="s", mec="k", ls="", label=f"{CITATION} (published)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=7, frameon=False)
    return fig
