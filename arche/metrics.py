"""
Diversity metrics for generated text: Distinct-n, Self-BLEU, first-word
diversity, vocabulary size and unigram entropy.

Two Self-BLEU estimators live here, on purpose:

- `self_bleu` is the exact, deterministic corpus Self-BLEU: the mean over every
  text of sacrebleu's `sentence_bleu(text_i, all other texts)` with sacrebleu's
  defaults (13a tokenizer, case-sensitive, 'exp' smoothing, effective order).
  The naive loop is O(N^2) in sacrebleu's reference extraction and takes
  minutes for 1,000 texts; here every text is tokenized and counted once, and
  for each n-gram we keep its largest and second-largest per-text count, so
  "max count over all texts but me" (sacrebleu's multi-reference clipping) is
  O(1). Same for the closest reference length. It matches the naive loop to
  floating-point rounding and runs in about a second.

- `published_self_bleu` reproduces the estimator of the released arche code
  (eval_diversity.py): hand-written unsmoothed BLEU-4 on lowercased whitespace
  words, 200 random candidates x 50 random references. It is a noisy
  estimate of a different quantity; use it only to reproduce the published
  protocol (here seeded, the original was not).

Word-level metrics use `words()`, the published lowercased whitespace split.
"""

import bisect
import math
import random
from collections import Counter

import numpy as np
from sacrebleu.metrics.bleu import BLEU
from sacrebleu.metrics.helpers import extract_all_word_ngrams

MAX_ORDER = 4  # BLEU-4, and sacrebleu's default max_ngram_order
TOKENIZATIONS = ("13a", "words")

# -----------------------------------------------------------------------------
# word-level metrics


def words(text):
    """Lowercased whitespace split, as in the published code."""
    return text.lower().split()


def truncate_words(text, n_words):
    """The first `n_words` words of a text (as `words()` splits it), for length-matched metrics."""
    return " ".join(words(text)[:n_words])


def _ngrams(ws, n):
    return [tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)]


def distinct_n(texts, n):
    """Corpus-level Distinct-n: unique n-grams / total n-grams over all texts.
    N-grams never cross text boundaries. 0.0 when there is no n-gram at all."""
    seen = set()
    total = 0
    for text in texts:
        grams = _ngrams(words(text), n)
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


def word_entropy_bits(texts):
    """Entropy in bits of the word unigram distribution pooled over all texts
    (0.0 when there are no words)."""
    counts = Counter(w for text in texts for w in words(text))
    if not counts:
        return 0.0
    c = np.fromiter(counts.values(), dtype=np.float64)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def diversity(texts, self_bleu_fn=None):
    """All diversity metrics of a list of texts, as a flat dict.

    self_bleu_fn(texts) -> float defaults to the exact `self_bleu`; pass e.g.
    `lambda t: published_self_bleu(t, seed=0)` to reproduce the published
    protocol instead. Both Self-BLEUs need at least 2 texts (ValueError).

    unique_first_word = distinct first words / number of texts.
    unique_first_5gram = distinct first-5-word tuples / number of texts.
    Both denominators count every text. An empty text contributes no first word
    and no first 5-gram. A non-empty text with fewer than 5 words contributes its
    shorter tuple (so "once upon a" is its own opening, distinct from any 5-word
    one). The published code instead mapped every such text to "" and counted
    "" as one more value; with 128-token samples the difference is negligible.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("diversity() needs at least one text")
    self_bleu_fn = self_bleu if self_bleu_fn is None else self_bleu_fn
    word_lists = [words(t) for t in texts]
    n_texts = len(texts)
    firsts = {ws[0] for ws in word_lists if ws}
    first5 = {tuple(ws[:5]) for ws in word_lists if ws}
    out = {f"distinct_{n}": distinct_n(texts, n) for n in range(1, 5)}
    out.update(
        {
            "self_bleu": float(self_bleu_fn(texts)),
            "vocab_size": len({w for ws in word_lists for w in ws}),
            "unique_first_word": len(firsts) / n_texts,
            "unique_first_5gram": len(first5) / n_texts,
            "n_texts": n_texts,
            "mean_words": sum(len(ws) for ws in word_lists) / n_texts,
            "unigram_entropy": word_entropy_bits(texts),
        }
    )
    return out


# -----------------------------------------------------------------------------
# exact Self-BLEU (sacrebleu sentence_bleu, every other text as a reference)

# Same settings as sacrebleu.sentence_bleu's defaults: tokenize='13a',
# lowercase=False, smooth_method='exp', use_effective_order=True.
_SMOOTH_METHOD = "exp"
_EFFECTIVE_ORDER = True


def _closest_other_length(length, length_counts, sorted_lengths):
    """Closest reference length to `length` among all texts but one text of
    that very length (the hypothesis itself); ties go to the shorter length,
    as in sacrebleu's BLEU._get_closest_ref_len."""
    if length_counts[length] >= 2:
        return length  # another text has exactly this length: difference 0
    k = bisect.bisect_left(sorted_lengths, length)  # sorted_lengths[k] == length
    below = sorted_lengths[k - 1] if k > 0 else None
    above = sorted_lengths[k + 1] if k + 1 < len(sorted_lengths) else None
    if above is None or (below is not None and length - below <= above - length):
        return below
    return above


def self_bleu(texts, tokenize="13a"):
    """Exact Self-BLEU in [0, 1]:
    mean_i sacrebleu.sentence_bleu(texts[i], texts[:i] + texts[i+1:]).score / 100
    with sacrebleu's defaults, computed in O(total n-grams) instead of O(N^2).

    tokenize="13a" is sacrebleu's default tokenizer (punctuation split off, case kept);
    tokenize="words" scores the lowercased whitespace words of `words()`, the
    tokens of Distinct-n and the openings, so that every diversity number of a
    table counts the same units (equal to sentence_bleu(..., tokenize="none") on
    " ".join(words(text)))."""
    texts = list(texts)
    if len(texts) < 2:
        raise ValueError(f"self_bleu needs at least 2 texts, got {len(texts)}")
    if tokenize not in TOKENIZATIONS:
        raise ValueError(f"tokenize must be one of {TOKENIZATIONS}, got {tokenize!r}")

    counts, lengths = _ngram_counts(texts, tokenize)
    top = _top_counts(counts)
    length_counts = Counter(lengths)
    sorted_lengths = sorted(length_counts)
    scores = []
    for i, c in enumerate(counts):
        correct = [0] * MAX_ORDER
        total = [0] * MAX_ORDER
        for g, k in c.items():
            n = len(g) - 1
            total[n] += k
            t = top[g]
            ref_max = t[2] if t[1] == i else t[0]
            correct[n] += min(k, ref_max)
        ref_len = _closest_other_length(lengths[i], length_counts, sorted_lengths)
        # sacrebleu's own scoring from sufficient statistics: same smoothing,
        # brevity penalty and log flooring, hence the same floats.
        score = BLEU.compute_bleu(
            correct,
            total,
            lengths[i],
            ref_len,
            smooth_method=_SMOOTH_METHOD,
            effective_order=_EFFECTIVE_ORDER,
            max_ngram_order=MAX_ORDER,
        ).score
        scores.append(score / 100.0)
    return sum(scores) / len(scores)


def _ngram_counts(texts, tokenize):
    """Each text's n-gram counts (1..MAX_ORDER) and length, tokenized exactly as sacrebleu does
    (BLEU._preprocess_segment is tokenizer(sent.rstrip()) when lowercase=False) and counted with
    sacrebleu's own helper, so tokens and lengths match by construction."""
    if tokenize == "words":

        def tokenizer(text):
            return " ".join(words(text))
    else:
        tokenizer = BLEU(tokenize="13a").tokenizer
    counts, lengths = [], []
    for text in texts:
        c, length = extract_all_word_ngrams(tokenizer(text.rstrip()), 1, MAX_ORDER)
        counts.append(c)
        lengths.append(length)
    return counts, lengths


def _top_counts(counts) -> dict:
    """For each n-gram: [largest per-text count, text holding it, second largest].

    With all other texts as references, sacrebleu clips a hypothesis count by the max over the
    references, which is the second largest for the holder of the largest and the largest for
    everyone else. Ties put the equal count into "second", so a shared maximum is still seen by
    both holders."""
    top = {}
    for i, c in enumerate(counts):
        for g, k in c.items():
            t = top.get(g)
            if t is None:
                top[g] = [k, i, 0]
            elif k > t[0]:
                t[2], t[0], t[1] = t[0], k, i
            elif k > t[2]:
                t[2] = k
    return top


# -----------------------------------------------------------------------------
# the published code's Self-BLEU estimator


def _unsmoothed_bleu4(candidate, references):
    """BLEU-4 of one word list against several, as the released code wrote it:
    modified n-gram precisions with multi-reference max clipping, no smoothing
    (any zero precision, including a candidate too short to have 4-grams,
    gives 0), geometric mean, brevity penalty against the AVERAGE reference
    length (not the closest one, unlike standard BLEU)."""
    log_sum = 0.0
    for n in range(1, MAX_ORDER + 1):
        cand = Counter(_ngrams(candidate, n))
        total = sum(cand.values())
        if total == 0:
            return 0.0
        max_ref = Counter()
        for ref in references:
            for g, k in Counter(_ngrams(ref, n)).items():
                max_ref[g] = max(max_ref[g], k)
        clipped = sum(min(k, max_ref[g]) for g, k in cand.items())
        if clipped == 0:
            return 0.0
        log_sum += math.log(clipped / total)
    avg_ref_len = sum(len(r) for r in references) / max(len(references), 1)
    bp = min(1.0, math.exp(1 - avg_ref_len / max(len(candidate), 1)))
    return bp * math.exp(log_sum / MAX_ORDER)


def published_self_bleu(texts, seed, n_candidates=200, n_refs=50):
    """Self-BLEU estimator of the published arche code, seeded.

    Draws min(n_candidates, N) candidates without replacement, and for each
    min(n_refs, N-1) references among the other texts, with the same sequence
    of random.sample calls as the original (which used the global unseeded
    `random`); returns the mean unsmoothed BLEU-4 on lowercased whitespace
    words, in [0, 1]. Not exact and not comparable to `self_bleu`; use it only
    to reproduce the published protocol. Unlike the original (which returned 0.0),
    fewer than 2 texts raise ValueError.
    """
    texts = list(texts)
    if len(texts) < 2:
        raise ValueError(f"published_self_bleu needs at least 2 texts, got {len(texts)}")
    rng = random.Random(seed)
    word_lists = [words(t) for t in texts]
    indices = list(range(len(texts)))
    scores = []
    for i in rng.sample(indices, min(n_candidates, len(indices))):
        others = [j for j in indices if j != i]
        refs = rng.sample(others, min(n_refs, len(others)))
        scores.append(_unsmoothed_bleu4(word_lists[i], [word_lists[j] for j in refs]))
    return sum(scores) / len(scores)


def word_jsd(texts, reference_texts) -> float:
    """Jensen-Shannon divergence (bits, 0 = the same, 1 = disjoint) between the word frequencies of
    `texts` and of real `reference_texts`: a distance to real text that needs no model (a judge-free
    companion to the judges' perplexities). It sees what a sampler does to the vocabulary: a low
    temperature concentrates mass on frequent words, a high one spreads it over rare ones, and a
    repetition penalty pushes it away from the function words real stories repeat."""
    p, q = Counter(w for t in texts for w in words(t)), Counter(w for t in reference_texts for w in words(t))
    n_p, n_q = sum(p.values()), sum(q.values())
    if not n_p or not n_q:
        return float("nan")
    total = 0.0
    for w in set(p) | set(q):
        a, b = p[w] / n_p, q[w] / n_q
        m = (a + b) / 2
        total += (a * math.log2(a / m) if a else 0.0) + (b * math.log2(b / m) if b else 0.0)
    return total / 2
