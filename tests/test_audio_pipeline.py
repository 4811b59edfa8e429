"""End to end through the one pipeline: the words-in-noise experiment with the untrained twin
against the real listeners (answers, trial table, metric table, summary view)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

MIRROR = Path(__file__).resolve().parents[2] / "shared/data/mirror"


@pytest.mark.skipif(not MIRROR.is_dir() or shutil.which("espeak-ng") is None, reason="no mirror or espeak-ng")
@pytest.mark.slow
def test_words_in_noise_experiment_through_the_spine(monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", str(MIRROR))   # the session cache (conftest) keeps the corpus
    from psychobench.consistency import table as T
    from psychobench.data.schema import CORE_COLUMNS
    from psychobench.experiments.base import ScoreSettings
    from psychobench.experiments.hearing import WordsInNoise
    from psychobench.lightning.predict import Predictor
    from psychobench.models.audio.observers import WordNetObserver

    exp = WordsInNoise(n_per_cell=4, n_clean=8, backgrounds=(1, 3), n_splits=10, n_boot=20)
    obs = WordNetObserver(trained=False, name="twin")
    answers, passes = Predictor(accelerator="cpu", batch_size=16, progress_bar=False).predict(obs, exp.stimuli(), exp.answers)
    assert passes == -(-(2 * 5 * 4 + 8) // 16)                      # batches
    trials = exp.trials(answers, obs.name)
    assert list(trials.columns[: len(CORE_COLUMNS)]) == list(CORE_COLUMNS)
    assert len(trials) == 2 * 5 * 4 + 8 and trials["rt"].isna().all()
    assert (trials["correct"] == (trials["response"] == trials["category"])).all()
    assert set(trials.loc[np.isfinite(trials["snr_db"]), "snr_db"]) == {-9.0, -6.0, -3.0, 0.0, 3.0}
    p = trials[[f"p_{w}" for w in exp.answers.labels]].to_numpy()
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)            # posteriors over the 64 words
    table = exp.score(trials, ScoreSettings(), chance=obs.chance(exp.answers))
    r2 = table[table["metric"] == "r2_cell_means"].iloc[0]
    assert 0 < r2["ceiling"] <= 1 and r2["n"] == 10
    cells = table[(table["metric"] == "accuracy") & (table["observer"] == "twin")]
    assert len(cells) == 10 and set(cells["condition"]) == {f"{m}_snr{s:+g}" for m in ("babble8", "ssn")
                                                             for s in (-9, -6, -3, 0, 3)}
    assert "Maskers differ" in exp.notes["maskers"]
    view = T.summary_view(table, "twin")["datasets"]["words_in_noise"]
    assert set(view["by_condition"]["srt_db"]) == {"babble8", "ssn"}
