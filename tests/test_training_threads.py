"""Every network psychobench trains trains on the same fixed number of CPU threads (the thread
count changes the weights), and gives the caller's setting back, also when training fails."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from psychobench.lightning.training import TRAIN_THREADS, training_threads


class _Stop(Exception):
    pass


def _pitch(monkeypatch, seen):
    import psychobench.models.audio.pitchnet as P

    monkeypatch.setattr(P, "_fit", lambda cfg, path, verbose, device: seen.append(torch.get_num_threads()))
    return lambda: P.train_pitch_net(dataclasses.replace(P.PitchTaskConfig(), n_train=16), force=True)


def _word(monkeypatch, seen):
    import psychobench.models.audio.wordnet as W

    monkeypatch.setattr(W, "_fit", lambda cfg, path, verbose: seen.append(torch.get_num_threads()))
    return lambda: W.train_word_net(dataclasses.replace(W.WordTaskConfig(), epochs=1), force=True)


def _dual(monkeypatch, seen):
    import psychobench.models.audio.dualnet as D

    def data(cfg):                   # the first step of training: record the threads, then stop
        seen.append(torch.get_num_threads())
        raise _Stop

    monkeypatch.setattr(D, "dual_task_data", data)

    def run():
        with pytest.raises(_Stop):
            D.train_dual_net(D.DualTaskConfig(), force=True)
    return run


@pytest.mark.parametrize("network", [_pitch, _word, _dual])
def test_training_runs_with_the_fixed_thread_count(network, tmp_path, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    seen = []
    train = network(monkeypatch, seen)
    before = torch.get_num_threads()
    try:
        for caller in (1, 3):
            torch.set_num_threads(caller)
            train()
            assert torch.get_num_threads() == caller                  # the caller's setting comes back
    finally:
        torch.set_num_threads(before)
    assert seen == [TRAIN_THREADS, TRAIN_THREADS]


def test_thread_setting_comes_back_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(_Stop), training_threads(1):
        assert torch.get_num_threads() == 1
        raise _Stop
    assert torch.get_num_threads() == before
