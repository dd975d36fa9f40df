"""What the CPU step benchmarks share (profile_step, cpu_compile_ab, cpu_mfu): a profile's shape on the command
line (--profile, --set key=value, --steps, the compact vocabulary) and the header that names the machine."""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from arche.config import parse_overrides  # noqa: E402
from arche.device import device_name  # noqa: E402
from arche.profiles import load_config  # noqa: E402

REPLICA_VOCAB = 5_013  # the compact vocabulary of the replica's 273K-token corpus


def parser(doc: str, steps: int, vocab: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--profile", default="replica")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--steps", type=int, default=steps)
    if vocab:
        p.add_argument("--vocab", type=int, default=REPLICA_VOCAB, help="the compact vocabulary (the replica's: 5,013)")
    return p


def config(args, **fixed):
    """The profile's config with the command line's --set overrides (and `fixed` ones, e.g. device="cpu")."""
    return load_config(args.profile, **fixed, **parse_overrides(args.overrides))


def print_header(cfg, vocab: int) -> None:
    print(f"# {device_name(cfg)}, torch {torch.__version__}, {torch.get_num_threads()} threads, {cfg.precision}")
    print(f"# shape d{cfg.d_model} L{cfg.n_layers} batch {cfg.batch_size} x {cfg.seq_len}, vocab {vocab}")
