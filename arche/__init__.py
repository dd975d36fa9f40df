"""arche: autoregressive vs. masked diffusion language models under one controlled protocol.

The notebooks call this package; all logic lives here. Data flows one way through the modules:
config -> tokenizer -> corpus -> data -> model -> objectives -> train -> sample -> metrics -> report
-> pipeline (the papermill runner) -> __main__ (the command line).
"""

from .config import Config, ConfigError, load_config
from .model import build_model

__all__ = ["Config", "ConfigError", "load_config", "build_model"]
__version__ = "0.1.0"
