"""The masked-diffusion samplers (arche.denoise): masks, prefixes, schedules, what each rule commits, on tiny random
models (tests/tiny_models.py)."""

import math

import pytest
import torch
from tiny_models import EOT, Recorder, V, seeded_model, tiny

from arche import build_model
from arche.denoise import infill, sample_mdlm, time_for_masked_fraction
from arche.objectives import alpha


@pytest.fixture(scope="module")
def ar():
    return seeded_model("ar", 0)


@pytest.fixture(scope="module")
def mdlm():
    return seeded_model("mdlm", 1)


class WithMaskLogit(torch.nn.Module):
    """An MDLM with an extra, dominant [MASK] output: the samplers must still never draw it."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.vocab_size, self.mask_id, self.max_len = model.vocab_size, model.mask_id, model.max_len

    def forward(self, tokens, t):
        logits = self.model(tokens, t)
        return torch.cat([logits, logits.max(dim=-1, keepdim=True).values + 5.0], dim=-1)


def test_time_matches_masked_fraction():
    for frac in (1.0, 0.75, 0.3, 0.01):
        t = time_for_masked_fraction(frac)
        assert 1 - float(alpha(torch.tensor(t))) == pytest.approx(frac, abs=1e-6)


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
