"""Shared stages (Kell et al. 2018): the dual-task network's stage split, the paired accuracy
intervals and the largest-k rule on known answers, a tiny sweep through the run pipeline, and
deterministic sealed training."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from psychobench.errors import SettingError
from psychobench.experiments.stages import SharedStages, largest_shared_k, paired_accuracies
from psychobench.models.audio.dualnet import STAGES, DualTaskConfig, DualTaskNet, held_out_words

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

TINY_CORPUS = {"words": ["apple", "baby", "basket", "butter"], "n_train_voices": 4, "n_test_voices": 1,
               "n_train_piper_voices": 0, "n_test_piper_voices": 0, "clip_s": 0.8}


def _params(m) -> int:
    return sum(p.numel() for p in m.parameters())


def test_stages_are_shared_or_duplicated_as_k_says():
    x = torch.randn(3, 1, 32, 60)
    sizes = {}
    for k in range(len(STAGES) + 1):
        net = DualTaskNet(n_words=7, n_talkers=5, n_shared=k, width=4, hidden=16).eval()
        assert len(net.shared) == k and len(net.word) == len(STAGES) - k + 1 == len(net.talker)
        word, talker = net(x)
        assert word.shape == (3, 7) and talker.shape == (3, 5)
        sizes[k] = (_params(net.shared), _params(net.word) - (16 * 7 + 7), _params(net.talker) - (16 * 5 + 5))
    # every stage exists once per task when unshared, once in all when shared: totals fall by one
    # copy of the shared stages
    full = sizes[0][1]
    for k, (shared, word, talker) in sizes.items():
        assert word == talker and shared + word == full, k
    with pytest.raises(ValueError, match="n_shared"):
        DualTaskNet(4, 4, n_shared=len(STAGES) + 1)


def test_held_out_words_form_a_latin_square():
    held = held_out_words(n_talkers=16, n_words=8, held=2, seed=0)
    assert (held.sum(1) == 2).all()                       # each talker holds out 2 words
    assert (held.sum(0) == 4).all()                       # each word is held out by 16 x 2 / 8 talkers
    assert (held[:4].sum(0) == 1).all()                   # the first 4 talkers cover every word once


def test_paired_accuracies_known_answer():
    rng = np.random.default_rng(0)
    base = rng.random(400) < 0.7
    worse = base.copy()
    worse[np.flatnonzero(base)[:80]] = False              # 80 of the 400 tokens lost: -0.2
    t = paired_accuracies({0: base, 3: base.copy(), 5: worse}, n_boot=500, seed=1).set_index("k")
    assert t.loc[0, "accuracy"] == pytest.approx(base.mean())
    assert t.loc[5, "change"] == pytest.approx(-0.2)
    assert t.loc[3, "change"] == 0 and t.loc[3, "change_lo"] == 0 == t.loc[3, "change_hi"]   # paired: identical nets
    assert t.loc[5, "change_hi"] < 0                      # a paired loss the interval excludes 0 for
    assert t.loc[0, "lo"] < base.mean() < t.loc[0, "hi"]
    assert (t["n"] == 400).all()


def _scores(acc: dict[int, float], half: float = 0.03) -> pd.DataFrame:
    return pd.DataFrame({"k": list(acc), "accuracy": list(acc.values()),
                         "lo": [a - half for a in acc.values()], "hi": [a + half for a in acc.values()]})


def test_largest_shared_k_rule():
    word = _scores({0: 0.80, 1: 0.79, 2: 0.82, 3: 0.78, 4: 0.70, 5: 0.60})
    talker = _scores({0: 0.60, 1: 0.61, 2: 0.58, 3: 0.50, 4: 0.62, 5: 0.55})
    # k=3: talker 0.50 < 0.57; k=4: word 0.70 < 0.77; k=2: both within or above -> 2
    assert largest_shared_k({"word": word, "talker": talker}) == 2
    assert largest_shared_k({"word": _scores({0: 0.8, 5: 0.9})}) == 5          # better counts as no cost
    assert largest_shared_k({"word": _scores({0: 0.8, 5: 0.1})}) == 0
    assert largest_shared_k({"word": _scores({0: 0.8})}) is None


def test_settings_are_checked():
    with pytest.raises(SettingError, match="lacks k=0"):
        SharedStages(ks=[2, 5])
    with pytest.raises(SettingError, match=r"stimuli.ks=\[0, 9\]"):
        SharedStages(ks=[0, 9])
    with pytest.raises(SettingError, match="stimuli.epochs"):
        SharedStages(epochs=0)
    with pytest.raises(SettingError, match="stimuli.corpus"):
        SharedStages(corpus={"n_voices": 3}).configs()
    assert SharedStages().ks == tuple(range(len(STAGES) + 1))
    with pytest.raises(SettingError, match="model=dualnet"):
        SharedStages(ks=[0]).analyse({"_target_": "psychobench.models.audio.observers.WordNetObserver",
                                      "name": "wordnet"})


def test_preset_and_observer_train_the_same_networks():
    """The dualnet observer (model=dualnet model.shared=k) reads the very checkpoint the
    preset's sweep trains for that k (same config key)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from psychobench.models.audio.observers import DualNetObserver

    with initialize_config_dir(str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=shared_stages"])
    exp = instantiate(cfg.stimuli, _convert_="all")
    assert cfg.model.name == "dualnet"
    for k, c in exp.configs().items():
        assert DualNetObserver(shared=k)._config().key() == c.key(), k
    with pytest.raises(Exception, match="model.shared"):
        DualNetObserver(shared=6)


@pytest.fixture
def tiny_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


@needs_espeak
def test_training_is_deterministic_and_sealed(tiny_cache):
    from psychobench.data.io import IntegrityWarning
    from psychobench.models.audio.dualnet import train_dual_net
    from psychobench.stimuli.audio.words import WordCorpus

    cfg = dataclasses.replace(DualTaskConfig(), corpus=WordCorpus(**{**TINY_CORPUS, "words": tuple(TINY_CORPUS["words"])}),
                              held_words=1, n_copies=1, epochs=2, batch_size=4, width=4, hidden=8, n_shared=2)
    first = {k: v.clone() for k, v in _weights(train_dual_net(cfg)).items()}
    again = _weights(train_dual_net(cfg, force=True))
    assert all(torch.equal(first[k], again[k]) for k in first)
    path = train_dual_net(cfg)
    with open(path, "r+b") as f:                         # a flipped byte is caught and retrained
        f.seek(-300, 2)
        b = f.read(1)
        f.seek(-300, 2)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.warns(IntegrityWarning, match="dual-task network"):
        back = train_dual_net(cfg)
    assert all(torch.equal(first[k], v) for k, v in _weights(back).items())


@needs_espeak
def test_tiny_sweep_through_the_run_pipeline(tiny_cache):
    """experiment=shared_stages end to end on a tiny corpus: one row per k and task with
    intervals that hold the value, the change rows, largest_shared_k, and the report figure."""
    import os
    import subprocess
    import sys

    from psychobench.report import analyses, plots

    run = tiny_cache / "run"
    corpus = "{words:[apple,baby,basket,butter],n_train_voices:4,n_test_voices:1,n_train_piper_voices:0," \
             "n_test_piper_voices:0,clip_s:0.8}"
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.main", "experiment=shared_stages",
                          "stimuli.ks=[0,3,5]", "stimuli.epochs=2", "stimuli.width=4", "stimuli.n_copies=1",
                          "stimuli.held_words=1", "stimuli.batch_size=4", "stimuli.n_boot=200", f"stimuli.corpus={corpus}",
                          f"results_dir={tiny_cache}", f"hydra.run.dir={run}", "trainer.progress_bar=false"],
                         capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 0, res.stderr[-2000:]
    m = pd.read_csv(run / "metrics.csv")
    acc = m[m["metric"].isin(["word_accuracy", "talker_accuracy"])]
    assert sorted(acc["k"].astype(int)) == [0, 0, 3, 3, 5, 5]
    assert ((acc["value_ci_low"] <= acc["value"]) & (acc["value"] <= acc["value_ci_high"])).all()
    assert set(m.loc[m["metric"].str.endswith("_change"), "k"].astype(int)) == {3, 5}
    best = m[m["metric"] == "largest_shared_k"]
    assert len(best) == 1 and best["value"].iloc[0] in (0, 3, 5)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == "dualnet"
    assert summary["notes"]["shared_stages"]["chance"] == {"word": 0.25, "talker": 0.25}

    class Data:
        metrics = m.assign(run="r1", model="dualnet")

    table = analyses.shared_stages_table(Data())
    assert len(table) == 6 and table["largest"].notna().all()
    assert len(plots.shared_stages(table).axes) == 2
