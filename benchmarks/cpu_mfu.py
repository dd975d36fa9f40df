"""This machine's matmul peak (fp32 and bf16) and training MFU against it, at a profile's shape.

    python benchmarks/cpu_mfu.py                         # replica shape, 2 threads, fp32 and bf16
    python benchmarks/cpu_mfu.py --profile smoke --steps 20

Peak: the best of a few timed (n x n) @ (n x n) matmuls (2 n^3 FLOPs each), n in 1024..4096, with
`--threads` torch threads, per dtype (fp32; bf16 tensors, which oneDNN runs on AVX512-BF16/AMX when
the CPU has them). Training: the trainer's own step (benchmarks/throughput.py's `bench`: loss,
backward, clipping, AdamW) on random tokens, under precision fp32 and bf16 (autocast).
FLOPs per trained token (forward + backward = 3 x forward, PaLM/nanoGPT convention):

    6 * N_nonembedding  +  6 * d_model * vocab (the output head)  +  12 * n_layers * d_model * seq_len

(the embedding lookup costs no FLOPs; the attention term counts the full T x T score and value
products, as nanoGPT does, even where causal masking skips half). MFU = tokens/s * FLOPs/token / peak
of the same dtype. Prints one JSON line per measurement with the 1-minute load average.
"""

import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import step_args  # noqa: E402  (puts the repository on the path)
from throughput import bench, device_name  # noqa: E402

from arche.config import parse_overrides  # noqa: E402
from arche.device import cpu_has_native_bf16, resolve_precision  # noqa: E402
from arche.scaling import SAMPLE_VOCAB, flops_per_token


def matmul_peak(dtype, sizes=(1024, 2048, 4096), repeats=5):
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n).to(dtype)
        b = torch.randn(n, n).to(dtype)
        a @ b  # warm-up (oneDNN primitive creation)
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            best = max(best, 2 * n**3 / (time.perf_counter() - t0))
    return best


def main():
    p = step_args.parser(__doc__, steps=10, vocab=False)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--paradigms", default="ar,mdlm")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--skip-peak", action="store_true")
    p.add_argument("--peak-sizes", default="1024,2048,4096", help="matmul sizes n of the peak (comma-separated)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = step_args.config(args, device="cpu")
    if cfg.compact_vocab and "vocab_size" not in parse_overrides(args.overrides):
        cfg = cfg.replace(vocab_size=SAMPLE_VOCAB if args.profile == "replica" else 965)
    device = torch.device("cpu")
    peaks = {}
    for prec in args.precisions.split(","):
        dtype = torch.bfloat16 if prec == "bf16" else torch.float32
        if args.skip_peak:
            peaks[prec] = None
            continue
        load = os.getloadavg()[0]
        peaks[prec] = matmul_peak(dtype, sizes=[int(n) for n in args.peak_sizes.split(",")])
        print(
            json.dumps(
                {
                    "bench": "matmul_peak",
                    "dtype": prec,
                    "gflops": round(peaks[prec] / 1e9, 1),
                    "threads": args.threads,
                    "device": device_name(device),
                    "cpu_native_bf16": cpu_has_native_bf16(),
                    "load_avg_1m": round(load, 2),
                    "torch": torch.__version__,
                }
            ),
            flush=True,
        )
    fpt = flops_per_token(cfg, cfg.vocab_size)
    for prec in args.precisions.split(","):
        for name in args.paradigms.split(","):
            paradigm = "ar" if name == "ar" else "mdlm"
            load = os.getloadavg()[0]
            r = bench(
                cfg.replace(precision=prec, mdlm_tied_head=name == "mdlm_tied"),
                paradigm,
                device,
                args.steps,
                args.warmup,
            )
            achieved = r["tokens_per_s"] * fpt
            print(
                json.dumps(
                    {
                        "bench": "train",
                        "model": name,
                        "precision": prec,
                        "precision_used": resolve_precision(cfg.replace(precision=prec), device),
                        "tokens_per_s": r["tokens_per_s"],
                        "s_per_step": r["s_per_step"],
                        "params": r["params"],
                        "flops_per_token": fpt,
                        "achieved_gflops": round(achieved / 1e9, 1),
                        "mfu": round(achieved / peaks[prec], 4) if peaks[prec] else None,
                        "d_model": cfg.d_model,
                        "n_layers": cfg.n_layers,
                        "vocab_size": cfg.vocab_size,
                        "batch_size": cfg.batch_size,
                        "seq_len": cfg.seq_len,
                        "threads": args.threads,
                        "load_avg_1m": round(load, 2),
                        "load_avg_1m_after": round(os.getloadavg()[0], 2),
                        "device": device_name(device),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
