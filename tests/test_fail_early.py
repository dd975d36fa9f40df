"""What can be checked before training is checked before training (issue 21, class 1): a run that would
fail after an hour of training refuses at data preparation, naming the problem."""

import json

import pytest
from conftest import tiny_config

from arche.data import DataError
from arche.study import comparison


def test_a_prompt_the_corpus_cannot_encode_is_refused_before_training(tmp_path):
    # Issue 21, class 1: a corpus where no story holds "Once" failed at sampling, after all training.
    stories = tmp_path / "stories.jsonl"
    lines = [json.dumps({"text": f"The cat {i} sat on the mat. It was happy and ran to the park."}) for i in range(400)]
    stories.write_text("\n".join(lines) + "\n")
    cfg = tiny_config(source=str(stories), compare_protocols=True, n_tokens=4_000)
    with pytest.raises(DataError, match="prompt 'Once'.*never uses"):
        comparison.prepare_all(cfg, tmp_path / "run", log=lambda *_: None)
    assert not any((tmp_path / "run").rglob("*.safetensors"))  # refused before any model was trained


def test_control_characters_in_a_text_never_reach_latex(tmp_path):
    # A story holding U+0001, ESC or DEL went through training and sampling, then failed the paper build.
    import shutil
    import subprocess

    import pandas as pd

    from arche.report.fmt import latex_escape, to_booktabs

    hostile = "Tom\x01 saw\x1b[31m a dog\x7f.\tThe end\x85 & 50%"
    escaped = latex_escape(hostile)
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in escaped)
    assert escaped == "Tom saw[31m a dog. The end \\& 50\\%"
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed: the escape is checked, not the build")
    table = to_booktabs(pd.DataFrame({"Sample": [hostile]}, index=pd.Index(["AR"], name="Model")))
    doc = "\\documentclass{article}\\usepackage{booktabs}\\begin{document}" + table + "\\end{document}\n"
    (tmp_path / "t.tex").write_text(doc)
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path, capture_output=True
    )
    assert proc.returncode == 0, proc.stdout[-1500:]


def test_sampling_or_analysis_before_training_names_the_stage_to_run(tmp_path):
    # Issue 21, class 3: notebook 04 or 05 run before 02 met a FileNotFoundError deep in generate.
    from arche import study
    from arche.train import train

    cfg = tiny_config()
    run = tmp_path / "run"
    with pytest.raises(study.NotTrainedError, match="04_sample needs the trained model.*not started.*02_train_ar"):
        study.sample_all(cfg, run)
    arm = comparison.arms(cfg, "ar")[0]
    train(arm.config, "ar", comparison.arm_dir(run, arm), log=lambda *_: None, stop_at=3)  # paused at step 3
    with pytest.raises(study.NotTrainedError, match=rf"05_analysis needs .*{arm.name}_s0 \(at step 3 of 12\)"):
        study.analyse(cfg, run)


@pytest.mark.parametrize(
    "text,said",
    [
        ("[]", "a JSON list, not an object"),
        ('{"meta": 3}', "'meta' is missing or not an object"),
        ('{"meta": {}, "runs": 5, "samples": []}', "'runs' is missing or not a list of objects"),
        ('{"meta": {}, "runs": [1], "samples": []}', "'runs' is missing or not a list of objects"),
        ('{"meta": {"study": "repetition"}, "repetition": []}', "'verdicts' is missing"),
        ("{", "cannot read the results file"),
    ],
)
def test_a_results_file_of_the_wrong_shape_is_one_line(tmp_path, capsys, text, said):
    # Issue 21, class 3: KeyError/TypeError/AttributeError tracebacks from `summary` and `figures`.
    from arche.__main__ import main

    bad = tmp_path / "results.json"
    bad.write_text(text)
    for argv in (["summary", "--results", str(bad)], ["figures", "--results", str(bad), "--out", str(tmp_path / "o")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and said in err and "\n" not in err
    assert not (tmp_path / "o").exists()  # refused before writing


@pytest.mark.parametrize("text", ["[]", '{"n_tokens": "x"}', '{"settings": {}, "sha256": {}, "n_tokens": 5}'])
def test_a_manifest_of_the_wrong_shape_is_prepared_again(tmp_path, text):
    from arche.data import prepare

    cfg, said = tiny_config(), []
    first = prepare(cfg, tmp_path / "data", log=said.append)
    (tmp_path / "data" / "manifest.json").write_text(text)
    assert prepare(cfg, tmp_path / "data", log=said.append)["content_hash"] == first["content_hash"]
    assert any("manifest.json is damaged (not a manifest of arche" in s and "preparing again" in s for s in said)


def test_a_run_config_of_the_wrong_shape_is_named(tmp_path):
    from arche.generate import read_run
    from arche.rundir import RunDirError

    (tmp_path / "config.json").write_text('{"paradigm": "ar", "config": 3, "vocab_size": 5}')
    with pytest.raises(RunDirError, match=r"config.json is damaged .*config missing or of the wrong type"):
        read_run(tmp_path)


@pytest.mark.slow
def test_a_corpus_of_short_stories_runs_through_analysis(tmp_path):
    # Issue 21, class 1: with short stories each protocol's compact vocabulary differs (the controlled one
    # holds <|endoftext|>, the published one does not), and the analysis failed after all training with
    # "GPT-2 token(s) not in the compact vocabulary" when a judge scored the other protocol's samples.
    from arche import study

    words = ["cat", "dog", "sun", "red", "ball", "tree", "bird", "fish", "cake", "moon", "hat", "boat"]
    stories = tmp_path / "stories.jsonl"
    lines = [json.dumps({"text": f"Once a {words[i % 12]} saw a {words[(i * 5) % 12]}. The end."}) for i in range(3000)]
    stories.write_text("\n".join(lines) + "\n")
    cfg = tiny_config(
        source=str(stories),
        compare_protocols=True,
        n_tokens=12_000,
        n_seeds=1,
        ar_seeds=1,
        tied_mdlm=False,
        sweep=False,
        infill=False,
        mdlm_judge=True,
        n_samples=6,
        sample_batch_size=6,
        steps=6,
    )
    run, quiet = tmp_path / "run", (lambda *_: None)
    study.prepare_all(cfg, run, quiet)
    for paradigm in ("ar", "mdlm"):
        study.train_all(cfg, run, paradigm, quiet)
    study.sample_all(cfg, run, quiet)
    results = study.analyse(cfg, run, "test", quiet)
    assert {r["protocol"] for r in results["samples"]} == {"published", "controlled"}
    assert all(r.get("gen_ppl") is not None for r in results["samples"])


def test_a_checkpoint_of_other_data_is_named_before_its_weights_are_loaded(tmp_path, stories_file):
    # Issue 21, class 3: resuming a run on other data (here a compact vocabulary of another size) failed in
    # the weight loading with a shape error; the "trained on other data" message came too late to be seen.
    from arche.rundir import RunDirError
    from arche.train import train

    cfg, quiet = tiny_config(source=str(stories_file), steps=6), (lambda *_: None)
    train(cfg, "ar", tmp_path / "run", tmp_path / "a", log=quiet, stop_at=3)
    stories_file.write_text(stories_file.read_text().replace("cat", "wombat"))  # another corpus, same path
    with pytest.raises(RunDirError, match="was trained on other data than"):
        train(cfg, "ar", tmp_path / "run", tmp_path / "b", log=quiet)


def test_a_directory_the_user_may_not_write_is_one_error_line(tmp_path, capsys, monkeypatch):
    # Issue 21, class 3: I/O errors (permission, a read-only disk) were tracebacks at the command line. (The
    # error is raised by a stand-in: these machines run as root, which may write anywhere.)
    from arche import data
    from arche.__main__ import main

    def refused(cfg, data_dir, **_):
        raise PermissionError(13, "Permission denied", str(data_dir))

    monkeypatch.setattr(data, "prepare", refused)
    assert main(["prepare", "--profile", "smoke", "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: [Errno 13] Permission denied: '{tmp_path / 'data'}'"
