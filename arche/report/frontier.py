"""Finding 3 at equal quality, drawn and cited: the quality-diversity frontier of each paradigm (its
first-seed sample sets, arche.study.frontier.frontier_points) against the AR judge's perplexity, the real
story openings, and the equal-perplexity comparisons of FRONTIER_RULE (arche.study.frontier)."""

from __future__ import annotations

from ..study.frontier import equal_quality, frontier_points
from .common import ARM_LABEL, COLORS, has_frontier, main_protocol, reference_row, samples_where
from .findings import stored_or_computed
from .fmt import fmt, is_number
from .plotting import log_x, new_figure, pct_formatter, spread_labels

FRONTIER_PANELS = (
    ("unique_first_5gram", "unique first 5-grams (higher = more diverse)", True),
    ("self_bleu_matched", "Self-BLEU, matched length (lower = more diverse)", False),
)
EXTRA_COLOR = "#555555"


def frontier_verdict(results) -> dict:
    """FRONTIER_RULE's outcome as the analysis stored it with FindingThree ({outcome, reason,
    comparisons, ranges}), or the rule applied now (a file from before it was stored)."""
    f = next((f for f in stored_or_computed(results) if f.get("key") == "FindingThree"), None)
    return (f or {}).get("frontier") or equal_quality(results)


def point_label(row) -> str:
    """A frontier point's name on the figure: its knob and value, or which main set it is."""
    if row.get("knob") == "mdlm_steps":
        return f"{row['value']:g} steps"
    if row.get("knob"):
        return f"T={row['value']:g}"
    if row["setting"] == "samples_confidence":
        return "confidence rule"
    return "main (T=1)" if row["paradigm"] == "ar" else "main (ancestral)"


def _value(row, metric):
    """A row's value of a panel's measure (Self-BLEU unmatched for rows from before matched length)."""
    v = row.get(metric)
    return v if is_number(v) or metric != "self_bleu_matched" else row.get("self_bleu")


LABEL_HEADROOM = 0.2  # of each panel's data range, above it


def _draw_series(ax, paradigm, rows, metric) -> list:
    """One paradigm's frontier: points in perplexity order joined by a line, the main set a star,
    bars of one half-sampling standard error; returns the point labels (annotations)."""
    rows = [r for r in rows if is_number(_value(r, metric))]
    if not rows:
        return []
    xs, ys = [r["gen_ppl"] for r in rows], [_value(r, metric) for r in rows]
    color = COLORS[paradigm]
    ax.plot(xs, ys, "-", color=color, lw=1.2, alpha=0.8)
    for r, x, y in zip(rows, xs, ys):
        se = (r.get("se") or {}).get(metric)
        if is_number(se):
            ax.errorbar([x], [y], yerr=[se], fmt="none", ecolor=color, elinewidth=0.8, capsize=1.5)
        main = r["setting"] == "samples"
        ax.plot([x], [y], "*" if main else "o", color=color, ms=9 if main else 4, mec="k" if main else color, mew=0.5)
    return [
        ax.annotate(point_label(r), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=5.5, color=color)
        for r, x, y in zip(rows, xs, ys)
    ]


def _draw_references(ax, results, metric, protocol) -> list:
    """The real story openings (dashed line at their value, a diamond at their judge perplexity) and the
    paper-text sampler, an extra row that is no frontier point (a grey cross)."""
    out = []
    ref = reference_row(results, protocol, "openings")
    if ref and is_number(_value(ref, metric)):
        ax.axhline(_value(ref, metric), color="k", ls="--", lw=0.8)
        if is_number(ref.get("gen_ppl")):
            ax.plot([ref["gen_ppl"]], [_value(ref, metric)], "D", color="k", ms=4)
    seed = min(results["meta"].get("seeds") or [0])
    for row in samples_where(results, protocol=protocol, arm="mdlm", setting="samples_papertext", seed=seed):
        if is_number(row.get("gen_ppl")) and is_number(_value(row, metric)):
            ax.plot([row["gen_ppl"]], [_value(row, metric)], "x", color=EXTRA_COLOR, ms=5, mew=1.2)
            out.append(
                ax.annotate(
                    "paper text (extra)",
                    (row["gen_ppl"], _value(row, metric)),
                    textcoords="offset points",
                    xytext=(-4, 3),
                    ha="right",
                    fontsize=5.5,
                    color=EXTRA_COLOR,
                )
            )
    return out


def _draw_comparisons(ax, eq, metric) -> None:
    """Each equal-perplexity comparison: a dotted vertical line at the MDLM point's perplexity and AR's
    interpolated value there as a hollow circle."""
    for c in eq.get("comparisons") or []:
        ax.axvline(c["gen_ppl"], color="#777777", ls=":", lw=0.9)
        ar = (c.get("measures") or {}).get(metric, {}).get("ar")
        if is_number(ar):
            ax.plot([c["gen_ppl"]], [ar], "o", mfc="none", color=COLORS["ar"], ms=6, mew=1.0)


def frontier_title(eq) -> str:
    """Whether the frontiers overlap, their ranges, and what finding 3 at equal perplexity says."""
    ranges = eq.get("ranges") or {}
    spans = ", ".join(
        f"{ARM_LABEL[p]} {fmt(r[0], 'sig')}-{fmt(r[1], 'sig')}" for p in ("ar", "mdlm") if (r := ranges.get(p))
    )
    n = len(eq.get("comparisons") or [])
    if n:
        head = f"frontiers overlap (judge perplexity {spans}): {n} MDLM point(s) compared at AR's perplexity"
    else:
        head = f"frontiers do not overlap (judge perplexity {spans or 'n/a'})"
    return f"{head}\nfinding 3 at equal judge perplexity: {eq['outcome']}"


def _legend(fig) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=COLORS["ar"], marker="o", ms=4, label="AR: temperatures"),
        Line2D([], [], color=COLORS["mdlm"], marker="o", ms=4, label="MDLM: temperatures, steps, confidence rule"),
        Line2D([], [], color="#999999", marker="*", ms=8, mec="k", ls="", label="main sample set"),
        Line2D([], [], color="k", marker="D", ms=4, ls="--", lw=0.8, label="real story openings"),
        Line2D([], [], color=EXTRA_COLOR, marker="x", ls="", label="MDLM paper-text sampler (extra, no point)"),
        Line2D([], [], color="#777777", ls=":", marker="o", mfc="none", mec=COLORS["ar"], label="compared, AR interp."),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=6.5, frameon=False)


def fig_frontier(results):
    """The quality-diversity frontier (first seed, main protocol): unique first 5-grams and Self-BLEU at
    matched length against the AR judge's perplexity (log axis), AR's temperatures and the MDLM's
    temperatures, steps and confidence rule as two curves (bars: one half-sampling standard error), the
    real story openings, the paper-text sampler as an extra, and FRONTIER_RULE's comparisons at equal
    perplexity; the title says whether the frontiers overlap. No two point labels overlap."""
    if not has_frontier(results):
        raise ValueError("this run has no quality-diversity frontier (config sweep=False)")
    protocol = main_protocol(results)
    eq = frontier_verdict(results)
    series = {p: frontier_points(results, p) for p in ("ar", "mdlm")}
    fig, axes = new_figure(1, 2, 7.2, 3.9)
    labels = []
    for ax, (metric, ylabel, pct) in zip(axes.flat, FRONTIER_PANELS):
        for paradigm, rows in series.items():
            labels += _draw_series(ax, paradigm, rows, metric)
        labels += _draw_references(ax, results, metric, protocol)
        _draw_comparisons(ax, eq, metric)
        log_x(ax)
        ax.set_xlabel("perplexity under the AR judge, log scale (lower = more fluent)", fontsize=7.5)
        ax.set_ylabel(ylabel, fontsize=7.5)
        if pct:
            ax.yaxis.set_major_formatter(pct_formatter())
        lo, hi = ax.get_ylim()  # headroom: the labels of points near the top spread upwards, not into the title
        ticks = [t for t in ax.get_yticks() if lo <= t <= hi]  # no tick in the headroom (no "120%")
        ax.set_ylim(lo, hi + LABEL_HEADROOM * (hi - lo))
        ax.set_yticks(ticks)
    fig.suptitle(frontier_title(eq), fontsize=8)
    _legend(fig)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()  # the constrained layout places the axes once ...
    fig.set_layout_engine("none")  # ... and stays put while the labels move apart where they collide
    for ax in axes.flat:
        spread_labels(fig, [t for t in labels if t.axes is ax])
    fig.frontier_labels = labels  # for tests: no two may overlap
    return fig


def frontier_macros(m: dict, results) -> None:
    """The frontier's values the paper cites: HasFrontier, FrontierOverlaps (0/1), the two ranges, the
    points compared and their perplexities, the knob values drawn, and FrontierSentence (one sentence)."""
    eq = frontier_verdict(results) if has_frontier(results) else {"ranges": {}, "comparisons": []}
    ranges = eq.get("ranges") or {}
    comps = eq.get("comparisons") or []
    m["HasFrontier"] = str(int(has_frontier(results)))
    m["FrontierOverlaps"] = str(int(bool(comps)))
    for p, A in (("ar", "Ar"), ("mdlm", "Mdlm")):
        r = ranges.get(p)
        m[f"Frontier{A}Range"] = f"{fmt(r[0], 'sig')}–{fmt(r[1], 'sig')}" if r else "n/a"
        m[f"Frontier{A}Points"] = fmt(len(frontier_points(results, p)), "int")
    m["FrontierNCompared"] = fmt(len(comps), "int")
    m["FrontierComparedPpls"] = ", ".join(fmt(c["gen_ppl"], "sig") for c in comps) or "none"
    m["FrontierNMoreDiverse"] = fmt(sum(c["verdict"] == "more diverse" for c in comps), "int")
    m["FrontierNLessDiverse"] = fmt(sum(c["verdict"] == "less diverse" for c in comps), "int")
    for knob, name in (("ar_temperature", "ArTemps"), ("mdlm_temperature", "MdlmTemps"), ("mdlm_steps", "MdlmSteps")):
        values = sorted({r["value"] for r in results["samples"] if r.get("knob") == knob and _on_frontier(r)})
        m[f"Frontier{name}"] = ", ".join(f"{v:g}" for v in values) if values else "n/a"
    m["FrontierSentence"] = frontier_sentence(eq, has_frontier(results))


def _on_frontier(row) -> bool:
    return str(row.get("setting", "")).startswith("frontier_")


def frontier_sentence(eq, present: bool) -> str:
    """The frontier's result in one or two sentences (the paper prints it as written here)."""
    if not present:
        return (
            "This run drew no quality-diversity frontier (profile setting sweep), so finding 3 could not be "
            "judged at equal judge perplexity."
        )
    ranges = eq.get("ranges") or {}
    spans = {p: f"{fmt(r[0], 'sig')}–{fmt(r[1], 'sig')}" if (r := ranges.get(p)) else "n/a" for p in ("ar", "mdlm")}
    comps = eq.get("comparisons") or []
    head = f"AR's sample sets span judge perplexities {spans['ar']}, the MDLM's {spans['mdlm']}"
    if not comps:
        return (
            f"{head}: the two frontiers do not overlap, so no MDLM point can be compared with AR at equal judge "
            "perplexity and finding 3 is not testable by this rule."
        )
    n_more = sum(c["verdict"] == "more diverse" for c in comps)
    return (
        f"{head}: {len(comps)} MDLM point(s) lie inside AR's range, and {n_more} of them "
        f"{'is' if n_more == 1 else 'are'} more diverse than AR at the same judge perplexity on both measures."
    )
