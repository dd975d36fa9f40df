"""What the runner checks in a notebook before running anything: exactly one cell tagged `parameters`,
which assigns only literals to `profile`, `run_dir` and `overrides` (papermill alone would only warn
about anything else), and the names of the stages asked for; and what a notebook checks of the parameters
it was given when it starts (refuse_unknown_parameters, called by arche.runner.views.start)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

from ..errors import UserError
from ..paths import STAGES

NOTEBOOKS = list(STAGES)
PARAMETERS = ("profile", "run_dir", "overrides")


class PipelineError(UserError, ValueError):
    """A bad notebook, stage name or run directory (exit code 2), or a failed stage (exit code 1)."""

    exit_code = 2


class StageFailed(PipelineError):
    exit_code = 1


def parse_parameters(source: str, where: str) -> dict:
    """Values of a parameters cell, which may only assign literals to profile, run_dir and overrides."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise PipelineError(f"{where}: the parameters cell is not valid Python ({e.msg}, line {e.lineno})") from None
    values = {}
    for node in tree.body:
        target = (
            node.targets[0]
            if isinstance(node, ast.Assign) and len(node.targets) == 1
            else node.target
            if isinstance(node, ast.AnnAssign) and node.value is not None
            else None
        )
        if not isinstance(target, ast.Name):
            raise PipelineError(
                f"{where}: line {node.lineno} of the parameters cell is not a plain assignment; "
                f"the cell may only assign literals to {', '.join(PARAMETERS)}"
            )
        if target.id not in PARAMETERS:
            raise PipelineError(
                f"{where}: the parameters cell defines {target.id!r}; it may define only "
                f"{', '.join(PARAMETERS)} (compute derived values in a later cell)"
            )
        try:
            values[target.id] = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            raise PipelineError(
                f"{where}: parameter {target.id!r} is not a literal "
                f"({ast.unparse(node.value)}); compute it in a later cell"
            ) from None
    missing = [p for p in PARAMETERS if p not in values]
    if missing:
        raise PipelineError(f"{where}: the parameters cell does not define {', '.join(missing)}")
    if not isinstance(values["overrides"], dict):
        raise PipelineError(f"{where}: parameter 'overrides' must be a dict, got {values['overrides']!r}")
    return values


def check_notebook(path) -> dict:
    """The defaults of a notebook's one `parameters` cell; PipelineError naming the notebook otherwise."""
    import nbformat

    path = Path(path)
    if not path.exists():
        raise PipelineError(f"notebook {path} does not exist")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 - any unreadable notebook is the same error for the user
        raise PipelineError(f"notebook {path} cannot be read: {e}") from None
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        what = "no cell" if not cells else f"{len(cells)} cells"
        raise PipelineError(
            f"notebook {path.name} has {what} tagged 'parameters'; it needs exactly one "
            f"(profile, run_dir, overrides), or papermill's values would be ignored"
        )
    if cells[0].cell_type != "code":
        raise PipelineError(f"notebook {path.name}: the cell tagged 'parameters' is not a code cell")
    return parse_parameters(cells[0].source, path.name)


def select_stages(only=None, start_from=None) -> list[str]:
    if only and start_from:
        raise PipelineError("use either --only or --from, not both")
    for name in (only, start_from):
        if name is not None and name not in NOTEBOOKS:
            raise PipelineError(f"unknown notebook {name!r}; choose one of {', '.join(NOTEBOOKS)}")
    if only:
        return [only]
    return NOTEBOOKS[NOTEBOOKS.index(start_from) :] if start_from else list(NOTEBOOKS)


# papermill's injected cell starts with this comment (papermill.translators, `comment="Parameters"`), then
# one `name = value` line per -p/-y parameter.
INJECTED_HEADER = "# Parameters"
PARAMETER_TYPES = {"profile": str, "run_dir": (str, os.PathLike), "overrides": dict}


def injected_names(history) -> list[str]:
    """The names papermill's injected-parameters cell assigns, read from the kernel's input history (IPython's
    `In`): what a user passed with -p/-y. Empty when no such cell ran (Jupyter, Colab, a test)."""
    names = []
    for source in history or []:
        if isinstance(source, str) and source.lstrip().startswith(INJECTED_HEADER):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else []
                names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def refuse_unknown_parameters(namespace: dict) -> None:
    """Called by the notebooks' setup cell with globals(). papermill only warns about a parameter a
    notebook does not define (`-p steps 20` would be ignored): here it is an error, naming it. Only the
    injected cell is judged, so cells a user adds in Jupyter (`x = 3`) never trip the check. A parameter
    of the wrong type (`-p overrides 5`) is named too."""
    unknown = sorted({k for k in injected_names(namespace.get("In")) if k not in PARAMETERS})
    if unknown:
        raise PipelineError(
            f"unknown notebook parameter(s) {', '.join(unknown)}: the notebooks take only "
            f"{', '.join(PARAMETERS)}; put config keys in overrides, e.g. papermill "
            f"-y 'overrides: {{{unknown[0]}: ...}}'"
        )
    for name, kind in PARAMETER_TYPES.items():
        if name in namespace and not isinstance(namespace[name], kind):
            value = namespace[name]
            want = "a mapping of config keys, e.g. {steps: 100}" if kind is dict else "a string"
            raise PipelineError(f"notebook parameter {name} must be {want}, got {type(value).__name__} {value!r}")
