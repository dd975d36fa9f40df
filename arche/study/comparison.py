"""The comparison: which models a run trains, samples and compares (arche.study.analysis scores them).

A run directory holds one data directory per protocol and one model directory per *arm*:

    RUN/published/data/            RUN/controlled/data/
    RUN/published/ar_s0/           RUN/controlled/ar_s0/  mdlm_s0/  mdlm_tied_s0/ ...
    RUN/results.json               every number the figures, tables and paper use

An arm is (protocol, model, seed). `compare_protocols` runs both protocols side by side, `n_seeds`
repeats every arm with seeds seed, seed+1, ..., `tied_mdlm` adds the parameter-matched MDLM (under
the controlled protocol, where the comparison is meant to be fair). Each step skips work already
done, so an interrupted pipeline continues where it stopped.

results.json is a flat, long-format record of everything measured (see `analyse`); aggregation
over seeds (a 95% interval on each quantity's own scale) is arche.stats', done when tables are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..batches import TokenData
from ..config import Config
from ..data import DataError, prepare, story_openings
from ..io import read_json
from ..io import write_json as _write_json
from ..train import train

# The quality-diversity frontier (`sweep`), drawn on the first seed of the main protocol: AR's temperature
# from below its own (1) up to where its judge perplexity reaches the MDLM's; the MDLM's temperature
# (ancestral sampler) and its number of steps. Finding 3 is judged at equal judge perplexity on it.
FRONTIER_AR_TEMPERATURES = (0.5, 0.7, 0.85, 1.15, 1.3, 1.5, 1.75, 2.0)
FRONTIER_MDLM_TEMPERATURES = (0.4, 0.6, 0.8)
FRONTIER_MDLM_STEPS = (25, 50)
PROMPT = "Once"  # the second controlled setting: both models given the same prompt
JUDGE_SEED_OFFSET = 1000  # the judges' seed is used by no arm: they wrote none of the texts they score
JUDGES = "judges"  # RUN/judges/: the judges' data (stories no arm trains on), the judges, the references


@dataclass(frozen=True)
class Arm:
    protocol: str
    name: str  # "ar", "mdlm" or "mdlm_tied"
    paradigm: str  # "ar" or "mdlm"
    seed: int
    config: Config

    @property
    def key(self) -> str:
        return f"{self.protocol}/{self.name}_s{self.seed}"


def protocols(cfg: Config) -> list[str]:
    return ["published", "controlled"] if cfg.compare_protocols else [cfg.protocol]


def arm_lr(cfg: Config, protocol: str, name: str) -> float:
    """An arm's learning rate: under the controlled protocol its paradigm's (`ar_lr`, `mdlm_lr`: arche.study.regime
    chooses them), else, and where those are 0, `lr` (the published protocol: one rate for both, as released)."""
    own = cfg.ar_lr if name == "ar" else cfg.mdlm_lr
    return own if (own and protocol == "controlled") else cfg.lr


def arm_config(cfg: Config, protocol: str, name: str, seed: int, sample_seed: int) -> Config:
    """The config an arm trains and samples with: its protocol's settings, its seed, its head and its
    learning rate (arm_lr)."""
    pcfg = cfg.replace(protocol=protocol) if protocol != cfg.protocol else cfg
    lr = arm_lr(pcfg, protocol, name)
    return pcfg.replace(seed=seed, sample_seed=sample_seed, mdlm_tied_head=name == "mdlm_tied", lr=lr)


def arms(cfg: Config, paradigm: str | None = None) -> list[Arm]:
    """Every arm of the run, seeds first. The main protocol runs `ar_seeds` AR seeds (0: n_seeds): AR
    is cheap, and more seeds narrow its side of every comparison."""
    out = []
    for protocol in protocols(cfg):
        # The parameter-matched MDLM belongs to the controlled comparison (or the only protocol run).
        tied = cfg.tied_mdlm and (protocol == "controlled" or not cfg.compare_protocols)
        n_ar = cfg.ar_seeds if (cfg.ar_seeds and protocol == main_protocol(cfg)) else cfg.n_seeds
        for i in range(max(cfg.n_seeds, n_ar)):
            mdlm_names = ["mdlm"] + (["mdlm_tied"] if tied else [])
            names = (["ar"] if i < n_ar else []) + (mdlm_names if i < cfg.n_seeds else [])
            for name in names:
                arm_cfg = arm_config(cfg, protocol, name, cfg.seed + i, cfg.sample_seed + i)
                arm = Arm(protocol, name, "ar" if name == "ar" else "mdlm", cfg.seed + i, arm_cfg)
                if paradigm in (None, arm.paradigm):
                    out.append(arm)
    return out


def main_protocol(cfg: Config) -> str:
    """The protocol whose results the verdicts use: controlled when it is run, else the only one."""
    return "controlled" if "controlled" in protocols(cfg) else protocols(cfg)[0]


def judge_arm(cfg: Config, paradigm: str = "ar") -> Arm:
    """A judge of fluency: a model of the main protocol trained like that protocol's arms of its
    paradigm, with a seed no arm uses, on stories no arm trains on (RUN/judges/data), so that it wrote
    none of the texts it scores and shares no training text with any of them. "ar" scores by
    perplexity; "mdlm", the second opinion, by its NELBO."""
    seed = cfg.seed + JUDGE_SEED_OFFSET
    name = "judge" if paradigm == "ar" else "judge_mdlm"
    return Arm(main_protocol(cfg), name, paradigm, seed, arm_config(cfg, main_protocol(cfg), paradigm, seed, seed))


def judge_arms(cfg: Config) -> list[Arm]:
    return [judge_arm(cfg)] + ([judge_arm(cfg, "mdlm")] if cfg.mdlm_judge else [])


def model_dirs(cfg: Config, run_dir, paradigm: str | None = None) -> list[tuple[str, str, Path]]:
    """(key, paradigm, directory) of every model the comparison trains (the judges not included)."""
    return [(a.key, a.paradigm, arm_dir(run_dir, a)) for a in arms(cfg, paradigm)]


def data_dir(run_dir, protocol: str) -> Path:
    return Path(run_dir) / protocol / "data"


def arm_dir(run_dir, arm: Arm) -> Path:
    group = JUDGES if arm.name.startswith("judge") else arm.protocol
    return Path(run_dir) / group / f"{arm.name}_s{arm.seed}"


def arm_data_dir(run_dir, arm: Arm) -> Path:
    """The token files an arm trains on: its protocol's, or the judges' own stories."""
    return Path(run_dir) / JUDGES / "data" if arm.name.startswith("judge") else data_dir(run_dir, arm.protocol)


def references_path(run_dir) -> Path:
    return Path(run_dir) / JUDGES / "references.json"


# --------------------------------------------------------------------------- pipeline stages


def prepare_all(cfg: Config, run_dir, log=print) -> dict:
    """Token files for every protocol of the run, then the references and the judges' data (stories
    after every arm's); returns {protocol: manifest}."""
    out = {}
    for protocol in protocols(cfg):
        pcfg = cfg.replace(protocol=protocol) if protocol != cfg.protocol else cfg
        out[protocol] = prepare(pcfg, data_dir(run_dir, protocol), log=log)
        check_prompts(cfg, run_dir, protocol)
    prepare_judges(cfg, run_dir, out, log)
    return out


def check_prompts(cfg: Config, run_dir, protocol: str) -> None:
    """Every prompt the protocol's sample sets use must be text its vocabulary can encode: checked when the
    data is prepared, not after an hour of training when the first prompted sample set starts."""
    codec = TokenData(data_dir(run_dir, protocol)).codec
    sets = [s for arm in arms(cfg) if arm.protocol == protocol for s in sample_sets(cfg, arm).values()]
    for prompt in sorted({p for s in sets for p in (s.ar_prompt, s.mdlm_prompt) if p}):
        try:
            codec.encode(prompt)
        except ValueError:
            raise DataError(
                f"the prompt {prompt!r} holds a token the {protocol} protocol's corpus never uses, so no model "
                "of this run could read it: set ar_prompt (and mdlm_prompt) to text the corpus holds, or to '' "
                "(unprompted)"
            ) from None


def prepare_judges(cfg: Config, run_dir, manifests: dict, log=print) -> dict:
    """The stories no arm trains on, in two disjoint parts: first `n_samples` stories whose openings are
    the reference rows (RUN/judges/references.json: real text at the samples' n), then the judges'
    training data (RUN/judges/data, as many tokens as an arm's). The judges' vocabulary also holds every
    token of the arms' and of the references, so that they can read every text they score."""
    main = main_protocol(cfg)
    jcfg = judge_arm(cfg).config
    skip = cfg.skip_stories + max(m["n_stories"] for m in manifests.values())
    ref_path = references_path(run_dir)
    refs = read_json(ref_path)
    if refs is None or refs.get("skip_stories") != skip or refs.get("n") != cfg.n_samples:
        rows = story_openings(jcfg, skip, cfg.n_samples, cfg.sample_length)
        refs = {"protocol": main, "skip_stories": skip, "n": cfg.n_samples, "rows_gpt2": rows}
        _write_json(ref_path, refs)
        log(f"data: {len(rows)} reference openings (stories {skip:,}-{skip + len(rows) - 1:,}) in {ref_path}")
    if len(refs["rows_gpt2"]) < cfg.n_samples:
        log(f"data: the source holds only {len(refs['rows_gpt2'])} stories for reference openings")
    vocab = set()
    for protocol in manifests:
        codec = TokenData(data_dir(run_dir, protocol)).codec
        vocab.update(codec.to_gpt2(np.arange(codec.vocab_size)).tolist())
    vocab.update(i for row in refs["rows_gpt2"] for i in row)
    jcfg = jcfg.replace(skip_stories=skip + len(refs["rows_gpt2"]))
    return prepare(jcfg, Path(run_dir) / JUDGES / "data", log=log, extra_vocab=vocab)


def train_all(cfg: Config, run_dir, paradigm: str, log=print, on_row=None) -> list[dict]:
    """Train (or resume, or skip when finished) every arm of one paradigm, then its judge."""
    summaries = []
    todo = arms(cfg, paradigm) + [j for j in judge_arms(cfg) if j.paradigm == paradigm]
    for arm in todo:
        log(f"== training {arm.key} ==")
        acfg = arm.config
        if arm.name.startswith("judge"):  # the judges' stories start where prepare_judges put them
            manifest = read_json(arm_data_dir(run_dir, arm) / "manifest.json") or {}
            acfg = acfg.replace(skip_stories=(manifest.get("settings") or {}).get("skip_stories", 0))
        summary = train(acfg, arm.paradigm, arm_dir(run_dir, arm), arm_data_dir(run_dir, arm), log=log, on_row=on_row)
        summaries.append({"arm": arm.key, **summary})
    return summaries


def sample_sets(cfg: Config, arm: Arm) -> dict[str, Config]:
    """Every sample set of an arm: {file stem: config}.

    `samples`: the arm's protocol's decoding (controlled: both models' distributions as they are, AR at
    temperature 1, the MDLM's ancestral sampler). Controlled only: `samples_confidence` (MDLM: the
    paper's confidence rule without penalty or temperature schedule), `samples_papertext` (the paper's
    text sampler, penalty and schedule: a labelled extra row, first seed), `samples_prompted` (both
    given "Once"). The frontier on the first seed of the main protocol (`sweep`)."""
    c = arm.config
    sets = {"samples": c}
    first = arm.seed == cfg.seed
    if arm.protocol == "controlled" and arm.name == "mdlm":
        sets["samples_confidence"] = c.replace(mdlm_sampler="confidence_plain")
        if first:
            sets["samples_papertext"] = c.replace(mdlm_sampler="confidence")
    if arm.protocol == "controlled" and arm.name in ("ar", "mdlm") and arm.seed < cfg.seed + cfg.n_seeds:
        sets["samples_prompted"] = c.replace(ar_prompt=PROMPT, mdlm_prompt=PROMPT)
    if cfg.sweep and first and arm.protocol == main_protocol(cfg) and arm.name in ("ar", "mdlm"):
        if arm.paradigm == "ar":
            for temp in FRONTIER_AR_TEMPERATURES:
                sets[f"frontier_temp{temp:g}"] = c.replace(ar_temperature=temp)
        else:
            for temp in FRONTIER_MDLM_TEMPERATURES:
                sets[f"frontier_temp{temp:g}"] = c.replace(mdlm_temperature=temp)
            for steps in FRONTIER_MDLM_STEPS:
                sets[f"frontier_steps{steps}"] = c.replace(mdlm_steps=steps)
    return sets


def sample_all(cfg: Config, run_dir, log=print) -> list[Path]:
    """Draw every sample set (skipping those already written)."""
    from ..generate import sample_run

    paths = []
    for arm in arms(cfg):
        for stem, scfg in sample_sets(cfg, arm).items():
            out = arm_dir(run_dir, arm) / f"{stem}.jsonl"
            if out.exists():
                log(f"samples: {out} exists, skipping")
            else:
                log(f"== sampling {arm.key} [{stem}] ==")
                sample_run(scfg, arm.paradigm, arm_dir(run_dir, arm), out=out)
            paths.append(out)
    if cfg.infill:
        infill_all(cfg, run_dir, log)
    return paths


def infill_all(cfg: Config, run_dir, log=print) -> Path | None:
    """MDLM infilling on held-out stories, scored by the AR model of the same protocol and seed."""
    from ..evaluate import infill_demo

    protocol = main_protocol(cfg)
    mdlm = next(a for a in arms(cfg, "mdlm") if a.protocol == protocol and a.name == "mdlm")
    ar = next(a for a in arms(cfg, "ar") if a.protocol == protocol and a.seed == mdlm.seed)
    out = Path(run_dir) / protocol / "infill.json"
    if out.exists():
        return out
    log(f"== infilling with {mdlm.key} ==")
    result = infill_demo(
        mdlm.config, arm_dir(run_dir, mdlm), arm_dir(run_dir, ar), TokenData(data_dir(run_dir, protocol))
    )
    _write_json(out, {"protocol": protocol, "seed": mdlm.seed, **result})
    return out
