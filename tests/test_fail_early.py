"""What can be checked before training is checked before training (issue 21, class 1): a run that would
fail after an hour of training refuses at data preparation, naming the problem."""

import json

import pytest
from conftest import tiny_config

from arche.data import DataError
from arche.study import comparison


def test_a_prompt_the_corpus_cannot_encode_is_refused_before_training(tmp_path):
    # Issue 21, class 1: a corpus where no story holds "Once" failed at sampling, after all training.
    stories = tmp_path / "stories.jsonl"
    lines = [json.dumps({"text": f"The cat {i} sat on the mat. It was happy and ran to the park."}) for i in range(400)]
    stories.write_text("\n".join(lines) + "\n")
    cfg = tiny_config(source=str(stories), compare_protocols=True, n_tokens=4_000)
    with pytest.raises(DataError, match="prompt 'Once'.*never uses"):
        comparison.prepare_all(cfg, tmp_path / "run", log=lambda *_: None)
    assert not any((tmp_path / "run").rglob("*.safetensors"))  # refused before any model was trained
