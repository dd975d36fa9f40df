"""A model's run directory: start or resume it, refuse one made with other settings, fork a run from
another's checkpoint, and the disk policy of a finished run. arche.train trains; this module decides what
a directory holds and whether it may be continued.

    config.json        the full config the run was started with (a resume must match it)
    metrics.jsonl      one JSON object per logged step; eval steps carry the validation fields
    last.safetensors   weights + optimizer + state, every checkpoint_every steps and at the end
    prev.safetensors   the checkpoint before last: the fallback when last is damaged
    best.safetensors   weights of the best validation loss so far

The checkpoint is the truth: its state holds the config and every metrics row up to its step, and
carries a checksum. A start compares the config with both config.json and the checkpoint (a changed
setting is refused, even with config.json deleted), falls back to prev when last is damaged, and
rewrites config.json and metrics.jsonl (atomically) only where they differ from what the checkpoint
says, so a kill at any moment of a start or of a finished run loses nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import checkpoint
from .checkpoint import CheckpointError
from .config import RESUMABLE_KEYS, Config, config_diff
from .device import resolve_precision
from .errors import UserError
from .io import atomic_write, read_jsonl
from .schedule import lr_at


class RunDirError(UserError, ValueError):
    """A run directory made with another paradigm, config or data, or one that cannot be read."""


def drop_optimizer_state(run_dir, log=print) -> None:
    """The disk policy of keep_optimizer_state=False, for a finished run: one file of weights is left
    (4 bytes per parameter instead of 28). best.safetensors keeps the best weights (what sampling
    loads); last.safetensors keeps the state and metrics only, or the weights when the last step is
    the best (best is then removed: sampling falls back to last); prev.safetensors goes. Nothing a
    finished run is used for needs the optimizer: it cannot be resumed into a longer run (the config
    would differ) and `fork` starts from unfinished trunks."""
    run_dir = Path(run_dir)
    last, best = run_dir / "last.safetensors", run_dir / "best.safetensors"
    tensors, meta = checkpoint.read(last)
    state = json.loads(meta["state"])
    if not state.get("optimizer_dropped"):
        state.pop("format", None)
        state["optimizer_dropped"] = True
        keep_best = best.exists() and state.get("best_step") != state["step"]
        tensors = {} if keep_best else {k: v for k, v in tensors.items() if k.startswith("model.")}
        checkpoint.write(last, tensors, state, None)
        log(
            f"[{state.get('paradigm')}] {run_dir}: finished; optimizer state dropped, weights kept in "
            f"{'best' if keep_best else 'last'}.safetensors only (keep_optimizer_state=False)"
        )
    # Also on a second call: a kill between the writes above and these removals left best or prev behind.
    if tensors:  # last holds the weights, so best is not needed
        best.unlink(missing_ok=True)
    checkpoint.previous(last).unlink(missing_ok=True)


def fork(src_dir, dst_dir, cfg: Config, paradigm: str, log=print) -> int:
    """Start the run `cfg` in `dst_dir` from the last checkpoint of the run in `src_dir`; returns its step.

    Allowed only when the two runs would have computed the same thing up to that step: their configs
    differ in length alone (steps, eval_every and bookkeeping) and their learning rates agree at every
    step before it (a wsd run of more steps, paused before this run's decay). Data order and MDLM noise
    are functions of (seed, step), so `train(cfg, paradigm, dst_dir)` then ends where a run of `cfg`
    from scratch would (tests/test_repetition.py checks it bit for bit on CPU). A dst_dir that already
    has a checkpoint is left alone."""
    dst = Path(dst_dir)
    if (dst / "last.safetensors").exists():
        return checkpoint.read_state(dst / "last.safetensors")["step"]
    src = Path(src_dir) / "last.safetensors"
    tensors, meta = checkpoint.read(src)
    state = json.loads(meta["state"])
    if state.get("paradigm") != paradigm:
        raise RunDirError(f"{src} holds a {state.get('paradigm')} run, not {paradigm}")
    diff = config_diff(state["config"], cfg.to_dict(), ignore=RESUMABLE_KEYS | {"steps", "eval_every"})
    if diff:
        lines = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
        raise RunDirError(f"cannot fork {src} into {dst}: the configs differ in more than length ({lines})")
    step, old = state["step"], Config(**{**Config().to_dict(), **state["config"]})
    if step > cfg.steps:
        raise RunDirError(f"cannot fork {src} at step {step} into a run of {cfg.steps} steps")
    bad = next((s for s in range(step) if lr_at(s, old) != lr_at(s, cfg)), None)
    if bad is not None:
        raise RunDirError(
            f"cannot fork {src} at step {step}: its learning rate differs from the new run's "
            f"at step {bad} ({lr_at(bad, old):.3g} vs {lr_at(bad, cfg):.3g})"
        )
    dst.mkdir(parents=True, exist_ok=True)
    state.pop("format", None)
    # the train time at the fork too: what the branch trains after it is its own (benchmarks/study_wall_time.py)
    forked_from = {"run_dir": str(src_dir), "step": step, "train_time": state.get("train_time", 0.0)}
    state.update(config=cfg.to_dict(), forked_from=forked_from)
    checkpoint.write(dst / "last.safetensors", tensors, state, json.loads(meta["param_groups"]))
    log(f"[{paradigm}] {dst}: forked from {src_dir} at step {step}")
    return step


def resume_or_start(cfg, paradigm, run_dir, model, optimizer, data, log):
    """(state, metrics rows, damaged checkpoint files) to start from: those of the last good checkpoint,
    or a fresh start. Refuses a run directory of another paradigm or config, per config.json and per
    the checkpoint itself."""
    try:
        recorded = read_config_json(run_dir)
    except RunDirError as e:
        log(f"[{paradigm}] {e}; it is rebuilt from the checkpoint and the config")
        recorded = None
    if recorded is not None:
        _refuse_mismatch(run_dir, "config.json", recorded.get("paradigm"), recorded.get("config", {}), cfg, paradigm)
    state, damaged = _load_last_good(cfg, paradigm, run_dir, model, optimizer, log, data)
    if state is None:
        return (
            {
                "step": 0,
                "best_val": float("inf"),
                "best_step": None,
                "train_time": 0.0,
                "window_loss_sum": 0.0,
                "window_steps": 0,
            },
            [],
            [],
        )
    if state["data_hash"] != data.manifest["content_hash"]:
        raise RunDirError(f"the checkpoint in {run_dir} was trained on other data than {data.dir}")
    records = state.pop("metrics", None)
    if records is None:  # a checkpoint from before the rows were kept in it: trust the file up to its step
        records = [r for r in read_jsonl(run_dir / "metrics.jsonl") or [] if r.get("step", 0) <= state["step"]]
    log(f"[{paradigm}] resuming {run_dir} from step {state['step']}")
    return state, records, damaged


def _load_last_good(cfg, paradigm, run_dir, model, optimizer, log, data):
    """(state, damaged files): last.safetensors loaded, or prev.safetensors when last is damaged (with
    a log line); (None, []) when the directory has no checkpoint; CheckpointError naming the files
    when none is good."""
    last = run_dir / "last.safetensors"
    damaged = []
    for path in (last, checkpoint.previous(last)):
        if not path.exists():
            continue
        try:
            saved = checkpoint.read_state(path)
        except CheckpointError as e:
            damaged.append((path, e))
            continue
        _refuse_mismatch(run_dir, path.name, saved.get("paradigm"), saved.get("config", {}), cfg, paradigm)
        # Before loading: weights of another vocabulary fail to load with a shape error that says nothing.
        if saved.get("data_hash") not in (None, data.manifest["content_hash"]):
            raise RunDirError(f"the checkpoint in {run_dir} was trained on other data than {data.dir}")
        try:
            if saved.get("optimizer_dropped") and saved.get("step", 0) >= cfg.steps:
                # finished under keep_optimizer_state=False: nothing to train, maybe no weights in the file
                tensors, meta = checkpoint.read(path)
                state = json.loads(meta["state"])
                if tensors:
                    checkpoint.load(path, model)
            else:
                state = checkpoint.load(path, model, optimizer)
            if not checkpoint.all_finite(model):
                raise CheckpointError(f"checkpoint {path} holds non-finite weights")
        except CheckpointError as e:
            damaged.append((path, e))
            continue
        for bad, err in damaged:
            log(f"[{paradigm}] {err}; moving it to {bad.name}.damaged, resuming from {path.name} instead")
        return state, [bad for bad, _ in damaged]
    if damaged:
        raise CheckpointError(
            f"{run_dir} cannot be resumed: "
            + "; ".join(str(e) for _, e in damaged)
            + f". No good checkpoint is left: delete {run_dir} (or use another --run-dir) "
            "to train from scratch"
        )
    return None, []


def _refuse_mismatch(run_dir, source, old_paradigm, old_config, cfg, paradigm) -> None:
    if old_paradigm not in (None, paradigm):
        raise RunDirError(
            f"{run_dir} holds a {old_paradigm.upper()} run (per its {source}); it cannot be "
            f"resumed as {paradigm.upper()}. Use another --run-dir."
        )
    diff = config_diff(old_config, cfg.to_dict())
    if diff:
        lines = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
        raise RunDirError(
            f"{run_dir} was started with a different config ({lines}; per its {source}); "
            "resume with the same settings or use another --run-dir"
        )


def read_config_json(run_dir) -> dict | None:
    """A run directory's config.json, None when it has none; RunDirError naming it when damaged."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None
    try:
        recorded = json.loads(path.read_text())
        if not isinstance(recorded, dict):
            raise ValueError("not a JSON object")
        shape = {"paradigm": str, "config": dict, "vocab_size": int}
        wrong = [k for k, kind in shape.items() if not isinstance(recorded.get(k), kind)]
        if wrong:
            raise ValueError(f"not a run's config.json of arche: {', '.join(wrong)} missing or of the wrong type")
    except ValueError as e:
        raise RunDirError(f"{path} is damaged ({e})") from None
    return recorded


def write_run_files(cfg, paradigm, run_dir, model, data, records, log) -> None:
    """config.json, the tokenizer, and metrics.jsonl as of the checkpoint we start from; each written
    (atomically) only when it differs, so restarting a finished run writes nothing."""
    _write_if_changed(
        run_dir / "config.json",
        json.dumps(
            {
                "paradigm": paradigm,
                "config": cfg.to_dict(),
                "vocab_size": data.codec.vocab_size,
                "n_params": model.n_params(),
                # what trained, which can differ from config.precision (arche.device: bf16 on a CPU without it)
                "precision": resolve_precision(cfg, next(model.parameters()).device),
            },
            indent=2,
            sort_keys=True,
        ),
    )
    # The tokenizer travels with the weights, so a model directory is self-contained for sampling.
    _write_if_changed(run_dir / "vocab.json", json.dumps(data.codec.to_dict(), sort_keys=True))
    sync_metrics(run_dir / "metrics.jsonl", records, log, paradigm)


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, text)


def sync_metrics(path: Path, records: list[dict], log, paradigm) -> None:
    """Make metrics.jsonl hold exactly `records` (rows after the checkpoint and half-written lines
    go; rows lost from the file come back), saying so when rows had gone missing."""
    text = "".join(json.dumps(r) + "\n" for r in records)
    try:
        if path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        if not records:
            return
    rows = read_jsonl(path) or []
    if rows[: len(records)] != records:
        log(f"[{paradigm}] {path} lacked rows of the run; rewritten from the checkpoint's {len(records)} rows")
    atomic_write(path, text)


def checkpoint_state(state, cfg, paradigm, data, step) -> dict:
    return {
        **state,
        "step": step,
        "paradigm": paradigm,
        "config": cfg.to_dict(),
        "vocab_size": data.codec.vocab_size,
        "data_hash": data.manifest["content_hash"],
    }


def read_metrics(run_dir) -> list[dict]:
    """The rows of RUN/metrics.jsonl (a line being written is skipped); [] when there is none."""
    return read_jsonl(Path(run_dir) / "metrics.jsonl") or []
