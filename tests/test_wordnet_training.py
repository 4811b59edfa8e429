"""Training the word network is deterministic and its checkpoint is sealed: a small network
trained twice from the same seed has the same weights; a changed checkpoint is retrained."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    from psychobench.models.audio.wordnet import WordTaskConfig
    from psychobench.stimuli.audio.words import VOCABULARY, WordCorpus

    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    corpus = WordCorpus(words=VOCABULARY[:4], n_train_voices=4, n_test_voices=1, n_train_piper_voices=0,
                        n_test_piper_voices=0, clip_s=0.8)
    return dataclasses.replace(WordTaskConfig(), corpus=corpus, epochs=2, batch_size=4, width=4)


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def test_same_seed_same_weights_and_another_seed_differs(tiny):
    from psychobench.models.audio.wordnet import train_word_net

    first = {k: v.clone() for k, v in _weights(train_word_net(tiny)).items()}
    again = _weights(train_word_net(tiny, force=True))
    assert first.keys() == again.keys()
    for k in first:
        assert torch.equal(first[k], again[k]), k
    other = _weights(train_word_net(dataclasses.replace(tiny, seed=1)))
    assert any(not torch.equal(first[k], other[k]) for k in first if first[k].is_floating_point())


def test_changed_checkpoint_is_retrained(tiny):
    from psychobench.data.io import IntegrityWarning
    from psychobench.models.audio.wordnet import train_word_net

    path = train_word_net(tiny)
    good = {k: v.clone() for k, v in _weights(path).items()}
    with open(path, "r+b") as f:
        f.seek(-200, 2)
        b = f.read(1)
        f.seek(-200, 2)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.warns(IntegrityWarning, match="trained word network"):
        back = train_word_net(tiny)
    assert all(torch.equal(good[k], v) for k, v in _weights(back).items())
