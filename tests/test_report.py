"""Tests for arche.report's real paper build (with latexmk), the README block, rendering from a results file
alone and the discussion written from the verdicts, on the hand-made fixtures (tests/report_fixture.py)."""

import json
import shutil

import nbformat
import pytest
from report_fixture import (
    AR_FRONTIER,
    MAIN_TEX,
    MDLM_FRONTIER,
    REPETITION_TAGS,
    ROOT,
    TAGS,
    executed_notebook,
    make_results,
    minimal_results,
)

from arche import report


@pytest.fixture
def results():
    return make_results()


@pytest.mark.skipif(
    shutil.which("latexmk") is None,
    reason="latexmk not installed (apt-get install -y --no-install-recommends latexmk "
    "texlive-latex-recommended lmodern)",
)
@pytest.mark.slow
def test_build_paper_with_toy_mark(results, tmp_path):
    run = tmp_path / "run"
    (run / "notebooks").mkdir(parents=True)
    nbformat.write(executed_notebook(), run / "notebooks" / "05_analysis.ipynb")
    paper = tmp_path / "paper"
    paper.mkdir()
    shutil.copy(MAIN_TEX, paper / "main.tex")
    for extra in ("references.bib",):
        if (MAIN_TEX.parent / extra).exists():
            shutil.copy(MAIN_TEX.parent / extra, paper / extra)
    pdf = report.build_paper(run, log=lambda *a: None, paper_dir=paper, figures_dir=tmp_path / "figures")
    assert pdf == run / "paper.pdf" and pdf.read_bytes().startswith(b"%PDF")
    assert (tmp_path / "figures" / "fig-val-curves.png").exists()
    if shutil.which("pdftotext"):
        import subprocess

        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "TOY DATA" in text.upper()
        assert "1.589" in text  # a published number, via a generated table
    # A macro main.tex uses but macros.tex lacks fails the build, naming it.
    (paper / "main.tex").write_text(
        (paper / "main.tex").read_text().replace(r"\end{document}", "\\V{ArNoSuchMacro}\n\\end{document}")
    )
    with pytest.raises(report.MissingMacroError, match="ArNoSuchMacro"):
        report.build_paper(run, log=lambda *a: None, paper_dir=paper, figures_dir=tmp_path / "figures")
    # Any other LaTeX error fails too, with LaTeX's own message.
    shutil.copy(MAIN_TEX, paper / "main.tex")
    (paper / "main.tex").write_text(
        (paper / "main.tex").read_text().replace(r"\end{document}", "\\someundefinedcommand\n\\end{document}")
    )
    with pytest.raises(report.PaperBuildError, match="Undefined control sequence"):
        report.build_paper(run, log=lambda *a: None, paper_dir=paper, figures_dir=tmp_path / "figures")


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
@pytest.mark.slow
def test_build_paper_minimal_real_data_run(tmp_path):
    """The paper's optional parts (published protocol, tied MDLM, frontier, seeds) all absent, real data at
    small scale: it still compiles, with the small-scale mark and without the frontier figure."""
    r = minimal_results(synthetic=False)
    tags = {k: v for k, v in TAGS.items()}
    tags["fig-frontier"] = lambda res: report.Skipped("no frontier")
    run = tmp_path / "run"
    (run / "notebooks").mkdir(parents=True)
    nbformat.write(
        executed_notebook(r, tags={k: (lambda res, f=f: f(res)) for k, f in tags.items()}),
        run / "notebooks" / "05_analysis.ipynb",
    )
    paper = tmp_path / "paper"
    paper.mkdir()
    shutil.copy(MAIN_TEX, paper / "main.tex")
    if (MAIN_TEX.parent / "references.bib").exists():
        shutil.copy(MAIN_TEX.parent / "references.bib", paper / "references.bib")
    pdf = report.build_paper(run, log=lambda *a: None, paper_dir=paper, figures_dir=tmp_path / "figures")
    assert pdf.exists() and not (paper / "generated" / "fig-frontier.pdf").exists()
    if shutil.which("pdftotext"):
        import subprocess

        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "SMALL-SCALE RUN" in text.upper() and "TOY DATA" not in text.upper()
        assert "drew no quality-diversity frontier" in " ".join(text.split())


@pytest.mark.slow
def test_build_paper_without_latexmk(results, tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "notebooks").mkdir(parents=True)
    nbformat.write(executed_notebook(), run / "notebooks" / "05_analysis.ipynb")
    paper = tmp_path / "paper"
    paper.mkdir()
    shutil.copy(MAIN_TEX, paper / "main.tex")
    monkeypatch.setattr(report.shutil, "which", lambda name: None)
    said = []
    assert report.build_paper(run, log=said.append, paper_dir=paper, figures_dir=tmp_path / "f") is None
    assert any("apt-get install" in s for s in said)
    assert (paper / "generated" / "macros.tex").exists()


def test_readme_block_is_filled_from_results(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\nrest\n")
    report.update_readme(readme, results, "runs/x")
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("rest\n") and "\nold\n" not in text
    findings = report.findings(results)
    assert "Holds?" in text and findings[0]["measure"] in text
    report.update_readme(readme, results, "runs/x")  # idempotent: still one block
    assert text == readme.read_text()
    readme.write_text("no block here")
    with pytest.raises(ValueError, match="results:start"):
        report.update_readme(readme, results)


@pytest.mark.slow
def test_results_file_alone_renders_what_the_notebook_exports(results, tmp_path):
    """`python -m arche figures --results FILE` needs no run directory: its tables and macros are the
    analysis notebook's, byte for byte."""
    path = tmp_path / "results.json"
    path.write_text(__import__("json").dumps(results))
    assert set(report.ARTEFACTS) == set(TAGS) | REPETITION_TAGS
    nb_path = tmp_path / "nb.ipynb"
    nbformat.write(executed_notebook(), nb_path)
    from_notebook = report.export_tagged(nb_path, tmp_path / "a")
    nbformat.write(report.results_notebook(results), tmp_path / "r.ipynb")
    from_results = report.export_tagged(tmp_path / "r.ipynb", tmp_path / "b")
    assert set(from_notebook) == set(from_results)
    for name in from_notebook:
        if name.endswith(".tex"):
            assert from_notebook[name].read_bytes() == from_results[name].read_bytes(), name


def test_figures_command_refuses_a_bad_results_file(tmp_path, capsys):
    from arche.__main__ import main

    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    assert main(["figures", "--results", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "cannot read the results file" in capsys.readouterr().err
    bad.write_text("{}")
    assert main(["figures", "--results", str(bad), "--out", str(tmp_path / "out")]) == 2


@pytest.mark.slow
def test_frontier_labels_never_overlap_and_perplexity_is_on_a_log_axis():
    from arche.report.plotting import overlapping_labels

    crowded = make_results()
    for row in crowded["samples"]:  # crowd the MDLM frontier into one spot: its labels collide unless moved
        if row.get("knob") and row["paradigm"] == "mdlm":
            row["gen_ppl"], row["self_bleu_matched"], row["unique_first_5gram"] = 50.0, 0.2, 0.7
    for results in (make_results(), crowded):
        fig = report.fig_frontier(results)
        assert len(fig.frontier_labels) >= 2 * (len(AR_FRONTIER) + len(MDLM_FRONTIER))
        assert overlapping_labels(fig, fig.frontier_labels) == []
        assert all(ax.get_xscale() == "log" for ax in fig.axes)


@pytest.mark.slow
def test_frontier_figure_marks_the_comparisons_and_says_whether_the_frontiers_overlap():
    r = make_results()
    fig = report.fig_frontier(r)
    title = fig._suptitle.get_text()
    assert title.startswith("frontiers overlap") and "inconclusive" in title
    dotted = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == ":"]
    assert len(dotted) == 7  # one vertical line per MDLM point compared at AR's perplexity
    for row in r["samples"]:  # the MDLM far less fluent than any AR setting: nothing to compare
        if row["paradigm"] == "mdlm":
            row["gen_ppl"] *= 100
    r["verdicts"] = {"findings": report.findings(r)}
    title = report.fig_frontier(r)._suptitle.get_text()
    assert title.startswith("frontiers do not overlap") and "not testable" in title
    assert "do not overlap" in report.macros(r)["FrontierSentence"]


def test_the_committed_older_results_render_without_the_new_fields():
    """The replica's results of 2026-11-23 (kept as tests/data/replica-2026-11-23.json when the fair-fight re-run
    replaced results/replica.json) predate the frontier, the judges' NELBO and the regime: the figure is skipped
    with a reason, and every new cell or value reads n/a."""
    old = json.loads((ROOT / "tests" / "data" / "replica-2026-11-23.json").read_text())
    shown = report.artefact(old, "fig-frontier")
    assert isinstance(shown, report.Skipped) and "frontier" in shown.reason
    df = report.table_diversity(old)
    assert set(df.loc["NELBO, MDLM judge"]) == {"n/a"} and df.loc["Decoding", ("Ours: controlled", "AR")] == "n/a"
    m = report.macros(old)
    assert m["HasFrontier"] == "0" and m["ArEscapeSteps"] == "n/a" and m["RegimeNoise"] == "n/a"


@pytest.mark.slow
def test_every_artefact_of_a_toy_run_is_marked(tmp_path):
    """Synthetic data or a small scale: each figure carries the mark in its title, the README block and
    the notebook's summary line lead with it, the HTML report has it in its header, and a rule that
    cannot be tested reads "not testable at this scale"."""
    from arche.runner.run_report import _scale_note

    for synthetic, mark in ((True, "TOY DATA"), (False, "SMALL-SCALE RUN")):
        r = make_results(synthetic=synthetic)
        for tag in ("fig-val-curves", "fig-likelihood", "fig-diversity", "fig-frontier"):
            fig = report.artefact(r, tag).fig
            assert any(t.get_text().startswith(mark) for t in fig.texts), (tag, mark)
        assert report.summary_markdown(r).split("\n")[2].startswith(f"> **{mark}**")
        assert report.describe_results(r).startswith(mark)
        (tmp_path / "results.json").write_text(json.dumps(r))
        assert _scale_note(tmp_path, {}).startswith(mark)
    r = make_results(synthetic=False)
    r["throughput"] = None
    table = report.table_findings(r)
    assert table.loc["1. Throughput parity", "Holds?"] == "not testable at this scale"
    assert "(toy data)" in report.table_findings(make_results(synthetic=True)).iloc[0, -1]


def test_the_discussion_is_written_from_the_verdicts():
    r = make_results(synthetic=False)
    by_key = {f["key"]: f for f in report.findings(r)}
    text = report.discussion(by_key, r["meta"])
    assert text.startswith("Of the paper's three findings, re-tested under the controlled protocol at this small")
    for i, key in enumerate(("FindingOne", "FindingTwo", "FindingThree"), 1):
        assert f"Finding {i} (" in text and by_key[key]["reason"] in text
    by_key["FindingOne"] = {**by_key["FindingOne"], "outcome": "does not hold"}
    assert "does not hold" in report.discussion(by_key, r["meta"])
    assert report.macros(r)["DiscussionText"]  # the paper's Discussion is this text


def test_the_discussion_in_main_tex_is_written_there_from_outcome_codes(results):
    # Issue 20: the paper's conclusion is read and edited in the .tex, not assembled in Python.
    from arche.report.paper import paper_sources
    from arche.study.findings import OUTCOMES

    tex = (paper_sources() / "main.tex").read_text()
    section = tex[tex.index("\\section{Discussion}") : tex.index("\\section{Limitations}")]
    assert "DiscussionText" not in section and "\\ifcase" in section
    m = report.macros(results)
    for key in ("FindingOne", "FindingTwo", "FindingThree"):
        assert f"\\V{{{key}OutcomeCode}}" in section and f"\\V{{{key}Why}}" in section
        assert OUTCOMES[int(m[f"{key}OutcomeCode"])] == m[f"{key}Verdict"]
        assert not m[f"{key}Why"].endswith(".")
