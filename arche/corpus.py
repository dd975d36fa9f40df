"""
Story sources: every source yields plain story strings (stripped, non-empty, no end-of-text markers).

    iter_stories("tinystories")      TinyStories train split streamed from the Hugging Face hub
                                     (roneneldan/TinyStories, the paper's data; needs the internet)
    iter_stories("synthetic", seed)  the built-in synthetic generator (arche.synthetic; offline, infinite)
    iter_stories("path/to/file.txt") stories separated by <|endoftext|> lines, or else by blank lines
    iter_stories("path/to/file.jsonl") one {"text": ...} object per line

The synthetic corpus (arche.synthetic) is NOT TinyStories. It is generated from templates and word lists with
random.Random(seed), so it needs no download and is the same on every machine. It imitates the shape of
TinyStories: 100-300 word children's stories, ~60% opening with "Once upon a time", ~20% with "One day",
the rest with a name or a scene; a cast of recurring names and animals, places, toys, a small problem
(a lost toy, a kite in a tree, a rainy day, a quarrel over sharing, ...), dialogue in quotes, a resolution,
and sometimes a moral. Its vocabulary is small on purpose (about a thousand GPT-2 tokens), so a CPU smoke
run with a compact output head has something learnable to fit in minutes. Numbers measured on it say
nothing about TinyStories.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path

from .synthetic import iter_synthetic, synthetic_stories  # noqa: F401  (synthetic_stories: the public name)

EOT_MARKER = "<|endoftext|>"
HF_DATASET = "roneneldan/TinyStories"


def iter_stories(source: str, seed: int = 0) -> Iterator[str]:
    """Stories from `source`: "tinystories", "synthetic", or a .txt/.jsonl path.

    `seed` only affects the synthetic generator; the hub and files are read in their stored order.
    Problems that can be seen up front (unknown source, missing file, hub unreachable) raise here,
    problems inside a file raise while iterating, naming the file and line.
    """
    if source == "tinystories":
        return _iter_tinystories()
    if source == "synthetic":
        return iter_synthetic(seed)
    path = Path(os.fspath(source))
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".jsonl"):
        raise ValueError(
            f"unknown story source {str(source)!r}: expected 'tinystories', 'synthetic', "
            "or a path to a .txt or .jsonl file"
        )
    if not path.is_file():
        raise ValueError(f"story file {path} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"story file {path} is empty")
    return _iter_jsonl(path) if suffix == ".jsonl" else _iter_txt(path)


# -----------------------------------------------------------------------------
# Hugging Face hub


def _iter_tinystories():
    def unreachable(e):
        return RuntimeError(
            f"could not stream {HF_DATASET} from the Hugging Face hub ({type(e).__name__}: {e}). "
            "The hub is unreachable or offline mode is on. Use source='synthetic' for the built-in "
            "offline corpus, or a local .txt/.jsonl file of stories."
        )

    try:
        from datasets import load_dataset  # imported here: slow to import, and only this source needs it
    except ImportError as e:
        raise RuntimeError("source 'tinystories' needs the `datasets` package: pip install datasets") from e
    try:
        # streaming: no multi-GB download before the first story, and we usually read only a prefix
        rows = iter(load_dataset(HF_DATASET, split="train", streaming=True))
    except Exception as e:
        raise unreachable(e) from e
    return _tinystories_texts(rows, unreachable)


def _tinystories_texts(rows, unreachable):
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as e:  # the stream itself can fail midway (network)
            raise unreachable(e) from e
        text = row["text"].strip()
        if text:
            yield text


# -----------------------------------------------------------------------------
# local files


def _lines(path):
    """The lines of a UTF-8 text file; a decoding error names the file and the line."""
    # decoded line by line (not by a buffered text reader) so the error points at the right line
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                yield raw.decode("utf-8").replace("\r\n", "\n")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}, line {lineno}: not UTF-8 text ({e.reason})") from None


def _iter_jsonl(path):
    n = 0
    for lineno, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise ValueError(f'{path}, line {lineno}: expected an object with a string "text" field')
        text = obj["text"].strip()
        if text:
            n += 1
            yield text
    if n == 0:
        raise ValueError(f"story file {path} holds no stories")


def _has_marker(path, chunk_size=1 << 20):
    """Whether the file contains <|endoftext|>, reading chunks so a large file is not loaded at once."""
    tail = b""
    marker = EOT_MARKER.encode()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            if marker in tail + chunk:
                return True
            tail = chunk[-(len(marker) - 1) :]  # a marker may straddle two chunks
    return False


def _iter_txt(path):
    # With <|endoftext|> separators a story may contain blank lines between paragraphs,
    # so blank lines only separate stories in files that have no marker at all.
    use_marker = _has_marker(path)
    n, lines = 0, []
    for line in _lines(path):
        if use_marker:
            *ends, rest = line.split(EOT_MARKER)
            for piece in ends:  # each marker closes the story gathered so far
                story = ("".join(lines) + piece).strip()
                lines = []
                if story:
                    n += 1
                    yield story
            lines.append(rest)
        elif line.strip():
            lines.append(line)
        else:
            story = "".join(lines).strip()
            lines = []
            if story:
                n += 1
                yield story
    story = "".join(lines).strip()
    if story:
        n += 1
        yield story
    if n == 0:
        raise ValueError(f"story file {path} holds no stories")
