"""The study layer: what a run trains, samples and compares, and the rules that judge it.

Two studies share the pipeline's stages; `cfg.study` picks one, and this module is the only place that
dispatches on it:

    comparison   the AR-vs-MDLM comparison (arms, protocols, judges) -> analysis -> results.json
    repetition   the same models on data repeated for more and more epochs -> its own rows in results.json

Beside them: `results` (reading results.json back), `findings` and `verdicts` (the rules that turn it
into verdicts), `frontier` (finding 3 at equal quality), `judges` (the judges and reference texts),
`regime` (the pilots that choose the training regime), and for the repetition study `multiplier` (the
MDLM's compute multiplier) and `shape` (where each curve stands at its last epoch count). Nothing here
imports the report or the runner, and importing this package loads no torch (the report reads `results`,
`findings` and `frontier`).
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..errors import UserError


class NotTrainedError(UserError, FileNotFoundError):
    """A stage that reads models ran before the models were trained (notebook 04 or 05 before 02 and 03)."""


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


def require_trained(cfg: Config, run_dir, stage: str) -> None:
    """Stop `stage` (04_sample, 05_analysis) in one line, before any work, when a model it reads (an arm or
    the AR judge) has not finished training: a checkpoint short of its config's steps, or none."""
    from ..checkpoint import read_state
    from ..rundir import read_config_json
    from . import comparison

    dirs = [(paradigm, d) for _, paradigm, d in model_dirs(cfg, run_dir)]
    if not dirs:  # the repetition study lists its branches from the prepared data
        raise NotTrainedError(f"{run_dir} has no prepared data: run 01_data and the training stages before {stage}")
    dirs.append(("ar", comparison.arm_dir(run_dir, comparison.judge_arm(cfg))))
    for paradigm, d in dirs:
        saved, last = read_config_json(d), Path(d) / "last.safetensors"
        try:
            step = read_state(last)["step"] if last.exists() else 0
        except Exception:  # noqa: BLE001 - damaged: training's own resume check says how
            step = 0
        if saved is None or step < saved["config"]["steps"]:
            stage_name = "02_train_ar" if paradigm == "ar" else "03_train_mdlm"
            where = f"at step {step} of {saved['config']['steps']}" if saved else "not started"
            raise NotTrainedError(
                f"{stage} needs the trained model in {d} ({where}): run {stage_name} first "
                f"(python -m arche run resumes every unfinished stage)"
            )


def prepare_all(cfg: Config, run_dir, log=print) -> dict:
    """The token files of the run (and, for the comparison, the references and the judges' data)."""
    return _study(cfg).prepare_all(cfg, run_dir, log)


def train_all(cfg: Config, run_dir, paradigm: str, log=print, on_row=None) -> list[dict]:
    """Train (or resume, or skip when finished) every model of one paradigm; `on_row` sees each metrics row."""
    return _study(cfg).train_all(cfg, run_dir, paradigm, log, on_row)


def sample_all(cfg: Config, run_dir, log=print) -> list[Path]:
    """Draw every sample set of the run (skipping those already written)."""
    require_trained(cfg, run_dir, "04_sample")
    return _study(cfg).sample_all(cfg, run_dir, log)


def analyse(cfg: Config, run_dir, profile: str | None = None, log=print) -> dict:
    """Score everything the run saved into RUN/results.json; returns the results."""
    require_trained(cfg, run_dir, "05_analysis")
    if cfg.study == "repetition":
        from . import repetition

        return repetition.analyse(cfg, run_dir, profile, log)
    from . import analysis

    return analysis.analyse(cfg, run_dir, profile, log)
