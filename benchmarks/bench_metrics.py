"""
Times arche.metrics on 1,000 synthetic stories of ~128 GPT-2 tokens (~100 words),
the size of one model's evaluation set. Pinned to one CPU core and one thread.
Also times the naive sacrebleu Self-BLEU loop on a 100-text subset and
extrapolates it to 1,000 texts (its cost grows as N * (N - 1)).
Prints one JSON line per measurement.

    python benchmarks/bench_metrics.py
"""

import os

# one thread everywhere, set before numpy is imported
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import json
import platform
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import sacrebleu  # noqa: E402

from arche.metrics import diversity, published_self_bleu, self_bleu  # noqa: E402

N_TEXTS = 1000
N_NAIVE = 100
SEED = 0

# Synthetic stories tuned to look like model samples to these metrics: the
# published 1,000 AR samples have Distinct-1/2/4 of about 0.05/0.27/0.70 and
# ~100 words each; these come out at about 0.05/0.28/0.77. Words are made of
# syllables, drawn with a heavy-tailed (Zipf-like) rank distribution, and a
# pool of recurring phrases gives texts shared n-grams, as real stories have.
SYLLABLES = [
    "ba",
    "ko",
    "mi",
    "ta",
    "ren",
    "lo",
    "su",
    "pe",
    "da",
    "ni",
    "ga",
    "fu",
    "zo",
    "le",
    "chi",
    "wa",
    "mo",
    "ri",
    "ke",
    "tu",
]
VOCAB_SIZE = 8000
N_PHRASES = 5000
WORD_TAIL = 0.2  # Pareto shape of word ranks (smaller: heavier tail)
PHRASE_TAIL = 0.3  # Pareto shape of phrase ranks
P_PHRASE = 0.3  # chance that the next chunk of a sentence is a stock phrase


def zipf_pick(rng, xs, shape):
    return xs[min(int(rng.paretovariate(shape)) - 1, len(xs) - 1)]


def make_lexicon(rng):
    vocab = set()
    while len(vocab) < VOCAB_SIZE:
        vocab.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))))
    vocab = sorted(vocab)
    rng.shuffle(vocab)  # rank order unrelated to spelling
    phrases = [[zipf_pick(rng, vocab, WORD_TAIL) for _ in range(rng.randint(2, 5))] for _ in range(N_PHRASES)]
    return vocab, phrases


def story(rng, vocab, phrases, target_words=100):
    """~100 words, about 128 GPT-2 tokens once punctuation is counted."""
    parts, n = ["Once upon a time,"], 4
    while n < target_words:
        sent, k = [], rng.randint(4, 12)
        while len(sent) < k:
            if rng.random() < P_PHRASE:
                sent += zipf_pick(rng, phrases, PHRASE_TAIL)
            else:
                sent.append(zipf_pick(rng, vocab, WORD_TAIL))
        parts.append(" ".join(sent).capitalize() + rng.choice([".", ".", ".", "!", ",", "?"]))
        n += len(sent)
    return " ".join(parts)


def pin_one_core():
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def naive_self_bleu(texts):
    scores = [sacrebleu.sentence_bleu(texts[i], texts[:i] + texts[i + 1 :]).score / 100 for i in range(len(texts))]
    return sum(scores) / len(scores)


def report(name, seconds, **extra):
    row = {
        "bench": name,
        "seconds": round(seconds, 4),
        "device": "cpu",
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": 1,
        "python": platform.python_version(),
        "sacrebleu": sacrebleu.__version__,
    }
    row.update(extra)
    print(json.dumps(row), flush=True)


def main():
    pin_one_core()
    rng = random.Random(SEED)
    vocab, phrases = make_lexicon(rng)
    texts = [story(rng, vocab, phrases) for _ in range(N_TEXTS)]
    mean_words = sum(len(t.split()) for t in texts) / len(texts)

    value, sec = timed(self_bleu, texts)
    report("self_bleu", sec, n_texts=N_TEXTS, mean_words=round(mean_words, 1), value=value)

    d, sec = timed(diversity, texts)
    report(
        "diversity",
        sec,
        n_texts=N_TEXTS,
        self_bleu=d["self_bleu"],
        distinct_1=d["distinct_1"],
        distinct_2=d["distinct_2"],
        distinct_4=d["distinct_4"],
    )

    value, sec = timed(published_self_bleu, texts, seed=SEED)
    report("published_self_bleu", sec, n_texts=N_TEXTS, value=value)

    subset = texts[:N_NAIVE]
    naive, sec = timed(naive_self_bleu, subset)
    fast, fast_sec = timed(self_bleu, subset)
    scale = (N_TEXTS * (N_TEXTS - 1)) / (N_NAIVE * (N_NAIVE - 1))
    report(
        "naive_self_bleu",
        sec,
        n_texts=N_NAIVE,
        value=naive,
        fast_seconds=round(fast_sec, 4),
        abs_diff_vs_fast=abs(naive - fast),
        extrapolated_seconds_1000=round(sec * scale, 1),
    )


if __name__ == "__main__":
    main()
