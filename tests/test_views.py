"""What the notebooks show beside the work: the masking schedule of 03 and the denoising trace of 04."""

import matplotlib
import pytest
from conftest import tiny_config

from arche import study
from arche.runner import views

matplotlib.use("Agg")


@pytest.mark.slow
def test_the_science_cells_show_masking_and_denoising(tmp_path, capsys):
    cfg = tiny_config(
        compare_protocols=False,
        protocol="controlled",
        sweep=False,
        infill=False,
        n_seeds=1,
        sample_length=24,
        mdlm_steps=8,
    )
    run = tmp_path / "run"
    quiet = lambda *_: None  # noqa: E731
    study.prepare_all(cfg, run, log=quiet)
    fig = views.show_masking(cfg, run, ts=(0.25, 0.75))
    assert [ax.get_yscale() for ax in fig.axes] == ["linear", "log"]
    out = capsys.readouterr().out
    assert "t = 0.25" in out and "t = 0.75" in out and "[MASK]" in out
    study.train_all(cfg, run, "mdlm", log=quiet)
    capsys.readouterr()
    views.show_denoising(cfg, run, n_rounds=3)
    out = capsys.readouterr().out
    assert "after round 1 of 8" in out and "after round 8 of 8" in out and "0 [MASK] left" in out
    assert "confidence sampler" in out
    study.train_all(cfg, run, "ar", log=quiet)
    study.sample_all(cfg, run, log=quiet)
    times = views.sample_times(cfg, run)
    sets = {"samples", "samples_prompted", "samples_confidence", "samples_papertext"}
    assert set(times["set"]) == sets and (times["n"] == cfg.n_samples).all()
    examples = views.sample_examples(cfg, run, n=2)
    assert len(examples) == 2 and all(len(texts) == 2 and isinstance(texts[0], str) for texts in examples.values())


def test_start_wraps_text_tables_to_120_columns():
    # Issue 24: pandas tables printed by papermill --log-output ran to 160 characters and more.
    import pandas as pd

    from arche.runner import views

    wide = pd.DataFrame({f"column {i}": [f"value number {i}"] * 3 for i in range(12)})
    with pd.option_context("display.width", 80):
        views.start({"profile": "smoke", "run_dir": "", "overrides": {}})
        assert max(len(line) for line in repr(wide).splitlines()) <= views.CONSOLE_WIDTH
        assert pd.get_option("display.width") == views.CONSOLE_WIDTH


def test_training_hands_each_metrics_row_to_on_row_and_the_live_curve_needs_ipython(tmp_path):
    # Issue 24: notebooks 02/03 redraw the validation curve at each evaluation (views.live_curve as on_row).
    import json

    from conftest import tiny_config

    from arche.runner import views
    from arche.train import train

    rows = []
    train(tiny_config(), "ar", tmp_path / "run", log=lambda *_: None, on_row=lambda r, d: rows.append((r, d)))
    written = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r for r, _ in rows] == written and {d for _, d in rows} == {tmp_path / "run"}
    assert views.live_curve("ar") is None  # no IPython kernel here: the console has the log lines
