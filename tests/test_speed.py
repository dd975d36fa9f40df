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
