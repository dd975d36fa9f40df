"""The study: which models a run trains, samples and compares, and the analysis into results.json.

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

from .config import Config
from .data import TokenData, prepare
from .io import write_json as _write_json
from .train import train

SWEEP_MDLM_STEPS = (10, 25, 50, 100, 200)
SWEEP_AR_TEMPERATURES = (0.7, 0.8, 1.0)
PROMPT = "Once"  # the second controlled setting: both models given the same prompt
JUDGE_SEED_OFFSET = 1000  # the judge's seed is used by no arm: it wrote none of the texts it scores


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


def arms(cfg: Config, paradigm: str | None = None) -> list[Arm]:
    out = []
    for protocol in protocols(cfg):
        pcfg = cfg.replace(protocol=protocol) if protocol != cfg.protocol else cfg
        # The parameter-matched MDLM belongs to the controlled comparison (or the only protocol run).
        tied = cfg.tied_mdlm and (protocol == "controlled" or not cfg.compare_protocols)
        names = ["ar", "mdlm"] + (["mdlm_tied"] if tied else [])
        for i in range(cfg.n_seeds):
            seed = cfg.seed + i
            for name in names:
                arm_cfg = pcfg.replace(seed=seed, sample_seed=pcfg.sample_seed + i, mdlm_tied_head=name == "mdlm_tied")
                arm = Arm(protocol, name, "ar" if name == "ar" else "mdlm", seed, arm_cfg)
                if paradigm in (None, arm.paradigm):
                    out.append(arm)
    return out


def main_protocol(cfg: Config) -> str:
    """The protocol whose results the verdicts use: controlled when it is run, else the only one."""
    return "controlled" if "controlled" in protocols(cfg) else protocols(cfg)[0]


def judge_arm(cfg: Config) -> Arm:
    """The common judge of fluency: an AR model of the main protocol, trained like the AR arms but
    with a seed no arm uses, so that it generated none of the samples or references it scores."""
    protocol = main_protocol(cfg)
    pcfg = cfg.replace(protocol=protocol) if protocol != cfg.protocol else cfg
    seed = cfg.seed + JUDGE_SEED_OFFSET
    return Arm(protocol, "judge", "ar", seed, pcfg.replace(seed=seed, mdlm_tied_head=False))


def model_dirs(cfg: Config, run_dir, paradigm: str | None = None) -> list[tuple[str, str, Path]]:
    """(key, paradigm, directory) of every model the run trains, for either study (progress tables,
    plots and locks need no other knowledge of its layout). The judge is not included."""
    if cfg.study == "repetition":
        from . import repetition

        return repetition.model_dirs(cfg, run_dir, paradigm)
    return [(a.key, a.paradigm, arm_dir(run_dir, a)) for a in arms(cfg, paradigm)]


def data_dir(run_dir, protocol: str) -> Path:
    return Path(run_dir) / protocol / "data"


def arm_dir(run_dir, arm: Arm) -> Path:
    return Path(run_dir) / arm.protocol / f"{arm.name}_s{arm.seed}"


# --------------------------------------------------------------------------- pipeline stages


def prepare_all(cfg: Config, run_dir, log=print) -> dict:
    """Token files for every protocol of the run; returns {protocol: manifest}."""
    if cfg.study == "repetition":
        from . import repetition

        return repetition.prepare_all(cfg, run_dir, log)
    out = {}
    for protocol in protocols(cfg):
        pcfg = cfg.replace(protocol=protocol) if protocol != cfg.protocol else cfg
        out[protocol] = prepare(pcfg, data_dir(run_dir, protocol), log=log)
    return out


def train_all(cfg: Config, run_dir, paradigm: str, log=print) -> list[dict]:
    """Train (or resume, or skip when finished) every arm of one paradigm."""
    if cfg.study == "repetition":
        from . import repetition

        return repetition.train_all(cfg, run_dir, paradigm, log)
    summaries = []
    todo = arms(cfg, paradigm) + ([judge_arm(cfg)] if paradigm == "ar" else [])
    for arm in todo:
        log(f"== training {arm.key} ==")
        summary = train(arm.config, arm.paradigm, arm_dir(run_dir, arm), data_dir(run_dir, arm.protocol), log=log)
        summaries.append({"arm": arm.key, **summary})
    return summaries


def sample_settings(cfg: Config, arm: Arm) -> dict[str, Config]:
    """Every sample set of an arm: {file stem: config}. The main set, the prompted controlled
    setting, and the sweep on the first seed."""
    sets = {"samples": arm.config}
    if arm.protocol == "controlled":
        sets["samples_prompted"] = arm.config.replace(ar_prompt=PROMPT, mdlm_prompt=PROMPT)
    if cfg.sweep and arm.seed == cfg.seed and arm.protocol == main_protocol(cfg) and arm.name in ("ar", "mdlm"):
        if arm.paradigm == "mdlm":
            for steps in SWEEP_MDLM_STEPS:
                sets[f"sweep_steps{steps}"] = arm.config.replace(mdlm_steps=steps)
        else:
            for temp in SWEEP_AR_TEMPERATURES:
                sets[f"sweep_temp{temp:g}"] = arm.config.replace(ar_temperature=temp)
    return sets


def sample_all(cfg: Config, run_dir, log=print) -> list[Path]:
    """Draw every sample set (skipping those already written)."""
    if cfg.study == "repetition":
        from . import repetition

        return repetition.sample_all(cfg, run_dir, log)
    from .generate import sample_run

    paths = []
    for arm in arms(cfg):
        for stem, scfg in sample_settings(cfg, arm).items():
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
    from .evaluate import infill_demo

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


# --------------------------------------------------------------------------- analysis


def analyse(cfg: Config, run_dir, profile: str | None = None, log=print) -> dict:
    """Score everything the run saved into RUN/results.json (arche.analysis for the comparison,
    arche.repetition for a repetition study); returns the results."""
    if cfg.study == "repetition":
        from . import repetition

        return repetition.analyse(cfg, run_dir, profile, log)
    from . import analysis

    return analysis.analyse(cfg, run_dir, profile, log)
