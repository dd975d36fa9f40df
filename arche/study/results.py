"""What a results.json says, read without torch: the published numbers of Vicentino (2026) it is compared
with, the labels of its arms, queries on its rows (seed aggregates via arche.stats), and the scale of the
run (toy data, small scale, full scale). The verdicts (arche.study.findings) and the report read it through here."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..scaling import scale_level, scale_note
from ..stats import aggregate, summarise

CITATION = "Vicentino (2026)"

PUBLISHED = {
    "citation": CITATION,
    "n_samples": 1000,
    "sample_length": 128,
    "steps": 20_000,
    "setup": {
        "data": "TinyStories, 50M tokens",
        "n_tokens": 50_000_000,
        "steps": 20_000,
        "batch_size": 32,
        "seq_len": 512,
        "d_model": 768,
        "n_layers": 12,
        "n_heads": 12,
        "d_ff": 2048,
        "optimizer": "AdamW (wd 0.01)",
        "lr": 3e-4,  # one rate for both paradigms
        "hardware": "NVIDIA H100 80GB",
        "precision": "fp32",
        "vocab_size": 50257,
        "val_fraction": 0.05,
    },
    "sampling": {"ar_prompt": "Once", "ar_temperature": 0.8, "mdlm_steps": 100},
    # Tables 1-2. n_params: the paper's rounded figures (the released code gives 123,551,232 and
    # 162,739,968, see arche.model).
    "ar": {
        "n_params": 123.6e6,
        "train_time_min": 107.9,
        "tokens_per_s": 50_620,
        "best_val": 1.589,
        "best_step": 14_000,
    },
    "mdlm": {
        "n_params": 162.7e6,
        "train_time_min": 113.0,
        "tokens_per_s": 48_343,
        "best_val": 3.412,
        "best_step": 20_000,
    },
    # Table 3: validation loss every 2,000 steps (AR: next-token NLL; MDLM: masked-token mean).
    "val_curve": {
        "step": [2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 18000, 20000],
        "ar": [2.660, 2.047, 1.837, 1.726, 1.665, 1.633, 1.589, 1.603, 1.627, 1.622],
        "mdlm": [3.952, 3.841, 3.585, 3.528, 3.509, 3.527, 3.491, 3.455, 3.419, 3.412],
    },
    # Table 4: 1,000 samples of 128 tokens each (fractions, not percentages).
    "diversity": {
        "ar": {
            "distinct_1": 0.053,
            "distinct_2": 0.275,
            "distinct_3": 0.531,
            "distinct_4": 0.701,
            "self_bleu": 0.341,
            "vocab_size": 5360,
            "unique_first_word": 0.002,
            "unique_first_5gram": 0.033,
        },
        "mdlm": {
            "distinct_1": 0.058,
            "distinct_2": 0.297,
            "distinct_3": 0.542,
            "distinct_4": 0.690,
            "self_bleu": 0.334,
            "vocab_size": 5754,
            "unique_first_word": 0.361,
            "unique_first_5gram": 0.934,
        },
    },
}

ARMS = ("ar", "mdlm", "mdlm_tied")
ARM_LABEL = {"ar": "AR", "mdlm": "MDLM", "mdlm_tied": "MDLM (tied)"}
THROUGHPUT_TOLERANCE = 0.10  # finding 1: parity if MDLM tok/s is within 10% of AR's


class ResultsError(UserError, ValueError):
    """A results.json that cannot be read, or is not of arche's shape."""


def read_results(path) -> dict:
    """A results.json of either study, or a ResultsError naming what is wrong with the file."""
    path = Path(path)
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ResultsError(f"cannot read the results file {path}: {e}") from None
    check_results(results, path)
    return results


def check_results(results, source) -> None:
    """The top-level shape every reader of results.json relies on: an object with a `meta` object and, for
    the comparison, lists of `runs` and `samples` rows (the repetition study: `repetition` rows and `verdicts`)."""
    if not isinstance(results, dict):
        raise ResultsError(f"{source} is not a results.json of arche (a JSON {type(results).__name__}, not an object)")
    if not isinstance(results.get("meta"), dict):
        raise ResultsError(f"{source} is not a results.json of arche: its 'meta' is missing or not an object")
    need = {"repetition": list, "verdicts": dict} if is_repetition(results) else {"runs": list, "samples": list}
    for key, kind in need.items():
        value = results.get(key)
        if not isinstance(value, kind) or (kind is list and not all(isinstance(row, dict) for row in value)):
            what = "a list of objects" if kind is list else "an object"
            raise ResultsError(f"{source} is not a results.json of arche: its {key!r} is missing or not {what}")


def is_repetition(results) -> bool:
    """Whether a results file is the repetition study's (else the comparison's)."""
    return results.get("meta", {}).get("study") == "repetition"


def epochs_by_budget(results) -> dict[int, list[int]]:
    """A repetition study's epoch counts per unique-data budget (chunks), largest budget first: under
    repetition_max_tokens the budgets run different counts."""
    per: dict[int, set[int]] = {}
    for r in results["repetition"]:
        per.setdefault(r["chunks"], set()).add(r["epochs"])
    return {c: sorted(per[c]) for c in sorted(per, reverse=True)}


def protocol_names(results) -> list[str]:
    return list(results["meta"].get("protocols") or sorted({r["protocol"] for r in results["runs"]}))


def main_protocol(results) -> str:
    """The protocol the findings are judged on: controlled when it was run, else the only one
    (study.main_protocol's rule, recorded in results.json; older files are read by the same rule)."""
    if results["meta"].get("main_protocol"):
        return results["meta"]["main_protocol"]
    protos = protocol_names(results)
    return "controlled" if "controlled" in protos else protos[0]


def arm_names(results, protocol) -> list[str]:
    present = {r["arm"] for r in results["runs"] if r["protocol"] == protocol}
    return [a for a in ARMS if a in present]


def runs_where(results, **where) -> list[dict]:
    return [r for r in results["runs"] if all(r.get(k) == v for k, v in where.items())]


def samples_where(results, **where) -> list[dict]:
    return [r for r in results["samples"] if all(r.get(k) == v for k, v in where.items())]


def reference_row(results, protocol, kind) -> dict | None:
    return next((r for r in results.get("references") or [] if r["protocol"] == protocol and r["kind"] == kind), None)


def run_stat(results, metric, protocol, arm) -> dict:
    """Seed aggregate of one run metric (stats.summarise)."""
    return summarise(results["runs"], metric, protocol=protocol, arm=arm)


def sample_stat(results, metric, protocol, arm, setting="samples") -> dict:
    """Seed aggregate of one sample-set metric (stats.summarise)."""
    return summarise(results["samples"], metric, protocol=protocol, arm=arm, setting=setting)


def curve_table(results, protocol, arm, key="val_loss") -> dict[int, dict]:
    """{step: aggregate over seeds of `key` at that step}."""
    per_step: dict[int, list] = {}
    for row in runs_where(results, protocol=protocol, arm=arm):
        for rec in row.get("curve") or []:
            if rec.get(key) is not None:
                per_step.setdefault(int(rec["step"]), []).append(rec[key])
    return {s: aggregate(v) for s, v in sorted(per_step.items())}


def has_frontier(results) -> bool:
    """Does the run hold the quality-diversity frontier's sample sets (config `sweep`)? Results from
    before the frontier (an older sampler sweep, "sweep_*" sets) do not."""
    return any(str(r.get("setting", "")).startswith("frontier_") for r in results["samples"])


def toy_level(meta) -> int:
    """0: a full-scale run on real data; 1: toy data (the synthetic corpus); 2: a small-scale run
    on real data (fewer tokens, steps or a smaller model than the paper's): scaling.scale_level."""
    cfg = meta.get("config", {})
    return scale_level(
        bool(meta.get("synthetic") or meta.get("source") == "synthetic"),
        meta.get("n_tokens", 0),
        cfg.get("steps", 0),
        cfg.get("d_model", 0),
        cfg.get("n_layers", 0),
    )


def toy_note(meta) -> str:
    """The mark of a run below the paper's scale ("" at full scale): see scaling.scale_note."""
    return scale_note(toy_level(meta), meta.get("n_tokens", 0))
