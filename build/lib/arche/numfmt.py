"""Numbers as the report and the verdicts print them: fixed decimals, percentages, thousands, parameter
counts, and a mean with its 95% interval over seeds ("m ± h" on the raw scale, "c [lo, hi]" on a log or
logit scale, where intervals are not symmetric). Torch-free, LaTeX-free."""

from __future__ import annotations

import math


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


def fmt(x, kind="f3") -> str:
    """One number as shown in tables and prose. kinds: f1/f2/f3 (decimals), pct (fraction -> %),
    int (thousands separators), params (123.6M), min (minutes), tok (tokens/s), sig (3 significant)."""
    if not _ok(x):
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
    """'mean' for one seed (or no spread), 'mean ± half-width of the 95% interval' for several on
    the raw scale (the half-width with as many decimals as the mean), 'centre [lo, hi]' for an
    interval built on a log or logit scale, which is not symmetric."""
    if agg is None or not _ok(agg.get("mean")):
        return "n/a"
    mean = agg["mean"] * scale
    if agg.get("n", 0) <= 1 or not _ok(agg.get("hi")) or agg["hi"] == agg["lo"]:
        return fmt(mean, kind)
    if agg.get("scale") in ("log", "logit"):
        # An interval built on a log or logit scale is not symmetric: show its bounds.
        lo, hi = agg["lo"] * scale, agg["hi"] * scale
        if kind == "pct":
            return f"{100 * mean:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
        return f"{fmt(mean, kind)} [{fmt(lo, kind)}, {fmt(hi, kind)}]"
    half = (agg["hi"] - agg["lo"]) / 2 * scale
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
