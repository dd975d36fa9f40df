"""Token files: determinism, exact size, the two switches, and the batch order."""

import json
import re

import numpy as np
import pytest
from conftest import tiny_config

from arche import load_config
from arche.batches import TokenData
from arche.data import prepare


def _files(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_same_inputs_and_seed_give_byte_identical_files(tmp_path):
    cfg = tiny_config(n_tokens=5_000)
    prepare(cfg, tmp_path / "a", log=lambda *_: None)
    prepare(cfg, tmp_path / "b", log=lambda *_: None)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    prepare(cfg.replace(data_seed=99), tmp_path / "c", log=lambda *_: None)
    assert _files(tmp_path / "a")["train.bin"] != _files(tmp_path / "c")["train.bin"]


def test_takes_exactly_n_tokens_and_end_of_text_switch(tmp_path, stories_file):
    for eos in (False, True):
        cfg = tiny_config(source=str(stories_file), n_tokens=3_000, eos_between_stories=eos, compact_vocab=False)
        m = prepare(cfg, tmp_path / str(eos), log=lambda *_: None)
        assert m["n_tokens"] == 3_000
        data = TokenData(tmp_path / str(eos))
        n_eot = int((data.train == data.codec.eot).sum() + (data.val == data.codec.eot).sum())
        assert (n_eot > 0) == eos
        assert data.train.size + data.val.size == (m["n_train_chunks"] + m["n_val_chunks"]) * cfg.seq_len


def _markers(text):
    return set(re.findall(r"zq\d+x", text))


def test_story_split_has_no_leakage_and_chunk_split_does(tmp_path, stories_file):
    common = dict(source=str(stories_file), n_tokens=8_000, eos_between_stories=True, val_fraction=0.1)
    prepare(tiny_config(val_split="story", **common), tmp_path / "story", log=lambda *_: None)
    data = TokenData(tmp_path / "story")
    train, val = _markers(data.codec.decode(data.train.reshape(-1))), _markers(data.codec.decode(data.val.reshape(-1)))
    assert val and train and not (train & val)
    # Every recorded held-out story start is a story's first token.
    flat = data.val.reshape(-1)
    for s in data.val_story_starts[:20]:
        assert data.codec.decode(flat[s : s + 3]).startswith("Once")

    prepare(tiny_config(val_split="chunk", **common), tmp_path / "chunk", log=lambda *_: None)
    data = TokenData(tmp_path / "chunk")
    train, val = _markers(data.codec.decode(data.train.reshape(-1))), _markers(data.codec.decode(data.val.reshape(-1)))
    assert train & val  # published split: stories straddle the train/val boundary


def test_compact_vocabulary_round_trips(tmp_path, stories_file):
    cfg = tiny_config(source=str(stories_file), n_tokens=4_000, compact_vocab=True, eos_between_stories=True)
    prepare(cfg, tmp_path / "compact", log=lambda *_: None)
    prepare(cfg.replace(compact_vocab=False), tmp_path / "full", log=lambda *_: None)
    compact, full = TokenData(tmp_path / "compact"), TokenData(tmp_path / "full")
    assert compact.codec.vocab_size < 1000 and full.codec.vocab_size == 50257
    assert compact.codec.decode(compact.train.reshape(-1)) == full.codec.decode(full.train.reshape(-1))
    assert compact.codec.mask == compact.codec.vocab_size


def test_existing_directory_with_other_settings_is_refused(tmp_path):
    prepare(tiny_config(n_tokens=5_000), tmp_path, log=lambda *_: None)
    again = prepare(tiny_config(n_tokens=5_000), tmp_path, log=lambda *_: None)  # same settings: reused
    assert again["n_tokens"] == 5_000
    with pytest.raises(ValueError, match="n_tokens"):
        prepare(tiny_config(n_tokens=6_000), tmp_path, log=lambda *_: None)


def test_batch_order_is_a_function_of_step_and_covers_each_epoch(tmp_path):
    prepare(tiny_config(n_tokens=5_000), tmp_path, log=lambda *_: None)
    data = TokenData(tmp_path)
    n = len(data.train)
    steps = [data.batch_indices(s, 4, seed=0) for s in range((2 * n) // 4)]
    first_epoch = np.concatenate(steps)[:n]
    assert sorted(first_epoch.tolist()) == list(range(n))
    fresh = TokenData(tmp_path)
    assert np.array_equal(fresh.batch_indices(3, 4, seed=0), steps[3])
    assert not np.array_equal(data.batch_indices(0, 4, seed=1), steps[0])


def test_real_sample_prepares(tmp_path, real_sample):
    cfg = tiny_config(source=str(real_sample), n_tokens=20_000, eos_between_stories=True, val_split="story")
    m = prepare(cfg, tmp_path, log=lambda *_: None)
    assert m["n_tokens"] == 20_000 and m["n_val_stories"] >= 1


def test_a_huge_story_is_cut_before_it_is_tokenised(tmp_path):
    # Issue 21, class 4: a 100 MB story without spaces took 305 s and 5.5 GB to yield 20K tokens (it was
    # tokenised whole). Now only the characters that can hold the tokens needed are tokenised; the first
    # tokens are the same as the whole story's.
    import time

    from arche.data import chars_for
    from arche.tokenizer import gpt2

    blob = "abcdefghij" * 600_000  # 6 MB, one pre-token
    short = "Once upon a time a cat sat. The end."
    source = tmp_path / "stories.jsonl"
    source.write_text("\n".join(json.dumps({"text": t}) for t in [blob] + [short] * 400) + "\n")
    cfg = load_config("smoke", source=str(source), n_tokens=2_000, seq_len=32, compact_vocab=False)
    t0 = time.perf_counter()
    manifest = prepare(cfg, tmp_path / "d", log=lambda *_: None)
    assert time.perf_counter() - t0 < 30 and manifest["n_tokens"] == 2_000
    assert chars_for(2_000) < len(blob)  # the story was cut
    whole = gpt2().encode_ordinary(blob[: 2 * chars_for(2_000)])[:2_000]  # far past the cut
    cut = gpt2().encode_ordinary(blob[: chars_for(2_000)])[:2_000]
    assert cut == whole


def test_the_hub_source_and_a_local_copy_of_it_record_the_same_stories(tmp_path, monkeypatch, real_sample):
    # Issue 24: a reader reproduces the committed study from the hub; the manifest's text_sha256 (the stories
    # used) and story count say whether that copy gave the same stories as the local sample.
    import datasets

    stories = [json.loads(line)["text"] for line in real_sample.read_text().splitlines()[:300]]
    local = tmp_path / "stories.jsonl"
    local.write_text("\n".join(json.dumps({"text": t}) for t in stories) + "\n")

    def hub_shaped(name, split, streaming):  # what load_dataset streams: rows with a "text" field
        assert (name, split, streaming) == ("roneneldan/TinyStories", "train", True)
        return iter({"text": t} for t in stories)

    monkeypatch.setattr(datasets, "load_dataset", hub_shaped)
    cfg = tiny_config(n_tokens=20_000, compact_vocab=False)
    from_file = prepare(cfg.replace(source=str(local)), tmp_path / "file", log=lambda *_: None)
    from_hub = prepare(cfg.replace(source="tinystories"), tmp_path / "hub", log=lambda *_: None)
    assert from_hub["text_sha256"] == from_file["text_sha256"] and from_hub["n_stories"] == from_file["n_stories"]
    assert from_hub["sha256"] == from_file["sha256"]  # the same token files
    other = prepare(cfg.replace(source=str(local), skip_stories=1), tmp_path / "other", log=lambda *_: None)
    assert other["text_sha256"] != from_file["text_sha256"]
