"""Repetition-study rows built from known curves, for the tests of its analyses (test_multiplier, test_shape)."""


def repetition_rows(curves: dict, chunks: int = 100) -> list[dict]:
    """{(paradigm, seed): {epochs: val}} -> results.json's repetition rows at one budget; FLOPs = epochs (equal
    per token for both paradigms), unique tokens = 10 x chunks."""
    return [
        {"paradigm": p, "seed": s, "chunks": chunks, "unique_tokens": chunks * 10, "epochs": e, "flops": float(e),
         "val": v, "val_se": 0.0}
        for (p, s), by_e in curves.items() for e, v in by_e.items()
    ]  # fmt: skip
