"""Every tagged artefact as a function of results.json, so that a results file alone re-renders
the figures, tables, macros and PDF; and the README's results block."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..runlock import run_lock
from . import repetition as report_repetition
from .common import describe_source, has_frontier, read_results, toy_note
from .display import (
    FigureOutput,
    MacrosOutput,
    Skipped,
    mark_figure,
    show_figure,
    show_macros,
    show_table,
)
from .diversity import table_diversity
from .examples import table_examples
from .figures import fig_diversity, fig_likelihood, fig_val_curves
from .findings import table_findings
from .fmt import to_markdown
from .frontier import fig_frontier
from .macros import macros
from .paper import build_paper
from .repetition_text import post_hoc_lines
from .setup import table_setup
from .tables import table_likelihood, table_training, table_val_loss

# --------------------------------------------------------------------------- from a results file alone


# Every tagged artefact of the analysis notebook, as a function of results.json: what the notebook
# shows and exports, so that a committed results file re-renders the paper with no run directory.
def _marked(shown, results):
    if isinstance(shown, FigureOutput):
        mark_figure(shown.fig, results["meta"])
    return shown


def _comparison(make):
    """An artefact of the AR-vs-MDLM comparison (Skipped for a repetition study's results), its figure
    marked with the run's scale."""

    def shown(results):
        if report_repetition.is_repetition(results):
            return Skipped("part of the AR-vs-MDLM comparison, not of a repetition study")
        return _marked(make(results), results)

    return shown


def _repetition(make):
    """An artefact of the repetition study (Skipped for any other results), marked like the others."""

    def shown(results):
        if not report_repetition.is_repetition(results):
            return Skipped("this run is not a repetition study (profile repetition)")
        return _marked(make(results), results)

    return shown


ARTEFACTS = {
    "fig-val-curves": _comparison(lambda r: show_figure(fig_val_curves(r), "fig-val-curves")),
    "fig-likelihood": _comparison(lambda r: show_figure(fig_likelihood(r), "fig-likelihood")),
    "fig-diversity": _comparison(lambda r: show_figure(fig_diversity(r), "fig-diversity")),
    # The quality-diversity frontier (finding 3 at equal judge perplexity).
    "fig-frontier": _comparison(
        lambda r: (
            show_figure(fig_frontier(r), "fig-frontier")
            if has_frontier(r)
            else Skipped("this run has no quality-diversity frontier (sweep=False, or results from before it)")
        )
    ),
    "tab-setup": _comparison(lambda r: show_table(table_setup(r), "tab-setup")),
    "tab-training": _comparison(lambda r: show_table(table_training(r), "tab-training")),
    "tab-val-loss": _comparison(lambda r: show_table(table_val_loss(r), "tab-val-loss")),
    "tab-diversity": _comparison(lambda r: show_table(table_diversity(r), "tab-diversity")),
    "tab-likelihood": _comparison(lambda r: show_table(table_likelihood(r), "tab-likelihood")),
    "tab-findings": _comparison(lambda r: show_table(table_findings(r), "tab-findings")),
    "tab-examples-published": _comparison(lambda r: show_table(table_examples(r, "published"))),
    "tab-examples-controlled": _comparison(lambda r: show_table(table_examples(r, "controlled"))),
    "tab-examples-prompted": _comparison(lambda r: show_table(table_examples(r, "prompted"))),
    "fig-repetition": _repetition(lambda r: show_figure(report_repetition.fig_repetition(r), "fig-repetition")),
    "tab-repetition": _repetition(lambda r: show_table(report_repetition.table_repetition(r), "tab-repetition")),
    "tab-repetition-samples": _repetition(
        lambda r: show_table(report_repetition.table_repetition_samples(r), "tab-repetition-samples")
    ),
    "macros": lambda r: show_macros(r),
}
REPETITION_TAGS = ("fig-repetition", "tab-repetition", "tab-repetition-samples")


def artefact(results, tag: str):
    """The display object of one tagged artefact (what the analysis notebook's cell tagged `tag` shows):
    a figure, a table, the macros, or Skipped when it does not apply to this run's study."""
    if tag not in ARTEFACTS:
        raise KeyError(f"unknown artefact {tag!r}; known: {', '.join(ARTEFACTS)}")
    return ARTEFACTS[tag](results)


def results_notebook(results, repetition=None):
    """An executed-analysis-notebook equivalent built from results alone: one tagged cell per
    artefact, its output the display bundle the analysis notebook would show. With `repetition` (a
    repetition study's results), its artefacts and macros join the comparison's, so that the paper
    gets its repetition section."""
    import matplotlib.pyplot as plt
    import nbformat

    nb = nbformat.v4.new_notebook()
    for i, (tag, make) in enumerate(ARTEFACTS.items(), 1):
        if repetition is not None and tag in REPETITION_TAGS:
            shown = make(repetition)
        elif repetition is not None and tag == "macros":
            shown = MacrosOutput({**macros(results), **report_repetition.macros(repetition)})
        else:
            shown = make(results)
        data = shown._repr_mimebundle_()
        if isinstance(shown, FigureOutput):
            plt.close(shown.fig)
        cell = nbformat.v4.new_code_cell(f"# {tag}", metadata={"tags": [tag]}, execution_count=i)
        cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
        nb.cells.append(cell)
    return nb


def render_results(results_path, out_dir, log=print, repetition_path=None) -> Path | None:
    """Every figure, table, macro, the HTML-free paper and its PDF from a results.json file alone (no
    checkpoints, no samples): OUT/notebooks/05_analysis.ipynb (the tagged outputs), OUT/paper/,
    OUT/figures/*.png and OUT/paper.pdf (returned; None without LaTeX). `repetition_path` adds a
    repetition study's results as a section of the comparison's paper."""
    import nbformat

    results_path, out_dir = Path(results_path), Path(out_dir)
    results = read_results(results_path)
    repetition = read_results(repetition_path) if repetition_path else None
    if repetition is not None and not report_repetition.is_repetition(repetition):
        raise UserError(f"{repetition_path} is not the results of a repetition study")
    nb_path = out_dir / "notebooks" / "05_analysis.ipynb"
    # One `figures` per output directory: two into one --out raced (the PDF of one, the notebook of the other).
    with run_lock(out_dir, "arche figures", log=log):
        nb_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(results_notebook(results, repetition), nb_path)
        log(f"figures: rendered {len(ARTEFACTS)} artefacts of {results_path} into {nb_path}")
        return build_paper(out_dir, log=log, notebook=nb_path)


# --------------------------------------------------------------------------- README summary


def summary_markdown(results, run_dir=None, source=None) -> str:
    """What a run found, for the README: where the numbers come from, the findings, the likelihoods.
    `source` names the results file (default RUN_DIR/results.json)."""
    meta = results["meta"]
    where = f"`{source}`" if source else (f"`{run_dir}/results.json`" if run_dir else "results.json")
    head = (
        f"From {where} (profile `{meta.get('profile')}`, {describe_source(meta, short=True)}, "
        f"{meta['n_tokens']:,} tokens, seeds {meta['seeds']}, {meta['device']}, {meta['created']})."
    )
    note = toy_note(meta)
    parts = [head] + (["", f"> **{note.split(': ', 1)[0]}**: {note.split(': ', 1)[1]}."] if note else [])
    if report_repetition.is_repetition(results):
        v = results["verdicts"]["finding_2"]
        parts += [
            "",
            f"**Finding 2 (AR overfits while the MDLM still improves) {v['outcome']}** by the rule fixed before "
            f"the run: {v['reason'].rstrip('.')}.",
            *post_hoc_lines(results),
            "",
            "Validation NLL (AR) and NELBO (MDLM), nats/token, at the end of each epoch count (* the best):",
            "",
            to_markdown(report_repetition.table_repetition(results)),
            "",
            f"Samples after repeated epochs ({results['meta']['n_match']} texts each):",
            "",
            to_markdown(report_repetition.table_repetition_samples(results)),
        ]
        return "\n".join(parts) + "\n"
    parts += [
        "",
        "**The paper's three findings under the controlled protocol**",
        "",
        to_markdown(table_findings(results)),
        "",
        "**Comparable likelihoods**",
        "",
        to_markdown(table_likelihood(results)),
    ]
    return "\n".join(parts) + "\n"


def update_readme(readme, results, run_dir=None, source=None) -> None:
    """Replace the README's block of this kind of results: between <!-- results:start --> and
    <!-- results:end --> for a comparison, <!-- repetition:start --> ... for a repetition study."""
    readme = Path(readme)
    text = readme.read_text()
    kind = "repetition" if report_repetition.is_repetition(results) else "results"
    start, end = f"<!-- {kind}:start -->", f"<!-- {kind}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no {start} ... {end} block to fill")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    readme.write_text(before + start + "\n" + summary_markdown(results, run_dir, source) + end + after)
