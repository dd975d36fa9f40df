"""Command line: `python -m arche {params,prepare,train,sample,run,paper} ...`.

Every command takes `--profile NAME` and any number of `--set key=value` overrides; an unknown key or
a value of the wrong type stops the command before any work, naming the key.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import ConfigError, PROFILES, load_config, parse_overrides


def _add_common(p):
    p.add_argument("--profile", default="smoke", help=f"one of {sorted(PROFILES)} (default: smoke)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable)")


def _config(args):
    return load_config(args.profile, **parse_overrides(args.overrides))


def cmd_params(args):
    from .model import param_counts
    print(json.dumps(param_counts(_config(args))))


def cmd_prepare(args):
    from .data import prepare
    manifest = prepare(_config(args), args.data_dir)
    print(json.dumps({k: v for k, v in manifest.items() if k != "sha256"}, indent=2))


def cmd_train(args):
    from .train import train
    summary = train(_config(args), args.paradigm, args.run_dir, data_dir=args.data_dir)
    print(json.dumps(summary))


def cmd_sample(args):
    from .sample import sample_run
    cfg = _config(args)
    path = sample_run(cfg, args.paradigm, args.run_dir, out=args.out)
    print(path)


def cmd_run(args):
    from .pipeline import run_pipeline
    run_pipeline(args.profile, run_dir=args.run_dir, overrides=parse_overrides(args.overrides),
                 only=args.only, start_from=getattr(args, "from"), timeout=args.timeout)


def cmd_summary(args):
    from .report import load_results, summary_markdown, update_readme
    results = load_results(args.run_dir)
    if args.readme:
        update_readme(args.readme, results, args.run_dir)
        print(f"updated {args.readme}")
    else:
        print(summary_markdown(results, args.run_dir))


def cmd_paper(args):
    from .report import build_paper
    build_paper(args.run_dir)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arche", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("params", help="parameter counts of every model variant, as JSON")
    _add_common(p)
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("prepare", help="tokenize the corpus into token files")
    _add_common(p)
    p.add_argument("--data-dir", required=True)
    p.set_defaults(func=cmd_prepare)

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

    p = sub.add_parser("run", help="execute the notebooks with papermill, render report and paper")
    _add_common(p)
    p.add_argument("--run-dir", default=None, help="default: runs/PROFILE")
    p.add_argument("--only", default=None, help="run just this notebook (e.g. 05_analysis)")
    p.add_argument("--from", default=None, help="start at this notebook")
    p.add_argument("--timeout", type=int, default=None, help="seconds per notebook cell")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("paper", help="build paper/main.pdf from an analysed run")
    p.add_argument("--run-dir", required=True)
    p.set_defaults(func=cmd_paper)

    p = sub.add_parser("summary", help="what a run found, as markdown (optionally into the README)")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--readme", default=None, help="fill the README's results block instead of printing")
    p.set_defaults(func=cmd_summary)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        from .pipeline import PipelineError
        if not isinstance(e, PipelineError):
            raise
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
