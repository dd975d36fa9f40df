"""The prepared token files (arche.data), read back: memory-mapped chunks, training batches in an order
that is a pure function of (seed, step) (so a resume needs no data-loader state), validation batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .data import DataError, read_manifest
from .tokenizer import TokenCodec


class TokenData:
    """Memory-mapped token chunks of a prepared directory, and the batches drawn from them."""

    def __init__(self, data_dir, train_chunks: int = 0):
        self.dir = Path(data_dir)
        self.manifest = read_manifest(self.dir)
        if self.manifest is None:
            raise FileNotFoundError(f"no prepared data in {self.dir} (manifest.json missing); run prepare first")
        self.seq_len = self.manifest["settings"]["seq_len"]
        self.codec = TokenCodec.from_dict(json.loads((self.dir / "vocab.json").read_text()))
        self.train = self._chunks("train.bin")
        if train_chunks:  # a fixed unique-data budget: the first chunks, in the order prepare wrote them
            if train_chunks > len(self.train):
                raise DataError(
                    f"train_chunks={train_chunks}, but {self.dir} has only {len(self.train)} training chunks"
                )
            self.train = self.train[:train_chunks]
        self.val = self._chunks("val.bin")
        self.val_story_starts = np.load(self.dir / "val_story_starts.npy", allow_pickle=False)
        self._perm_cache = {}

    def _chunks(self, name):
        flat = np.memmap(self.dir / name, dtype=np.uint16, mode="r")
        return flat.reshape(-1, self.seq_len)

    def epoch_order(self, epoch: int, seed: int) -> np.ndarray:
        """A fresh permutation of the training chunks per epoch, a pure function of (seed, epoch)."""
        key = (epoch, seed)
        if key not in self._perm_cache:
            self._perm_cache = {key: np.random.default_rng([seed, epoch]).permutation(len(self.train))}
        return self._perm_cache[key]

    def batch_indices(self, step: int, batch_size: int, seed: int) -> np.ndarray:
        """Chunk indices of step `step`'s global batch. Depends only on the step, which makes
        resuming exact: no data-loader state to save."""
        n = len(self.train)
        first = step * batch_size
        out = []
        for pos in range(first, first + batch_size):
            out.append(self.epoch_order(pos // n, seed)[pos % n])
        return np.asarray(out)

    def train_batch(self, step, batch_size, seed, device="cpu", rank=0, world_size=1):
        """This rank's slice of the global batch as an int64 tensor on `device`."""
        idx = self.batch_indices(step, batch_size, seed)
        per = batch_size // world_size
        idx = idx[rank * per : (rank + 1) * per]
        return _to_device(self.train[idx], device)

    def val_batches(self, batch_size, n_batches, device="cpu"):
        """The first n_batches * batch_size held-out chunks, in file order (the same for every model)."""
        n = min(len(self.val), batch_size * n_batches)
        if n == 0:
            raise DataError(f"{self.dir} has no validation chunks")
        return [_to_device(self.val[i : i + batch_size], device) for i in range(0, n, batch_size)]


def _to_device(chunk: np.ndarray, device):
    x = torch.from_numpy(chunk.astype(np.int64))
    if str(device).startswith("cuda"):
        return x.pin_memory().to(device, non_blocking=True)
    return x
