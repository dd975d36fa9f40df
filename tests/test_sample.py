"""Samplers, sample records, reference rows and fluency measures, on tiny random models."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from arche import build_model, checkpoint, load_config
from arche.denoise import infill, sample_mdlm, time_for_masked_fraction
from arche.evaluate import ar_nll_sums, generative_perplexity, infill_demo, mdlm_nelbo
from arche.generate import generate, load_model, read_samples, reference_rows, reference_texts, sample_run
from arche.model import KVCache
from arche.objectives import alpha
from arche.sample import filter_logits, prefix_ids, sample_ar
from arche.tokenizer import TokenCodec
from arche.unmask import apply_repetition_penalty, token_counts

V = 40
EOT = 39  # the compact codec below puts <|endoftext|> last


def tiny(**kw):
    kw = {"sample_length": 16, **kw}
    return load_config("smoke", d_model=32, n_layers=2, n_heads=4, d_ff=64, seq_len=32, vocab_size=V, **kw)


@pytest.fixture(scope="module")
def codec():
    # 38 single-character tokens, " Once"... no: "Once" (id 7454), and <|endoftext|>: 40 tokens.
    c = TokenCodec.from_ids(list(range(38)) + TokenCodec.full().encode("Once"))
    assert c.vocab_size == V and c.eot == EOT
    return c


@pytest.fixture(scope="module")
def ar():
    torch.manual_seed(0)
    return build_model(tiny(), "ar").eval()


@pytest.fixture(scope="module")
def mdlm():
    torch.manual_seed(1)
    return build_model(tiny(), "mdlm").eval()


class Recorder(torch.nn.Module):
    """Wraps an MDLM and records every input it sees."""

    def __init__(self, model):
        super().__init__()
        self.model, self.inputs = model, []
        self.vocab_size, self.mask_id, self.max_len = model.vocab_size, model.mask_id, model.max_len

    def forward(self, tokens, t):
        self.inputs.append(tokens.clone())
        return self.model(tokens, t)


class WithMaskLogit(torch.nn.Module):
    """An MDLM with an extra, dominant [MASK] output: the samplers must still never draw it."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.vocab_size, self.mask_id, self.max_len = model.vocab_size, model.mask_id, model.max_len

    def forward(self, tokens, t):
        logits = self.model(tokens, t)
        return torch.cat([logits, logits.max(dim=-1, keepdim=True).values + 5.0], dim=-1)


# ---------------------------------------------------------------------------- logits filters


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([0.15, 0.5, 0.05, 0.3])
    logits = probs.log()

    def kept(p):
        return set(torch.isfinite(filter_logits(logits, top_p=p)).nonzero().flatten().tolist())

    assert kept(0.4) == {1}
    assert kept(0.6) == {1, 3}
    assert kept(0.9) == {1, 3, 0}
    assert kept(0.99) == {0, 1, 2, 3}
    assert kept(1.0) == {0, 1, 2, 3}
    assert kept(1e-6) == {1}  # never empty
    # kept logits are unchanged; rows are filtered independently
    out = filter_logits(torch.stack([logits, logits.flip(0)]), top_p=0.6)
    assert torch.equal(out[0, [1, 3]], logits[[1, 3]])
    assert torch.isfinite(out[1]).nonzero().flatten().tolist() == [0, 2]


def test_top_k_then_top_p():
    logits = torch.tensor([0.15, 0.5, 0.05, 0.3]).log()
    assert torch.isfinite(filter_logits(logits, top_k=2)).nonzero().flatten().tolist() == [1, 3]
    assert torch.equal(filter_logits(logits, top_k=0), logits)
    # after top-3 the renormalised mass of the best token is 0.5 / 0.95 < 0.6, so two are kept
    assert torch.isfinite(filter_logits(logits, top_k=3, top_p=0.6)).nonzero().flatten().tolist() == [1, 3]
    assert torch.isfinite(filter_logits(logits, top_k=3, top_p=0.5)).nonzero().flatten().tolist() == [1]


def test_repetition_penalty_pushes_down_both_signs():
    logits = torch.tensor([[2.0, -2.0, 1.0, -1.0]])
    seen = torch.tensor([[True, True, False, False]])
    out = apply_repetition_penalty(logits, seen, 1.3)
    assert torch.allclose(out, torch.tensor([[2.0 / 1.3, -2.6, 1.0, -1.0]]))
    assert out[0, 1] < logits[0, 1]  # a negative logit becomes more negative


def test_released_penalty_divides_whatever_the_sign():
    from arche.unmask import released_penalty_divisor

    divisor = released_penalty_divisor(torch.tensor([[0, 1, 2, 10]]))
    assert torch.allclose(divisor, torch.tensor([[1.0, 1.3, 1.69, 5.0]]))
    logits = torch.tensor([[1.0, -2.0, 2.0, -3.0]])
    assert torch.allclose(logits / divisor, torch.tensor([[1.0, -2.0 / 1.3, 2.0 / 1.69, -0.6]]))


def test_token_counts_ignore_mask():
    canvas = torch.tensor([[3, 3, V, 5], [V, V, V, V]])
    counts = token_counts(canvas, V)
    assert counts.shape == (2, V)
    assert counts[0, 3] == 2 and counts[0, 5] == 1 and counts[0].sum() == 3 and counts[1].sum() == 0


def test_time_matches_masked_fraction():
    for frac in (1.0, 0.75, 0.3, 0.01):
        t = time_for_masked_fraction(frac)
        assert 1 - float(alpha(torch.tensor(t))) == pytest.approx(frac, abs=1e-6)


# ---------------------------------------------------------------------------- autoregressive


def test_kv_cache_logits_equal_uncached(ar):
    x = torch.randint(0, V, (3, 12), generator=torch.Generator().manual_seed(0))
    full = ar(x)
    cache = KVCache()
    steps = [ar(x[:, :5], cache=cache)] + [ar(x[:, i : i + 1], cache=cache) for i in range(5, 12)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_cached_sampling_equals_uncached(ar):
    kw = dict(n=5, length=16, temperature=0.8, top_p=0.9, seed=3, batch_size=2)
    cached = sample_ar(ar, [EOT], **kw)
    assert cached.shape == (5, 16) and cached.dtype == torch.long
    assert torch.equal(cached, sample_ar(ar, [EOT], use_cache=False, **kw))


def test_ar_is_deterministic_per_seed(ar):
    a = sample_ar(ar, [EOT, 7], 4, 16, seed=0)
    assert torch.equal(a, sample_ar(ar, [EOT, 7], 4, 16, seed=0))
    assert not torch.equal(a, sample_ar(ar, [EOT, 7], 4, 16, seed=1))


def test_ar_needs_a_prefix_and_room(ar):
    with pytest.raises(ValueError, match="at least one context token"):
        sample_ar(ar, [], 2, 8)
    sample_ar(ar, [EOT], 1, 32)  # the last new token is never fed: 32 positions fit max_len 32
    with pytest.raises(ValueError, match="max_len"):
        sample_ar(ar, [EOT, 5], 1, 32)


# ---------------------------------------------------------------------------- masked diffusion


@pytest.mark.parametrize("sampler", ["confidence", "published", "ancestral", "remask"])
def test_mdlm_samplers_leave_no_mask_and_keep_the_prefix(mdlm, sampler):
    probe = Recorder(mdlm)
    prefix = [EOT, 7, 8]
    out = sample_mdlm(probe, prefix, 5, 16, sampler, steps=6, seed=0, batch_size=2)
    assert out.shape == (5, 16)
    assert int(out.max()) < V and int(out.min()) >= 0
    assert probe.inputs and all(torch.equal(x[:, :3], torch.tensor(prefix).expand(x.size(0), 3)) for x in probe.inputs)
    # deterministic for a seed, different across seeds
    assert torch.equal(out, sample_mdlm(mdlm, prefix, 5, 16, sampler, steps=6, seed=0, batch_size=2))
    assert not torch.equal(out, sample_mdlm(mdlm, prefix, 5, 16, sampler, steps=6, seed=1, batch_size=2))


@pytest.mark.parametrize("steps, expected", [(5, [4, 3, 3, 3, 3]), (3, [6, 5, 5]), (50, [1] * 16)])
def test_confidence_unmasks_ceil_remaining_over_rounds_left(mdlm, steps, expected):
    trace = []
    sample_mdlm(mdlm, [EOT], 3, 16, "confidence", steps=steps, trace=trace)
    assert [r["unmasked"] for r in trace] == expected
    rounds = len(trace)
    for r, rec in enumerate(trace):
        assert rec["unmasked"] == math.ceil(rec["masked"] / (rounds - r))
    assert trace[0]["t"] == pytest.approx(1.0) and trace[0]["temperature"] == pytest.approx(1.2)
    assert trace[-1]["temperature"] == pytest.approx(0.5)


def test_published_schedule_and_unmask_counts(mdlm):
    trace = []
    sample_mdlm(mdlm, [], 2, 16, "published", steps=4, trace=trace)
    assert [r["t"] for r in trace] == [1.0, 0.75, 0.5, 0.25]
    assert [r["temperature"] for r in trace] == pytest.approx([0.8, 0.8 * 0.85, 0.8 * 0.7, 0.8 * 0.55])
    assert [r["unmasked"] for r in trace] == [[4, 4], [4, 4], [4, 4], [4, 4]]  # max(1, masked // left)


@pytest.mark.parametrize("sampler", ["confidence", "published", "ancestral", "remask"])
def test_no_sampler_draws_mask_even_from_a_mask_output(mdlm, sampler):
    assert mdlm(torch.zeros(1, 4, dtype=torch.long), torch.ones(1)).shape[-1] == V  # the head: real tokens
    out = sample_mdlm(WithMaskLogit(mdlm), [], 4, 16, sampler, steps=4)
    assert int(out.max()) < V


def test_infill_keeps_known_tokens(mdlm):
    rows = torch.randint(0, V - 1, (4, 16), generator=torch.Generator().manual_seed(0))
    canvas = rows.clone()
    canvas[:, 5:11] = V
    for sampler in ("confidence", "published", "ancestral"):
        trace = []
        out = infill(mdlm, [EOT], canvas, sampler, steps=4, trace=trace)
        assert int(out.max()) < V
        assert torch.equal(out[:, :5], rows[:, :5]) and torch.equal(out[:, 11:], rows[:, 11:])
    # the confidence sampler sees the masked fraction of the canvas: 6 of 16 at first
    trace = []
    infill(mdlm, [EOT], canvas, "confidence", steps=4, trace=trace)
    assert [r["unmasked"] for r in trace] == [2, 2, 1, 1]
    assert trace[0]["t"] == pytest.approx(time_for_masked_fraction(6 / 16))


def test_ancestral_reveals_everything_by_t0(mdlm):
    trace = []
    out = sample_mdlm(mdlm, [EOT], 3, 16, "ancestral", steps=3, trace=trace)
    assert int(out.max()) < V
    assert [r["t"] for r in trace] == pytest.approx([1.0, 2 / 3, 1 / 3])
    assert sum(sum(r["unmasked"]) for r in trace) == 3 * 16


def test_mdlm_rejects_bad_arguments(mdlm, ar):
    with pytest.raises(ValueError, match="max_len"):
        sample_mdlm(mdlm, [EOT], 1, 32)
    with pytest.raises(ValueError, match="unknown MDLM sampler"):
        sample_mdlm(mdlm, [], 1, 8, "greedy")
    with pytest.raises(ValueError, match="no option"):
        sample_mdlm(mdlm, [], 1, 8, "ancestral", repetition_penalty=2.0)
    with pytest.raises(ValueError, match="diffusion model"):
        sample_mdlm(ar, [], 1, 8)


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
    from arche.batches import TokenData
    from arche.data import prepare

    d = tmp_path_factory.mktemp("story")
    prepare(tiny(n_tokens=6000, eos_between_stories=True, val_split="story", val_fraction=0.3), d, log=print)
    return TokenData(d)


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


# ---------------------------------------------------------------------------- fluency


def ar_nll(model, prefix, rows, **kw) -> list:
    """Mean NLL of each row (None: nothing scored), from the sums generative perplexity weights."""
    return [s / c if c else None for s, c in ar_nll_sums(model, prefix, rows, **kw)]


def test_ar_nll_matches_cross_entropy(ar):
    row = [3, 5, EOT, 7, 9]
    got = ar_nll(ar, [EOT], [row, [1, 2, 3, 4]], eot=EOT)
    logits = ar(torch.tensor([[EOT, 3, 5]]))[0]
    assert got[0] == pytest.approx(F.cross_entropy(logits, torch.tensor([3, 5, EOT])).item(), rel=1e-5)
    logits = ar(torch.tensor([[EOT, 1, 2, 3]]))[0]
    assert got[1] == pytest.approx(F.cross_entropy(logits, torch.tensor([1, 2, 3, 4])).item(), rel=1e-5)
    # no prefix: the first token has no context and is not scored; a 1-token row has nothing to score
    got = ar_nll(ar, [], [[3, 5, 7], [4]], batch_size=1)
    logits = ar(torch.tensor([[3, 5]]))[0]
    assert got[0] == pytest.approx(F.cross_entropy(logits, torch.tensor([5, 7])).item(), rel=1e-5)
    assert got[1] is None


def test_generative_perplexity_is_token_weighted(ar):
    rows = [[3, 5, 7, 9, 11, 13], [4]]
    nll = ar_nll(ar, [EOT], rows)
    assert generative_perplexity(ar, [EOT], rows) == pytest.approx(math.exp((6 * nll[0] + nll[1]) / 7), rel=1e-5)
    # sample records: each scored given its own prefix, up to and including its first EOT
    recs = [
        {"tokens": [3, 5, EOT, 8], "settings": {"prefix_ids": [EOT], "eot": EOT}},
        {"tokens": [6, 7, 8], "settings": {"prefix_ids": [38], "eot": EOT}},
    ]
    a, b = ar_nll(ar, [EOT], [[3, 5, EOT]]), ar_nll(ar, [38], [[6, 7, 8]])
    assert generative_perplexity(ar, recs) == pytest.approx(math.exp((3 * a[0] + 3 * b[0]) / 6), rel=1e-5)


class Uniform(torch.nn.Module):
    """An MDLM that predicts the uniform distribution over the real tokens everywhere."""

    mask_id, vocab_size, max_len, causal = V, V, 64, False

    def forward(self, tokens, t):
        return torch.zeros(*tokens.shape, V)


def test_mdlm_nelbo_of_a_uniform_model_is_log_vocab():
    rows = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, EOT, 11]]
    got = mdlm_nelbo(Uniform(), [EOT], rows, seed=0, n_t=256, eot=EOT)
    assert got == pytest.approx([math.log(V)] * 2, rel=0.03)
    assert got == mdlm_nelbo(Uniform(), [EOT], rows, seed=0, n_t=256, eot=EOT)


def test_mdlm_nelbo_never_masks_the_prefix(mdlm):
    probe = Recorder(mdlm)
    got = mdlm_nelbo(probe, [EOT, 7], [[1, 2, 3]], seed=0, n_t=8)
    assert len(got) == 1 and got[0] > 0
    assert all((x[:, :2] == torch.tensor([EOT, 7])).all() for x in probe.inputs)


def test_sample_from_follows_the_distribution_and_skips_zeros():
    from arche.sample import sample_from

    probs = torch.tensor([0.0, 0.2, 0.0, 0.5, 0.3, 0.0]).expand(20000, -1).contiguous()
    draws = sample_from(probs, torch.Generator().manual_seed(0)).flatten()
    freq = torch.bincount(draws, minlength=6).float() / draws.numel()
    assert freq[[0, 2, 5]].sum() == 0
    assert torch.allclose(freq, probs[0], atol=0.015)


def test_infill_demo_scores_fills(tmp_path, story_data):
    cfg = tiny(protocol="controlled", sample_length=24, n_samples=4, sample_batch_size=4, mdlm_steps=4, device="cpu")
    codec = story_data.codec
    runs = {}
    for paradigm in ("ar", "mdlm"):
        torch.manual_seed(0)
        model = build_model(cfg, paradigm, vocab_size=codec.vocab_size)
        run = tmp_path / paradigm
        run.mkdir()
        (run / "config.json").write_text(
            json.dumps({"paradigm": paradigm, "config": cfg.to_dict(), "vocab_size": codec.vocab_size})
        )
        (run / "vocab.json").write_text(json.dumps(codec.to_dict()))
        checkpoint.save(run / "best.safetensors", model, {"step": 1})
        runs[paradigm] = run
    out = infill_demo(cfg, runs["mdlm"], runs["ar"], story_data, n=3)
    assert out["n_stories"] == 3 and out["span_tokens"] == 8
    for key in ("ar_nll_original", "ar_nll_infilled", "ar_nll_random"):
        assert math.isfinite(out[key]) and out[key] > 0
    assert 0.0 <= out["span_token_match"] <= 1.0
    assert len(out["examples"]) == 3 and "[" in out["examples"][0]["infilled"]
    json.dumps(out)


# ---------------------------------------------------------------------------- what each rule commits


class FixedRows(torch.nn.Module):
    """An MDLM that predicts the same distribution `p` at every position, whatever the input."""

    def __init__(self, p, max_len=256):
        super().__init__()
        self.p = torch.tensor(p)
        self.vocab_size, self.mask_id, self.max_len = len(p), len(p), max_len

    def forward(self, tokens, t):
        return self.p.log().expand(*tokens.shape, -1).clone()


def _committed_frequencies(sampler, **options):
    model = FixedRows([0.5, 0.3, 0.2])
    out = sample_mdlm(model, [], 200, 128, sampler, steps=10, seed=0, **options)
    return torch.bincount(out.flatten(), minlength=3).double() / out.numel()


def test_paper_confidence_rule_keeps_the_sampling_distribution():
    # Appendix A: rank by the MAXIMUM softmax probability. With identical rows every position ties, so
    # which positions are committed is independent of what was drawn: frequencies follow p.
    freq = _committed_frequencies("confidence", temperature_start=1.0, temperature_end=1.0, repetition_penalty=1.0)
    se = (0.25 / (200 * 128)) ** 0.5 * 4  # generous: positions in a row are committed jointly
    assert torch.allclose(freq, torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64), atol=max(se, 0.01))


def test_ranking_by_the_sampled_token_collapses_onto_the_mode():
    # The released rule (and LLaDA's) commits first where the draw hit the most probable token.
    freq = _committed_frequencies("remask")
    assert freq[0] > 0.9
    freq = _committed_frequencies("published", repetition_penalty=1.0, temperature=1.0, min_temperature=1.0)
    assert freq[0] > 0.9


@pytest.mark.parametrize("sampler", ["confidence", "published"])
def test_infill_penalty_sees_only_the_filled_span(sampler):
    # The context is token 0 only. One round fills the whole span, so a penalty that counted only the
    # span has nothing to push yet: token 0 keeps p = 0.2. Counting the 8 context copies would move it
    # to ~0.13 (the paper's penalty) or ~0.59 (the released divisor, which raises negative logits).
    model = FixedRows([0.2, 0.3, 0.5])
    canvas = torch.zeros(400, 12, dtype=torch.long)
    canvas[:, 4:8] = model.mask_id
    options = dict(repetition_penalty=1.3)
    if sampler == "confidence":
        options.update(temperature_start=1.0, temperature_end=1.0)
    else:
        options.update(temperature=1.0, min_temperature=1.0, penalty_cap=5.0)
    out = infill(model, [], canvas, sampler, steps=1, seed=0, **options)
    freq = torch.bincount(out[:, 4:8].flatten(), minlength=3).double() / out[:, 4:8].numel()
    assert freq[0] == pytest.approx(0.2, abs=0.03)


def test_head_only_at_the_asked_positions_gives_the_same_logits(mdlm):
    from arche.denoise import denoise_logits, denoise_logits_at

    canvas = torch.randint(0, V, (3, 16), generator=torch.Generator().manual_seed(0))
    where = torch.rand(3, 16, generator=torch.Generator().manual_seed(1)) < 0.4
    canvas[where] = mdlm.mask_id
    prefix = torch.tensor([[EOT, 7]])
    with torch.no_grad():
        full = denoise_logits(mdlm, prefix, canvas, 0.6)[where]
        part = denoise_logits_at(mdlm, prefix, canvas, 0.6, where)
    assert part.shape == (int(where.sum()), V)
    assert torch.allclose(part, full, atol=1e-6)


def test_one_list_of_sampler_names():
    from arche.config import CHOICES, MDLM_SAMPLERS
    from arche.denoise import BATCH_SAMPLERS, SAMPLER_DEFAULTS

    assert set(BATCH_SAMPLERS) == set(SAMPLER_DEFAULTS) == set(MDLM_SAMPLERS) == set(CHOICES["mdlm_sampler"])


def test_a_long_sample_set_says_how_far_it_is_and_draws_the_same_tokens(monkeypatch):
    # Issue 24: a sample set of 300 x 100 rounds printed nothing for minutes. RoundProgress logs the rounds
    # done (throttled by time), keeps nothing, and does not change what is drawn.
    from arche import denoise

    model = build_model(tiny(), "mdlm", vocab_size=40).eval()
    plain = sample_mdlm(model, [1], 4, 12, "ancestral", steps=10, seed=3)
    said = []
    monkeypatch.setattr(denoise, "PROGRESS_EVERY_S", 0.0)  # a line every round
    logged = sample_mdlm(model, [1], 4, 12, "ancestral", steps=10, seed=3, batch_size=2, log=said.append)
    batched = sample_mdlm(model, [1], 4, 12, "ancestral", steps=10, seed=3, batch_size=2)
    assert torch.equal(logged, batched) and logged.shape == plain.shape
    rounds = [s for s in said if "round" in s]
    assert rounds and rounds[0].startswith("[mdlm/ancestral] 1/20 rounds (5%) |") and " left" in rounds[0]
