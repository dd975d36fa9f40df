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
    artefact,
    render_results,
    results_notebook,
    summary_markdown,
    update_readme,
)
from .common import describe_results, describe_source, load_results, read_results, repo_root, sample_label  # noqa: F401
from .discussion import discussion  # noqa: F401
from .display import Skipped, setup_notebook, show_figure, show_macros, show_table  # noqa: F401
from .diversity import table_diversity  # noqa: F401
from .examples import table_examples  # noqa: F401
from .figures import fig_diversity, fig_likelihood, fig_val_curves  # noqa: F401
from .findings import table_findings  # noqa: F401
from .fmt import latex_escape, to_booktabs, to_html  # noqa: F401
from .frontier import fig_frontier  # noqa: F401
from .lookup import (  # noqa: F401
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
    PaperBuildError,
    TaggedOutputError,
    build_paper,
    export_tagged,
    main_document,
    tagged_output_exporter,
)
from .setup import table_setup  # noqa: F401
from .tables import (  # noqa: F401
    table_likelihood,
    table_training,
    table_val_loss,
)

# isort: split
# What common re-exports from arche.study.results (the published numbers, queries on a results dict).
# The findings' rules (arche.study.findings, the study layer) under the names the notebooks and tests use. Last,
# so that `report.findings` is the function, not the submodule report/findings.py imported above.
from ..numfmt import fmt  # noqa: F401, E402
from ..study.findings import (  # noqa: F401, E402
    OUTCOMES,
    finding_diversity,
    finding_overfitting,
    finding_throughput,
    findings,
)
from ..study.results import has_frontier  # noqa: F401, E402
