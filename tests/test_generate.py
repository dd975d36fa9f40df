"""Sample sets and their records (arche.generate), the prefix rule, and the reference rows the samples are
compared with, on tiny random models (tests/tiny_models.py)."""

import json

import pytest
import torch
from tiny_models import EOT, V, make_codec, prepare_story_data, tiny

from arche import build_model, checkpoint
from arche.generate import generate, load_model, read_samples, reference_rows, reference_texts, sample_run
from arche.sample import prefix_ids


@pytest.fixture(scope="module")
def codec():
    return make_codec()


# ---------------------------------------------------------------------------- runs and records


def make_run(tmp_path, codec, paradigm, cfg, name="best"):
    torch.manual_seed(5)
    model = build_model(cfg, paradigm, vocab_size=V)
    run = tmp_path / paradigm
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"paradigm": paradigm, "config": cfg.to_dict(), "vocab_size": V}))
    (run / "vocab.json").write_text(json.dumps(codec.to_dict()))
    checkpoint.save(run / f"{name}.safetensors", model, {"step": 7})
    return run, model


def test_prefix_rule(codec):
    assert prefix_ids(codec, True, "") == [EOT]
    assert prefix_ids(codec, False, "") == []
    assert prefix_ids(codec, False, "Once") == [38]
    assert prefix_ids(codec, True, "Once") == [EOT, 38]


def test_load_model_falls_back_to_last(tmp_path, codec):
    run, model = make_run(tmp_path, codec, "mdlm", tiny(), name="last")
    loaded, c, saved, paradigm = load_model(run)
    assert paradigm == "mdlm" and c == codec and saved["checkpoint"] == {"file": "last.safetensors", "step": 7}
    assert not loaded.training
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    assert load_model(run, max_len=40)[0].max_len == 40


def test_ar_records_published_protocol(tmp_path, codec):
    cfg = tiny(n_samples=6, sample_batch_size=4, sample_seed=2, device="cpu")  # published: "Once", no EOT
    run, _ = make_run(tmp_path, codec, "ar", cfg)
    path = sample_run(cfg, "ar", run)
    assert path == run / "samples.jsonl"
    recs = read_samples(path)
    assert len(recs) == 6 and [r["index"] for r in recs] == list(range(6))
    for r in recs:
        assert r["model"] == "ar" and r["sampler"] == "ar" and r["seed"] == 2
        # the released code counted the prompt in the length: "Once" + 15 new tokens = 16
        assert len(r["tokens"]) == 15 and r["text"].startswith("Once")
        assert r["settings"]["prefix_ids"] == [38] and r["settings"]["temperature"] == 0.8
        assert r["settings"]["eot"] == EOT and r["settings"]["checkpoint"]["file"] == "best.safetensors"
        assert r["wall_time_s"] > 0
    with_eot = [r for r in recs if EOT in r["tokens"]]
    assert with_eot, "pick a seed that produces an <|endoftext|>"
    for r in with_eot:
        cut = r["tokens"].index(EOT)
        assert r["text"] == codec.decode([38] + r["tokens"][:cut]) and "<|endoftext|>" not in r["text"]
    # the same config gives the same samples
    assert [r["tokens"] for r in generate(cfg, "ar", run)] == [r["tokens"] for r in recs]


def test_mdlm_records_controlled_protocol(tmp_path, codec):
    cfg = tiny(protocol="controlled", n_samples=3, sample_batch_size=2, mdlm_steps=4, device="cpu")
    run, _ = make_run(tmp_path, codec, "mdlm", cfg)
    recs = read_samples(sample_run(cfg, "mdlm", run, out=tmp_path / "out" / "s.jsonl"))
    assert len(recs) == 3
    for r in recs:
        assert r["sampler"] == "ancestral" and r["settings"]["prefix_ids"] == [EOT]
        assert r["settings"]["steps"] == 4 and r["settings"]["temperature"] == 1.0
        assert V not in r["tokens"] and len(r["tokens"]) == 16
        story = r["tokens"][: r["tokens"].index(EOT)] if EOT in r["tokens"] else r["tokens"]
        assert r["text"] == codec.decode(story)  # the EOT prefix is not text
    with pytest.raises(ValueError, match="holds a MDLM model"):
        generate(cfg, "ar", run)


# ---------------------------------------------------------------------------- reference rows


@pytest.fixture(scope="module")
def story_data(tmp_path_factory):
    return prepare_story_data(tmp_path_factory.mktemp("story"))


def test_openings_start_at_held_out_stories(story_data):
    flat = story_data.val.reshape(-1)
    starts = story_data.val_story_starts
    eot = story_data.codec.eot
    assert len(starts) >= 3
    rows = reference_rows(story_data, 100, 24, "openings", seed=0)
    assert len(rows) == len(starts)
    for s, row in zip(starts, rows):
        assert row == flat[s : s + 24].tolist()
    texts = reference_texts(story_data, 100, 24, "openings", seed=0)
    for row, text in zip(rows, texts):
        assert text == story_data.codec.decode(row[: row.index(eot)] if eot in row else row)
    # a seeded subsample, in stream order
    few = reference_rows(story_data, 2, 24, "openings", seed=0)
    assert len(few) == 2 and all(r in rows for r in few)
    assert few == reference_rows(story_data, 2, 24, "openings", seed=0)


def test_windows_are_seeded_and_cut_at_eot(story_data):
    rows = reference_rows(story_data, 20, 24, "windows", seed=1)
    assert len(rows) == 20 and all(len(r) == 24 for r in rows)
    assert rows == reference_rows(story_data, 20, 24, "windows", seed=1)
    assert rows != reference_rows(story_data, 20, 24, "windows", seed=2)
    texts = reference_texts(story_data, 20, 24, "windows", seed=1)
    assert all("<|endoftext|>" not in t for t in texts)


def test_chunk_split_rows_stay_inside_their_chunk(tmp_path):
    from arche.batches import TokenData
    from arche.data import prepare

    prepare(tiny(n_tokens=6000, val_fraction=0.3), tmp_path, log=print)  # published: chunk split
    data = TokenData(tmp_path)
    L = data.seq_len
    for s, row in zip(data.val_story_starts, reference_rows(data, 100, 24, "openings", seed=0)):
        assert len(row) == min(24, L - s % L)
    assert all(len(r) == 24 for r in reference_rows(data, 10, 24, "windows", seed=0))
