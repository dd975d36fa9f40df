"""The run's judges of fluency and the real reference text they are calibrated on.

Both judges train on stories no arm trains on (arche.study.comparison.prepare_judges) with a seed no arm uses, so
neither wrote nor trained on any text it scores: the AR judge reads each text as a story and gives its
perplexity; the MDLM judge, a second opinion that does not share AR's factorisation, gives its NELBO.
The reference rows are openings of further unused stories, at the samples' number of texts.
The repetition study loads its one AR judge through the same class (`arms=`); that judge trains on the study's own
data directory (arche.study.repetition.train_all), so its vocabulary is that data's, and it scores held-out openings.
"""

from __future__ import annotations

from ..config import Config
from ..device import resolve_device
from ..io import read_json
from ..sample import cut_at_eot
from ..tokenizer import TokenCodec
from .comparison import Arm, arm_dir, judge_arms, main_protocol, references_path


class Judges:
    """The run's judges, loaded once: the AR judge's perplexity and the MDLM judge's NELBO of token rows
    of any of the run's vocabularies (the judges' vocabulary holds them all: comparison.prepare_judges)."""

    def __init__(self, cfg: Config, run_dir, arms: list[Arm] | None = None):
        """arms: the judges to load (default: the comparison's, judge_arms); the repetition study has only AR's."""
        from ..generate import load_model

        self.device = str(resolve_device(cfg))
        self.arms = {j.paradigm: j for j in (judge_arms(cfg) if arms is None else arms)}
        self.models = {}
        for paradigm, arm in self.arms.items():
            model, codec, _, _ = load_model(arm_dir(run_dir, arm), device=self.device, max_len=cfg.sample_length + 32)
            self.models[paradigm] = model
            self.codec = codec  # the same vocabulary for both judges (one data directory)
        self.full = TokenCodec.full()
        self.seed = cfg.sample_seed

    def rows(self, codec, rows) -> list[list[int]]:
        """Token rows of another codec (None: GPT-2 ids) in the judges' ids."""
        return [self.codec.to_model(codec.to_gpt2(r) if codec else r).tolist() if r else [] for r in rows]

    def text(self, gpt2_row) -> str:
        return self.full.decode(cut_at_eot(list(gpt2_row), self.full.eot))

    def perplexity(self, codec, prompt_ids, rows, story_start=True) -> float:
        """exp of the AR judge's token-weighted NLL, each text read as a story: after <|endoftext|>, then
        its prompt, up to and including its first end-of-text."""
        from ..evaluate import generative_perplexity

        prefix = ([self.codec.eot] if story_start else []) + self.rows(codec, [prompt_ids])[0]
        return generative_perplexity(self.models["ar"], prefix, self.rows(codec, rows), self.device, eot=self.codec.eot)

    def nelbo(self, codec, prompt_ids, rows) -> float | None:
        """The MDLM judge's NELBO (nats/token, token-weighted) of the texts given the same context, or
        None without an MDLM judge."""
        from ..evaluate import mdlm_nelbo

        if "mdlm" not in self.models:
            return None
        prefix = [self.codec.eot] + self.rows(codec, [prompt_ids])[0]
        judged = [cut_at_eot(r, self.codec.eot, keep_eot=True) for r in self.rows(codec, rows)]
        values = mdlm_nelbo(self.models["mdlm"], prefix, judged, seed=self.seed, n_t=8, device=self.device)
        pairs = [(v, len(r)) for v, r in zip(values, judged) if v is not None]
        return sum(v * n for v, n in pairs) / sum(n for _, n in pairs) if pairs else None


def reference_sets(cfg: Config, run_dir, datas: dict, log=print) -> dict[str, list[list[int]]]:
    """GPT-2 token rows of real text: "openings" of the stories set aside for references
    (study.prepare_judges), "windows" of the main protocol's held-out stream."""
    from ..generate import reference_rows

    refs = {}
    stored = read_json(references_path(run_dir)) or {}
    if stored.get("rows_gpt2"):
        refs["openings"] = stored["rows_gpt2"]
    data = datas[main_protocol(cfg)]
    windows = reference_rows(data, cfg.n_samples, cfg.sample_length, "windows", seed=cfg.sample_seed)
    refs["windows"] = [data.codec.to_gpt2(r).tolist() for r in windows]
    for kind in [k for k, rows in refs.items() if len(rows) < 2]:
        log(f"analysis: too few real {kind} for a reference row")
        refs.pop(kind)
    return refs
