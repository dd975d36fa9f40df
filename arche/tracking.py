"""Optional experiment tracking, off by default: every row training writes to metrics.jsonl, also sent to
TensorBoard (`log_to="tensorboard"`: event files in RUN_DIR/tensorboard) or Weights & Biases
(`log_to="wandb"`: offline, into RUN_DIR/wandb, unless WANDB_API_KEY is set). metrics.jsonl stays the record
the analysis reads; a tracker is a view of it. A tracker that is not installed is refused before training."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from .errors import UserError

PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}


class TrackingError(UserError, ImportError):
    """log_to names a tracker whose package is not installed."""


def check_tracker(log_to: str) -> None:
    """Refuse, before any work, a tracker that cannot be imported (naming what to install)."""
    if log_to and importlib.util.find_spec(PACKAGES[log_to]) is None:
        raise TrackingError(
            f"log_to={log_to!r} needs the {PACKAGES[log_to]!r} package: pip install {PACKAGES[log_to]} "
            f"(or pip install 'arche-lm[tracking]'), or leave log_to empty"
        )


class Tracker:
    """Scalars of each metrics row, keyed by their metrics.jsonl names, at the row's step."""

    def __init__(self, log_to: str, run_dir: Path, paradigm: str, config: dict):
        self.kind = log_to
        if log_to == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))
        else:
            import wandb

            # One W&B run per run directory (a resume continues it); offline without a key, as on Colab or CI.
            self.writer = wandb.init(
                project="arche",
                name=f"{Path(run_dir).name}-{paradigm}",
                id=hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:16],
                resume="allow",
                dir=str(run_dir),
                config={**config, "paradigm": paradigm},
                mode="online" if os.environ.get("WANDB_API_KEY") else "offline",
            )

    def log(self, record: dict) -> None:
        step = record["step"]
        scalars = {k: float(v) for k, v in record.items() if k != "step" and isinstance(v, int | float)}
        if self.kind == "tensorboard":
            for key, value in scalars.items():
                self.writer.add_scalar(key, value, step)
            self.writer.flush()
        else:
            self.writer.log(scalars, step=step)

    def close(self) -> None:
        if self.kind == "tensorboard":
            self.writer.close()
        else:
            self.writer.finish()


def open_tracker(log_to: str, run_dir, paradigm: str, config: dict) -> Tracker | None:
    return Tracker(log_to, Path(run_dir), paradigm, config) if log_to else None
