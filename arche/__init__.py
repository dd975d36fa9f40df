"""arche: autoregressive vs. masked diffusion language models under one controlled protocol.

The notebooks call this package; all logic lives here. Three layers, each importable without the ones
above it (ARCHITECTURE.md):

    core ML   config, tokenizer, corpus, data, model, objectives, checkpoint, train, sample, metrics, stats
    study     study (the comparison), repetition, verdicts: what is trained, compared and concluded
    report    the report package: results.json -> figures, tables, macros, paper (no torch)

`pipeline` (the papermill runner) and `__main__` (the command line) sit on top. Importing `arche`
itself loads only the config; `arche.build_model` imports torch on first use.
"""

from .config import Config, ConfigError
from .profiles import load_config

__all__ = ["Config", "ConfigError", "load_config", "build_model"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "build_model":  # torch is imported only by what needs it
        from .model import build_model

        return build_model
    raise AttributeError(f"module 'arche' has no attribute {name!r}")
