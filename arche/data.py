"""Prepare token files once (arche.batches serves the training and validation batches from them).

`prepare` tokenizes stories from a source (batched, multi-threaded), takes the first `n_tokens`,
splits them into train and validation, and writes

    train.bin, val.bin        uint16 token ids, a whole number of `seq_len` chunks each
    val_story_starts.npy      offsets in val.bin where a held-out story begins (reference rows)
    vocab.json                the tokenizer: full GPT-2 or the compact vocabulary
    manifest.json             source (and its sha256 when a file), counts, settings, seed and sha256
                              of every file; written last

Two switches reproduce or remove the published code's choices: `eos_between_stories` (an
<|endoftext|> after every story, or none as published) and `val_split` ("chunk": a random 5% of
the chunks, so a story can straddle train and val, as published; "story": whole held-out stories).
Same inputs and seed give byte-identical files. A directory is reused only when its manifest's
settings, source hash and file hashes all still hold; damaged token files are rebuilt, a changed
source is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .corpus import iter_stories
from .errors import UserError
from .io import atomic_write
from .runlock import run_lock
from .tokenizer import TokenCodec

# The settings that decide the files' content; a data directory built with others is refused.
DATA_KEYS = (
    "source",
    "n_tokens",
    "data_seed",
    "eos_between_stories",
    "val_split",
    "val_fraction",
    "seq_len",
    "compact_vocab",
    "skip_stories",
)


# The real 4,000-story TinyStories sample that lives beside the project (never inside it).
SAMPLE_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinystories-sample" / "stories.jsonl"


def sample_path() -> Path:
    """Where the real sample is expected: $ARCHE_SAMPLE_PATH, else ../shared/data/tinystories-sample."""
    return Path(os.environ.get("ARCHE_SAMPLE_PATH") or SAMPLE_PATH)


def resolve_source(source: str, log=print) -> str:
    """`tinystories-sample` means the real sample; a missing sample is an error, never synthetic data
    in its place (a reader reproducing the committed study would get toy results without noticing)."""
    if source != "tinystories-sample":
        return source
    path = sample_path()
    if path.is_file():
        return str(path)
    raise DataError(
        f"the TinyStories sample this profile trains on is not at {path}: put stories.jsonl there, or "
        "point ARCHE_SAMPLE_PATH at it, or use --set source=tinystories (the same number of tokens from "
        "the Hugging Face train split: a different draw from the same distribution)"
    )


def run_vocab_size(config, log=print) -> int | None:
    """The vocabulary the models of a run of `config` have: vocab_size, or with compact_vocab the corpus'
    own, found by preparing the data into a temporary directory (seconds for the synthetic corpus and a
    local file). None for the hub's TinyStories, which that would download."""
    if not config.compact_vocab:
        return config.vocab_size
    manifest = probe(config)
    return manifest and manifest["vocab_size"]


def probe(config) -> dict | None:
    """The manifest a run of `config` would prepare (vocabulary, story and chunk counts), found by preparing
    the data into a temporary directory (seconds for the synthetic corpus and a local file). None for the
    hub's TinyStories, which that would download."""
    if config.source == "tinystories":
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return prepare(config, Path(tmp) / "data", log=lambda *_: None)


def data_settings(config) -> dict:
    return {k: getattr(config, k) for k in DATA_KEYS}


class DataError(UserError, ValueError):
    """A source or data directory that cannot be used (named in the message)."""


def prepare(config, data_dir, num_threads: int | None = None, log=print, extra_vocab=()) -> dict:
    """Build the token files in `data_dir`, or reuse them when they match the settings, the source
    (sha256 of a source file) and the sha256 of every file in the manifest. One process at a time: a
    second one waits for the first, then finds the files ready. `extra_vocab` (GPT-2 ids) joins the
    compact vocabulary: a judge must be able to read every text it scores, not only its own stories."""
    data_dir = Path(data_dir)
    with run_lock(data_dir, "preparing data", wait=24 * 3600, log=log):
        return _prepare(config, data_dir, num_threads, log, sorted(set(int(i) for i in extra_vocab)))


def _prepare(config, data_dir: Path, num_threads, log, extra_vocab=()) -> dict:
    settings = data_settings(config)
    if extra_vocab:  # the vocabulary is part of what the files hold
        settings["extra_vocab_sha256"] = hashlib.sha256(json.dumps(list(extra_vocab)).encode()).hexdigest()
    source_sha = _source_sha256(config.source)
    existing = _reusable(config, data_dir, settings, source_sha, bool(extra_vocab), log)
    if existing is not None:
        return existing
    try:
        stories, text_sha256 = _tokenize_until(config, num_threads or max(1, os.cpu_count() or 1), log)
    except (ValueError, RuntimeError) as e:  # a bad source: named file and line, or an unreachable hub
        raise DataError(str(e)) from e
    train_stream, val_stream, val_starts = _split(stories, config)
    all_ids = np.concatenate([train_stream, val_stream])
    ids = np.union1d(np.unique(all_ids), np.asarray(extra_vocab, dtype=np.int64)).tolist()
    codec = TokenCodec.from_ids(ids) if config.compact_vocab else TokenCodec.full()
    if codec.mask > np.iinfo(np.uint16).max:
        raise DataError(f"vocabulary of {codec.vocab_size} tokens does not fit uint16 token files")
    files = {
        "train.bin": codec.to_model(train_stream).astype(np.uint16).tobytes(),
        "val.bin": codec.to_model(val_stream).astype(np.uint16).tobytes(),
        "val_story_starts.npy": _npy_bytes(np.asarray(val_starts, dtype=np.int64)),
        "vocab.json": json.dumps(codec.to_dict(), sort_keys=True).encode(),
    }
    for name, blob in files.items():
        atomic_write(data_dir / name, blob)
    L = config.seq_len
    manifest = {
        "settings": settings,
        "source": resolve_source(config.source, log=lambda *_: None),
        "tokenizer": "gpt2" + (" (compact)" if codec.compact else ""),
        "vocab_size": codec.vocab_size,
        "n_stories": len(stories),
        "text_sha256": text_sha256,
        "n_tokens": int(sum(len(s) for s in stories)),
        "n_train_tokens": int(train_stream.size),
        "n_val_tokens": int(val_stream.size),
        "n_train_chunks": int(train_stream.size // L),
        "n_val_chunks": int(val_stream.size // L),
        "n_val_stories": len(val_starts),
        "sha256": {name: hashlib.sha256(blob).hexdigest() for name, blob in files.items()},
        "source_sha256": source_sha,
    }
    manifest["content_hash"] = hashlib.sha256(json.dumps(manifest["sha256"], sort_keys=True).encode()).hexdigest()
    atomic_write(data_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode())
    log(
        f"data: wrote {manifest['n_train_chunks']:,} train and {manifest['n_val_chunks']:,} val chunks "
        f"of {L} tokens, vocabulary {codec.vocab_size:,}, to {data_dir}"
    )
    return manifest


def _reusable(config, data_dir: Path, settings: dict, source_sha, adds_vocab: bool, log) -> dict | None:
    """The manifest of `data_dir` when its files can be used as they are; None when they must be prepared
    (none yet, or damaged: the same settings and source give the same bytes). Other settings or a changed
    source are a DataError: models trained on the old files would not match new ones."""
    try:
        existing = read_manifest(data_dir)
    except DataError as e:
        log(f"data: {e}; preparing again")
        return None
    if existing is None:
        return None
    from .config import Config

    old_settings = {**data_settings(Config()), **existing["settings"]}  # older manifests: defaults
    if not adds_vocab and "extra_vocab_sha256" in old_settings:
        # a caller that adds no tokens takes the vocabulary the directory was built with
        settings["extra_vocab_sha256"] = old_settings["extra_vocab_sha256"]
    if {k: old_settings.get(k) for k in settings} != settings:
        diff = {k: (old_settings.get(k), v) for k, v in settings.items() if old_settings.get(k) != v}
        raise DataError(
            f"{data_dir} holds data prepared with other settings {diff}; use another directory or delete it"
        )
    if existing.get("source_sha256") not in (None, source_sha):
        raise DataError(
            f"the source {config.source!r} changed since {data_dir} was prepared from it "
            f"(sha256 {existing['source_sha256'][:12]}... then, {(source_sha or '?')[:12]}... now); "
            "models trained on the old data would not match it: use another data directory "
            "(or delete this one to prepare it again)"
        )
    damaged = damaged_files(data_dir, existing)
    if not damaged:
        log(f"data: {data_dir} already prepared ({existing['n_tokens']:,} tokens), skipping")
        return existing
    log(
        f"data: {', '.join(damaged)} in {data_dir} missing or not matching the manifest's sha256; "
        "preparing again (same settings and source give the same bytes)"
    )
    return None


# The longest GPT-2 token is 128 bytes, so 128 x n characters always hold n tokens or more. A story is cut
# there (plus a margin, so that BPE merges near the cut cannot reach the tokens kept) before it is
# tokenised: a 100 MB story without spaces took 305 s and 5.5 GB to yield 20K tokens. Stories shorter
# than that, i.e. all real ones, are tokenised whole, as before.
MAX_TOKEN_CHARS = 128
CUT_MARGIN_CHARS = 65_536


def chars_for(n_tokens: int) -> int:
    """The characters of a story that are enough for its first `n_tokens` tokens."""
    return MAX_TOKEN_CHARS * n_tokens + CUT_MARGIN_CHARS


def _tokenize_until(config, num_threads, log) -> tuple[list[np.ndarray], str]:
    """GPT-2 ids per story (with a trailing <|endoftext|> if asked), cut at exactly n_tokens; and the sha256
    of the text of the stories used (each one's text and a newline, in order): what a reader compares to
    know that another copy of the source (the hub's, a local file) gave the same stories."""
    codec = TokenCodec.full()
    stories, total, batch = [], 0, []
    text_hash = hashlib.sha256()

    def flush():
        nonlocal total
        for text, ids in zip(batch, codec.encode_batch(batch, num_threads=num_threads)):
            if config.eos_between_stories:
                ids = ids + [codec.eot]
            ids = np.asarray(ids[: config.n_tokens - total], dtype=np.int64)
            if ids.size:
                stories.append(ids)
                total += ids.size
                text_hash.update(text.encode() + b"\n")
            if total >= config.n_tokens:
                return True
        batch.clear()
        return False

    for i, text in enumerate(iter_stories(resolve_source(config.source, log), seed=config.data_seed)):
        if i < config.skip_stories:
            continue
        batch.append(text[: chars_for(config.n_tokens)])
        if len(batch) == 1024 and flush():
            break
    else:
        if batch:
            flush()
    if total < config.n_tokens:
        log(f"data: source {config.source!r} ran out at {total:,} of {config.n_tokens:,} tokens")
    if not stories:
        raise ValueError(f"source {config.source!r} produced no tokens")
    return stories, text_hash.hexdigest()


def story_openings(config, skip: int, n: int, length: int) -> list[list[int]]:
    """The first `length` GPT-2 tokens of each of the `n` stories after the first `skip` of the source
    (fewer when the source runs out), with the <|endoftext|> that ends a shorter story when the
    config puts one between stories: real text cut the way samples are (the reference rows)."""
    codec = TokenCodec.full()
    texts = []
    for i, text in enumerate(iter_stories(resolve_source(config.source), seed=config.data_seed)):
        if i >= skip + n:
            break
        if i >= skip:
            texts.append(text[: chars_for(length)])
    rows = []
    for ids in codec.encode_batch(texts, num_threads=max(1, os.cpu_count() or 1)):
        if config.eos_between_stories:
            ids = ids + [codec.eot]
        rows.append(ids[:length])
    return rows


def _split(stories, config):
    """(train stream, val stream, val story start offsets), each stream a whole number of chunks."""
    L = config.seq_len
    rng = np.random.default_rng(config.data_seed)
    if config.val_split == "chunk":
        stream = np.concatenate(stories)
        n_chunks = stream.size // L
        if n_chunks < 2:
            raise DataError(f"{stream.size} tokens make fewer than 2 chunks of seq_len {L}")
        starts = np.cumsum([0] + [s.size for s in stories[:-1]])
        chunks = stream[: n_chunks * L].reshape(n_chunks, L)
        n_val = max(1, round(config.val_fraction * n_chunks))
        val_idx = np.sort(rng.permutation(n_chunks)[:n_val])
        train_idx = np.setdiff1d(np.arange(n_chunks), val_idx)
        # A story start inside a held-out chunk, mapped to its offset in val.bin.
        chunk_of = starts // L
        pos = np.searchsorted(val_idx, chunk_of)
        inside = (pos < val_idx.size) & (val_idx[np.minimum(pos, val_idx.size - 1)] == chunk_of)
        val_starts = pos[inside] * L + starts[inside] % L
        return chunks[train_idx].reshape(-1), chunks[val_idx].reshape(-1), val_starts.tolist()
    if len(stories) < 2:
        raise DataError("a story-level split needs at least 2 stories")
    n_val = max(1, round(config.val_fraction * len(stories)))
    is_val = np.zeros(len(stories), dtype=bool)
    is_val[rng.permutation(len(stories))[:n_val]] = True
    train = np.concatenate([s for s, v in zip(stories, is_val) if not v])
    val_list = [s for s, v in zip(stories, is_val) if v]
    val = np.concatenate(val_list)
    val_starts = np.cumsum([0] + [s.size for s in val_list[:-1]])
    n_train, n_val_tok = (train.size // L) * L, (val.size // L) * L
    if n_train == 0 or n_val_tok == 0:
        raise DataError(
            f"too few tokens for a story-level split into chunks of seq_len {L} "
            f"({train.size} train, {val.size} val); raise n_tokens or val_fraction"
        )
    return train[:n_train], val[:n_val_tok], [int(s) for s in val_starts if s < n_val_tok]


def read_manifest(data_dir: Path):
    path = Path(data_dir) / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except ValueError as e:
        raise DataError(f"{path} is damaged ({e})") from None
    shape = {"settings": dict, "sha256": dict, "n_tokens": int, "content_hash": str}
    wrong = [k for k, kind in shape.items() if not isinstance(manifest, dict) or not isinstance(manifest.get(k), kind)]
    if wrong:
        raise DataError(f"{path} is damaged (not a manifest of arche: {', '.join(wrong)} missing or of the wrong type)")
    return manifest


def damaged_files(data_dir, manifest) -> list[str]:
    """The files of a prepared directory that are missing or differ from the manifest's sha256."""
    return [
        name
        for name, digest in manifest["sha256"].items()
        if not (Path(data_dir) / name).is_file() or _sha256_file(Path(data_dir) / name) != digest
    ]


def _source_sha256(source: str) -> str | None:
    """sha256 of a source file (None for the hub and the built-in synthetic corpus)."""
    path = Path(resolve_source(source, log=lambda *_: None))
    return _sha256_file(path) if path.suffix.lower() in (".txt", ".jsonl") and path.is_file() else None


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()
