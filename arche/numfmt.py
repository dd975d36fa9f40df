"""Numbers as the report and the verdicts print them: fixed decimals, percentages, thousands, parameter
counts, and a centre over seeds with its spread: with at most SEED_VALUES_MAX seeds the seed values
themselves ("3.096 (3.071, 3.098, 3.120)", "39.8% (25.1, 40.2, 54.0)"), since a Student-t interval
over 2 or 3 values is too wide to say anything; with more, the 95% interval ("m ± h" on the raw scale,
"c [lo, hi]" on a log or logit scale, where intervals are not symmetric). Torch-free, LaTeX-free."""

from __future__ import annotations

import math

# Up to this many seeds an aggregate is printed as its centre and the seed values, not an interval.
SEED_VALUES_MAX = 3


def is_number(x) -> bool:
    return x is not None and not (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


def fmt(x, kind="f3") -> str:
    """One number as shown in tables and prose. kinds: f1/f2/f3 (decimals), pct (fraction -> %),
    int (thousands separators), params (123.6M), min (minutes), tok (tokens/s), sig (3 significant)."""
    if not is_number(x):
        return "n/a"
    x = float(x)
    if kind.startswith("f") and kind[1:].isdigit():
        return f"{x:.{int(kind[1:])}f}"
    if kind == "pct":
        return f"{100 * x:.1f}%"
    if kind in ("int", "tok"):
        return f"{round(x):,}"
    if kind == "params":
        for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if abs(x) >= div:
                text = f"{x / div:.1f}" if abs(x) / div < 100 or unit == "M" else f"{x / div:.0f}"
                return (text[:-2] if text.endswith(".0") else text) + unit
        return f"{x:.0f}"
    if kind == "min":
        return f"{x:.1f}" if abs(x) >= 10 else (f"{x:.2f}" if abs(x) >= 1 else f"{x:.3f}")
    if kind == "sig":
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"
    raise ValueError(f"unknown number format {kind!r}")


def fmt_agg(agg: dict, kind="f3", scale=1.0) -> str:
    """An aggregate over seeds (arche.stats.interval), every number multiplied by `scale`: 'centre'
    for one seed (or no spread); 'centre (v1, v2, v3)' with the seed values in seed order for at
    most SEED_VALUES_MAX seeds; else 'centre ± half-width of the 95% interval' on the raw scale (the
    half-width with as many decimals as the centre) and 'centre [lo, hi]' for an interval built on a
    log or logit scale, which is not symmetric. Percentages: '39.8% (25.1, 40.2, 54.0)'."""
    if agg is None or not is_number(agg.get("mean")):
        return "n/a"
    mean = agg["mean"] * scale
    values = [v * scale for v in agg.get("values") or [] if is_number(v)]
    if agg.get("n", 0) <= 1:
        return fmt(mean, kind)
    if values and agg["n"] <= SEED_VALUES_MAX:
        return _with_values(mean, values, kind)
    if not is_number(agg.get("hi")) or agg["hi"] == agg["lo"]:
        return fmt(mean, kind)
    if agg.get("scale") in ("log", "logit"):
        return _with_bounds(mean, agg["lo"] * scale, agg["hi"] * scale, kind)
    return _with_half_width(mean, (agg["hi"] - agg["lo"]) / 2 * scale, kind)


def _bare(x, kind, like: str = "") -> str:
    """A number inside a list or bounds: a percentage without its % sign (the centre carries it); a
    "sig" number with as many decimals as the centre `like` ("9.66 (9.68, 9.60)", "102 (99, 104)")."""
    if kind == "pct":
        return f"{100 * x:.1f}"
    if kind == "sig" and like and abs(x) < 1000:
        return f"{x:,.{len(like.split('.')[1]) if '.' in like else 0}f}"
    return fmt(x, kind)


def _with_values(mean, values, kind) -> str:
    centre = fmt(mean, kind)
    shown = [_bare(v, kind, centre) for v in values]
    # Seeds that print alike show no spread: "1,750", never "1,750 (1,750, 1,750, 1,750)".
    return centre if len(set(shown)) == 1 else f"{centre} ({', '.join(shown)})"


def _with_bounds(mean, lo, hi, kind) -> str:
    # An interval built on a log or logit scale is not symmetric: show its bounds.
    centre = fmt(mean, kind)
    return f"{centre} [{_bare(lo, kind, centre)}, {_bare(hi, kind, centre)}]"


def _with_half_width(mean, half, kind) -> str:
    if kind == "pct":
        return f"{100 * mean:.1f} ± {100 * half:.1f}%"
    text = fmt(mean, kind)
    if kind in ("int", "tok"):
        spread = f"{round(half):,}"
    else:
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
        spread = f"{half:.{decimals}f}"
    # A spread that rounds to nothing is not shown: "1,750", never "1,750 ± 0".
    return text if float(spread.replace(",", "")) == 0 else f"{text} ± {spread}"
