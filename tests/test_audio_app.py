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

# the first hearing run of a fresh cache synthesises the word corpus and trains the word network
# (about 8 minutes on 2 idle cores): the limit catches a hang, not a slow machine
pytestmark = [pytest.mark.timeout(1800),
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")]


def run_app(tmp: Path, name: str, *overrides: str) -> dict:
    """Run the app into ``tmp/name``; return its summary.json."""
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.main", *overrides, f"hydra.run.dir={tmp / name}"],
                         cwd=tmp, capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert f"run folder: {tmp / name}" in res.stdout
    for f in ("config.yaml", "trials.parquet", "metrics.csv", "summary.json"):
        assert (tmp / name / f).is_file(), f
    return json.loads((tmp / name / "summary.json").read_text())


def finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def common(s: dict, n_trials: int) -> None:
    assert s["n_trials"] == n_trials and s["forward_passes"] > 0 and s["seconds"] > 0


def metrics(tmp: Path, name: str) -> pd.DataFrame:
    from psychobench.consistency import table as T
    return T.read(tmp / name / "metrics.csv")


@pytest.mark.slow
def test_words_in_noise_preset_reproducible(tmp_path, mirror):
    args = ["experiment=words_in_noise", "stimuli.n_per_cell=6", "stimuli.n_clean=16", "stimuli.backgrounds=[1,3]",
            "stimuli.n_splits=20", "stimuli.n_boot=50"]
    s = run_app(tmp_path, "run1", *args)
    common(s, 2 * 5 * 6 + 16)
    d = s["datasets"]["words_in_noise"]
    assert s["model"] == "wordnet"
    r2 = d["consistency"]["r2_cell_means"]
    assert finite(r2["value"]) and 0 <= r2["value"] <= 1
    assert finite(r2["ceiling"]) and 0 < r2["ceiling"] <= 1
    m = metrics(tmp_path, "run1")
    assert int(m.loc[m["metric"] == "r2_cell_means", "n"].iloc[0]) == 10
    assert "Maskers differ" in s["notes"]["words_in_noise"]["maskers"]
    srt = d["humans"]["by_condition"]["srt_db"]
    assert set(srt) == {"babble8", "ssn"}
    for bg in ("babble8", "ssn"):     # people reach 50% inside -9..+3 dB in both backgrounds
        h = srt[bg]
        assert finite(h["value"]) and h["value_ci"][0] <= h["value"] <= h["value_ci"][1]
    cfg = (tmp_path / "run1" / "config.yaml").read_text()
    assert "WordsInNoise" in cfg and "n_per_cell: 6" in cfg
    s2 = run_app(tmp_path, "run2", *args)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "run1" / "trials.parquet"),
                                  pd.read_parquet(tmp_path / "run2" / "trials.parquet"))
    pd.testing.assert_frame_equal(metrics(tmp_path, "run1"), metrics(tmp_path, "run2"))
    assert s2["datasets"] == s["datasets"]


@pytest.mark.slow
def test_pitch_preset_small(tmp_path, mirror):
    s = run_app(tmp_path, "pitch", "experiment=pitch", "stimuli.spectra=[low]", "stimuli.phases=[sine]",
                "stimuli.n_per_level=8", "stimuli.deltas_pct=[0.25,1,4,16,64]", "stimuli.n_boot=50",
                "trainer.batch_size=64")
    common(s, 6 * 5 * 8)
    assert s["forward_passes"] == -(-s["n_trials"] // 64)             # one call a batch of two-interval trials
    d = s["datasets"]["pitch_f0dl"]
    # a threshold counts only where the top of the range is above chance (binomial test) and the
    # fit crosses inside it; r of log thresholds needs 3 of them, else it is undefined, said so
    n = d["n_thresholds_reached"]
    n = n["value"] if isinstance(n, dict) else n
    r = d["r_log_thresholds"]
    if n >= 3:
        assert finite(r["value"] if isinstance(r, dict) else r)
    else:
        assert isinstance(r, dict) and r["value"] is None and r["status"] != "ok"
    design = s["notes"]["pitch_f0dl"]["design"]
    assert "15 dB" in design["levels"] and "1560" in design["spectral_region"]
    m = metrics(tmp_path, "pitch")
    th = m[(m["metric"] == "f0dl_percent") & (m["observer"] == "crepe")]
    assert len(th) == 6 and set(th["status"]) <= {"ok", "below_range", "not_reached", "at_chance"}
    ok = th[th["status"] == "ok"]
    assert ((ok["value"] >= 0.25) & (ok["value"] <= 64)).all()
    assert (ok["value_ci_low"] <= ok["value"]).all() and (ok["value"] <= ok["value_ci_high"]).all()
    assert len(m[(m["metric"] == "f0dl_percent") & (m["observer"] == "humans")]) == 6
    t = pd.read_parquet(tmp_path / "pitch" / "trials.parquet")
    assert set(t["category"]) == {"first", "second"} and (t["correct"] == (t["response"] == t["category"])).all()
    # what CREPE hears: median estimated / true F0 per condition, in the metrics and the summary
    r = d["by_condition"]["f0_estimate_ratio"]
    assert set(r) == set(th["condition"]) and all(finite(v) and v > 0 for v in r.values())
    est = pd.concat([t["f0_1_est"] / t["f0_1"], t["f0_2_est"] / t["f0_2"]])
    c0 = th["condition"].iloc[0]
    sel = pd.concat([t["condition"], t["condition"]]).to_numpy() == c0
    assert r[c0] == pytest.approx(float(np.median(est[sel])))


@pytest.mark.slow
def test_vad_preset_small(tmp_path, mirror):
    s = run_app(tmp_path, "vad", "experiment=vad", "stimuli.n_per_cell=12", "stimuli.snrs=[-15.0,10.0]")
    common(s, 2 * 2 * 12)
    d = s["datasets"]["speech_detection"]["by_condition"]["dprime"]
    assert set(d) == {"snr-15", "snr+10"} and all(finite(v) for v in d.values())
    assert d["snr+10"] > d["snr-15"] and d["snr+10"] > 1.5                # speech at +10 dB is detected
    t = pd.read_parquet(tmp_path / "vad" / "trials.parquet")
    assert set(t["category"]) == {"speech", "noise"} and set(t["response"]) <= {"speech", "noise"}


@pytest.mark.slow
@pytest.mark.skipif(not CCC_SPEECH.is_dir(), reason="no CCC speech folder")
def test_ccc_preset_small(tmp_path, mirror):
    s = run_app(tmp_path, "ccc", "experiment=ccc", f"stimuli.speech_dir={CCC_SPEECH}", "stimuli.n_tokens=4")
    common(s, 4)
    assert s["notes"]["english_ccc"]["ceiling"] == "leave-one-listener-out"
    assert s["notes"]["english_ccc"]["snr_db"] == "recorded"
    c = s["datasets"]["english_ccc"]["consistency"]
    for k in ("correct", "in_answers", "dominant", "logprob"):
        assert finite(c[k]["value"]) and finite(c[k]["ceiling"])
        lo, hi = c[k]["ceiling_ci"]                       # intervals over tokens
        assert lo <= c[k]["ceiling"] <= hi and c[k]["value_ci"][0] <= c[k]["value"] <= c[k]["value_ci"][1]
    assert 0 <= c["correct"]["value"] <= 1 and c["logprob"]["ceiling"] < 0
    t = pd.read_parquet(tmp_path / "ccc" / "trials.parquet")
    assert len(t) == 4 and {"ccc_correct", "ccc_logprob", "snr_db", "masker"} <= set(t.columns)


@pytest.mark.slow
@pytest.mark.skipif(not CCC_SPEECH.is_dir(), reason="no CCC speech folder")
def test_ccc_pocketsphinx_in_two_processes(tmp_path, mirror):
    # the 6751-word grammar, decoded by two worker processes, a narrowed search
    s = run_app(tmp_path, "ps", "experiment=ccc", "model=pocketsphinx", f"stimuli.speech_dir={CCC_SPEECH}",
                "stimuli.n_tokens=4", "model.workers=2", "+model.decoder_options.maxhmmpf=3000")
    common(s, 4)
    c = s["datasets"]["english_ccc"]["consistency"]
    assert all(finite(c[k]["ceiling"]) for k in ("correct", "in_answers", "dominant", "logprob"))
    t = pd.read_parquet(tmp_path / "ps" / "trials.parquet")
    assert len(t) == 4 and t["ps_complete"].dtype == bool
    assert (t.loc[~t["ps_complete"], "response"] != "").all()        # incomplete: a partial word or na
    cfg = (tmp_path / "ps" / "config.yaml").read_text()
    assert "maxhmmpf: 3000" in cfg and "workers: 2" in cfg


def test_retired_audio_model_override_says_what_to_write(tmp_path):
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.main", "experiment=ccc", "audio_model=whisper_closed"],
                         cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 2
    assert "audio_model was merged into the model group: write model=NAME" in res.stderr
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.main", "experiment=pitch", "runner.n_boot=5"],
                         cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 2 and "stimuli.OPTION=VALUE" in res.stderr
    assert not list(tmp_path.rglob("summary.json"))


@pytest.mark.slow
def test_answer_cache_serves_hearing_runs(tmp_path, mirror):
    """A second hearing run that differs only in a metric setting misses the run memo but takes
    its answers from the answer cache: no forward pass."""
    args = ["experiment=vad", "stimuli.n_per_cell=4", "stimuli.snrs=[-5.0,10.0]"]
    first = run_app(tmp_path, "first", *args, "metrics.n_boot=20")
    second = run_app(tmp_path, "second", *args, "metrics.n_boot=30")
    assert first["forward_passes"] > 0 and second["forward_passes"] == 0
    assert "reused" not in second                                   # not from the run memo
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "first" / "trials.parquet"),
                                  pd.read_parquet(tmp_path / "second" / "trials.parquet"))


@pytest.mark.slow
def test_pitch_shift_preset_small(tmp_path, mirror):
    # the untrained twin (seeded random weights: no training in the test) on 4 conditions, 3 items
    s = run_app(tmp_path, "pshift", "experiment=pitch_shift", "model=pitchnet_untrained", "stimuli.f0s_hz=[200]",
                "stimuli.centre_harmonics=[5]", "stimuli.n_items=3", "stimuli.n_boot=50", "trainer.batch_size=16")
    common(s, 4 * 3)
    d = s["datasets"]["pitch_shift"]
    r = d["r_pitch_shift"]
    assert isinstance(r, dict) and (r["value"] is None or -1 <= r["value"] <= 1)
    assert "Moore & Moore" in s["notes"]["pitch_shift"]["cite"] and "16-kHz" in s["notes"]["pitch_shift"]["design"]["ours"]
    m = pd.read_csv(tmp_path / "pshift" / "metrics.csv")
    ps = m[(m["metric"] == "pitch_shift_percent") & (m["observer"] == "pitchnet-untrained")]
    assert len(ps) == 4 and np.isfinite(ps["value"]).all() and (ps["value_ci_low"] <= ps["value"]).all()
    assert set(m["observer"]) == {"pitchnet-untrained", "humans", "baseline: shift / centre harmonic"}


@pytest.mark.slow
def test_mistuned_alt_phase_and_transposed_presets_small(tmp_path, mirror):
    # the untrained twin (seeded random weights: no training in the test) on a few conditions each
    s = run_app(tmp_path, "mist", "experiment=mistuned_harmonics", "model=pitchnet_untrained", "stimuli.f0s_hz=[200]",
                "stimuli.harmonics=[2,5]", "stimuli.mistunings_pct=[2,4]", "stimuli.n_items=3", "stimuli.n_boot=50",
                "trainer.batch_size=16")
    common(s, 4 * 3)
    assert "Moore, Glasberg & Peters" in s["notes"]["mistuned_harmonics"]["cite"]
    r = s["datasets"]["mistuned_harmonics"]["r_mistuned_shift"]
    assert isinstance(r, dict) and (r["value"] is None or -1 <= r["value"] <= 1)
    m = pd.read_csv(tmp_path / "mist" / "metrics.csv")
    w = m[m["metric"] == "harmonic_weight"]
    assert set(w["condition"]) == {"f0=200-h2", "f0=200-h5"}
    assert set(m["observer"]) == {"pitchnet-untrained", "humans", "baseline: equal harmonic weights"}

    s = run_app(tmp_path, "alt", "experiment=alt_phase", "model=pitchnet_untrained", "stimuli.bands=[125,3900]",
                "stimuli.f0s_hz=[88.4,176.8]", "stimuli.n_items=3", "stimuli.n_boot=50", "trainer.batch_size=16")
    common(s, 4 * 3)
    assert "half an octave" in s["notes"]["alt_phase"]["design"]["ours"]
    m = pd.read_csv(tmp_path / "alt" / "metrics.csv")
    v = m[(m["metric"] == "alt_phase_2f0_minus_f0") & (m["observer"] == "pitchnet-untrained")]
    nei = m[(m["metric"] == "alt_phase_neither_percent")]
    assert len(v) == 4 and v["value"].between(-100, 100).all() and nei["value"].between(0, 100).all()
    assert "r_alt_phase" in s["datasets"]["alt_phase"]

    s = run_app(tmp_path, "tt", "experiment=transposed_tones", "model=pitchnet_untrained", "stimuli.f0s_hz=[125.44]",
                "stimuli.carriers_hz=[0,4000]", "stimuli.deltas_pct=[1,10]", "stimuli.n_per_level=3",
                "stimuli.n_boot=20", "trainer.batch_size=16")
    common(s, 2 * 2 * 3)
    d = s["datasets"]["transposed_tones"]
    assert "n_thresholds_reached" in d and "Oxenham" in s["notes"]["transposed_tones"]["cite"]
