"""The measures every diversity row of results.json carries, computed the same way for samples and for
real text: Distinct-n, Self-BLEU (exact and the released estimator, at full and at a matched length),
first words, the frontier's half-sampling errors, the subsample every row is computed on, and the
token-frequency entropy of a token stream."""

from __future__ import annotations

from .. import metrics
from .frontier import half_sample_se


def frontier_se(texts, match_words, seed) -> dict:
    """Half-sampling standard errors of the frontier's two measures (arche.study.frontier.FRONTIER_RULE)."""

    def first5(ts):
        return len({tuple(metrics.words(t)[:5]) for t in ts if metrics.words(t)}) / len(ts)

    def bleu(ts):
        return metrics.self_bleu([metrics.truncate_words(t, match_words) for t in ts], tokenize="words")

    return {
        "unique_first_5gram": half_sample_se(texts, first5, seed),
        "self_bleu_matched": half_sample_se(texts, bleu, seed) if match_words else None,
    }


def token_entropy_nats(tokens) -> float:
    """Entropy (nats/token) of the token frequencies of `tokens`: the loss of a model that knows only
    how often each token occurs. A model no better than this has learned nothing about order."""
    import numpy as np

    counts = np.bincount(np.asarray(tokens).reshape(-1).astype(np.int64))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def subsample(items: list, n: int, seed: int) -> list:
    """n items kept in their order, a seeded choice when there are more."""
    if len(items) <= n:
        return list(items)
    import numpy as np

    keep = np.sort(np.random.default_rng(seed).choice(len(items), size=n, replace=False))
    return [items[i] for i in keep]


def median_words(texts) -> int:
    lengths = sorted(len(metrics.words(t)) for t in texts)
    return lengths[len(lengths) // 2] if lengths else 0


SELF_BLEU_LABEL = {
    "exact": "exact all-pairs BLEU-4 on lowercased words",
    "published": "released 200x50 unsmoothed BLEU-4 estimate on lowercased words",
}


def text_metrics(texts, self_bleu_kind: str, seed: int, match_words: int | None = None) -> dict:
    """Diversity of a set of texts. Every metric counts lowercased whitespace words (metrics.words),
    Self-BLEU included: "exact" scores all pairs on words, "published" is the released estimator.
    With `match_words`, Distinct-n and Self-BLEU again on every text cut to that many words
    (suffix `_matched`), which removes the dependence of both on text length."""
    exact = metrics.self_bleu(texts, tokenize="words")
    published = metrics.published_self_bleu(texts, seed=seed)
    div = metrics.diversity(texts, self_bleu_fn=lambda _: exact if self_bleu_kind == "exact" else published)
    firsts = [metrics.words(t)[0] for t in texts if metrics.words(t)]
    counts = {w: firsts.count(w) for w in set(firsts)}
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]  # ties in word order: stable
    out = {
        **div,
        "n_texts": len(texts),
        "self_bleu_exact": exact,
        "self_bleu_published": published,
        "self_bleu_13a": metrics.self_bleu(texts, tokenize="13a"),
        "self_bleu_kind": self_bleu_kind,
        "self_bleu_label": SELF_BLEU_LABEL[self_bleu_kind],
        "first_words_top": [[w, c / max(len(texts), 1)] for w, c in top],
    }
    if match_words:
        cut = [metrics.truncate_words(t, match_words) for t in texts]
        out["match_words"] = match_words
        for n in range(1, 5):
            out[f"distinct_{n}_matched"] = metrics.distinct_n(cut, n)
        out["self_bleu_matched"] = (
            metrics.self_bleu(cut, tokenize="words")
            if self_bleu_kind == "exact"
            else metrics.published_self_bleu(cut, seed=seed)
        )
    return out
