"""
Times arche.sample's samplers on random-init models (speed does not depend on the weights):
AR with the KV cache, and the MDLM "confidence" and "published" samplers, at two shapes:

    smoke  d128, 2 layers, 4 heads, ff 384, vocabulary 2,000; 200 samples of 128 tokens, MDLM 50 steps
    paper  d768, 12 layers, 12 heads, ff 2048, GPT-2 vocabulary (50,257 + [MASK]); MDLM 100 steps

On CUDA (bf16 autocast, as in arche.generate.generate) the paper shape draws the full 1,000 samples
(AR in batches of 250 and 500, MDLM in batches of 250). On CPU it draws a few samples only, and the MDLM
runs 5 of its 100 rounds: the report gives seconds per sample and the projection to 1,000 samples
(and, for the MDLM, to 100 rounds; every round costs about one forward pass). Every sampler runs once
on a small warm-up first. Prints one JSON line per measurement, with the 1-minute load average.

On CPU it uses ONE thread by default (--threads to change): on a shared 2-core machine under load,
two torch threads made KV-cached AR sampling ~30x slower than one (OpenMP threads waiting on each other).

    python benchmarks/bench_sample.py                 # whatever device torch finds
    python benchmarks/bench_sample.py --shapes smoke  # just the small shape
"""

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402

from arche import build_model, load_config  # noqa: E402
from arche.denoise import sample_mdlm  # noqa: E402
from arche.device import autocast_for  # noqa: E402
from arche.sample import sample_ar

LENGTH = 128
SEED = 0


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads, {platform.processor() or 'unknown'})"


def plans(device):
    """(shape, config overrides, list of runs). A run: paradigm, sampler, n, batch, steps run, steps meant."""
    on_gpu = device.type == "cuda"
    smoke_batch = 200 if on_gpu else 100
    smoke = (
        "smoke",
        dict(vocab_size=2000),
        [
            ("ar", "ar", 200, smoke_batch, None, None),
            ("mdlm", "confidence", 200, smoke_batch, 50, 50),
            ("mdlm", "published", 200, smoke_batch, 50, 50),
        ],
    )
    if on_gpu:
        paper_runs = [
            ("ar", "ar", 1000, 250, None, None),
            ("ar", "ar", 1000, 500, None, None),
            ("mdlm", "confidence", 1000, 250, 100, 100),
            ("mdlm", "published", 1000, 250, 100, 100),
        ]
    else:
        paper_runs = [
            ("ar", "ar", 8, 8, None, None),
            ("mdlm", "confidence", 2, 2, 5, 100),
            ("mdlm", "published", 2, 2, 5, 100),
        ]
    paper = ("paper", dict(), paper_runs)
    return {"smoke": smoke, "paper": paper}


def draw(model, paradigm, sampler, n, batch, steps, prefix, device):
    if paradigm == "ar":
        return sample_ar(model, prefix, n, LENGTH, temperature=0.8, seed=SEED, batch_size=batch, device=device)
    return sample_mdlm(model, prefix, n, LENGTH, sampler, steps=steps, seed=SEED, batch_size=batch, device=device)


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shapes", default="smoke,paper", help="comma-separated: smoke, paper")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    all_plans = plans(device)
    for shape in args.shapes.split(","):
        name, overrides, runs = all_plans[shape]
        profile = "smoke" if name == "smoke" else "paper"
        # One more position than LENGTH: both models start from <|endoftext|> (the controlled prefix).
        cfg = load_config(profile, sample_length=LENGTH + 1, **overrides)
        autocast = autocast_for(cfg, device)
        models = {}
        for paradigm, sampler, n, batch, steps, steps_meant in runs:
            if paradigm not in models:
                models.clear()  # one paper-size model in memory at a time
                torch.manual_seed(0)
                models[paradigm] = build_model(cfg, paradigm).to(device).eval()
            model = models[paradigm]
            prefix = [cfg.vocab_size - 1]  # stands in for <|endoftext|>; any id times the same
            load = os.getloadavg()[0]
            with torch.no_grad(), autocast:
                draw(model, paradigm, sampler, min(n, 2), min(batch, 2), 2 if steps else None, prefix, device)
                wall = timed(lambda: draw(model, paradigm, sampler, n, batch, steps, prefix, device), device)
            scale = (steps_meant / steps) if steps else 1.0
            per_sample = wall / n
            print(
                json.dumps(
                    {
                        "bench": "sample",
                        "shape": name,
                        "model": paradigm,
                        "sampler": sampler,
                        "n": n,
                        "length": LENGTH,
                        "batch_size": batch,
                        "steps_run": steps,
                        "steps_meant": steps_meant,
                        "wall_s": round(wall, 3),
                        "s_per_sample": round(per_sample, 5),
                        "projected_s_for_1000": round(per_sample * 1000 * scale, 1),
                        "tokens_per_s": round(n * LENGTH / wall / scale, 1),
                        "params": model.n_params(),
                        "vocab_size": cfg.vocab_size,
                        "precision": "bf16 autocast" if device.type == "cuda" else "fp32",
                        "device": device_name(device),
                        "load_avg_1m": round(load, 2),
                        "torch": torch.__version__,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
