"""arche: autoregressive vs. masked diffusion language models under one controlled protocol.

The notebooks call this package; all logic lives here. Four layers, one folder each, each importable
without the ones above it (ARCHITECTURE.md):

    core ML   arche/: config, profiles, tokenizer, corpus, data, model, objectives, train, sample, ...
    study     arche/study/: the comparison, the repetition study, judges, regime, findings and verdicts
    report    arche/report/: results.json -> figures, tables, macros, paper (no torch)
    runner    arche/runner/: the papermill pipeline, notebook checks and sync, Colab; __main__ (the CLI)

Importing `arche` itself loads only the config and profiles; `arche.build_model` imports torch on first use.
"""

from . import paths  # noqa: F401  (arche.paths.resolve_run_dir: the notebooks' run directory)
from .config import Config, ConfigError
from .profiles import load_config

__all__ = ["Config", "ConfigError", "load_config", "build_model"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "build_model":  # torch is imported only by what needs it
        from .model import build_model

        return build_model
    raise AttributeError(f"module 'arche' has no attribute {name!r}")
