"""Checkpointed prediction: a long answer table is cached in sealed checkpoints as it is
answered, a run killed part way resumes at its first missing checkpoint, and the answers equal
those of one uninterrupted pass."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from psychobench.data.answers import IMAGENET16
from psychobench.data.io import IntegrityWarning
from psychobench.errors import SettingError
from psychobench.lightning.predict import Predictor
from psychobench.results import cache as answer_cache
from psychobench.results.pipeline import answers_for
from psychobench.stimuli.waveforms import WaveformSet


@pytest.fixture
def cache(empty_cache):
    return empty_cache


@pytest.fixture(scope="module")
def net():
    from psychobench.models.vision import create

    return create("tf_efficientnet_lite0")


class Killed(RuntimeError):
    pass


def counting(predictor: Predictor, kill_at: int | None = None) -> list[int]:
    """Record the size of every set ``predictor`` is asked to answer; raise on call ``kill_at``."""
    sizes: list[int] = []
    real = predictor.predict

    def predict(observer, stimuli, answers):
        if kill_at is not None and len(sizes) == kill_at:
            raise Killed("killed")
        sizes.append(len(stimuli.manifest))
        return real(observer, stimuli, answers)

    predictor.predict = predict
    return sizes


def test_a_killed_run_resumes_at_its_first_missing_checkpoint(edge40, net, cache):
    exp = SimpleNamespace(name="edge40", stimuli=lambda: edge40, answers=IMAGENET16)
    whole, _ = answers_for(net, exp, Predictor(accelerator="cpu", batch_size=16, progress_bar=False,
                                               checkpoint_every=None), use_cache=False)

    first = Predictor(accelerator="cpu", batch_size=16, progress_bar=False, checkpoint_every=16)
    sizes = counting(first, kill_at=1)
    with pytest.raises(Killed):
        answers_for(net, exp, first)
    assert sizes == [16]                                            # one checkpoint made, then killed
    done = list((cache / "answers" / "checkpoints").rglob("*.parquet"))
    assert [p.name.split(".")[1] for p in done] == ["0-16"]

    second = Predictor(accelerator="cpu", batch_size=16, progress_bar=False, checkpoint_every=16)
    sizes = counting(second)
    got, passes = answers_for(net, exp, second)
    assert sizes == [16, 8]                                         # the first 16 came from the checkpoint
    assert passes == 2                                              # one batch per fresh checkpoint
    pd.testing.assert_frame_equal(got, whole)                       # same batches: the same numbers
    assert not list((cache / "answers" / "checkpoints").rglob("*.parquet*"))   # removed once whole

    third = Predictor(accelerator="cpu", batch_size=16, progress_bar=False, checkpoint_every=16)
    sizes = counting(third)
    again, passes = answers_for(net, exp, third)
    assert sizes == [] and passes == 0                              # the whole table from the cache
    pd.testing.assert_frame_equal(again, whole)


def test_a_tampered_checkpoint_is_answered_again(edge40, net, cache):
    exp = SimpleNamespace(name="edge40", stimuli=lambda: edge40, answers=IMAGENET16)
    first = Predictor(accelerator="cpu", batch_size=16, progress_bar=False, checkpoint_every=16)
    counting(first, kill_at=2)
    with pytest.raises(Killed):
        answers_for(net, exp, first)
    cps = sorted((cache / "answers" / "checkpoints").rglob("*.parquet"))
    assert len(cps) == 2
    bad = next(p for p in cps if ".16-32." in p.name)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))

    second = Predictor(accelerator="cpu", batch_size=16, progress_bar=False, checkpoint_every=16)
    sizes = counting(second)
    with pytest.warns(IntegrityWarning, match="does not match its stored digest"):
        got, _ = answers_for(net, exp, second)
    assert sizes == [16, 8]                                         # 16-32 again, then the last 8
    assert len(got) == 40 and got["response"].notna().all()


def test_columns_that_differ_between_checkpoints_are_an_error(cache):
    key = "c" * 64
    answer_cache.store_checkpoint(key, 0, 2, pd.DataFrame({"response": ["a", "b"], "p_a": [0.1, 0.2]}))
    answer_cache.store_checkpoint(key, 2, 4, pd.DataFrame({"response": ["a", "b"], "p_b": [0.1, 0.2]}))
    waves = WaveformSet("w4", pd.DataFrame({"stimulus_id": list("wxyz"), "condition": "c", "category": "a"}),
                        np.zeros((4, 8), np.float32), 16000)
    from psychobench.results.pipeline import _checkpointed

    exp = SimpleNamespace(name="w4", answers=None)
    obs = SimpleNamespace(name="obs")
    with pytest.raises(RuntimeError, match=r"stimuli 3-4 have columns \['response', 'p_b'\]"):
        _checkpointed(obs, exp, None, waves, key, 2)


def test_checkpoint_setting():
    assert Predictor(batch_size=16, checkpoint_every=20).chunk_size(object()) == 32   # whole batches
    assert Predictor(batch_size=16, checkpoint_every=16).chunk_size(object()) == 16
    assert Predictor(checkpoint_every=None).chunk_size(object()) is None
    for bad in (0, -3, "often"):
        with pytest.raises(SettingError, match="trainer.checkpoint_every"):
            Predictor(checkpoint_every=bad)


@pytest.mark.parametrize("as_list", [False, True])
def test_waveform_set_take(as_list):
    w = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    s = WaveformSet("w", pd.DataFrame({"stimulus_id": list("abcde"), "condition": "c", "category": "k"}),
                    list(w) if as_list else w, 8000)
    part = s.take(1, 3)
    assert part.manifest["stimulus_id"].tolist() == ["b", "c"] and part.manifest.index.tolist() == [0, 1]
    np.testing.assert_array_equal(part.wave(0), w[1])
    assert part.fs == 8000 and part.name == "w"
    same = WaveformSet("w", s.manifest.iloc[1:3].reset_index(drop=True), list(w[1:3]) if as_list else w[1:3], 8000)
    assert part.content_key() == same.content_key()
