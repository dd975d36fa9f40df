"""Tests for arche.report's tables: seed aggregates, the best value in bold, booktabs and LaTeX escapes, on the
hand-made results fixture (tests/report_fixture.py)."""

import math

import pytest
from report_fixture import TABLES, make_results

from arche import report


@pytest.fixture
def results():
    return make_results()


def test_table2_cells_are_seed_aggregates(results):
    df = report.table_training(results)
    # Controlled AR best val over seeds 2.0, 2.1, 2.2: three seeds, too few for an interval: the mean, then each seed.
    assert df.loc["Best val loss", ("Ours: controlled", "AR")] == "2.100 (2.000, 2.100, 2.200)"
    assert "(mean over 3 seeds, then each seed's value)" in df.attrs["title"]
    # One seed: the value itself, no interval.
    assert df.loc["Best val loss", ("Ours: published", "AR")] == "2.500"
    assert df.loc["Best step", ("Ours: published", "AR")] == "200"
    assert df.loc["Best step", ("Ours: published", "MDLM")] == "300"
    assert df.loc["Best val loss", ("Vicentino (2026)", "AR")] == "1.589"
    # Throughput: the paper's reported figure; ours only from the interleaved benchmark, never the training logs.
    assert df.loc["Throughput (tok/s)", ("Vicentino (2026)", "MDLM")] == "48,343"
    assert df.loc["Throughput (tok/s)", ("Ours: controlled", "MDLM")] == "9,800 [9,604, 10,094]"
    assert df.loc["Throughput (tok/s)", ("Ours: published", "AR")] == "n/a"
    assert not any("log" in name for name in df.index)
    assert df.loc["Parameters", ("Vicentino (2026)", "MDLM")] == "162.7M"
    assert df.loc["Val loss measured", ("Ours: published", "MDLM")] == "masked mean"
    assert df.loc["Val loss measured", ("Ours: controlled", "MDLM")] == "NELBO bound"
    assert ("Ours: controlled", "MDLM (tied)") in df.columns
    assert ("Ours: published", "MDLM (tied)") not in df.columns


def test_table3_rows_are_evaluations_and_the_best_is_bold(results):
    """Row k is the k-th evaluation of the paper and of ours (both steps shown): a shorter run leaves
    trailing rows empty, never every other row."""
    df = report.table_val_loss(results)
    assert list(df.index) == [str(k) for k in range(1, 11)]
    assert df.loc["7", ("Vicentino (2026)", "AR")] == "1.589" and df.loc["7", ("", "Paper step")] == "14,000"
    assert ("7", ("Vicentino (2026)", "AR")) in df.attrs["bold"]
    assert ("10", ("Vicentino (2026)", "MDLM")) in df.attrs["bold"]
    assert df.loc["3", ("", "Our step")] == "300"
    assert df.loc["3", ("Ours: published", "MDLM")] == "4.300"  # published: the masked mean (NELBO + 1 here)
    assert df.loc["2", ("Ours: published", "AR")] == "2.500"
    assert ("2", ("Ours: published", "AR")) in df.attrs["bold"]
    ours = [c for c in df.columns if c[0].startswith("Ours")]
    filled = [bool(df.loc[str(k), ours].str.len().sum()) for k in range(1, 11)]
    assert filled == [True] * 3 + [False] * 7  # ours evaluated 3 times: rows 1-3, then nothing


def test_table4_columns_and_numbers(results):
    df = report.table_diversity(results)
    assert df.loc["Unique first 5-grams", ("Vicentino (2026)", "MDLM")] == "93.4%"
    assert df.loc["Unique first words", ("Vicentino (2026)", "AR")] == "0.2%"
    assert df.loc["Vocabulary used", ("Vicentino (2026)", "MDLM")] == "5,754"
    assert df.loc["Unique first 5-grams", ("Ours: published", "MDLM")] == "90.0%"
    # three seeds of proportions: the plain mean, then each seed's value in percent
    assert df.loc["Unique first 5-grams", ("Ours: controlled", "MDLM")] == "53.0% (52.0, 53.0, 54.0)"
    assert df.loc["Texts (n)", ("Vicentino (2026)", "MDLM")] == "1,000"
    assert df.loc["Texts (n)", ("Ours: controlled", "MDLM")] == "20"
    assert df.loc["  estimator", ("Ours: controlled", "MDLM")] == "exact, words"
    assert df.loc["  estimator", ("Vicentino (2026)", "MDLM")] == "200x50 est."
    assert df.loc["Self-BLEU", ("Ours: controlled", "data: windows")] == "0.280"
    assert df.loc["Unique first 5-grams", ("Ours: published", "data: openings")] == "45.0%"
    # the data columns sit inside their protocol's group
    cols = list(df.columns)
    assert cols.index(("Ours: published", "data: windows")) < cols.index(("Ours: controlled", "AR"))
    # every column says how its texts were decoded; the MDLM's other decodings follow, the paper-text
    # sampler marked as an extra, with its penalty
    assert df.loc["Decoding", ("Ours: controlled", "AR")] == "T 1"
    assert df.loc["Decoding", ("Ours: controlled", "MDLM")] == "ancestral, T 1"
    assert df.loc["Decoding", ("Vicentino (2026)", "AR")] == 'T 0.8, "Once"'
    assert df.loc["Decoding", ("Ours: published", "MDLM")] == "released"
    other = "Ours: controlled, other decodings"
    assert df.loc["Decoding", (other, "MDLM confidence")] == "confidence, T 1"
    assert df.loc["Decoding", (other, "MDLM paper text (extra)")] == "penalty 1.3, T 1.2 to 0.5"
    assert df.loc["Unique first 5-grams", (other, "MDLM paper text (extra)")] == "95.0%"  # first seed only
    assert df.loc["NELBO, MDLM judge", ("Ours: controlled", "data: openings")] == "2.100"
    assert df.loc["Word JSD to openings", ("Ours: controlled", "data: openings")] == "0.000"
    assert df.loc["NELBO, MDLM judge", ("Vicentino (2026)", "AR")] == "n/a"
    # three panels, each a tabular sized by its own cells: paper and published, controlled, then on a page
    # of its own the other decodings
    tex = report.to_booktabs(df)
    lines = tex.splitlines()
    assert tex.count(r"\begin{tabular}") == 3 and lines.count(r"\tablecontinued") == 1
    assert lines.index(r"\tablecontinued") > next(i for i, x in enumerate(lines) if "Ours: controlled}" in x)
    assert lines[0].startswith(r"\providecommand{\tablecontinued}") and lines.count(r"\par\medskip") == 1


def test_table2_shows_each_seeds_final_bound_and_plateau_escape(results):
    df = report.table_training(results)
    assert df.loc["Final bound, each seed", ("Ours: controlled", "MDLM")] == "2.500, 2.600, 2.700"
    assert df.loc["Plateau escape step, each seed", ("Ours: controlled", "MDLM")] == "200, 200, never"
    assert df.loc["Plateau escape step, each seed", ("Ours: controlled", "AR")] == "100, 100, 100"
    assert df.loc["Plateau escape step, each seed", ("Vicentino (2026)", "AR")] == "not reported"
    setup = report.table_setup(results)
    assert setup.loc["Learning rate: AR / MDLM", "Ours: controlled"] == "0.001 / 0.002"
    assert setup.loc["Learning rate: AR / MDLM", "Vicentino (2026)"] == "0.0003 / 0.0003"
    assert setup.loc["MDLM noise levels of a batch", "Ours: controlled"] == "stratified"
    assert setup.loc["MDLM noise levels of a batch", "Ours: published"] == "independent per sequence"


def test_table_setup_and_likelihood(results):
    df = report.table_setup(results)
    assert df.loc["Parameters: AR", "Vicentino (2026)"] == "123.6M"
    assert df.loc["Parameters: MDLM", "Vicentino (2026)"] == "162.7M"
    assert df.loc["Parameters: MDLM", "Ours: controlled"] == "620K"
    assert df.loc["MDLM over AR", "Ours: controlled"] == "+24.0%"
    assert df.loc["MDLM over AR", "Vicentino (2026)"] == "+31.6%"
    assert df.loc["AR prompt", "Ours: published"] == '"Once"'
    assert df.loc["AR prompt", "Ours: controlled"].startswith("none")
    assert df.loc["End-of-text between stories", "Ours: controlled"] == "yes"
    lk = report.table_likelihood(results)
    assert lk.loc["AR perplexity", ("Vicentino (2026)", "AR")] == f"{math.exp(1.589):.2f}"
    assert lk.loc["MDLM masked-token mean (not a bound)", ("Vicentino (2026)", "MDLM")] == "3.412"
    assert lk.loc["MDLM NELBO (nats/token, bound)", ("Ours: published", "MDLM")] == "3.300"
    assert lk.loc["MDLM masked-token mean (not a bound)", ("Ours: published", "MDLM")] == "4.300"


def test_booktabs_escapes_and_structure():
    import pandas as pd

    df = pd.DataFrame(
        {("G_1", "a&b"): ["50% ± 2", "x_y"], ("G_1", "c"): ["$5", "{z}"], ("H", "#"): ["~", "^"]},
        index=["row_1", "r%2"],
        dtype=object,
    )
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    df.index.name = "Metric_x"
    df.attrs["bold"] = {("r%2", ("G_1", "c"))}
    tex = report.to_booktabs(df)
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\multicolumn{2}{c}{G\_1}" in tex and r"\cmidrule(lr){2-3}" in tex and r"\cmidrule(lr){4-4}" in tex
    assert r"50\% $\pm$ 2" in tex and r"x\_y" in tex and r"\$5" in tex and r"\textbf{\{z\}}" in tex
    assert r"row\_1" in tex and r"r\%2" in tex and r"Metric\_x" in tex and r"a\&b" in tex and r"\#" in tex
    assert r"\textasciitilde{}" in tex and r"\textasciicircum{}" in tex
    for line in tex.splitlines():
        if line.endswith(r"\\"):
            assert line.count(" & ") == 3 or r"\multicolumn" in line


def test_latex_escape_all_specials():
    assert (
        report.latex_escape(r"a\b&c%d$e#f_g{h}i~j^k")
        == r"a\textbackslash{}b\&c\%d\$e\#f\_g\{h\}i\textasciitilde{}j\textasciicircum{}k"
    )


def test_all_tables_render(results):
    for fn in TABLES:
        df = fn(results)
        tex = report.to_booktabs(df)
        # one tabular, or one per panel for a table whose panels are set apart (Table 4)
        n = len(df.attrs.get("panels") or [0]) if df.attrs.get("separate_panels") else 1
        assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == n
        assert "<table" in report.to_html(df)
        bundle = report.show_table(df)._repr_mimebundle_()
        assert set(bundle) >= {"text/html", "text/latex", "text/plain"}
