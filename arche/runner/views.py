"""What notebooks 01-04 show: the parameters check, a description of the run, data and metric tables,
loss curves, sample timings and decoded texts. Display only; the work is done by arche.study."""

from __future__ import annotations

import contextlib
from pathlib import Path

from ..io import read_jsonl
from ..runlock import run_lock
from .notebook_checks import refuse_unknown_parameters

CONSOLE_WIDTH = 120  # columns of a table printed as text (papermill --log-output, a terminal)


def start(namespace: dict) -> None:
    """The first call of every notebook's setup cell: its parameters checked (refuse_unknown_parameters), and
    tables printed as text wrapped to CONSOLE_WIDTH columns (pandas' default, 80, and unwrapped wide frames
    gave lines of 160 characters and more in a console)."""
    import pandas as pd

    refuse_unknown_parameters(namespace)
    pd.set_option("display.width", CONSOLE_WIDTH)
    pd.set_option("display.expand_frame_repr", True)


def live_curve(paradigm: str):
    """For study.train_all(on_row=...): in a notebook, one figure of every model's validation loss, redrawn in
    place at each evaluation while the models train; None outside IPython (the console has the log lines)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    if get_ipython() is None:
        return None
    import matplotlib.pyplot as plt

    curves: dict[str, list] = {}
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    plt.close(fig)  # shown through the display handle only, not again at the end of the cell
    handle = display(fig, display_id=True)

    def on_row(record: dict, run_dir) -> None:
        if "val_loss" not in record:
            return
        curves.setdefault(Path(run_dir).name, []).append((record["step"], record["val_loss"]))
        ax.clear()
        for name, points in curves.items():
            ax.plot(*zip(*points), marker="o", markersize=3, label=name)
        ax.set(xlabel="step", ylabel="validation loss (nats/token)", title=f"{paradigm.upper()}: while training")
        ax.legend(fontsize=7)
        handle.update(fig)

    return on_row


@contextlib.contextmanager
def lock_arms(cfg, run_dir, what: str):
    """Hold the lock of every model directory of the run (04_sample: no sampling from a model that is
    being trained, no two samplers writing the same files)."""
    from .. import study

    with contextlib.ExitStack() as stack:
        for _, _, path in study.model_dirs(cfg, run_dir):
            stack.enter_context(run_lock(path, what))
        yield


def describe(cfg, profile: str, run_dir) -> str:
    """A few lines on what a notebook is about to do: profile, run directory, device, the arms."""
    from .. import study
    from ..device import resolve_device
    from ..scaling import config_scale_note
    from ..study import comparison

    arms = ", ".join(key for key, _, _ in study.model_dirs(cfg, run_dir)) or ", ".join(
        a.key for a in comparison.arms(cfg)
    )
    note = config_scale_note(cfg)
    return (
        (f"*** {note} ***\n" if note else "")
        + f"profile {profile} | run dir {run_dir} | device {resolve_device(cfg)} | source {cfg.source}\n"
        f"model d{cfg.d_model} L{cfg.n_layers} H{cfg.n_heads} | {cfg.steps} steps x {cfg.batch_size} x "
        f"{cfg.seq_len} tokens\narms: {arms}"
    )


def data_table(manifests: dict):
    """The data manifests of `study.prepare_all` as one row per protocol."""
    import pandas as pd

    keys = (
        "source",
        "tokenizer",
        "vocab_size",
        "n_stories",
        "n_tokens",
        "n_train_chunks",
        "n_val_chunks",
        "n_val_stories",
    )
    rows = {
        p: {
            **{k: m.get(k) for k in keys},
            "eos_between_stories": m["settings"]["eos_between_stories"],
            "val_split": m["settings"]["val_split"],
            "seq_len": m["settings"]["seq_len"],
        }
        for p, m in manifests.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("protocol")


def example_stories(cfg, run_dir, n: int = 3, max_tokens: int = 120) -> dict[str, list[str]]:
    """The first `n` held-out stories of every protocol (up to `max_tokens` tokens each), decoded."""
    import numpy as np

    from ..batches import TokenData
    from ..study import comparison

    out = {}
    for protocol in comparison.protocols(cfg):
        data = TokenData(comparison.data_dir(run_dir, protocol))
        flat = np.asarray(data.val).reshape(-1)
        starts = [int(s) for s in data.val_story_starts[: n + 1]] or [0]
        texts = []
        for i, s in enumerate(starts[:n]):
            end = min(starts[i + 1] if i + 1 < len(starts) else flat.size, s + max_tokens)
            text = data.codec.decode(flat[s:end]).replace("<|endoftext|>", "").strip()
            texts.append(text + (" ..." if end == s + max_tokens else ""))
        out[protocol] = texts
    return out


def print_texts(groups: dict[str, list[str]], width: int = 100) -> None:
    """Print texts grouped under headings, wrapped to `width` columns."""
    import textwrap

    for title, texts in groups.items():
        print(f"=== {title} ===")
        for i, text in enumerate(texts, 1):
            print(textwrap.fill(text, width, initial_indent=f"[{i}] ", subsequent_indent="    "))
        print()


def metrics_table(cfg, run_dir, paradigm: str):
    """Every evaluated step of every arm of a paradigm (from metrics.jsonl)."""
    import pandas as pd

    from .. import study
    from ..rundir import read_metrics

    rows = []
    for key, _, path in study.model_dirs(cfg, run_dir, paradigm):
        for rec in read_metrics(path):
            if "val_loss" in rec:
                rows.append({"arm": key, **{k: v for k, v in rec.items() if k != "lr"}})
    return pd.DataFrame(rows)


def plot_losses(cfg, run_dir, paradigm: str):
    """Train and validation loss against step, one panel per protocol (one for a repetition study),
    one colour per model."""
    import matplotlib.pyplot as plt

    from .. import study
    from ..rundir import read_metrics

    groups: dict[str, list] = {}
    for key, _, path in study.model_dirs(cfg, run_dir, paradigm):
        group = f"{cfg.protocol} protocol, repetition" if cfg.study == "repetition" else f"{key.split('/')[0]} protocol"
        groups.setdefault(group, []).append((key, path))
    groups = groups or {"(nothing trained yet)": []}
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 3.8), squeeze=False)
    for ax, (title, models) in zip(axes[0], groups.items()):
        for k, (key, path) in enumerate(models):
            recs = read_metrics(path)
            train = [(r["step"], r["train_loss"]) for r in recs if "train_loss" in r]
            val = [(r["step"], r["val_loss"]) for r in recs if "val_loss" in r]
            colour = f"C{k % 10}"
            name = key.split("/", 1)[-1]
            if train:
                ax.plot(*zip(*train), color=colour, alpha=0.6, lw=1, label=f"{name} train")
            if val:
                ax.plot(*zip(*val), color=colour, marker="o", lw=2, label=f"{name} val")
        loss = "AR cross-entropy" if paradigm == "ar" else f"MDLM loss ({cfg.mdlm_loss})"
        ax.set(title=title, xlabel="step", ylabel=f"{loss}, nats/token")
        ax.grid(alpha=0.3)
        if ax.lines and len(models) <= 8:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _sample_files(cfg, run_dir, only_stem=None):
    """(model key, set name, records) of every sample file the run's models hold, either study."""
    from .. import study

    for key, _, path in study.model_dirs(cfg, run_dir):
        for file in sorted(path.glob("*.jsonl")) if path.is_dir() else []:
            if file.stem == "metrics" or only_stem not in (None, file.stem):
                continue
            yield key, file.stem, read_jsonl(file)


def sample_times(cfg, run_dir):
    """One row per sample set written: arm, set, sampler, count, wall time."""
    import pandas as pd

    rows = []
    for key, stem, recs in _sample_files(cfg, run_dir):
        wall = recs[0].get("wall_time_s") if recs else None
        rows.append(
            {
                "model": key,
                "set": stem,
                "sampler": recs[0].get("sampler") if recs else None,
                "n": len(recs),
                "wall_time_s": wall,
                "ms_per_sample": 1000 * wall / len(recs) if wall and recs else None,
            }
        )
    return pd.DataFrame(rows)


def sample_examples(cfg, run_dir, n: int = 3, stem: str = "samples", max_chars: int = 400) -> dict:
    """The first `n` texts of every arm's `stem` sample set."""
    return {
        f"{key} [{stem}]": [r["text"][:max_chars] + (" ..." if len(r["text"]) > max_chars else "") for r in recs[:n]]
        for key, _, recs in _sample_files(cfg, run_dir, stem)
    }


def show_masking(cfg, run_dir, ts=(0.25, 0.5, 0.75), max_tokens: int = 48, seed: int = 0):
    """The science of 03 in one cell: the schedule alpha(t) = cos^2(pi t / 2) (the probability that a
    token is still visible at time t), the NELBO's weight -alpha'(t) / (1 - alpha(t)) on each masked
    token's loss, and the first held-out story with its tokens masked at three values of t, as the
    MDLM sees it during training. Returns the figure; prints the stories."""
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from ..batches import TokenData
    from ..objectives import alpha, nelbo_weight
    from ..study import comparison

    t = torch.linspace(cfg.mdlm_eps, 1.0, 400)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    axes[0].plot(t, alpha(t))
    axes[0].set(xlabel="t (noise level)", ylabel="alpha(t) = P(token visible)", title="masking schedule")
    axes[1].plot(t, nelbo_weight(t))
    axes[1].set(xlabel="t", ylabel="weight, log scale", title="NELBO weight -alpha'(t) / (1 - alpha(t))")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()

    data = TokenData(comparison.data_dir(run_dir, comparison.main_protocol(cfg)))
    flat = np.asarray(data.val).reshape(-1)
    start = int(data.val_story_starts[0]) if len(data.val_story_starts) else 0
    tokens = [int(x) for x in flat[start : start + max_tokens] if int(x) != data.codec.eot]
    gen = torch.Generator().manual_seed(seed)
    shown = {}
    for tv in ts:
        visible = alpha(torch.tensor(tv)).item()
        masked = (torch.rand(len(tokens), generator=gen) < 1 - visible).tolist()
        pieces = []
        for tok, m in zip(tokens, masked):
            text = data.codec.decode([tok])
            pieces.append((" " if text.startswith(" ") else "") + "[MASK]" if m else text)
        shown[f"t = {tv}: alpha = {visible:.2f}, {sum(masked)} of {len(tokens)} tokens masked"] = ["".join(pieces)]
    print_texts(shown)
    return fig


def show_denoising(cfg, run_dir, n_rounds: int = 6, steps: int | None = None, seed: int = 0):
    """The science of 04 in one cell: one MDLM sample drawn from a fully masked canvas, shown after
    a few of its denoising rounds (the sampler's own `trace`), from all [MASK] to the finished text."""
    import torch

    from .. import study
    from ..denoise import sample_mdlm
    from ..generate import load_model, prefix_ids
    from ..rundir import read_metrics

    def best_val(path):  # the run's best MDLM (lowest validation loss) writes the trace worth reading
        vals = [r["val_loss"] for r in read_metrics(path) if "val_loss" in r]
        return min(vals) if vals else float("inf")

    mdlm = sorted(
        (path for _, paradigm, path in study.model_dirs(cfg, run_dir, "mdlm") if paradigm == "mdlm"), key=best_val
    )
    if not mdlm:
        print("no MDLM trained in this run")
        return
    model, codec, saved, _ = load_model(mdlm[0], max_len=cfg.sample_length + 2)
    sampler = cfg.mdlm_sampler if cfg.mdlm_sampler in ("confidence", "remask") else "confidence"
    prefix = prefix_ids(codec, saved["config"]["eos_between_stories"], "")
    trace: list = []
    with torch.no_grad():
        sample_mdlm(model, prefix, 1, cfg.sample_length, sampler, steps or cfg.mdlm_steps, seed=seed, trace=trace)
    picks = sorted({round(i * (len(trace) - 1) / max(1, n_rounds - 1)) for i in range(n_rounds)})
    shown = {}
    for i in picks:
        rec = trace[i]
        row = rec["canvas"][0].tolist()
        text = "".join("_" if tok == model.mask_id else codec.decode([tok]) for tok in row)
        left = sum(tok == model.mask_id for tok in row)
        shown[f"after round {rec['round'] + 1} of {len(trace)} (t = {rec['t']:.2f}): {left} [MASK] left"] = [text]
    print(f"{mdlm[0].relative_to(run_dir)}: {sampler} sampler, {len(trace)} rounds; _ is a [MASK]")
    print_texts(shown)
