"""Everything between results.json and the paper: figures, tables, macros, the notebook bridge. No torch.

Data flows one way:

    study.analyse / repetition.analyse -> results.json -> (this package) figures / tables / macros,
    shown in notebooks/05_analysis -> executed notebook -> paper.export_tagged -> generated/
    {fig-*.pdf, tab-*.tex, macros.tex} -> latexmk -> RUN/paper.pdf

    common     published numbers, labels, queries on results, the run's scale mark
    fmt        number formats, LaTeX escaping, booktabs / HTML / markdown tables
    display    notebook display objects (a figure carrying its PDF, a table its LaTeX, Skipped)
    figures    the comparison's figures          tables      its tables (diversity: Table 4)
    frontier   finding 3 at equal judge perplexity: the figure and its values
    regime     the training regime, plateau escapes, the judges: per-seed cells and values
    findings   the rules of the three findings   macros      every number the prose cites
    paper      tagged outputs -> files, latexmk  artefacts   every artefact from results.json alone
    repetition the repetition study's figure, tables and macros

Every seed aggregate is `stats.aggregate`/`stats.summarise`: the centre, a 95% Student-t interval and
the seed values, printed by `numfmt.fmt_agg`: with at most `numfmt.SEED_VALUES_MAX` seeds the centre and
each seed's value ("3.096 (3.083, 3.101, 3.104)"), with more "m ± h" (the mean and the half-width of
the interval) or "c [lo, hi]" on a log or logit scale; one seed, the value alone.
"""

import shutil  # noqa: F401  (tests patch report.shutil.which to simulate a machine without LaTeX)

from ..paths import resolve_run_dir  # noqa: F401  (the notebooks' run directory)
from . import repetition as report_repetition  # noqa: F401
from .artefacts import (  # noqa: F401
    ARTEFACTS,
    REPETITION_TAGS,
    artefact,
    render_results,
    results_notebook,
    summary_markdown,
    update_readme,
)
from .common import (  # noqa: F401
    ARM_MACRO,
    COLORS,
    PROTOCOL_LABEL,
    describe_results,
    describe_source,
    load_results,
    read_results,
    repo_root,
    sample_label,
)
from .discussion import (  # noqa: F401
    FINDING_NAMES,
    discussion,
)
from .display import (  # noqa: F401
    SKIP_MIMETYPE,
    FigureOutput,
    MacrosOutput,
    Skipped,
    TableOutput,
    mark_figure,
    setup_notebook,
    show_figure,
    show_macros,
    show_table,
)
from .diversity import (  # noqa: F401
    DIVERSITY_ROWS,
    SELF_BLEU_SHORT,
    short_decoding,
    table_diversity,
)
from .examples import (  # noqa: F401
    EXAMPLE_CHARS,
    table_examples,
)
from .figures import (  # noqa: F401
    DIVERSITY_PANELS,
    fig_diversity,
    fig_likelihood,
    fig_val_curves,
)
from .findings import (  # noqa: F401
    outcome_text,
    table_findings,
)
from .fmt import (  # noqa: F401
    CHARS_PER_LINE,
    latex_escape,
    to_booktabs,
    to_html,
    to_markdown,
)
from .frontier import (  # noqa: F401
    fig_frontier,
    frontier_title,
    frontier_verdict,
)
from .lookup import (  # noqa: F401
    V_DEFINITION,
    V_PREFIX,
    MissingMacroError,
    check_macros,
    defined_macros,
    macros_tex,
    missing_macros,
    used_macros,
)
from .macros import (  # noqa: F401
    infill_summary,
    macros,
)
from .paper import (  # noqa: F401
    FIG_MIMES,
    LATEX_INSTALL,
    PAPER_SOURCES,
    PaperBuildError,
    TaggedOutputError,
    build_paper,
    export_tagged,
    main_document,
    paper_sources,
    tagged_output_exporter,
)
from .plotting import (  # noqa: F401
    overlapping_labels,
    spread_labels,
)
from .setup import describe_precision, table_setup  # noqa: F401
from .tables import (  # noqa: F401
    table_likelihood,
    table_training,
    table_val_loss,
)

# isort: split
# What common re-exports from arche.study.results (the published numbers, queries on a results dict).
# The findings' rules (arche.study.findings, the study layer) under the names the notebooks and tests use. Last,
# so that `report.findings` is the function, not the submodule report/findings.py imported above.
from ..numfmt import fmt, fmt_agg  # noqa: F401, E402
from ..study.findings import (  # noqa: F401, E402
    DIVERSITY_RULE_METRICS,
    HOLDS,
    OUTCOME_SHORT,
    OUTCOMES,
    finding_diversity,
    finding_overfitting,
    finding_throughput,
    findings,
    sanity_gate,
    stored_or_computed,
)
from ..study.results import (  # noqa: F401, E402
    ARM_LABEL,
    ARMS,
    CITATION,
    PUBLISHED,
    THROUGHPUT_TOLERANCE,
    has_frontier,
    main_protocol,
    run_stat,
    sample_stat,
    toy_level,
    toy_note,
)
