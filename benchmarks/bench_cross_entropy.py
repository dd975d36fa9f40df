"""Cross-entropy layout on CPU: the (B, V, L) transposed view the MDLM loss once used against the
(B*L, V) rows AR uses (and the MDLM uses now). Same values; forward + backward time per call.

    python benchmarks/bench_cross_entropy.py            # replica shape: 2 x 512 x 5,019
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F


def timed(fn, repeats):
    fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=5019)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    torch.manual_seed(0)
    logits = torch.randn(args.batch, args.seq, args.vocab, requires_grad=True)
    tokens = torch.randint(0, args.vocab, (args.batch, args.seq))

    def transposed():
        F.cross_entropy(logits.transpose(1, 2), tokens, reduction="none").sum().backward()

    def rows():
        F.cross_entropy(logits.reshape(-1, args.vocab), tokens.reshape(-1), reduction="none").sum().backward()

    a = F.cross_entropy(logits.transpose(1, 2), tokens, reduction="none")
    b = F.cross_entropy(logits.reshape(-1, args.vocab), tokens.reshape(-1), reduction="none").view_as(tokens)
    print(
        json.dumps(
            {
                "shape": [args.batch, args.seq, args.vocab],
                "max_abs_diff": float((a - b).detach().abs().max()),
                "transposed_ms": round(timed(transposed, args.repeats), 1),
                "rows_ms": round(timed(rows, args.repeats), 1),
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
