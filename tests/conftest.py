"""Shared fixtures: a tiny config for fast CPU runs, and the real TinyStories sample when present."""

import contextlib
import json
import threading
from pathlib import Path

import pytest

from arche import load_config
from arche.runlock import run_lock

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinystories-sample" / "stories.jsonl"


# A model and run small enough that a whole training takes about a second on CPU (tests that start the
# command line pass these as --set arguments: tiny_sets).
TINY = dict(
    n_tokens=20_000,
    d_model=32,
    n_layers=1,
    n_heads=2,
    d_ff=64,
    seq_len=32,
    batch_size=4,
    steps=12,
    warmup_steps=2,
    eval_every=4,
    eval_batches=2,
    log_every=2,
    checkpoint_every=3,
    sample_length=16,
    n_samples=8,
    sample_batch_size=4,
    mdlm_steps=4,
)


def tiny_config(**overrides):
    return load_config("smoke", **{**TINY, **overrides})


def tiny_sets(**overrides) -> list[str]:
    """TINY (and `overrides`) as --set arguments of `python -m arche`."""
    return [arg for k, v in {**TINY, **overrides}.items() for arg in ("--set", f"{k}={v}")]


@pytest.fixture
def stories_file(tmp_path):
    """200 short stories, each with a marker word of its own so leakage can be traced."""
    path = tmp_path / "stories.jsonl"
    with open(path, "w") as f:
        for i in range(200):
            text = (
                f"Once upon a time there was a cat called zq{i}x. The cat liked the sun. "
                f"One day zq{i}x found a red ball and played all day. The end."
            )
            f.write(json.dumps({"text": text}) + "\n")
    return path


@pytest.fixture
def real_sample():
    if not SAMPLE.exists():
        pytest.skip(f"real TinyStories sample not found at {SAMPLE} (it lives beside the project, not in it)")
    return SAMPLE


@contextlib.contextmanager
def held_elsewhere(directory, what):
    """The lock of `directory` held by another thread (in-process, the same thread may nest)."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with run_lock(directory, what, log=lambda *_: None):
            held.set()
            release.wait(60)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()
