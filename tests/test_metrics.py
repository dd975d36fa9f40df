"""Tests for arche.metrics: the fast Self-BLEU against sacrebleu's naive loop,
and hand-computed values for the word-level metrics."""

import math
import random

import pytest
import sacrebleu

from arche.metrics import (
    distinct_n,
    diversity,
    published_self_bleu,
    self_bleu,
    word_entropy_bits,
    words,
)

VOCAB = [
    "the",
    "The",
    "cat",
    "dog",
    "sat",
    "ran",
    "on",
    "a",
    "mat",
    "Lily",
    "happy",
    "big",
    "tree",
    "and",
    "she",
    "said",
    "went",
    "home",
]
PUNCT = [".", ",", "!", "?", '"', "'s", "&amp;", "3.5", "well-known", "(", ")"]


def naive_self_bleu(texts):
    """The definition: each text against all others, sacrebleu defaults."""
    scores = [sacrebleu.sentence_bleu(texts[i], texts[:i] + texts[i + 1 :]).score / 100 for i in range(len(texts))]
    return sum(scores) / len(scores)


def random_texts(seed, n=40):
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        r = rng.random()
        if r < 0.08:
            texts.append(rng.choice(["", "   ", "\n"]))  # empty after tokenization
        elif r < 0.16:
            texts.append(rng.choice(VOCAB))  # one word
        elif r < 0.26 and texts:
            texts.append(rng.choice(texts))  # exact duplicate of an earlier text
        else:
            length = rng.randint(2, 30)
            toks = [rng.choice(PUNCT) if rng.random() < 0.15 else rng.choice(VOCAB) for _ in range(length)]
            # glue some punctuation to words so the 13a tokenizer has work to do
            text = "".join(t if (t in PUNCT and rng.random() < 0.5) else " " + t for t in toks)
            texts.append(text + rng.choice(["", " ", ".", " ."]))
    return texts


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_self_bleu_matches_naive_sacrebleu(seed):
    texts = random_texts(seed)
    assert abs(self_bleu(texts) - naive_self_bleu(texts)) < 1e-9


def test_self_bleu_edge_cases_match_naive():
    cases = [
        ["", ""],  # nothing at all
        ["", "the cat"],
        ["cat", "cat"],  # one-word duplicates
        ["cat", "dog", "cat sat"],
        ["the cat sat on the mat", "the cat sat on the mat", "a dog"],
        # lengths 1, 3, 5: the 3-word hypothesis has refs at distance 2 on both
        # sides, sacrebleu picks the shorter one
        ["cat", "the cat sat", "the cat sat on mat"],
        ["a b c d e", "a b c d e f g", "x", "a b c d e f g h i"],
        ["the the the the", "the the", "the"],  # clipping by max over refs
    ]
    for texts in cases:
        assert abs(self_bleu(texts) - naive_self_bleu(texts)) < 1e-9, texts


def test_self_bleu_range_and_identity():
    same = ["once upon a time there was a cat ."] * 5
    assert self_bleu(same) == pytest.approx(1.0)
    assert 0.0 <= self_bleu(random_texts(7)) <= 1.0


def test_self_bleu_needs_two_texts():
    with pytest.raises(ValueError):
        self_bleu([])
    with pytest.raises(ValueError):
        self_bleu(["only one"])


def test_words_lowercase_whitespace():
    assert words("The  Cat\nsat.") == ["the", "cat", "sat."]


def test_distinct_n_hand_computed():
    texts = ["The cat sat", "the cat ran", ""]
    # unigrams: the cat sat the cat ran -> 4 unique / 6
    assert distinct_n(texts, 1) == pytest.approx(4 / 6)
    # bigrams: (the cat) (cat sat) (the cat) (cat ran) -> 3 / 4
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)
    # trigrams do not cross text boundaries: 2 / 2
    assert distinct_n(texts, 3) == 1.0
    assert distinct_n(texts, 4) == 0.0  # no 4-grams at all
    assert distinct_n([], 1) == 0.0


def test_diversity_hand_computed():
    texts = [
        "Once upon a time there was",  # first5 (once upon a time there)
        "once upon a time there lived",  # same first word and first 5-gram
        "One day",  # short: first5 is (one, day)
        "",  # counts in denominators only
    ]
    d = diversity(texts)
    assert set(d) == {
        "distinct_1",
        "distinct_2",
        "distinct_3",
        "distinct_4",
        "self_bleu",
        "vocab_size",
        "unique_first_word",
        "unique_first_5gram",
        "n_texts",
        "mean_words",
        "unigram_entropy",
    }
    assert d["n_texts"] == 4
    assert d["mean_words"] == (6 + 6 + 2 + 0) / 4
    # once upon a time there was lived one day
    assert d["vocab_size"] == 9
    assert isinstance(d["vocab_size"], int)
    assert d["unique_first_word"] == 2 / 4  # once, one
    assert d["unique_first_5gram"] == 2 / 4  # (once upon a time there), (one day)
    assert d["distinct_1"] == pytest.approx(9 / 14)
    assert d["self_bleu"] == pytest.approx(self_bleu(texts))
    assert d["unigram_entropy"] == pytest.approx(word_entropy_bits(texts))
    assert diversity(texts, self_bleu_fn=lambda t: 0.25)["self_bleu"] == 0.25


def test_unigram_entropy():
    assert word_entropy_bits(["a b c d"]) == pytest.approx(2.0)  # uniform over 4
    assert word_entropy_bits(["a a", "A"]) == pytest.approx(0.0)  # lowercased: one word
    # p = (1/2, 1/4, 1/4) -> 1.5 bits
    assert word_entropy_bits(["x x y z"]) == pytest.approx(1.5)
    assert word_entropy_bits(["", " "]) == 0.0


def test_published_self_bleu():
    texts = random_texts(11, n=60)
    a = published_self_bleu(texts, seed=3, n_candidates=20, n_refs=10)
    b = published_self_bleu(texts, seed=3, n_candidates=20, n_refs=10)
    assert a == b
    assert 0.0 <= a <= 1.0
    same = ["Once upon a time there was a little cat"] * 6
    assert published_self_bleu(same, seed=0) == 1.0
    disjoint = ["alpha beta gamma delta eps", "one two three four five", "red green blue pink grey"]
    assert published_self_bleu(disjoint, seed=0) == 0.0
    with pytest.raises(ValueError):
        published_self_bleu(["just one"], seed=0)


def test_published_self_bleu_hand_computed():
    # Two texts: each is the other's only reference.
    # cand "a b c d e" vs ref "a b c d f": p1 = 4/5, p2 = 3/4, p3 = 2/3, p4 = 1/2, bp = 1.
    # The other direction is symmetric, so the mean is the same.
    texts = ["a b c d e", "A B C D F"]
    expected = math.exp((math.log(4 / 5) + math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2)) / 4)
    assert published_self_bleu(texts, seed=0) == pytest.approx(expected)
    # brevity penalty against the average reference length: a 4-word candidate vs
    # an 8-word reference gets exp(1 - 8/4)
    texts = ["a b c d", "a b c d x y z w"]
    expected_short = math.exp(1 - 8 / 4) * 1.0
    expected_long = math.exp((math.log(4 / 8) + math.log(3 / 7) + math.log(2 / 6) + math.log(1 / 5)) / 4)
    assert published_self_bleu(texts, seed=0) == pytest.approx((expected_short + expected_long) / 2)
