"""Tests for the macros against main.tex and the notebook bridge (the tagged-output exporter, figures without
optional parts, the analysis notebook's structure), on the hand-made fixtures (tests/report_fixture.py)."""

import re

import nbformat
import pytest
from report_fixture import MAIN_TEX, ROOT, TABLES, TAGS, executed_notebook, make_results, minimal_results

from arche import report


@pytest.fixture
def results():
    return make_results()


def test_macros_cover_main_tex(results):
    m = report.macros(results)
    assert MAIN_TEX.exists()
    assert report.missing_macros(MAIN_TEX, set(m)) == []
    assert report.used_macros(MAIN_TEX.read_text())  # the paper does use generated macros


def test_macros_values_and_names(results):
    m = report.macros(results)
    assert all(re.fullmatch(r"[A-Za-z]+", k) for k in m)
    assert m["PaperArBestVal"] == "1.589" and m["PaperMdlmBestStep"] == "20,000"
    assert m["PaperArTokPerSec"] == "50,620" and m["PaperMdlmUniqueFiveGram"] == r"93.4\%"
    assert m["PubArBestVal"] == "2.500" and m["PubMdlmBestStep"] == "300"
    assert m["ArBestVal"] == "2.100 (2.000, 2.100, 2.200)"  # three seeds: each seed's value, no interval
    assert m["SeedValuesMax"] == "3" and m["FindingOnePhrase"] == "holds"
    # throughput only from the interleaved benchmark (main protocol), never from the training logs
    assert m["MdlmThroughputRatio"] == r"98.0\%" and m["ArTokPerSec"] == "10,000"
    assert m["PubMdlmThroughputRatio"] == "n/a" and m["PubArTokPerSec"] == "n/a"
    assert m["NSeeds"] == "3" and m["ProfileName"] == "smoke" and m["ToyLevel"] == "1"
    assert m["ToyMark"] == "toy data"
    assert m["FindingOneVerdict"] == "holds" and m["FindingThreeVerdict"] == "inconclusive"
    assert m["PubMdlmTiedBestVal"] == "n/a"
    assert m["HasFrontier"] == "1" and m["FrontierOverlaps"] == "1" and m["FrontierNCompared"] == "7"
    assert m["FrontierArRange"] == "4--200" and m["FrontierMdlmRange"] == "18--150"  # an en dash
    assert m["FrontierArTemps"] == "0.5, 0.7, 0.85, 1.15, 1.3, 1.5, 2" and m["FrontierMdlmSteps"] == "25, 50"
    assert m["FrontierNMoreDiverse"] == "2" and "2 of them are more diverse" in m["FrontierSentence"]
    assert m["FindingThreeOwnVerdict"] == "inconclusive" and m["FindingThreeConfidenceVerdict"] == "holds"
    assert m["ArEscapeSteps"] == "100, 100, 100" and m["MdlmEscapeSteps"] == "200, 200, never"
    assert m["MdlmFinalBounds"] == "2.500, 2.600, 2.700" and m["UnigramBaseline"] == "5.200"
    assert m["RegimeBatch"] == "8" and m["RegimeArLr"] == "0.001" and m["RegimeMdlmLr"] == "0.002"
    assert m["RegimeNoise"] == "stratified" and m["RegimeBatchCandidates"] == "2 and 8"
    assert m["RegimeLrFactors"] == "0.5, 1 and 2"
    assert m["JudgeSeed"] == "1000" and m["JudgeMdlmNelbo"] == "2.450" and m["ReferenceSkipStories"] == "400"
    assert m["ExtraMdlmDecoding"].startswith("MDLM paper-text sampler") and "penalty 1.3" in m["ExtraMdlmDecoding"]
    assert m["MdlmJudgeNelbo"] == "2.600" and m["DataOpeningsJsdWords"] == "0.000"
    assert m["DeviceName"] == "CPU (x86\\_64, 2 cores, 2 threads)"
    assert m["InfillNllInfilled"] == "3.200" and m["InfillTokenMatch"] == r"12.0\%" and m["HasInfill"] == "1"
    assert report.macros(make_results(synthetic=False))["ToyMark"] == "small-scale run"
    tex = report.macros_tex(m)
    assert report.defined_macros(tex) == set(m)


def test_missing_macro_is_named():
    tex = (
        "\\documentclass{article}\n\\newcommand{\\Mine}{x}\n\\begin{document}\\Mine \\V{ArBestVal} \\LaTeX\n"
        "% \\V{CommentedOut}\n\\V{NotDefinedAnywhere} \\section{A}\\end{document}\n"
    )
    assert report.used_macros(tex) == {"ArBestVal", "NotDefinedAnywhere"}  # no list of LaTeX's own commands
    assert report.missing_macros(tex, {"ArBestVal"}) == ["NotDefinedAnywhere"]
    with pytest.raises(report.MissingMacroError, match=r"\\V\{NotDefinedAnywhere\}"):
        report.check_macros(tex, report.macros_tex({"ArBestVal": "1"}))


@pytest.mark.slow
def test_export_tagged_writes_the_files(results, tmp_path):
    path = tmp_path / "05_analysis.ipynb"
    nbformat.write(executed_notebook(), path)
    written = report.export_tagged(path, tmp_path / "generated", png_dir=tmp_path / "figures")
    names = {p.name for p in (tmp_path / "generated").iterdir()}
    assert names == {
        "fig-val-curves.pdf",
        "fig-likelihood.pdf",
        "fig-diversity.pdf",
        "fig-frontier.pdf",
        "tab-setup.tex",
        "tab-training.tex",
        "tab-val-loss.tex",
        "tab-diversity.tex",
        "tab-likelihood.tex",
        "tab-findings.tex",
        "tab-examples-published.tex",
        "tab-examples-controlled.tex",
        "tab-examples-prompted.tex",
        "macros.tex",
    }
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {
        "fig-val-curves.png",
        "fig-likelihood.png",
        "fig-diversity.png",
        "fig-frontier.png",
    }
    assert (tmp_path / "generated" / "fig-val-curves.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "figures" / "fig-frontier.png").read_bytes().startswith(b"\x89PNG")
    assert r"\toprule" in (tmp_path / "generated" / "tab-training.tex").read_text()
    assert report.defined_macros((tmp_path / "generated" / "macros.tex").read_text()) == set(report.macros(results))
    assert set(written) >= {"macros.tex", "fig-frontier.png"}
    # The PDF is vector with embedded TrueType (not Type 3) fonts.
    pdf = (tmp_path / "generated" / "fig-diversity.pdf").read_bytes()
    assert b"/Type3" not in pdf


@pytest.mark.slow
def test_export_tagged_names_the_missing_tag(results, tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(executed_notebook(drop=("tab-diversity",)), path)
    with pytest.raises(report.TaggedOutputError, match="tab-diversity"):
        report.export_tagged(path, tmp_path / "out")
    nbformat.write(executed_notebook(drop=("fig-likelihood",)), path)
    with pytest.raises(report.TaggedOutputError, match="fig-likelihood"):
        report.export_tagged(path, tmp_path / "out")
    # A figure cell whose only output is a PNG (no vector PDF) is refused too.
    nb = executed_notebook()
    cell = next(c for c in nb.cells if "fig-val-curves" in c.metadata.get("tags", []))
    del cell.outputs[0]["data"]["application/pdf"]
    nbformat.write(nb, path)
    with pytest.raises(report.TaggedOutputError, match="fig-val-curves"):
        report.export_tagged(path, tmp_path / "out")


@pytest.mark.slow
def test_skipped_cell_writes_nothing(results, tmp_path):
    tags = dict(TAGS)
    tags["fig-frontier"] = lambda r: report.Skipped("no sweep in this run")
    path = tmp_path / "nb.ipynb"
    nbformat.write(executed_notebook(make_results(), tags=tags), path)
    report.export_tagged(path, tmp_path / "out")
    assert not (tmp_path / "out" / "fig-frontier.pdf").exists()
    assert (tmp_path / "out" / "fig-val-curves.pdf").exists()


@pytest.mark.slow
def test_exporter_is_an_nbconvert_exporter(results):
    from nbconvert.exporters import Exporter

    exporter = report.tagged_output_exporter()()
    assert isinstance(exporter, Exporter) and exporter.file_extension == ".json"
    body, resources = exporter.from_notebook_node(executed_notebook())
    assert "macros.tex" in resources["outputs"] and "macros.tex" in body


def test_figures_without_optional_parts():
    """One protocol, one seed, no tied MDLM, no frontier, no references: every figure still draws."""
    r = minimal_results()
    for fn in (report.fig_val_curves, report.fig_likelihood, report.fig_diversity):
        assert fn(r) is not None
    assert not report.has_frontier(r)
    with pytest.raises(ValueError):
        report.fig_frontier(r)
    assert isinstance(report.artefact(r, "fig-frontier"), report.Skipped)
    m = report.macros(r)
    assert m["PubArBestVal"] == "n/a" and m["HasFrontier"] == "0" and m["FrontierArRange"] == "n/a"
    assert report.missing_macros(MAIN_TEX, set(m)) == []
    for fn in TABLES:
        report.to_booktabs(fn(r))


def test_analysis_notebook_structure():
    nb = nbformat.read(ROOT / "notebooks" / "05_analysis.ipynb", as_version=4)
    tags = [t for c in nb.cells for t in c.metadata.get("tags", [])]
    assert tags.count("parameters") == 1
    for tag in TAGS:
        assert tags.count(tag) == 1, tag
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    from arche.runner.pipeline import parse_parameters

    assert parse_parameters(params.source, "05") == {"profile": "smoke", "run_dir": "", "overrides": {}}
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    from arche.runner import colab

    assert colab.colab_link("05_analysis") in nb.cells[0].source
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert 'if "google.colab" in sys.modules' in install.source
