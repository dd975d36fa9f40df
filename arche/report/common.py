"""What every part of the report reads: the published numbers, labels and colours, queries on a
results dict, and the scale of a run (toy data, small scale, full scale)."""

from __future__ import annotations

from pathlib import Path

from ..paths import project_root
from ..study.results import (  # noqa: F401  (re-exported for the report modules)
    ARM_LABEL,
    ARMS,
    CITATION,
    PUBLISHED,
    THROUGHPUT_TOLERANCE,
    arm_names,
    curve_table,
    epochs_by_budget,
    has_frontier,
    is_repetition,
    main_protocol,
    protocol_names,
    read_results,
    reference_row,
    run_stat,
    runs_where,
    sample_stat,
    samples_where,
    toy_level,
    toy_note,
)

# --------------------------------------------------------------------------- the published numbers

ARM_MACRO = {"ar": "Ar", "mdlm": "Mdlm", "mdlm_tied": "MdlmTied"}
PROTOCOL_LABEL = {"published": "Ours: published", "controlled": "Ours: controlled"}
COLORS = {"ar": "#3366aa", "mdlm": "#dd7733", "mdlm_tied": "#339966", "paper": "#777777"}
# --------------------------------------------------------------------------- paths


def repo_root() -> Path:
    """The repository holding this package (where paper/ and figures/ live)."""
    return project_root()


def load_results(run_dir) -> dict:
    """RUN/results.json, or a ResultsError naming what is wrong with it."""
    return read_results(Path(run_dir) / "results.json")


# --------------------------------------------------------------------------- selection helpers


def protocol_config(cfg: dict, protocol: str) -> dict:
    """A results file's config as `protocol` ran it (its protocol's settings applied)."""
    from ..config import PROTOCOLS

    base = dict(cfg)
    if protocol != base.get("protocol"):
        base.update(PROTOCOLS[protocol])
    return base


def describe_source(meta, short=False) -> str:
    source = str(meta.get("source", ""))
    if source == "synthetic":
        return "synthetic stories" if short else "synthetic stories (toy corpus)"
    if source == "tinystories":
        return "TinyStories"
    if "tinystories-sample" in source:
        n = next(iter((meta.get("data") or {}).values()), {}).get("n_stories")
        return f"TinyStories sample ({n:,} stories)" if n else "TinyStories sample"
    return Path(source).name or source


def describe_results(results) -> str:
    """What a results file holds (either study), under its scale mark when below the paper's scale."""
    note = toy_note(results["meta"])
    return (f"{note}\n" if note else "") + _holds(results)


def _holds(results) -> str:
    if is_repetition(results):
        rows = results["repetition"]
        per_budget = epochs_by_budget(results)
        counts = sorted({len(e) for e in per_budget.values()})
        epochs = f"{counts[0]} epoch counts" if len(counts) == 1 else f"{'/'.join(map(str, counts))} epoch counts"
        return (
            f"repetition study: {len(rows)} runs ({len(per_budget)} unique-data budgets x {epochs} x 2 paradigms x "
            f"{len(results['meta']['seeds'])} seeds), {len(results['samples'])} sample sets; finding 2 "
            f"{results['verdicts']['finding_2']['outcome']}"
        )
    return (
        f"{len(results['runs'])} trained arms, {len(results['samples'])} sample sets, "
        f"{len(results['references'])} reference rows"
    )


def sample_label(row) -> str:
    """protocol / arm / setting of a comparison's sample row; paradigm / epochs of a repetition's."""
    if "epochs" in row:
        return f"{row['paradigm']} / {row['epochs']} epochs / seed {row['seed']}"
    return f"{row['protocol']} / {row['arm']} / {row['setting']}"
