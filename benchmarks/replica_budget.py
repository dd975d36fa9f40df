"""What the replica costs at a few training-token budgets: scale_to_budget's shape for each, its
measured training tokens/s (AR and MDLM, the trainer's step, fp32 and/or bf16), and the projected
training time of the replica study (16 trainings: 2 published + 3 controlled arms per seed x 3 seeds,
+ the judge). The vocabulary of each budget is the compact vocabulary of that many tokens of the real
sample (with <|endoftext|> between stories); without the sample it uses SAMPLE_VOCAB.

    python benchmarks/replica_budget.py --budgets 200000,400000,778690 --steps 4
"""

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import bench  # noqa: E402

from arche import load_config  # noqa: E402
from arche.data import SAMPLE_PATH  # noqa: E402
from arche.scaling import (  # noqa: E402
    SAMPLE_VOCAB,
    ar_param_counts,
    flops_per_token,  # noqa: E402
    scale_to_budget,
)


def vocab_of_first(n_tokens):
    if not SAMPLE_PATH.exists():
        return SAMPLE_VOCAB
    from arche.corpus import iter_stories
    from arche.tokenizer import TokenCodec

    codec = TokenCodec.full()
    seen, total = {codec.eot}, 0
    for ids in codec.encode_batch(list(iter_stories(str(SAMPLE_PATH), seed=1234)), num_threads=2):
        ids = (ids + [codec.eot])[: n_tokens - total]
        seen.update(ids)
        total += len(ids)
        if total >= n_tokens:
            break
    return len(seen)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--budgets", default="200000,400000,778690")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--precisions", default="fp32")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    paper = load_config("paper", device="cpu")
    for budget in map(int, args.budgets.split(",")):
        vocab = vocab_of_first(int(budget / (1 - paper.val_fraction)))
        cfg = scale_to_budget(paper, budget, vocab_size=vocab)
        counts = ar_param_counts(vocab, cfg.d_model, cfg.n_layers, cfg.d_ff)
        row = {
            "bench": "replica_budget",
            "train_tokens": budget,
            "vocab": vocab,
            "d_model": cfg.d_model,
            "n_layers": cfg.n_layers,
            "n_heads": cfg.n_heads,
            "d_ff": cfg.d_ff,
            "batch_size": cfg.batch_size,
            "seq_len": cfg.seq_len,
            "steps": cfg.steps,
            "params_ar": counts["total"],
            "params_per_token": round(counts["total"] / budget, 2),
            "non_emb_per_token": round(counts["non_embedding"] / budget, 2),
            "epochs": round(cfg.steps * cfg.batch_size * cfg.seq_len / budget, 2),
            "flops_per_token": flops_per_token(cfg, vocab),
        }
        for prec in args.precisions.split(","):
            for paradigm in ("ar", "mdlm"):
                load = os.getloadavg()[0]
                r = bench(cfg.replace(precision=prec), paradigm, torch.device("cpu"), args.steps, 2)
                row[f"{paradigm}_{prec}_tok_s"] = r["tokens_per_s"]
                row[f"{paradigm}_{prec}_load"] = round(load, 2)
            tokens = cfg.steps * cfg.batch_size * cfg.seq_len
            # 7 AR-like trainings (3 published AR, 3 controlled AR, judge), 9 MDLM (3+3 untied, 3 tied)
            row[f"projected_train_s_{prec}"] = round(
                tokens * (7 / row[f"ar_{prec}_tok_s"] + 9 / row[f"mdlm_{prec}_tok_s"])
            )
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
