"""Tests for arche.corpus: the synthetic generator, local files, and the hub source's offline error."""

import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from arche.corpus import iter_stories, synthetic_stories
from arche.tokenizer import TokenCodec

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/tinystories-sample/stories.jsonl"


# --- synthetic ---


def first_word_share(stories) -> dict[str, float]:
    """Fraction of stories starting with each first word (punctuation stripped), most common first."""
    words = Counter(s.split(maxsplit=1)[0].strip(".,!?\"'") for s in stories if s.strip())
    total = sum(words.values())
    return {w: c / total for w, c in words.most_common()}


def test_synthetic_is_deterministic_per_seed():
    a = synthetic_stories(50, seed=3)
    assert a == synthetic_stories(50, seed=3)
    assert a != synthetic_stories(50, seed=4)
    assert len(set(a)) == 50
    # the generator behind iter_stories is the same stream, and it does not end
    assert list(itertools.islice(iter_stories("synthetic", seed=3), 50)) == a
    assert len(list(itertools.islice(iter_stories("synthetic", seed=3), 3000))) == 3000


def test_synthetic_story_shape():
    stories = synthetic_stories(2000, seed=0)
    words = np.array([len(s.split()) for s in stories])
    assert ((words >= 100) & (words <= 300)).mean() >= 0.99
    assert 130 <= words.mean() <= 220
    for s in stories[:200]:
        assert s == s.strip() and "<|endoftext|>" not in s
        assert "{" not in s and "}" not in s and "`" not in s  # every template field was filled
    assert np.mean(['"' in s for s in stories]) > 0.9  # dialogue
    assert np.mean(["\n" in s for s in stories]) > 0.9  # paragraphs
    assert len(set(stories)) == len(stories)


def test_synthetic_openings_follow_tinystories():
    share = first_word_share(synthetic_stories(2000, seed=1))
    assert 0.54 <= share["Once"] <= 0.66
    assert 0.15 <= share["One"] <= 0.25
    assert 0.12 <= 1 - share["Once"] - share["One"] <= 0.28
    assert len(share) >= 10  # the rest begin in varied ways


@pytest.mark.slow
def test_synthetic_vocabulary_is_bounded_and_varied():
    stories = synthetic_stories(2000, seed=2)
    ids = np.concatenate([np.asarray(x) for x in TokenCodec.full().encode_batch(stories)])
    n_distinct = np.unique(ids).size
    assert 400 <= n_distinct <= 3000
    assert len({w for s in stories for w in s.split()}) >= 500


# --- local files ---


def test_txt_with_endoftext_separators(tmp_path):
    path = tmp_path / "s.txt"
    # stories may hold blank lines between paragraphs; markers may sit on their own line or inline
    path.write_text(
        "First story.\n\nSecond paragraph.\n<|endoftext|>\n  Second story. <|endoftext|>"
        "Third story.\n<|endoftext|>\n\n<|endoftext|>\n"
    )
    assert list(iter_stories(str(path))) == [
        "First story.\n\nSecond paragraph.",
        "Second story.",
        "Third story.",
    ]


def test_txt_with_blank_lines(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("\n\nOne story\non two lines.\n\n\n  \nAnother story.\n\nLast one")
    assert list(iter_stories(path)) == ["One story\non two lines.", "Another story.", "Last one"]


def test_jsonl(tmp_path):
    path = tmp_path / "s.jsonl"
    rows = [{"text": "  A story.  "}, {"text": ""}, {"text": "Another\nstory.", "source": "x"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert list(iter_stories(str(path))) == ["A story.", "Another\nstory."]


def test_file_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        iter_stories(str(tmp_path / "missing.jsonl"))
    (tmp_path / "s.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="unknown story source"):
        iter_stories(str(tmp_path / "s.csv"))
    with pytest.raises(ValueError, match="unknown story source"):
        iter_stories("tinystory")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        iter_stories(empty)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n")
    with pytest.raises(ValueError, match="blank.jsonl holds no stories"):
        list(iter_stories(blank))


def test_jsonl_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"story": "no text field"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl, line 2: .*\"text\""):
        list(iter_stories(path))
    path.write_text('{"text": "ok"}\n\n{"text": "ok"}\n{not json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl, line 4: not valid JSON"):
        list(iter_stories(path))


def test_real_sample_loads():
    if not SAMPLE.is_file():
        pytest.skip(f"real TinyStories sample not present at {SAMPLE} (it lives outside the repo)")
    stories = list(iter_stories(str(SAMPLE)))
    assert len(stories) == 4000
    assert all(s == s.strip() and s for s in stories)
    assert 0.5 <= first_word_share(stories)["Once"] <= 0.7


# --- Hugging Face hub ---


@pytest.mark.slow
def test_tinystories_offline_raises_clear_error():
    # A subprocess, because datasets reads the offline switches when it is first imported.
    # Offline mode makes the failure immediate instead of ~24 s of connection retries.
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    code = (
        "from arche.corpus import iter_stories\n"
        "try:\n"
        "    next(iter(iter_stories('tinystories')))\n"
        "except RuntimeError as e:\n"
        "    print('RuntimeError:', e)\n"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.skip("datasets did not fail within 60 s in offline mode; cannot test the hub error here")
    assert out.returncode == 0, out.stderr
    assert "RuntimeError:" in out.stdout
    assert "roneneldan/TinyStories" in out.stdout and "unreachable" in out.stdout
    assert "synthetic" in out.stdout and ".jsonl" in out.stdout
