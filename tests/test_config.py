"""Profiles, the protocol switch, and rejected overrides."""

import pytest

from arche.config import PROTOCOLS, ConfigError, config_diff, parse_overrides
from arche.profiles import load_config


def test_paper_profile_is_the_published_setup():
    cfg = load_config("paper")
    assert (cfg.steps, cfg.batch_size, cfg.seq_len, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.d_ff) == (
        20_000,
        32,
        512,
        768,
        12,
        12,
        2048,
    )
    assert (cfg.lr, cfg.weight_decay, cfg.n_tokens, cfg.source) == (3e-4, 0.01, 50_000_000, "tinystories")
    assert cfg.protocol == "published" and not cfg.eos_between_stories and cfg.ar_prompt == "Once"


def test_protocol_switch_sets_its_group_and_overrides_still_win():
    cfg = load_config("smoke", protocol="controlled")
    for key, value in PROTOCOLS["controlled"].items():
        assert getattr(cfg, key) == value
    cfg = load_config("smoke", protocol="controlled", ar_prompt="Once")
    assert cfg.ar_prompt == "Once" and cfg.val_split == "story"
    assert load_config("paper_controlled", protocol="published").val_split == "chunk"


def test_unknown_key_and_wrong_type_are_named():
    with pytest.raises(ConfigError, match="no_such_key"):
        load_config("smoke", no_such_key=1)
    with pytest.raises(ConfigError, match="'steps' expects int"):
        load_config("smoke", steps="ten")
    with pytest.raises(ConfigError, match="'steps' expects int"):
        load_config("smoke", steps=True)
    with pytest.raises(ConfigError, match="val_split"):
        load_config("smoke", val_split="random")
    with pytest.raises(ConfigError, match="unknown profile"):
        load_config("huge")
    with pytest.raises(ConfigError, match="n_heads"):
        load_config("smoke", n_heads=5)


def test_parse_overrides_types_values():
    got = parse_overrides(["steps=1_000", "lr=1e-3", "eos_between_stories=true", "ar_prompt=Once upon"])
    assert got == {"steps": 1000, "lr": 1e-3, "eos_between_stories": True, "ar_prompt": "Once upon"}
    assert load_config("smoke", lr=1).lr == 1.0  # an int is fine where a float is expected
    for bad in (["steps"], ["nope=1"], ["steps=1.5"], ["compile=maybe"]):
        with pytest.raises(ConfigError):
            parse_overrides(bad)


def test_config_diff_ignores_resumable_keys():
    a = load_config("smoke").to_dict()
    b = load_config("smoke", device="cpu", log_every=5, steps=7).to_dict()
    assert config_diff(a, b) == {"steps": (300, 7)}


def test_a_run_made_before_a_key_existed_still_matches():
    """A run directory written by an older arche lacks keys added since; they count as their defaults."""
    from arche.config import config_diff

    new = load_config("smoke").to_dict()
    old = {k: v for k, v in new.items() if k not in ("study", "grad_accum", "lr_schedule", "train_chunks")}
    assert config_diff(old, new) == {}
    assert config_diff(old, {**new, "grad_accum": 2}) == {"grad_accum": (1, 2)}
