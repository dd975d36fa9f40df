"""Executing one notebook: papermill with the `python3` kernel, cwd = the repository root, the cells'
output streamed to the log as plain text (papermill's own chatter dropped)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from ..paths import project_root

KERNEL = "python3"
# The kernel's own log (not the notebook's output) says only what matters: ipykernel 7 otherwise warns
# on every start that its local TCP sockets are unencrypted.
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]


class _StreamToLog(logging.Handler):
    """Cell output that papermill logs (log_output=True), written as plain text; papermill's own chatter
    (cell boundaries, paths) and figure placeholders are dropped."""

    QUIET = (
        "Executing Cell",
        "Ending Cell",
        "Input Notebook",
        "Output Notebook",
        "Working directory",
        "Executing notebook with kernel",
        "<Figure size",
    )

    def __init__(self, log):
        super().__init__(logging.INFO)
        self.log = log

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith(self.QUIET) or not msg.strip():
            return
        if record.levelno >= logging.WARNING:
            sys.stderr.write(msg if msg.endswith("\n") else msg + "\n")
            sys.stderr.flush()
        else:
            self.log(msg.rstrip("\n"))


def execute_with_papermill(src: Path, out: Path, parameters: dict, timeout, kernel_name, log) -> None:
    import papermill

    logger = logging.getLogger("papermill")
    handler = _StreamToLog(log)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    # No live progress line in these kernels: papermill forwards a display to the console once, never its
    # updates (arche.progress); the periodic lines are what the console shows.
    set_env = "ARCHE_PROGRESS" not in os.environ
    if set_env:
        os.environ["ARCHE_PROGRESS"] = "lines"
    try:
        papermill.execute_notebook(
            str(src),
            str(out),
            parameters=parameters,
            kernel_name=kernel_name,
            cwd=str(project_root()),
            execution_timeout=timeout,
            log_output=True,
            progress_bar=False,
            extra_arguments=KERNEL_ARGS,
        )
    finally:
        if set_env:
            del os.environ["ARCHE_PROGRESS"]
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        sys.stdout.flush()
