"""The study layer: what a run trains, samples and compares, and the rules that judge it.

Two studies share the pipeline's stages; `cfg.study` picks one, and this module is the only place that
dispatches on it:

    comparison   the AR-vs-MDLM comparison (arms, protocols, judges) -> analysis -> results.json
    repetition   the same models on data repeated 1 to 32 epochs -> its own rows in results.json

Beside them: `results` (reading results.json back), `findings` and `verdicts` (the rules that turn it
into verdicts), `frontier` (finding 3 at equal quality), `judges` (the judges and reference texts) and
`regime` (the pilots that choose the training regime). Nothing here imports the report or the runner,
and importing this package loads no torch (the report reads `results`, `findings` and `frontier`).
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config


def _study(cfg: Config):
    """The module that runs `cfg.study`."""
    if cfg.study == "repetition":
        from . import repetition

        return repetition
    from . import comparison

    return comparison


def model_dirs(cfg: Config, run_dir, paradigm: str | None = None) -> list[tuple[str, str, Path]]:
    """(key, paradigm, directory) of every model the run trains, for either study (progress tables, plots
    and locks need no other knowledge of its layout). The judges are not included."""
    return _study(cfg).model_dirs(cfg, run_dir, paradigm)


def prepare_all(cfg: Config, run_dir, log=print) -> dict:
    """The token files of the run (and, for the comparison, the references and the judges' data)."""
    return _study(cfg).prepare_all(cfg, run_dir, log)


def train_all(cfg: Config, run_dir, paradigm: str, log=print) -> list[dict]:
    """Train (or resume, or skip when finished) every model of one paradigm."""
    return _study(cfg).train_all(cfg, run_dir, paradigm, log)


def sample_all(cfg: Config, run_dir, log=print) -> list[Path]:
    """Draw every sample set of the run (skipping those already written)."""
    return _study(cfg).sample_all(cfg, run_dir, log)


def analyse(cfg: Config, run_dir, profile: str | None = None, log=print) -> dict:
    """Score everything the run saved into RUN/results.json; returns the results."""
    if cfg.study == "repetition":
        from . import repetition

        return repetition.analyse(cfg, run_dir, profile, log)
    from . import analysis

    return analysis.analyse(cfg, run_dir, profile, log)
