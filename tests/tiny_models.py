"""Tiny random models and runs shared by the sampler, generation and evaluation tests (tests/test_sample.py,
test_denoise.py, test_generate.py, test_evaluate.py). Each test module builds its own copies (module fixtures
calling these), so no test sees a model another module touched."""

import torch

from arche import build_model, load_config
from arche.tokenizer import TokenCodec

V = 40
EOT = 39  # the compact codec below puts <|endoftext|> last


def tiny(**kw):
    kw = {"sample_length": 16, **kw}
    return load_config("smoke", d_model=32, n_layers=2, n_heads=4, d_ff=64, seq_len=32, vocab_size=V, **kw)


def make_codec() -> TokenCodec:
    # 38 single-character tokens, then "Once" (GPT-2 id 7454, here 38) and <|endoftext|>: 40 tokens.
    c = TokenCodec.from_ids(list(range(38)) + TokenCodec.full().encode("Once"))
    assert c.vocab_size == V and c.eot == EOT
    return c


def seeded_model(paradigm: str, seed: int):
    """The tiny model of `paradigm` with its weights drawn from `seed`, in eval mode."""
    torch.manual_seed(seed)
    return build_model(tiny(), paradigm).eval()


def prepare_story_data(directory):
    """A prepared toy corpus, stories held out (val_split='story'), as TokenData."""
    from arche.batches import TokenData
    from arche.data import prepare

    prepare(tiny(n_tokens=6000, eos_between_stories=True, val_split="story", val_fraction=0.3), directory, log=print)
    return TokenData(directory)


class Recorder(torch.nn.Module):
    """Wraps an MDLM and records every input it sees."""

    def __init__(self, model):
        super().__init__()
        self.model, self.inputs = model, []
        self.vocab_size, self.mask_id, self.max_len = model.vocab_size, model.mask_id, model.max_len

    def forward(self, tokens, t):
        self.inputs.append(tokens.clone())
        return self.model(tokens, t)
