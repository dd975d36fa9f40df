"""The runner, on top of everything: it executes and checks the notebooks and tells the user what ran.

    pipeline          the papermill runner: the notebooks in order, resumable, one run directory
    kernel            executing one notebook
    notebook_checks   the parameters a notebook accepts, and refusing the others
    notebook_sync     notebooks/NN_*.py <-> .ipynb, with the Colab install cell and badge
    colab             the repository URL, the Colab badge and install cell
    run_report        a run's provenance and report.html
    views             what notebooks 01-04 show (tables, plots, examples)

Nothing below this package (core, study, report) imports it.
"""
