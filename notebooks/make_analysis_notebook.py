"""Write notebooks/05_analysis.ipynb (without outputs) with nbformat.

    python notebooks/make_analysis_notebook.py

The notebook reads a finished run's saved results (study.analyse never trains), shows every figure
and table of the paper inline, and carries their vector PDF / booktabs LaTeX in the same outputs.
Cells are found by TAG, not position, by arche.report.export_tagged (the notebook -> paper bridge):

    fig-NAME  a figure: image/png + application/pdf       -> paper/generated/fig-NAME.pdf, figures/fig-NAME.png
    tab-NAME  a table: text/html + text/latex (booktabs)  -> paper/generated/tab-NAME.tex
    macros    every number the paper's prose cites        -> paper/generated/macros.tex
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

COLAB = "https://colab.research.google.com/github/caiovicentino/arche/blob/main/notebooks/05_analysis.ipynb"
OUT = Path(__file__).resolve().parent / "05_analysis.ipynb"


def md(text):
    return new_markdown_cell(text.strip())


def code(text, tag=None):
    cell = new_code_cell(text.strip())
    if tag:
        cell.metadata["tags"] = [tag]
    return cell


def colab_install() -> str:
    """The Colab-only install cell of notebooks 01-04 (same clone, install and Drive run root), so the
    five notebooks share one run directory on Colab; a standalone version if that script is absent."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from make_notebooks import INSTALL
        return INSTALL
    except ImportError:
        return """
# Colab only: fetch and install arche (anywhere else this cell does nothing).
import sys

if "google.colab" in sys.modules:
    import os, subprocess
    if not os.path.isdir("/content/arche"):
        subprocess.run(["git", "clone", "-q", "https://github.com/caiovicentino/arche", "/content/arche"],
                       check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/arche"], check=True)
    sys.path.insert(0, "/content/arche")
"""


def cells():
    yield md(f"""
# 05 · Analysis: figures, tables and numbers of the paper

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB})

This notebook reads what the earlier notebooks saved in the run directory (training curves, samples,
held-out references) and turns it into every figure, table and number of the paper. It never trains
or samples: `study.analyse` only scores and summarises saved results and writes `RUN/results.json`.

Each figure and table cell is **tagged** (`fig-*`, `tab-*`, `macros`): it shows its result here and carries
the vector PDF or booktabs LaTeX that `arche.report.export_tagged` writes into `paper/generated/`
(`python -m arche paper --run-dir RUN` builds the PDF). Numbers over seeds carry a 95% Student-t
interval on each quantity's own scale (`arche.stats`: losses raw, perplexities and throughputs on the
log scale, proportions on the logit scale, so that no interval leaves its range).
""")
    yield code(colab_install(), tag="colab-install")
    yield code("""
profile = "smoke"
run_dir = "runs/smoke"
overrides = {}
""", tag="parameters")
    yield code("""
import arche
from arche import pipeline, report, study

pipeline.refuse_unknown_parameters(globals())  # papermill only warns about a parameter we do not take
report.setup_notebook()
cfg = arche.load_config(profile, **overrides)
run_path = report.resolve_run_dir(run_dir)
results = study.analyse(cfg, run_path, profile)
meta = results["meta"]
print(f"{run_path}: profile {meta['profile']}, data {report.describe_source(meta)}, "
      f"protocols {meta['protocols']}, seeds {meta['seeds']}, device {meta['device']}")
print(report.describe_results(results))
""")
    yield md("""
## Figure 1 · Validation loss over training

The published curve (Table 3 of Vicentino 2026) on its own panel, then ours per protocol: thin lines are
seeds, thick lines their mean, stars the best evaluation. Under the published protocol the MDLM's loss is
the masked-token mean (not a likelihood); under the controlled one it is the NELBO, an upper bound on
its NLL, in the same units as the AR model's NLL.
""")
    yield code("report.artefact(results, 'fig-val-curves')", tag="fig-val-curves")
    yield md("""
## Comparable likelihoods

AR validation NLL against the MDLM's NELBO bound (filled), with the masked-token mean the paper reported
(hollow) for contrast.
""")
    yield code("report.artefact(results, 'fig-likelihood')", tag="fig-likelihood")
    yield md("""
## Diversity

Each arm's sample sets with 95% intervals over seeds, the paper's values (squares), and real held-out
text cut the same way (dashed: story openings; dotted: random windows).
""")
    yield code("report.artefact(results, 'fig-diversity')", tag="fig-diversity")
    yield md("""
## Sampler sweep: diversity against fluency

MDLM denoising steps and AR temperature (first seed), gen. perplexity under the AR model on the x axis,
the wall time of each sample set annotated.
""")
    yield code("report.artefact(results, 'fig-sweep')", tag="fig-sweep")
    yield md("## Table 1 · Setup")
    yield code("report.artefact(results, 'tab-setup')", tag="tab-setup")
    yield md("## Table 2 · Training efficiency")
    yield code("report.artefact(results, 'tab-training')", tag="tab-training")
    yield md("## Table 3 · Validation loss at each evaluation")
    yield code("report.artefact(results, 'tab-val-loss')", tag="tab-val-loss")
    yield md("## Table 4 · Diversity")
    yield code("report.artefact(results, 'tab-diversity')", tag="tab-diversity")
    yield md("## Likelihoods that compare")
    yield code("report.artefact(results, 'tab-likelihood')", tag="tab-likelihood")
    yield md("""
## The three findings under the controlled protocol

Each rule (see `arche.report.finding_*`) ends in one of four outcomes: holds, does not hold,
inconclusive (the 95% interval of a difference contains the threshold) or not testable (a precondition
is unmet, e.g. a model no better than the unigram baseline). (1) Throughput parity: the interval of the
paired MDLM/AR tokens/s ratio from an interleaved benchmark lies within 1 ± 10%. (2) "AR overfits earlier":
among the seeds where AR's last evaluation is worse than its best, the MDLM's last is its best within two
standard errors. (3) "MDLM more diverse": Welch tests over seeds of unique first 5-grams (higher) and
Self-BLEU at matched length (lower), both in the MDLM's favour.
""")
    yield code("report.artefact(results, 'tab-findings')", tag="tab-findings")
    yield md("""
## The repetition study (profile `repetition`)

The same unique tokens seen for 1 to 32 epochs by both paradigms (arche.repetition): the validation bound
at the end of each epoch count, its table, and the samples after 2, 8 and 32 epochs. Skipped in a
comparison run. The verdict on finding 2 follows the rule in `arche.verdicts.REPETITION_RULE`, fixed
before the study was run.
""")
    yield code("report.artefact(results, 'fig-repetition')", tag="fig-repetition")
    yield code("report.artefact(results, 'tab-repetition')", tag="tab-repetition")
    yield code("report.artefact(results, 'tab-repetition-samples')", tag="tab-repetition-samples")
    yield md("""
## Appendix · What the numbers are about

The first five samples of every arm and setting (first seed), beside five real held-out story openings.
""")
    for group in ("published", "controlled", "prompted"):
        yield code(f"report.artefact(results, 'tab-examples-{group}')", tag=f"tab-examples-{group}")
    yield md("""
## Example samples and infilling
""")
    yield code("""
for row in results["samples"]:
    if row.get("setting", "samples") in ("samples", "samples_prompted") and row["seed"] == meta["seeds"][0] and row["examples"]:
        print(f"--- {report.sample_label(row)}")
        print(row["examples"][0][:300].replace("\\n", " "))
print()
print(report.infill_summary(results.get("infill")))
for ex in (results.get("infill") or {}).get("examples", [])[:2]:
    print(f"\\n  original: {ex['original'][:400]}\\n  infilled: {ex['infilled'][:400]}")
""")
    yield md("## Macros: every number the paper's text cites")
    yield code("report.artefact(results, 'macros')", tag="macros")


def build() -> nbformat.NotebookNode:
    nb = new_notebook(cells=list(cells()))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["colab"] = {"provenance": []}
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        cell.id = tags[0] if tags else f"cell-{i:02d}"   # stable ids: regenerating changes nothing
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(nb)
    return nb


if __name__ == "__main__":
    nbformat.write(build(), OUT)
    print(f"wrote {OUT}")
