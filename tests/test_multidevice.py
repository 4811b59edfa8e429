"""Prediction on several devices (here: two CPU processes) gathers every answer, in manifest
order, equal to one device's; a missing shard is an error naming the process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

MIRROR = Path(__file__).resolve().parents[2] / "shared/data/mirror"


@pytest.fixture
def edge_subset(monkeypatch, tmp_path):
    if not MIRROR.is_dir():
        pytest.skip("no data mirror")
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", str(MIRROR))
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    from psychobench.stimuli.manifest import StimulusSet
    from psychobench.stimuli.sets import texture_shape
    s = texture_shape("edge")
    man = s.manifest.iloc[::16].reset_index(drop=True)   # 10 images: shards of 5, batches of 4
    return StimulusSet(name="edge", root=s.root, manifest=man)


def _predictor(devices):
    from psychobench.lightning.predict import Predictor
    return Predictor(accelerator="cpu", devices=devices, batch_size=4, num_workers=0, progress_bar=False)


@pytest.mark.slow
def test_two_processes_gather_all_answers(edge_subset):
    from psychobench.data.answers import IMAGENET16
    from psychobench.models.vision import create
    net = create("tf_efficientnet_lite0")
    one, n1 = _predictor(1).predict(net, edge_subset, IMAGENET16)
    two, n2 = _predictor(2).predict(net, edge_subset, IMAGENET16)
    # 10 images: 3 batches; the decoded-stimulus loader shards whole batches (2 + 1), the PNG
    # loader single images (2 x (5 images -> 2 batches))
    assert n1 == 3 and n2 == 3
    assert len(two) == len(edge_subset.manifest) == 10   # in manifest order (answer_table)
    assert (two["response"] == one["response"]).all()
    p = [c for c in one.columns if c.startswith("p_")]
    np.testing.assert_allclose(two[p].to_numpy(float), one[p].to_numpy(float), atol=1e-5)
    from psychobench.data.io import cache_dir
    assert not list(cache_dir().glob(".predict-*"))     # shard folders removed
    from dataclasses import replace
    png, n3 = replace(_predictor(2), decoded_cache=False).predict(net, edge_subset, IMAGENET16)
    assert n3 == 4 and (png["response"] == one["response"]).all()


def test_missing_shard_and_unanswered_stimulus(tmp_path, edge_subset):
    from psychobench.data.answers import IMAGENET16
    from psychobench.lightning.module import read_shards
    from psychobench.lightning.predict import answer_table
    np.savez(tmp_path / "shard-0.npz", index=np.arange(3), scores=np.zeros((3, 16)),
             response=np.array(["cat"] * 3), forward_passes=np.int64(1))
    with pytest.raises(RuntimeError, match="shard-1.npz: process 1 of 2"):
        read_shards(tmp_path, 2)
    outputs, passes = read_shards(tmp_path, 1)
    assert passes == 1
    dup = outputs + outputs                              # padded shards repeat stimuli: fine
    with pytest.raises(RuntimeError, match="answered 3 of 10 stimuli.*manifest row 3"):
        answer_table(edge_subset, dup, IMAGENET16)
