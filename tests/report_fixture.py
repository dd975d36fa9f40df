"""The report tests' fixtures (tests/test_report*.py, tests/test_seed_display.py): a hand-made results dict in
results.json's schema (two protocols, three arms, seeds, sample sets, references, throughput rounds, a frontier;
numbers chosen so each rule and table has something to show), and an executed analysis notebook built by hand
from it, each tagged cell holding what its display object gives."""

import copy
import math
from pathlib import Path

import nbformat

from arche import load_config, report

ROOT = Path(__file__).resolve().parents[1]
MAIN_TEX = ROOT / "paper" / "main.tex"
# every table of a comparison's report
TABLES = (
    report.table_setup,
    report.table_training,
    report.table_val_loss,
    report.table_diversity,
    report.table_likelihood,
    report.table_findings,
)


def _curve(values, paradigm, loss="elbo", steps=(100, 200, 300)):
    out = []
    for s, v in zip(steps, values):
        if paradigm == "ar":
            out.append({"step": s, "val_loss": v, "val_nll": v, "val_ppl": math.exp(v)})
        else:
            nelbo, mm = v, v + 1.0
            out.append(
                {
                    "step": s,
                    "val_loss": nelbo if loss == "elbo" else mm,
                    "val_masked_mean": mm,
                    "val_nelbo": nelbo,
                    "val_ppl_bound": math.exp(nelbo),
                }
            )
    return out


def run_row(protocol, arm, seed, values, n_params, tok_s, loss):
    paradigm = "ar" if arm == "ar" else "mdlm"
    curve = _curve(values, paradigm, loss)
    best = min(curve, key=lambda r: r["val_loss"])
    row = {
        "protocol": protocol,
        "arm": arm,
        "paradigm": paradigm,
        "seed": seed,
        "n_params": n_params,
        "vocab_size": 900,
        "steps": 300,
        "train_time_s": 60.0 + seed,
        "wall_time_s": 66.0 + seed,
        "tokens_per_s": tok_s,
        "best_val": best["val_loss"],
        "best_step": best["step"],
        "final_val": curve[-1]["val_loss"],
        "curve": curve,
        "best_bound": min(r["val_nll" if paradigm == "ar" else "val_nelbo"] for r in curve),
    }
    keys = ("val_nll", "val_ppl") if paradigm == "ar" else ("val_masked_mean", "val_nelbo", "val_ppl_bound")
    for k in keys:
        row[k] = curve[-1][k]
        row["best_" + k] = min(r[k] for r in curve)
    # where the bound first fell clearly below the unigram baseline (5.2 nats/token): the first evaluation
    # for AR, the second for the MDLM, never for the last MDLM seed (a run that stayed on the plateau)
    row["escape_step"] = 100 if paradigm == "ar" else (200 if seed < 2 else None)
    row["lr"] = 0.001 if paradigm == "ar" else 0.002
    row["batch_size"] = 8
    return row


def _text_metrics(u5, sb, d=0.3, vocab=400, ufw=0.1):
    return {
        "distinct_1": d / 5,
        "distinct_2": d,
        "distinct_3": d + 0.2,
        "distinct_4": d + 0.3,
        "self_bleu": sb,
        "self_bleu_matched": sb,
        "self_bleu_exact": sb,
        "self_bleu_published": sb + 0.01,
        "self_bleu_kind": "exact",
        "vocab_size": vocab,
        "unique_first_word": ufw,
        "unique_first_5gram": u5,
        "n_texts": 20,
        "unigram_entropy": 7.0,
        "mean_words": 80.0,
        "first_words_top": [["once", 0.6], ["one", 0.2]],
    }


DECODING = {
    "published/ar": "AR, temperature 0.8",
    "published/mdlm": "MDLM released sampler (penalty, temperature 1 schedule), 100 steps",
    "ar": "AR, temperature 1",
    "samples": "MDLM ancestral, temperature 1, 100 steps",
    "samples_confidence": "MDLM confidence rule, temperature 1, no penalty, 100 steps",
    "samples_papertext": "MDLM paper-text sampler: temperature 1.2 to 0.5, repetition penalty 1.3, 100 steps",
}


def _sample(protocol, arm, seed, setting, u5, sb, gen_ppl=12.0, knob=None, value=None, wall=5.0, se=None):
    paradigm = "ar" if arm == "ar" else "mdlm"
    sampler = {"samples_confidence": "confidence_plain", "samples_papertext": "confidence"}.get(setting, "ancestral")
    return {
        "protocol": protocol,
        "arm": arm,
        "paradigm": paradigm,
        "seed": seed,
        "setting": setting,
        "sampler": "ar" if arm == "ar" else sampler,
        "decoding": DECODING.get(f"{protocol}/{arm}")
        or (DECODING["ar"] if arm == "ar" else DECODING.get(setting, DECODING["samples"])),
        "knob": knob,
        "value": value,
        "wall_time_s": wall,
        **_text_metrics(u5, sb),
        "gen_ppl": gen_ppl,
        "judge_nelbo": 2.0 + gen_ppl / 100,
        "jsd_words": 0.05 + sb / 10,
        "examples": ["Once upon a time_ 50% & {more}", "b", "c"],
        **({"se": se} if se else {}),
    }


SE = {"unique_first_5gram": 0.02, "self_bleu_matched": 0.01}


# The frontier (controlled, seed 0): (setting, knob, value, judge perplexity, unique first 5-grams, Self-BLEU).
AR_FRONTIER = [
    ("frontier_temp0.5", 0.5, 4.0, 0.20, 0.60),
    ("frontier_temp0.7", 0.7, 6.0, 0.30, 0.50),
    ("frontier_temp0.85", 0.85, 9.0, 0.40, 0.40),
    ("frontier_temp1.15", 1.15, 25.0, 0.60, 0.25),
    ("frontier_temp1.3", 1.3, 40.0, 0.70, 0.20),
    ("frontier_temp1.5", 1.5, 70.0, 0.80, 0.15),
    ("frontier_temp2", 2.0, 200.0, 0.93, 0.10),
]


MDLM_FRONTIER = [  # against AR at the same perplexity: no difference, more diverse, less diverse, ...
    ("frontier_temp0.4", "mdlm_temperature", 0.4, 18.0, 0.55, 0.28),
    ("frontier_temp0.6", "mdlm_temperature", 0.6, 27.0, 0.80, 0.12),
    ("frontier_temp0.8", "mdlm_temperature", 0.8, 45.0, 0.60, 0.30),
    ("frontier_steps25", "mdlm_steps", 25, 150.0, 0.90, 0.11),
    ("frontier_steps50", "mdlm_steps", 50, 120.0, 0.89, 0.12),
]


def _frontier_samples() -> list[dict]:
    rows = [
        _sample("controlled", "ar", 0, setting, u5, sb, ppl, "ar_temperature", temp, 3.0, SE)
        for setting, temp, ppl, u5, sb in AR_FRONTIER
    ]
    rows += [
        _sample("controlled", "mdlm", 0, setting, u5, sb, ppl, knob, value, 4.0, SE)
        for setting, knob, value, ppl, u5, sb in MDLM_FRONTIER
    ]
    return rows


def make_results(synthetic=True):
    """Published protocol: one seed of AR and MDLM; controlled: three seeds of AR, MDLM and the
    tied MDLM, the MDLM's confidence rule, the prompted setting, the paper-text sampler and the frontier on
    seed 0, reference rows for both, the judges and the regime."""
    cfg = load_config("smoke", n_seeds=3, tied_mdlm=True)
    runs = [
        run_row("published", "ar", 0, [3.0, 2.5, 2.6], 500_000, 10_000.0, "masked_mean"),
        run_row("published", "mdlm", 0, [4.0, 3.5, 3.3], 620_000, 9_500.0, "masked_mean"),
    ]
    for seed, best in enumerate([2.0, 2.1, 2.2]):
        runs.append(run_row("controlled", "ar", seed, [2.6, best, best + 0.05], 500_000, 10_000.0 + 100 * seed, "elbo"))
        runs.append(
            run_row("controlled", "mdlm", seed, [3.5, 3.0, 2.5 + 0.1 * seed], 620_000, 9_800.0 + 100 * seed, "elbo")
        )
        runs.append(run_row("controlled", "mdlm_tied", seed, [3.6, 3.1, 2.6 + 0.1 * seed], 510_000, 9_900.0, "elbo"))
    samples = [
        _sample("published", "ar", 0, "samples", 0.05, 0.40),
        _sample("published", "mdlm", 0, "samples", 0.90, 0.30),
    ]
    for seed in range(3):
        main_se = SE if seed == 0 else None  # the first seed's main sets are frontier points
        samples += [
            _sample("controlled", "ar", seed, "samples", 0.50 + 0.01 * seed, 0.30 + 0.01 * seed, 15.0, se=main_se),
            _sample("controlled", "mdlm", seed, "samples", 0.52 + 0.01 * seed, 0.29 + 0.01 * seed, 60.0, se=main_se),
            _sample("controlled", "mdlm_tied", seed, "samples", 0.51, 0.295),
            _sample("controlled", "mdlm", seed, "samples_confidence", 0.75, 0.15, 30.0, se=main_se),
            _sample("controlled", "ar", seed, "samples_prompted", 0.10 + 0.01 * seed, 0.40),
            _sample("controlled", "mdlm", seed, "samples_prompted", 0.60 + 0.01 * seed, 0.30),
        ]
    samples.append(_sample("controlled", "mdlm", 0, "samples_papertext", 0.95, 0.08, 400.0))
    samples += _frontier_samples()
    refs = []
    for protocol in ("published", "controlled"):
        for kind, u5, sb in (("openings", 0.45, 0.31), ("windows", 0.99, 0.28)):
            extra = {"gen_ppl": 11.0, "judge_nelbo": 2.1, "jsd_words": 0.0 if kind == "openings" else 0.04}
            refs.append({"protocol": protocol, "kind": kind, **_text_metrics(u5, sb), **extra, "examples": ["x"]})
    data = {
        p: {
            "source": "synthetic" if synthetic else "tinystories",
            "n_tokens": 300_000,
            "vocab_size": 900,
            "n_stories": 2000,
            "settings": {"val_split": "chunk" if p == "published" else "story"},
        }
        for p in ("published", "controlled")
    }
    meta = {
        "profile": "smoke",
        "config": cfg.to_dict(),
        "protocols": ["published", "controlled"],
        "seeds": [0, 1, 2],
        "source": "synthetic" if synthetic else "tinystories",
        "synthetic": synthetic,
        "n_tokens": 300_000,
        "vocab_size": 900,
        "data": data,
        "device": "CPU (x86_64, 2 cores, 2 threads)",
        "created": "2026-01-01 00:00:00",
        "main_protocol": "controlled",
        "unigram_entropy": {"published": 5.0, "controlled": 5.0},
        "unigram_xent": {"published": 5.2, "controlled": 5.2},
        "seeds_by_arm": {f"{p}/{a}": [0, 1, 2] for p in ("published", "controlled") for a in ("ar", "mdlm")},
        "judges": {
            "ar": {"key": "judges/judge_s1000", "seed": 1000, "best_bound": 2.05},
            "mdlm": {"key": "judges/judge_mdlm_s1000", "seed": 1000, "best_bound": 2.45},
        },
        "references": {"skip_stories": 400, "n": 20},
        "regime": {
            "batch_size": 8,
            "lr": 0.001,
            "mdlm_lr": 0.002,
            "mdlm_time_sampling": "stratified",
            "precision": "auto",
        },
    }
    meta["judge"] = meta["judges"]["ar"]
    # Interleaved throughput: MDLM at ~98% of AR in every round.
    ar_tok = [10_000.0, 10_300.0, 9_800.0, 10_100.0, 9_900.0]
    throughput = {
        "per_round": {"ar": ar_tok, "mdlm": [0.98 * v for v in ar_tok], "mdlm_tied": [0.99 * v for v in ar_tok]},
        "median": {"ar": 10_000.0, "mdlm": 9_800.0, "mdlm_tied": 9_900.0},
        "rounds": 5,
        "steps": 3,
        "device": "CPU (test)",
    }
    infill = {
        "protocol": "controlled",
        "seed": 0,
        "n_stories": 8,
        "length": 128,
        "sampler": "confidence",
        "steps": 50,
        "span_tokens": 42,
        "ar_nll_original": 2.9,
        "ar_nll_infilled": 3.2,
        "ar_nll_random": 6.5,
        "span_token_match": 0.12,
        "examples": [{"original": "a [b] c", "infilled": "a [d] c"}],
    }
    return {
        "meta": meta,
        "runs": runs,
        "samples": samples,
        "references": refs,
        "infill": infill,
        "throughput": throughput,
    }


TAGS = {
    "fig-val-curves": lambda r: report.show_figure(report.fig_val_curves(r)),
    "fig-likelihood": lambda r: report.show_figure(report.fig_likelihood(r)),
    "fig-diversity": lambda r: report.show_figure(report.fig_diversity(r)),
    "fig-frontier": lambda r: report.show_figure(report.fig_frontier(r)),  # the frontier, under its own tag
    "tab-setup": lambda r: report.show_table(report.table_setup(r)),
    "tab-training": lambda r: report.show_table(report.table_training(r)),
    "tab-val-loss": lambda r: report.show_table(report.table_val_loss(r)),
    "tab-diversity": lambda r: report.show_table(report.table_diversity(r)),
    "tab-likelihood": lambda r: report.show_table(report.table_likelihood(r)),
    "tab-findings": lambda r: report.show_table(report.table_findings(r)),
    "tab-examples-published": lambda r: report.show_table(report.table_examples(r, "published")),
    "tab-examples-controlled": lambda r: report.show_table(report.table_examples(r, "controlled")),
    "tab-examples-prompted": lambda r: report.show_table(report.table_examples(r, "prompted")),
    "macros": lambda r: report.show_macros(r),
}


# A comparison run's notebook shows the repetition study's cells as skipped.
REPETITION_TAGS = {"fig-repetition", "tab-repetition", "tab-repetition-samples"}


_BUNDLES = {}


def _bundle(tag, make, results):
    """Display bundles of the fixture, computed once per session (figures take seconds)."""
    if results is not None:
        return make(results)._repr_mimebundle_()
    if tag not in _BUNDLES:
        _BUNDLES[tag] = make(make_results())._repr_mimebundle_()
    return _BUNDLES[tag]


def executed_notebook(results=None, tags=TAGS, drop=()):
    """An 'executed' analysis notebook built by hand: each tagged cell's outputs are what its display
    object gives (for the default fixture when results is None); tags in `drop` keep the cell but
    lose its output."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# analysis"))
    nb.cells.append(nbformat.v4.new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]}))
    for i, (tag, make) in enumerate(tags.items()):
        cell = nbformat.v4.new_code_cell(f"# {tag}", metadata={"tags": [tag]}, execution_count=i + 1)
        if tag not in drop:
            data = copy.deepcopy(_bundle(tag, make, results if make is not TAGS.get(tag) else None))
            out_type = "execute_result" if i % 2 else "display_data"
            kw = {"execution_count": i + 1} if out_type == "execute_result" else {}
            cell.outputs = [nbformat.v4.new_output(out_type, data=data, **kw)]
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def minimal_results(synthetic=True):
    """One protocol, one seed, no tied MDLM, no frontier, no references, no infilling."""
    r = make_results(synthetic=synthetic)
    r["meta"]["protocols"] = ["controlled"]
    r["meta"]["seeds"] = [0]
    r["runs"] = [x for x in r["runs"] if x["protocol"] == "controlled" and x["seed"] == 0 and x["arm"] != "mdlm_tied"]
    r["samples"] = [
        x
        for x in r["samples"]
        if x["protocol"] == "controlled"
        and x["seed"] == 0
        and not x["setting"].startswith("frontier")
        and x["arm"] != "mdlm_tied"
    ]
    r["references"] = []
    r["infill"] = None
    return r
