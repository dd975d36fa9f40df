"""Intervals over seeds and comparisons of two arms, each on the scale where its quantity lives.

A quantity's scale decides how its interval is built, so that no interval leaves its range:

* "raw": losses in nats (any real number): Student-t interval of the mean.
* "log": positive quantities with a multiplicative spread (perplexities, throughputs): the
  t-interval of the mean log, exponentiated; the centre is the geometric mean. A perplexity's
  interval is therefore exp of the interval of its mean log-loss, never a mean of exps.
* "logit": proportions in [0, 1] (Distinct-n, Self-BLEU, unique openings): the t-interval of the
  mean logit, mapped back. Values of exactly 0 or 1 are pulled in by half a count when the number
  of texts behind them is known (else by 1e-6), so that the logit is finite; that padding stays
  inside the interval: the centre is the plain mean of the proportions.

Every aggregate also carries the per-seed values: with few seeds (arche.numfmt.SEED_VALUES_MAX) the
report prints those instead of a Student-t interval, which is then too wide to say anything.

`compare` tests a difference between two arms with Welch's two-sample t-test on the same scale and
returns the interval of the difference, which decides "a above b", "a below b" or "no difference
shown"; it never compares two intervals by their overlap. `paired_compare` does the same with a
paired t-test when the two arms' values are matched by seed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats as _st

LEVEL = 0.95
SCALES = ("raw", "log", "logit")

# The scale of every per-arm quantity that results.json aggregates over seeds.
METRIC_SCALE = {
    "tokens_per_s": "log",
    "gen_ppl": "log",
    "val_ppl": "log",
    "val_ppl_bound": "log",
    "best_val_ppl": "log",
    "best_val_ppl_bound": "log",
    "wall_time_s": "log",
    "train_time_s": "log",
    "distinct_1": "logit",
    "distinct_2": "logit",
    "distinct_3": "logit",
    "distinct_4": "logit",
    "self_bleu": "logit",
    "self_bleu_exact": "logit",
    "self_bleu_published": "logit",
    "self_bleu_13a": "logit",
    "unique_first_word": "logit",
    "unique_first_5gram": "logit",
}


def scale_of(metric: str) -> str:
    """The scale an interval of `metric` is built on ("raw" unless listed in METRIC_SCALE)."""
    base = metric[: -len("_matched")] if metric.endswith("_matched") else metric
    return METRIC_SCALE.get(base, "raw")


def _clean(values) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _forward(x: np.ndarray, scale: str, n_items: int | None) -> np.ndarray:
    if scale == "raw":
        return x
    if scale == "log":
        if (x <= 0).any():
            raise ValueError(f"a log-scale interval needs positive values, got {x.tolist()}")
        return np.log(x)
    if scale == "logit":
        if ((x < 0) | (x > 1)).any():
            raise ValueError(f"a logit-scale interval needs proportions in [0, 1], got {x.tolist()}")
        x = _pad_edges(x, 0.5 / n_items if n_items else 1e-6)
        return np.log(x / (1 - x))
    raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES}")


def _pad_edges(x: np.ndarray, pad: float) -> np.ndarray:
    """Proportions with exactly 0 and 1 pulled in by `pad` (never past a value strictly inside (0, 1),
    which stays as it is: a Distinct-4 of 0.996 over thousands of n-grams is not clipped to 1 - pad)."""
    inner = x[(x > 0) & (x < 1)]
    lo = min(pad, float(inner.min()) / 2) if inner.size else pad
    hi = min(pad, (1 - float(inner.max())) / 2) if inner.size else pad
    return np.where(x <= 0, lo, np.where(x >= 1, 1 - hi, x))


def _back(y: float, scale: str) -> float:
    if scale == "raw":
        return float(y)
    if scale == "log":
        return float(math.exp(min(y, 700.0)))
    return float(1.0 / (1.0 + math.exp(-y)))


def _centre(x: np.ndarray, y: np.ndarray, scale: str) -> float:
    """The centre printed for the values `x` (`y` on the scale): the arithmetic mean of raw values and
    of proportions (never of padded ones), the geometric mean of positive ones; always in [min, max]."""
    centre = float(np.exp(y.mean())) if scale == "log" else float(x.mean())
    return min(max(centre, float(x.min())), float(x.max()))


def interval(values, scale: str = "raw", n_items: int | None = None, level: float = LEVEL) -> dict:
    """{mean, lo, hi, sd, n, scale, values} of `values` (one per seed).

    `mean` is the centre: the arithmetic mean ("raw", and "logit": the mean of the proportions
    themselves, so that the padding of 0 and 1 never shows in it) or the geometric mean ("log").
    [lo, hi] is the `level` Student-t interval of the mean on the scale, mapped back, and widened
    where needed to contain the centre; `sd` is the sample standard deviation of the raw values;
    `values` the cleaned per-seed values in the order given. One value, or no spread at all:
    lo = hi = mean; none: all None."""
    vals = _clean(values)
    n = len(vals)
    if n == 0:
        return {"mean": None, "lo": None, "hi": None, "sd": None, "n": 0, "scale": scale, "values": []}
    x = np.asarray(vals, dtype=np.float64)
    y = _forward(x, scale, n_items)
    centre = _centre(x, y, scale)
    out = {"mean": centre, "lo": centre, "hi": centre, "sd": None, "n": n, "scale": scale, "values": vals}
    if n == 1:
        return out
    out["sd"] = float(x.std(ddof=1))
    if float(x.max()) == float(x.min()):
        return out
    half = t_quantile(level, n - 1) * float(y.std(ddof=1)) / math.sqrt(n)
    out["lo"] = min(_back(float(y.mean()) - half, scale), centre)
    out["hi"] = max(_back(float(y.mean()) + half, scale), centre)
    return out


def t_quantile(level: float, dof: int) -> float:
    """The two-sided `level` quantile of Student's t with `dof` degrees of freedom."""
    return float(_st.t.ppf(0.5 + level / 2, dof))


def _untested(n_a: int, n_b: int, scale: str, **extra) -> dict:
    """A comparison's result before any test: counts and scale, every statistic None."""
    return {
        "diff": None,
        "lo": None,
        "hi": None,
        "p": None,
        "direction": None,
        "n_a": n_a,
        "n_b": n_b,
        **extra,
        "scale": scale,
    }


def compare(a, b, scale: str = "raw", n_items: int | None = None, level: float = LEVEL) -> dict:
    """Welch's two-sample t-test of mean(a) - mean(b) on `scale`.

    Returns {diff, lo, hi, p, direction, n_a, n_b, scale}: the difference of the means on the scale
    (a log-ratio for "log", a logit difference for "logit"), its `level` interval, the two-sided
    p-value, and direction +1 (a above b: the interval lies above 0), -1 (below) or 0 (the interval
    contains 0: no difference shown). With fewer than 2 values in either arm nothing can be
    tested: direction None."""
    xa, xb = _clean(a), _clean(b)
    out = _untested(len(xa), len(xb), scale)
    if not xa or not xb:
        return out
    ya = _forward(np.asarray(xa), scale, n_items)
    yb = _forward(np.asarray(xb), scale, n_items)
    out["diff"] = float(ya.mean() - yb.mean())
    if len(ya) < 2 or len(yb) < 2:
        return out
    if ya.std(ddof=1) == 0 and yb.std(ddof=1) == 0:
        # No spread at all: the difference is exact (e.g. identical step counts).
        out.update(lo=out["diff"], hi=out["diff"], p=0.0 if out["diff"] else 1.0, direction=int(np.sign(out["diff"])))
        return out
    with warnings.catch_warnings():  # near-identical values: scipy warns, the interval is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _st.ttest_ind(ya, yb, equal_var=False)
    ci = res.confidence_interval(confidence_level=level)
    lo, hi = float(ci.low), float(ci.high)
    out.update(lo=lo, hi=hi, p=float(res.pvalue), direction=1 if lo > 0 else (-1 if hi < 0 else 0))
    return out


def _pairs(a, b) -> list[tuple[float, float]]:
    """Matched (a, b) pairs: two sequences aligned by position (seed order) or two mappings keyed by
    seed; a pair with a missing or non-finite value on either side is dropped."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = [k for k in a if k in b]
        a, b = [a[k] for k in keys], [b[k] for k in keys]
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"paired values need one b per a, got {len(a)} and {len(b)}")
    return [(float(x), float(y)) for x, y in zip(a, b) if _clean([x]) and _clean([y])]


def paired_compare(a, b, scale: str = "raw", n_items: int | None = None, level: float = LEVEL) -> dict:
    """Paired t-test of mean(a - b) on `scale` over matched pairs (the same seed in both arms).

    Returns compare's keys {diff, lo, hi, p, direction, n_a, n_b, scale} and n_pairs: the mean
    paired difference on the scale, its `level` interval from Student's t with n_pairs - 1 degrees of
    freedom, the two-sided p-value and the direction (+1, -1, 0). Fewer than 2 pairs: direction None."""
    a, b = (x if isinstance(x, dict) else list(x) for x in (a, b))
    pairs = _pairs(a, b)
    out = _untested(
        len(_clean(a.values() if isinstance(a, dict) else a)),
        len(_clean(b.values() if isinstance(b, dict) else b)),
        scale,
        n_pairs=len(pairs),
    )
    if not pairs:
        return out
    xa, xb = np.asarray(pairs, dtype=np.float64).T
    d = _forward(xa, scale, n_items) - _forward(xb, scale, n_items)
    out["diff"] = float(d.mean())
    if len(d) < 2:
        return out
    se = float(d.std(ddof=1)) / math.sqrt(len(d))
    if se == 0:  # every pair differs by the same amount: the difference is exact
        sign = int(np.sign(out["diff"]))
        return out | {"lo": out["diff"], "hi": out["diff"], "p": 0.0 if sign else 1.0, "direction": sign}
    half = t_quantile(level, len(d) - 1) * se
    lo, hi = out["diff"] - half, out["diff"] + half
    p = float(2 * _st.t.sf(abs(out["diff"]) / se, len(d) - 1))
    return out | {"lo": lo, "hi": hi, "p": p, "direction": 1 if lo > 0 else (-1 if hi < 0 else 0)}


def paired_ratio(numerators, denominators, level: float = LEVEL) -> dict:
    """Interval of the ratio of two paired positive series (e.g. MDLM and AR tokens/s measured in
    the same round): the t-interval of the mean log-ratio, exponentiated. {ratio, lo, hi, n}."""
    pairs = [(float(a), float(b)) for a, b in zip(numerators, denominators) if a and b and a > 0 and b > 0]
    if not pairs:
        return {"ratio": None, "lo": None, "hi": None, "n": 0}
    r = np.log([a / b for a, b in pairs])
    centre = float(math.exp(r.mean()))
    if len(r) < 2:
        return {"ratio": centre, "lo": centre, "hi": centre, "n": 1}
    half = t_quantile(level, len(r) - 1) * float(r.std(ddof=1)) / math.sqrt(len(r))
    return {
        "ratio": centre,
        "lo": float(math.exp(r.mean() - half)),
        "hi": float(math.exp(r.mean() + half)),
        "n": len(r),
    }


def aggregate(values, scale: str = "raw", n_items: int | None = None) -> dict:
    """Centre, 95% interval and per-seed values on the quantity's scale (see `interval`)."""
    return interval(values, scale, n_items)


def summarise(rows: list[dict], metric: str, **where) -> dict:
    """aggregate(metric) over the rows matching `where` (e.g. protocol="controlled", arm="ar"), on the
    metric's scale (scale_of); proportions are padded by half a text of the rows."""
    picked = [r for r in rows if all(r.get(k) == v for k, v in where.items())]
    n_items = min((r["n_texts"] for r in picked if r.get("n_texts")), default=None)
    return aggregate([r.get(metric) for r in picked], scale_of(metric), n_items)
