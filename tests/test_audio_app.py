"""The audio presets through the Hydra app (``python -m psychobench.cli.main experiment=...``), small.

Each run writes its folder; the app writes summary.json from the runner's dict.  The words-in-noise
run uses the trained word network, which is trained once per test session (cached in the
session's $PSYCHOBENCH_CACHE, shared with test_audio_wordnet.py) if it is not there yet.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared/data"
CCC_SPEECH = SHARED / "derived/english_ccc_speech"   # a user-supplied folder of CCC speech channels

pytestmark = [pytest.mark.timeout(900),
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")]


def run_app(tmp: Path, name: str, *overrides: str) -> dict:
    """Run the app into ``tmp/name``; return its summary.json."""
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.main", *overrides, f"hydra.run.dir={tmp / name}"],
                         cwd=tmp, capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert f"run folder: {tmp / name}" in res.stdout
    for f in ("config.yaml", "trials.parquet", "trials.csv", "metrics.csv", "summary.json"):
        assert (tmp / name / f).is_file(), f
    return json.loads((tmp / name / "summary.json").read_text())


def finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def common(s: dict, n_trials: int) -> None:
    assert s["n_trials"] == n_trials and s["forward_passes"] > 0 and s["seconds"] > 0


@pytest.mark.slow
def test_words_in_noise_preset_reproducible(tmp_path, mirror):
    args = ["experiment=words_in_noise", "runner.n_per_cell=6", "runner.n_clean=16", "runner.backgrounds=[1,3]",
            "runner.n_splits=20", "runner.n_boot=50"]
    s = run_app(tmp_path, "run1", *args)
    common(s, 2 * 5 * 6 + 16)
    assert s["model"] == "wordnet" and s["experiment"] == "words_in_noise"
    assert finite(s["r2_cell_means"]) and 0 <= s["r2_cell_means"] <= 1
    assert finite(s["ceiling"]) and 0 < s["ceiling"] <= 1 and s["n_cells"] == 10 and s["n_listeners"] == 44
    assert "Maskers differ" in s["maskers_note"] and set(s["srt"]) == {"1", "3"}
    for bg in ("1", "3"):     # people reach 50% inside -9..+3 dB in both backgrounds
        h = s["srt"][bg]
        assert finite(h["human_srt_db"]) and h["human_ci"][0] <= h["human_srt_db"] <= h["human_ci"][1]
    cfg = (tmp_path / "run1" / "config.yaml").read_text()
    assert "run_words_in_noise" in cfg and "n_per_cell: 6" in cfg
    s2 = run_app(tmp_path, "run2", *args)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "run1" / "trials.parquet"),
                                  pd.read_parquet(tmp_path / "run2" / "trials.parquet"))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "run1" / "metrics.csv"),
                                  pd.read_csv(tmp_path / "run2" / "metrics.csv"))
    assert s2["r2_cell_means"] == s["r2_cell_means"] and s2["srt"] == s["srt"]


def test_pitch_preset_small(tmp_path, mirror):
    s = run_app(tmp_path, "pitch", "experiment=pitch", "runner.spectra=[low]", "runner.phases=[sine]",
                "runner.n_per_level=8", "runner.deltas_pct=[0.25,1,4,16,64]", "runner.n_boot=50")
    common(s, 6 * 5 * 8)
    assert s["forward_passes"] == 2 * s["n_trials"]                   # two intervals a trial
    assert finite(s["r_log_thresholds"]) and s["n_conditions"] >= 3
    assert "15 dB" in s["design"]["levels"] and "1560" in s["design"]["spectral_region"]
    m = pd.read_csv(tmp_path / "pitch" / "metrics.csv")
    assert len(m) == 6 and set(m["status"]) <= {"ok", "below_range", "not_reached"}
    ok = m[m["status"] == "ok"]
    assert ((ok["threshold_percent"] >= 0.25) & (ok["threshold_percent"] <= 64)).all()
    assert (ok["ci_low"] <= ok["threshold_percent"]).all() and (ok["threshold_percent"] <= ok["ci_high"]).all()
    t = pd.read_parquet(tmp_path / "pitch" / "trials.parquet")
    assert set(t["category"]) == {"first", "second"} and (t["correct"] == (t["response"] == t["category"])).all()
    # what CREPE hears: median estimated / true F0 per condition, in the metrics and the summary
    r = s["f0_estimate_ratio_median"]
    assert set(r) == set(m["condition"]) and all(finite(v) and v > 0 for v in r.values())
    np.testing.assert_allclose(m.set_index("condition")["f0_estimate_ratio"].loc[list(r)], list(r.values()))
    est = pd.concat([t["f0_1_est"] / t["f0_1"], t["f0_2_est"] / t["f0_2"]])
    c0 = m["condition"].iloc[0]
    sel = pd.concat([t["condition"], t["condition"]]).to_numpy() == c0
    assert r[c0] == pytest.approx(float(np.median(est[sel])))


def test_vad_preset_small(tmp_path, mirror):
    s = run_app(tmp_path, "vad", "experiment=vad", "runner.n_per_cell=12", "runner.snrs=[-15.0,10.0]")
    common(s, 2 * 2 * 12)
    d = s["dprime_by_snr"]
    assert set(d) == {"-15", "+10"} and all(finite(v) for v in d.values())
    assert d["+10"] > d["-15"] and d["+10"] > 1.5                     # speech at +10 dB is detected
    t = pd.read_parquet(tmp_path / "vad" / "trials.parquet")
    assert set(t["category"]) == {"speech", "noise"} and set(t["response"]) <= {"speech", "noise"}


@pytest.mark.skipif(not CCC_SPEECH.is_dir(), reason="no CCC speech folder")
def test_ccc_preset_small(tmp_path, mirror):
    s = run_app(tmp_path, "ccc", "experiment=ccc", f"runner.speech_dir={CCC_SPEECH}", "runner.n_tokens=4")
    common(s, 4)
    assert s["ceiling_kind"] == "leave-one-listener-out" and s["snr_db"] == "recorded"
    for k in ("correct", "in_answers", "dominant", "logprob"):
        assert finite(s["rates"][k]) and finite(s["ceiling"][k])
    assert 0 <= s["rates"]["correct"] <= 1 and s["ceiling"]["logprob"] < 0
    t = pd.read_parquet(tmp_path / "ccc" / "trials.parquet")
    assert len(t) == 4 and {"ccc_correct", "ccc_logprob", "snr_db", "masker"} <= set(t.columns)
