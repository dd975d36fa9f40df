"""Command line: `python -m arche {config,params,prepare,regime,train,sample,run,paper,figures,summary,notebooks} ...`.

Every command takes `--profile NAME` and any number of `--set key=value` overrides; an unknown key or
a value of the wrong type stops the command before any work, naming the key. Every error the user can
fix (a bad setting, a run directory in use, damaged or made with other settings, a diverged run, a
failed paper build) prints one line, `error: <message>`, and exits 2 (1 for a failed stage or paper
build); ARCHE_TRACEBACK=1 shows the traceback too. Relative directories are taken from the current
directory, for every command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .config import ConfigError, parse_overrides
from .errors import UserError
from .paths import STAGES, refuse_source_tree
from .profiles import PROFILES, load_config


def _add_common(p):
    p.add_argument("--profile", default="smoke", help=f"one of {sorted(PROFILES)} (default: smoke)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable)",
    )


def _config(args):
    return load_config(args.profile, **parse_overrides(args.overrides))


def cmd_config(args):
    """The resolved settings of a profile (+ overrides), what each differs from, and what the run costs."""
    from .config import Config
    from .data import probe
    from .paths import default_run_dir
    from .scaling import describe_cost

    cfg = _config(args)
    defaults = Config().to_dict()
    profile = PROFILES[args.profile]
    overrides = parse_overrides(args.overrides)
    print(f"# profile {args.profile}; run directory (default) {default_run_dir(args.profile)}")
    for key, value in cfg.to_dict().items():
        origin = (
            "--set"
            if key in overrides
            else "profile"
            if key in profile
            else "protocol"
            if value != defaults[key]
            else ""
        )
        print(f"{key:26} = {value!r:34} {'# ' + origin if origin else ''}".rstrip())
    # the prepared data's vocabulary and chunk count (None for the hub's text)
    manifest = probe(cfg) if cfg.compact_vocab or cfg.study == "repetition" else None
    print(describe_cost(cfg, cfg.vocab_size if not cfg.compact_vocab else manifest and manifest["vocab_size"]))
    if cfg.study == "repetition" and manifest:
        from .study.repetition import describe

        print(describe(cfg, manifest["n_train_chunks"]))


def cmd_notebooks(args):
    from .runner.notebook_sync import sync

    stale = sync(check=args.check)
    if args.check and stale:
        print(f"out of sync: {', '.join(stale)} (run: python -m arche notebooks)", file=sys.stderr)
        return 1
    print("notebooks: in sync" if not stale else f"notebooks: updated {', '.join(stale)}")
    return 0


def cmd_params(args):
    from .data import run_vocab_size
    from .model import param_counts

    cfg = _config(args)
    vocab = run_vocab_size(cfg)
    counts = param_counts(cfg, vocab)
    print(json.dumps({**counts, "vocab_size": vocab or cfg.vocab_size, "compact_vocab": cfg.compact_vocab}))


def cmd_prepare(args):
    from .data import prepare

    refuse_source_tree(args.data_dir)
    manifest = prepare(_config(args), args.data_dir)
    print(json.dumps({k: v for k, v in manifest.items() if k != "sha256"}, indent=2))


def cmd_regime(args):
    from .study.regime import run_regime

    refuse_source_tree(args.run_dir)
    run_regime(_config(args), args.run_dir, args.out)


def cmd_train(args):
    from .train import train

    for path in (args.run_dir, args.data_dir):
        if path:
            refuse_source_tree(path)
    summary = train(_config(args), args.paradigm, args.run_dir, data_dir=args.data_dir)
    print(json.dumps(summary))


def cmd_sample(args):
    from .generate import sample_run
    from .rundir import RunDirError, read_config_json
    from .runlock import run_lock

    cfg = _config(args)
    run_dir = Path(args.run_dir)
    for path in (run_dir, Path(args.out).parent if args.out else None):
        if path:
            refuse_source_tree(path)
    recorded = read_config_json(run_dir)  # a damaged config.json is a RunDirError naming it
    if recorded is None:
        raise RunDirError(f"{run_dir} holds no config.json: is it a training run directory?")
    if recorded.get("paradigm") != args.paradigm:
        raise RunDirError(
            f"{run_dir} holds a {str(recorded.get('paradigm')).upper()} model, not {args.paradigm.upper()}"
        )
    if not any((run_dir / f"{name}.safetensors").exists() for name in ("best", "last")):
        raise RunDirError(f"{run_dir} holds no checkpoint yet: train it first (python -m arche train ...)")
    with run_lock(run_dir, f"sampling {args.paradigm}"):
        path = sample_run(cfg, args.paradigm, run_dir, out=args.out)
    print(path)


def cmd_run(args):
    from .runner.pipeline import run_pipeline

    run_pipeline(
        args.profile,
        run_dir=args.run_dir,
        overrides=parse_overrides(args.overrides),
        only=args.only,
        start_from=getattr(args, "from"),
        timeout=args.timeout,
    )


def cmd_figures(args):
    import shutil

    from .report import render_results

    out = _absolute(args.out or Path("runs") / f"figures-{Path(args.results).stem}")
    refuse_source_tree(out)
    pdf = render_results(
        _absolute(args.results), out, repetition_path=_absolute(args.repetition) if args.repetition else None
    )
    if args.figures_dir:  # the committed figures change only through this explicit option
        dest = _absolute(args.figures_dir)
        dest.mkdir(parents=True, exist_ok=True)
        for png in sorted((out / "figures").glob("*.png")):
            shutil.copy2(png, dest / png.name)
        print(f"copied the figures to {dest}")
    print(pdf or out)


def cmd_summary(args):
    from .report import load_results, read_results, summary_markdown, update_readme

    source = None
    if args.results:
        results = read_results(args.results)
        source = args.results
    elif args.run_dir:
        results = load_results(args.run_dir)
    else:
        raise UserError("summary needs --run-dir RUN or --results FILE")
    if args.readme:
        update_readme(args.readme, results, args.run_dir, source)
        print(f"updated {args.readme}")
    else:
        print(summary_markdown(results, args.run_dir, source))


def cmd_paper(args):
    from . import report

    try:
        pdf = report.build_paper(_absolute(args.run_dir))
    except (report.MissingMacroError, report.TaggedOutputError) as e:
        raise report.PaperBuildError(str(e)) from e
    if pdf is None:  # build_paper said how to get LaTeX
        return 1
    print(pdf)


def _absolute(path) -> Path:
    """A directory given on the command line, relative to the current directory (as for `run`)."""
    return Path(path).expanduser().resolve()


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and its options (tests/test_readme.py parses the README's commands with it)."""
    parser = argparse.ArgumentParser(prog="python -m arche", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    _add_model_commands(sub)
    _add_pipeline_commands(sub)
    return parser


def _add_model_commands(sub) -> None:
    """The single steps: settings, parameter counts, data, pilots, one model's training and samples."""
    p = sub.add_parser("config", help="print a profile's resolved settings (and --set overrides), its cost and disk")
    _add_common(p)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("params", help="parameter counts of every model variant, as JSON")
    _add_common(p)
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("prepare", help="tokenize the corpus into token files")
    _add_common(p)
    p.add_argument("--data-dir", required=True)
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("regime", help="the pilots of arche.study.regime.REGIME_RULE: batch and learning rates")
    _add_common(p)
    p.add_argument("--run-dir", required=True, help="where the pilots train (resumable)")
    p.add_argument("--out", required=True, help="the JSON file of pilots and the choice")
    p.set_defaults(func=cmd_regime)

    p = sub.add_parser("train", help="train (or resume) one model")
    p.add_argument("paradigm", choices=["ar", "mdlm"])
    _add_common(p)
    p.add_argument("--run-dir", required=True, help="the model's directory; re-running resumes it")
    p.add_argument("--data-dir", default=None, help="prepared data (default: RUN_DIR/data, made if absent)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw the samples of a trained model")
    p.add_argument("paradigm", choices=["ar", "mdlm"])
    _add_common(p)
    p.add_argument("--run-dir", required=True, help="the model's directory (holds best.safetensors)")
    p.add_argument("--out", default=None, help="samples JSONL (default: RUN_DIR/samples.jsonl)")
    p.set_defaults(func=cmd_sample)


def _add_pipeline_commands(sub) -> None:
    """The whole pipeline and what is made from its results: notebooks, report, paper, figures, summary."""
    p = sub.add_parser(
        "run",
        help="execute the notebooks with papermill, render report and paper",
        description="Execute the five stages in order (" + " -> ".join(STAGES) + ") into one "
        "run directory; re-running skips finished stages.",
    )
    _add_common(p)
    p.add_argument("--run-dir", default=None, help="default: runs/PROFILE")
    p.add_argument(
        "--only", default=None, choices=STAGES, metavar="STAGE", help="run just this stage: " + ", ".join(STAGES)
    )
    p.add_argument(
        "--from",
        default=None,
        choices=STAGES,
        metavar="STAGE",
        help="start at this stage and run the ones after it: " + ", ".join(STAGES),
    )
    p.add_argument("--timeout", type=int, default=None, help="seconds per notebook cell")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("paper", help="build RUN/paper.pdf from an analysed run (RUN/notebooks/05_analysis.ipynb)")
    p.add_argument("--run-dir", required=True)
    p.set_defaults(func=cmd_paper)

    p = sub.add_parser("figures", help="every figure, table, macro and the PDF from a results.json alone")
    p.add_argument("--results", required=True, help="a results.json (e.g. results/replica.json)")
    p.add_argument("--out", default=None, help="output directory (default: runs/figures-STEM)")
    p.add_argument("--figures-dir", default=None, help="also copy the PNGs here (e.g. figures/)")
    p.add_argument(
        "--repetition",
        default=None,
        help="a repetition study's results.json: its section joins the paper (e.g. results/repetition.json)",
    )
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("summary", help="what a run found, as markdown (optionally into the README)")
    p.add_argument("--run-dir", default=None)
    p.add_argument("--results", default=None, help="a results.json instead of a run directory")
    p.add_argument("--readme", default=None, help="fill the README's results block instead of printing")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("notebooks", help="sync notebooks/NN_*.py (the source) with their .ipynb (jupytext)")
    p.add_argument("--check", action="store_true", help="only report notebooks out of sync (exit 1)")
    p.set_defaults(func=cmd_notebooks)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (UserError, ConfigError, OSError) as e:
        # OSError: what the machine refuses (permission, a read-only or full disk, a missing folder), said in
        # one line with the path; ARCHE_TRACEBACK=1 shows where.
        if os.environ.get("ARCHE_TRACEBACK", "") not in ("", "0"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)


if __name__ == "__main__":
    sys.exit(main())
