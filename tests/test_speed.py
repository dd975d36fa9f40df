"""The interleaved throughput benchmark: every model timed in every round, in a rotating order."""

from conftest import tiny_config

from arche import speed


def test_interleaved_times_every_model_every_round():
    cfg = tiny_config()
    lines = []
    out = speed.interleaved(
        {"ar": (cfg, "ar"), "mdlm": (cfg, "mdlm"), "mdlm_tied": (cfg.replace(mdlm_tied_head=True), "mdlm")},
        vocab_size=50,
        device="cpu",
        rounds=3,
        steps=2,
        log=lines.append,
    )
    assert set(out["per_round"]) == {"ar", "mdlm", "mdlm_tied"}
    assert all(len(v) == 3 and min(v) > 0 for v in out["per_round"].values())
    assert out["tokens_per_step"] == cfg.batch_size * cfg.seq_len
    assert out["min"]["ar"] <= out["median"]["ar"] <= out["max"]["ar"]
    assert len(lines) == 3 and lines[0].startswith("throughput round 1/3")


def test_interleave_rotates_the_order_and_counts_warmup_apart():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}
    out = speed.interleave(fns, tokens_per_step=10, rounds=3, steps=2, warmup=1, log=None)
    timed = calls[3:]  # one untimed warmup step each, first
    assert calls[:3] == ["a", "b", "c"]
    assert timed == ["a", "a", "b", "b", "c", "c", "b", "b", "c", "c", "a", "a", "c", "c", "a", "a", "b", "b"]
    assert {n: len(v) for n, v in out["per_round"].items()} == {"a": 3, "b": 3, "c": 3}
