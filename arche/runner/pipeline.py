"""The papermill runner: the five notebooks in order, into one resumable run directory.

    python -m arche run --profile smoke [--run-dir DIR] [--set k=v ...] [--only NAME | --from NAME]

Everything is checked before anything runs: the config (profile + overrides, `ConfigError`), the
notebooks (each has exactly one cell tagged `parameters` holding only literal `profile`, `run_dir`
and `overrides`), the stage names, and that an existing run directory was made with the same config
(keys in RESUMABLE_KEYS may change). Then each notebook is executed with papermill (kernel
`python3`, cwd = the repository root), its cell output streamed as plain text, into

    RUN/notebooks/NAME.ipynb     the executed notebooks (and NAME.html)
    RUN/pipeline_state.json      per stage: status, start/end time, seconds, the config it ran with
    RUN/manifest.json            git commit, profile, overrides, config, versions, device, stage times
    RUN/report.html              the five executed notebooks as one page, read top to bottom
    RUN/paper.pdf                the paper, built in RUN/paper/ (generated/, build/), PNGs in RUN/figures/

plus what the notebooks write themselves (data, models, samples, results.json; see arche.study).
One runner at a time per run directory (RUN/.lock, see arche.runlock). A stage recorded as done
whose executed notebook exists is skipped on a re-run; a stage that was interrupted runs again, and
training continues from its checkpoints. `only` re-runs one stage (e.g.
`05_analysis`: figures again without retraining), `start_from` re-runs that stage and the rest.

The notebooks call arche and display; the display helpers they share are arche.runner.views.
`resolve_run_dir` maps a relative run directory to the repository root, so a notebook run
by plain papermill (whose kernel starts in notebooks/) writes where the runner would.
"""

from __future__ import annotations

import datetime
import os
import shutil
import time
from pathlib import Path

from ..config import config_diff  # noqa: F401
from ..io import read_json as _read_json
from ..io import write_json as _write_json
from ..paths import PACKAGE_ROOT, STAGES, project_root, resolve_run_dir, resource_dir  # noqa: F401
from ..profiles import load_config
from ..runlock import run_lock
from .kernel import KERNEL, execute_with_papermill
from .notebook_checks import (  # noqa: F401  (the runner's checks, re-exported)
    NOTEBOOKS,
    PARAMETERS,
    PipelineError,
    StageFailed,
    check_notebook,
    parse_parameters,
    select_stages,
)
from .run_report import (  # noqa: F401
    MANIFEST_FILE,
    REPORT_FILE,
    STATE_FILE,
    environment,
    read_state,
    render_report,
)

NOTEBOOKS_DIR = resource_dir("notebooks")
# Seconds a single notebook cell may run; profiles not listed (the paper ones) have no limit.
DEFAULT_TIMEOUTS = {"smoke": 3600, "study": 14400}
LATEX_HINT = (
    "apt-get install -y --no-install-recommends latexmk texlive-latex-recommended lmodern, "
    "then: python -m arche paper --run-dir {run}"
)


def default_timeout(profile: str):
    return DEFAULT_TIMEOUTS.get(profile)


# --------------------------------------------------------------------------- state


def stage_done(state: dict | None, run: Path, name: str) -> bool:
    rec = (state or {}).get("stages", {}).get(name, {})
    return rec.get("status") == "done" and (Path(run) / "notebooks" / f"{name}.ipynb").exists()


def _check_run_dir(run: Path, cfg, state, stages, forced: bool) -> None:
    if state is None:
        if forced and stages[0] != NOTEBOOKS[0]:
            raise PipelineError(
                f"{run} has no finished stages ({STATE_FILE} missing); run the whole "
                f"pipeline first, without --only/--from"
            )
        return
    diff = config_diff(state["config"], cfg.to_dict())
    if diff:
        changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
        raise PipelineError(
            f"{run} was run with a different config ({changes}); re-run with the profile "
            f"and --set values it was made with (profile {state.get('profile')!r}, "
            f"overrides {state.get('overrides')}), or use another --run-dir"
        )
    if forced:
        missing = [n for n in NOTEBOOKS[: NOTEBOOKS.index(stages[0])] if not stage_done(state, run, n)]
        if missing:
            raise PipelineError(
                f"stage {stages[0]} needs {', '.join(missing)}, not finished in {run}; "
                f"run without --only/--from to finish them first"
            )


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- the runner


def run_pipeline(
    profile,
    run_dir=None,
    overrides=None,
    only=None,
    start_from=None,
    timeout=None,
    log=print,
    notebooks_dir=None,
    kernel_name=KERNEL,
    paper=None,
) -> Path:
    """Execute the notebooks of the pipeline into `run_dir` (default runs/PROFILE, relative to the current
    directory); returns the run directory. See the module docstring.

    `notebooks_dir` replaces notebooks/ (tests). `paper=False` (or the environment variable
    ARCHE_SKIP_PAPER=1) skips `arche.report.build_paper` (which builds into RUN/paper/ and RUN/figures/).
    A failed paper build raises StageFailed once the state is saved."""
    t_start = time.perf_counter()
    overrides = dict(overrides or {})
    cfg, stages, nb_dir, run, timeout = _plan(profile, run_dir, overrides, only, start_from, timeout, notebooks_dir)
    forced = bool(only or start_from)
    (run / "notebooks").mkdir(parents=True, exist_ok=True)
    with run_lock(run, "python -m arche run", log=log):
        ledger = _Ledger(run, profile, cfg, overrides, timeout, _command(profile, run, overrides, only, start_from))
        log(
            f"[pipeline] profile {profile}, run dir {run}, overrides {overrides or '{}'}, "
            f"cell timeout {f'{timeout} s' if timeout else 'none'}"
        )
        ledger.save()
        rerun_rest = False
        for name in stages:
            pos = f"({NOTEBOOKS.index(name) + 1}/{len(NOTEBOOKS)})"
            if not (forced or rerun_rest) and stage_done(ledger.state, run, name):
                log(f"[pipeline] {name}: skipped (done) {pos}")
                ledger.invocation["skipped"].append(name)
                continue
            rerun_rest = not forced  # once a stage runs, the ones after it run again too
            log(f"[pipeline] {name}: running {pos}")
            params = {"profile": profile, "run_dir": str(run), "overrides": overrides}
            _run_stage(ledger, name, nb_dir, params, kernel_name, log)
        pdf, paper_error = _report_and_paper(ledger, paper, log)
    _print_locations(run, pdf, time.perf_counter() - t_start, log)
    if paper_error:
        raise StageFailed(paper_error)
    return run


def _plan(profile, run_dir, overrides, only, start_from, timeout, notebooks_dir):
    """Everything checked before anything runs: the config, the device, the data source, the stages, the
    notebooks, the run directory and the timeout. Returns (cfg, stages, notebooks dir, run, timeout)."""
    cfg = load_config(profile, **overrides)  # ConfigError names a bad key or value
    from ..data import resolve_source
    from ..device import check_fits, resolve_device

    check_fits(cfg, resolve_device(cfg))  # a paper-size run on a machine without CUDA stops here, not hours in
    resolve_source(cfg.source)  # a profile that names the real sample fails here when it is absent
    stages = select_stages(only, start_from)
    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    for name in stages:
        check_notebook(nb_dir / f"{name}.ipynb")
    run = Path(run_dir if run_dir is not None else Path("runs") / profile).expanduser().resolve()
    if run.exists() and not run.is_dir():
        raise PipelineError(f"run directory {run} exists and is not a directory")
    _check_run_dir(run, cfg, read_state(run), stages, bool(only or start_from))
    if timeout is None:
        timeout = default_timeout(profile)
    elif timeout <= 0:
        raise PipelineError(f"--timeout must be positive, got {timeout}")
    return cfg, stages, nb_dir, run, timeout


class _Ledger:
    """RUN/pipeline_state.json (per stage: status, times, config) and RUN/manifest.json (environment, config,
    every invocation), rewritten together at each change so that a kill leaves them true."""

    def __init__(self, run: Path, profile, cfg, overrides, timeout, command: str):
        self.run = run
        self.state = read_state(run) or {"stages": {}}
        self.state.update(profile=profile, overrides=overrides, config=cfg.to_dict())
        self.invocation = {"started": _now(), "finished": None, "command": command, "ran": [], "skipped": []}
        self.manifest = {
            "profile": profile,
            "overrides": overrides,
            "run_dir": str(run),
            **environment(),
            "config": cfg.to_dict(),
            "cell_timeout_s": timeout,
        }
        self.history = (_read_json(run / MANIFEST_FILE) or {}).get("invocations", []) + [self.invocation]

    def save(self) -> None:
        _write_json(self.run / STATE_FILE, self.state)
        manifest = {**self.manifest, "stages": _stage_times(self.state), "invocations": self.history}
        _write_json(self.run / MANIFEST_FILE, manifest)


def _run_stage(ledger: _Ledger, name: str, nb_dir: Path, params: dict, kernel_name, log) -> None:
    """One notebook executed by papermill, its record kept; a failure is recorded, then raised as
    StageFailed (an interrupt as itself: stop at once, resumable)."""
    run = ledger.run
    rec = ledger.state["stages"][name] = {"status": "running", "started": _now(), "config": ledger.manifest["config"]}
    ledger.save()
    t0 = time.perf_counter()
    try:
        executed = run / "notebooks" / f"{name}.ipynb"
        execute_with_papermill(
            nb_dir / f"{name}.ipynb", executed, params, ledger.manifest["cell_timeout_s"], kernel_name, log
        )
    except BaseException as e:
        rec.update(status="failed", finished=_now(), seconds=round(time.perf_counter() - t0, 1), error=_error_text(e))
        ledger.invocation["finished"] = _now()
        ledger.save()
        if not isinstance(e, Exception):  # KeyboardInterrupt: stop at once, resumable
            raise
        _render_quietly(run, ledger.state, log)
        raise StageFailed(
            f"stage {name} failed: {_error_text(e)}\n  executed notebook: "
            f"{run / 'notebooks' / (name + '.ipynb')}\n  report: {run / REPORT_FILE}\n"
            f"  fix the cause and run the same command again: finished stages are "
            f"skipped, training continues from its checkpoint. A fix that changes the "
            f"config (e.g. a lower lr after a divergence) needs a new --run-dir: this "
            f"one keeps the config it was made with"
        ) from e
    rec.update(status="done", finished=_now(), seconds=round(time.perf_counter() - t0, 1))
    ledger.invocation["ran"].append(name)
    ledger.save()
    log(f"[pipeline] {name}: done in {rec['seconds']:.1f} s")


def _report_and_paper(ledger: _Ledger, paper, log):
    """The HTML report when a stage ran (or none exists), the paper when the analysis ran. Returns (pdf,
    error of a failed paper build)."""
    run, ran = ledger.run, ledger.invocation["ran"]
    if ran or not (run / REPORT_FILE).exists():
        log(f"[pipeline] report: {render_report(run, ledger.state)}")
    pdf, paper_error = None, None
    if paper is None:
        paper = os.environ.get("ARCHE_SKIP_PAPER", "") in ("", "0")
    if "05_analysis" in ran and paper:
        pdf, paper_error = _build_paper(run, log)
    elif "05_analysis" in ran:
        log("[pipeline] paper: not built (paper=False or ARCHE_SKIP_PAPER=1)")
    ledger.invocation["finished"] = _now()
    ledger.save()
    return pdf, paper_error


def _command(profile, run, overrides, only, start_from) -> str:
    parts = ["python -m arche run", f"--profile {profile}", f"--run-dir {run}"]
    parts += [f"--set {k}={v}" for k, v in overrides.items()]
    parts += [f"--only {only}"] if only else []
    parts += [f"--from {start_from}"] if start_from else []
    return " ".join(parts)


def _stage_times(state) -> dict:
    keys = ("status", "started", "finished", "seconds")
    return {name: {k: rec.get(k) for k in keys} for name, rec in state["stages"].items()}


def _error_text(e: BaseException) -> str:
    if getattr(e, "ename", None):  # PapermillExecutionError: the notebook's own exception
        return f"{e.ename}: {e.evalue}"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


# --------------------------------------------------------------------------- report and paper


def _render_quietly(run, state, log) -> None:
    try:
        render_report(run, state)
    except Exception as e:  # noqa: BLE001 - a failed stage is the error to report, not the report
        log(f"[pipeline] report could not be rendered: {type(e).__name__}: {e}")


def _build_paper(run: Path, log):
    """arche.report.build_paper(run), into the run's own RUN/paper/. Returns (pdf, error): the PDF built
    now (None when LaTeX is missing: build_paper says how to get it), and the message of a failed
    build, which the runner raises after saving its state (exit code 1; the results and the report
    stand)."""
    from .. import report

    log("[pipeline] paper: building")
    try:
        pdf = report.build_paper(run, log=log)
    except Exception as e:  # noqa: BLE001 - reported as the run's failure once everything is saved
        return None, (
            f"paper build failed, {type(e).__name__}:\n{_indent(str(e))}\n  the rest of the run is "
            f"complete; fix the paper, then: python -m arche paper --run-dir {run}"
        )
    if pdf is None and not shutil.which("latexmk"):
        log(f"[pipeline] paper: no PDF (LaTeX is not installed). To get it: {LATEX_HINT.format(run=run)}")
    return pdf, None


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-40:])


def _print_locations(run: Path, pdf, seconds: float, log) -> None:
    """Where things are. The PDF only when this invocation built it: an older one may not match."""
    lines = [f"[pipeline] finished in {seconds:.1f} s", f"  report:   {run / REPORT_FILE}"]
    if pdf is not None:
        lines.append(f"  paper:    {pdf}")
    for label, folder in (("figures", run / "figures"), ("tables", run / "paper" / "generated")):
        if folder.is_dir() and any(folder.iterdir()):
            lines.append(f"  {label}:{' ' * (9 - len(label))}{folder}")
    if (run / "results.json").exists():
        lines.append(f"  results:  {run / 'results.json'}")
    lines.append(f"  manifest: {run / MANIFEST_FILE}")
    log("\n".join(lines))
