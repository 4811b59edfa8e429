"""End to end: the words-in-noise runner with the untrained twin against the real listeners."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

MIRROR = Path(__file__).resolve().parents[2] / "shared/data/mirror"


@pytest.mark.skipif(not MIRROR.is_dir() or shutil.which("espeak-ng") is None, reason="no mirror or espeak-ng")
def test_words_in_noise_runner_writes_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", str(MIRROR))   # the session cache (conftest) keeps the corpus
    from psychobench.models.audio.observers import WordNetObserver
    from psychobench.experiments.hearing import run_words_in_noise
    from psychobench.data.schema import CORE_COLUMNS
    s = run_words_in_noise(run_dir=tmp_path / "run", model=WordNetObserver(trained=False, name="twin"),
                           n_per_cell=4, n_clean=8, backgrounds=(1, 3), n_splits=10, n_boot=20)
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert list(trials.columns[: len(CORE_COLUMNS)]) == list(CORE_COLUMNS)
    assert len(trials) == s["n_trials"] == 2 * 5 * 4 + 8 and trials["rt"].isna().all()
    assert (trials["correct"] == (trials["response"] == trials["category"])).all()
    assert set(trials.loc[np.isfinite(trials["snr_db"]), "snr_db"]) == {-9.0, -6.0, -3.0, 0.0, 3.0}
    assert s["n_cells"] == 10 and 0 < s["ceiling"] <= 1 and "Maskers differ" in s["maskers_note"]
    assert {"n_trials", "forward_passes", "seconds", "r2_cell_means"} <= set(s)
    assert not (tmp_path / "run" / "summary.json").exists()          # the app writes it, not the runner
    assert (tmp_path / "run" / "metrics.csv").is_file() and (tmp_path / "run" / "trials.csv").is_file()
