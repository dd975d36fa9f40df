"""Write notebooks 01-04 from one template, so their header, install cell and parameters stay alike.

    python notebooks/make_notebooks.py          # rewrite them
    python notebooks/make_notebooks.py --check  # exit 1 if a committed notebook differs from this script

The notebooks only call arche and display; all logic lives in the package. They are written without
outputs. 05_analysis.ipynb is written by hand (arche.report) and not by this script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
# The GitHub organisation is a placeholder until the repository is published: change it here.
GITHUB = "caiovicentino/arche"
ORDER = "`01_data` → `02_train_ar` → `03_train_mdlm` → `04_sample` → `05_analysis`"

INSTALL = f'''\
# Colab only: fetch and install arche (anywhere else this cell does nothing; see `make setup`).
import sys

if "google.colab" in sys.modules:
    import importlib, os, subprocess
    REPO = "https://github.com/{GITHUB}"  # placeholder organisation: change it when published
    if not os.path.isdir("/content/arche"):
        subprocess.run(["git", "clone", "-q", REPO, "/content/arche"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/arche"], check=True)
    sys.path.insert(0, "/content/arche")
    importlib.invalidate_caches()
    # Each Colab notebook runs on a runtime of its own: keep the run directory on Google Drive so that
    # the five notebooks share it (and it outlives the runtime). Set USE_DRIVE = False to keep it local.
    USE_DRIVE = True
    if USE_DRIVE:
        from google.colab import drive
        drive.mount("/content/drive")
        os.environ["ARCHE_RUNS_ROOT"] = "/content/drive/MyDrive/arche"'''

PARAMETERS = '''\
profile = "smoke"         # smoke | study | paper | paper_controlled | paper_study
run_dir = "runs/smoke"    # relative paths are taken from the repository root
overrides = {}            # config overrides, e.g. {"steps": 100, "seed": 1}'''

SETUP = '''\
import matplotlib.pyplot as plt

import arche
from arche import pipeline, study

pipeline.refuse_unknown_parameters(globals())  # papermill only warns about a parameter we do not take
cfg = arche.load_config(profile, **overrides)
run_dir = pipeline.resolve_run_dir(run_dir)
print(pipeline.describe(cfg, profile, run_dir))'''

PARAMETERS_TEXT = '''\
## Parameters

`profile` picks the settings (`smoke`: a few minutes on a CPU; `paper`: the published setup on a GPU;
see `arche/config.py`), `overrides` changes single keys, `run_dir` is where everything is written.
All five notebooks must be given the same three values, and no others (a config key goes in
`overrides`). `python -m arche run` (or papermill) sets them.'''


def header(stem: str, title: str, text: str) -> str:
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"(https://colab.research.google.com/github/{GITHUB}/blob/main/notebooks/{stem}.ipynb)")
    return (f"# {title}\n\n{badge}\n\n{text}\n\nStage {stem[:2]} of the pipeline {ORDER}. "
            f"`python -m arche run --profile smoke` executes all five in order into one run directory "
            f"and renders `report.html`; re-running skips the finished stages.")


NOTEBOOKS = {
    "01_data": dict(
        title="01 · Data: tokenize the corpus",
        text="Tokenizes the corpus with GPT-2's BPE into fixed-length chunks and splits off a validation "
             "set, once per protocol of the run. The *published* protocol concatenates stories with no "
             "end-of-text token and holds out random chunks (a story can straddle train and validation); "
             "the *controlled* protocol separates stories with `<|endoftext|>` and holds out whole "
             "stories. Prepared files are reused when they already match the config.",
        cells=[
            ("md", "## Prepare the token files"),
            ("code", "manifests = study.prepare_all(cfg, run_dir)"),
            ("code", "pipeline.data_table(manifests)"),
            ("md", "## A few held-out stories\n\nDecoded back from the validation tokens, as the models "
                   "will see them."),
            ("code", "pipeline.print_texts(pipeline.example_stories(cfg, run_dir, n=3))"),
        ]),
    "02_train_ar": dict(
        title="02 · Train the autoregressive model",
        text="Trains the GPT-style Transformer (next-token cross-entropy) for every AR arm of the run "
             "(one per protocol and seed). Training checkpoints as it goes: re-running this notebook "
             "resumes an interrupted run and skips a finished one. Progress is printed as plain text.",
        cells=[
            ("md", "## Train"),
            ("code", 'summaries = study.train_all(cfg, run_dir, "ar")'),
            ("md", "## Validation log\n\nEvery evaluated step of every arm, from `metrics.jsonl`."),
            ("code", 'pipeline.metrics_table(cfg, run_dir, "ar")'),
            ("md", "## Loss curves"),
            ("code", 'pipeline.plot_losses(cfg, run_dir, "ar")\nplt.show()'),
        ]),
    "03_train_mdlm": dict(
        title="03 · Train the masked diffusion LM (MDLM)",
        text="Trains the masked diffusion model on the same backbone and data for every MDLM arm of the "
             "run (and the parameter-matched, tied-head MDLM when the profile asks for it). The "
             "published protocol trains on the mean cross-entropy of the masked tokens; the controlled "
             "one on MDLM's NELBO. Re-running resumes from the checkpoints.",
        cells=[
            ("md", "## Train"),
            ("code", 'summaries = study.train_all(cfg, run_dir, "mdlm")'),
            ("md", "## Validation log\n\nEvery evaluated step of every arm, from `metrics.jsonl`. "
                   "`val_nelbo` is an upper bound on the negative log-likelihood per token."),
            ("code", 'pipeline.metrics_table(cfg, run_dir, "mdlm")'),
            ("md", "## Loss curves"),
            ("code", 'pipeline.plot_losses(cfg, run_dir, "mdlm")\nplt.show()'),
        ]),
    "04_sample": dict(
        title="04 · Sample from every model",
        text="Draws the sample sets of every arm: the main set, the prompted setting of the controlled "
             "protocol and, when the profile asks for it, the sweep over MDLM denoising steps and AR "
             "temperature, and the MDLM infilling check. Sets already written are skipped. The "
             "analysis (05) measures them.",
        cells=[
            ("md", "## Sample"),
            ("code", "with pipeline.lock_arms(cfg, run_dir, \"04_sample\"):  # no sampling from a model in training\n"
                     "    paths = study.sample_all(cfg, run_dir)"),
            ("md", "## Wall time of every sample set"),
            ("code", "pipeline.sample_times(cfg, run_dir)"),
            ("md", "## A few samples per model"),
            ("code", "pipeline.print_texts(pipeline.sample_examples(cfg, run_dir, n=3))"),
        ]),
}


def build(stem: str, spec: dict) -> nbformat.NotebookNode:
    cells = [new_markdown_cell(header(stem, spec["title"], spec["text"])),
             new_code_cell(INSTALL, metadata={"tags": ["colab-install"]}),
             new_markdown_cell(PARAMETERS_TEXT),
             new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
             new_code_cell(SETUP)]
    cells += [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in spec["cells"]]
    for i, cell in enumerate(cells):
        cell["id"] = f"{stem}-{i:02d}"  # stable ids: regenerating gives the same file
    gpu = stem != "01_data"
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "toc_visible": True},
        **({"accelerator": "GPU"} if gpu else {}),
    })
    nbformat.validate(nb)
    return nb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args(argv)
    stale = []
    for stem, spec in NOTEBOOKS.items():
        path = HERE / f"{stem}.ipynb"
        text = nbformat.writes(build(stem, spec)) + "\n"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run python notebooks/make_notebooks.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
