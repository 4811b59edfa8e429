"""The classic pitch presets beyond Bernstein & Oxenham: mistuned harmonics (Moore, Glasberg &
Peters 1985) and alternating phase (Shackleton & Carlyon 1994): their human tables, stimuli and
scoring, with observers whose answers are planted."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from psychobench.consistency import hearing as H
from psychobench.consistency.table import HUMANS
from psychobench.data.schema import TrialTableError
from psychobench.errors import SettingError
from psychobench.stimuli.audio import pitch as P

from conftest import MIRROR


@pytest.fixture
def mirror_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", str(MIRROR))
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))


# --------------------------------------------------------------------------------------------
# human tables


def test_moore_1985_table_through_the_registry(mirror_env, tmp_path):
    from psychobench.data.listeners import moore_etal_1985

    d = moore_etal_1985()
    # 3 F0s x harmonics 1-6 x 7 mistunings; the file's all-zero harmonics 7-12 are placeholders
    assert len(d) == 3 * 6 * 7 and sorted(d["harmonic"].unique()) == [1, 2, 3, 4, 5, 6]
    assert (d.loc[d["mistuning_percent"] == 0, "pitch_shift_percent"] == 0).all()
    row = d[(d.f0_hz == 200) & (d.harmonic == 1) & (d.mistuning_percent == 4)].iloc[0]
    assert row["pitch_shift_percent"] == pytest.approx(1.038, abs=1e-3)          # Moore et al.'s Fig. 2
    # the dominance region: low harmonics shift the pitch more than harmonic 6
    top = d[d.mistuning_percent == 3].pivot(index="f0_hz", columns="harmonic", values="pitch_shift_percent")
    assert (top[[2, 3]].mean(axis=1) > top[6]).all()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"f0_ref": {"200.0": {"mistuned_harm": {"3": {"mistuned_pct": [0, 1]}}}}}))
    with pytest.raises(TrialTableError, match=r"bad\.json: f0_ref 200\.0, mistuned_harm 3"):
        moore_etal_1985(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(TrialTableError, match="not the Moore et al. 1985 JSON"):
        moore_etal_1985(bad)


def test_shackleton_carlyon_table_matches_the_transcribed_csv():
    from psychobench.data.listeners import shackleton_carlyon_1994

    d = shackleton_carlyon_1994()
    assert len(d) == 27 and d["pct_2f0_minus_f0"].between(-100, 100).all()
    csv = MIRROR.parent / "derived" / "pitch_human_thresholds" / "shackleton_carlyon_1994_alternating_phase.csv"
    if csv.is_file():                          # the committed means are the 'mean' rows of the table
        ref = pd.read_csv(csv)
        ref = ref[ref["subject"] == "mean"].rename(columns={"filter_lower_cutoff_hz": "filter_lower_hz",
                                                            "f0_bin_center_hz": "f0_hz"})
        m = d.merge(ref, on=["filter_lower_hz", "f0_hz"], validate="one_to_one")
        assert len(m) == 27
        np.testing.assert_allclose(m["pct_2f0_minus_f0"], m["pct_matches_2f0_minus_pct_matches_f0"], atol=0.006)
    low, mid, high = (d[d.filter_lower_hz == b].set_index("f0_hz")["pct_2f0_minus_f0"] for b in (125, 1375, 3900))
    assert (low < -60).all() and (high > 90).all() and mid.iloc[0] > 90 > -90 > mid.iloc[-1]


# --------------------------------------------------------------------------------------------
# stimuli


def test_mistuned_complex_moves_one_harmonic_only():
    fs, f0 = P.PITCH_FS, 200.0
    x = P.mistuned_complex(np.array([f0, f0]), np.array([3, 3]), np.array([0.0, 4.0]), fs, dur_s=1.0,
                           ramp_s=0.0, level_dbfs=0.0)
    spec = np.abs(np.fft.rfft(x, axis=1))              # 1-Hz bins over 1 s
    peaks = [np.sort(np.argsort(s)[-12:]) for s in spec]
    want = f0 * np.arange(1, 13)
    np.testing.assert_array_equal(peaks[0], want.astype(int))
    moved = want.copy()
    moved[2] = 3 * f0 * 1.04
    np.testing.assert_array_equal(peaks[1], moved.astype(int))
    with pytest.raises(ValueError, match="Nyquist"):
        P.mistuned_complex(np.array([800.0]), 2, 4.0, fs)


def test_alternating_phase_envelope_repeats_at_twice_f0():
    from scipy.signal import hilbert

    fs, f0 = P.PITCH_FS, 100.0
    per = int(fs / f0)

    def env_peak_lag(phase):
        x = P.harmonic_complex(np.array([f0]), fs, 0.5, f_lo=3900.0, f_hi=5400.0, phase=phase, ramp_s=0.0)[0]
        e = np.abs(hilbert(x))
        e = e - e.mean()
        ac = np.correlate(e, e, "full")[len(e) - 1:]
        return int(np.argmax(ac[per // 4:per + per // 4])) + per // 4      # first envelope repetition

    assert env_peak_lag("sine") == pytest.approx(per, abs=2)                # envelope period 1 / F0
    assert env_peak_lag("alternating") == pytest.approx(per / 2, abs=2)     # 1 / (2 F0)
    # the same power spectrum: only the phases differ
    s, a = (np.abs(np.fft.rfft(P.harmonic_complex(np.array([f0]), fs, 0.5, f_lo=1375.0, f_hi=1875.0, phase=p,
                                                  ramp_s=0.0)[0])) for p in ("sine", "alternating"))
    np.testing.assert_allclose(s, a, atol=1e-6 * s.max())


# --------------------------------------------------------------------------------------------
# scoring, with planted observers


def _trials(conds: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = conds.loc[conds.index.repeat(n)].reset_index(drop=True)
    t["f0_true"] = t["f0_hz"] * rng.uniform(0.97, 1.03, len(t))
    t["subject"], t["stimulus_id"] = "planted", [f"s{i}" for i in range(len(t))]
    return t


def test_mistuned_table_recovers_planted_harmonic_weights(mirror_env):
    from psychobench.experiments.hearing import MistunedHarmonics

    exp = MistunedHarmonics(n_items=6, n_boot=200)
    conds = exp.conditions_table()
    assert len(conds) == 3 * 6 * 6 and conds["human_pitch_shift_percent"].notna().all()
    weights = {1: 0.30, 2: 0.25, 3: 0.20, 4: 0.10, 5: 0.05, 6: 0.02}
    t = _trials(conds, 6)
    rng = np.random.default_rng(1)
    t["f0_1_est"] = t["f0_true"] * 1.01                   # a constant bias the tuned reference removes
    planted = t["harmonic"].map(weights) * t["mistuning_percent"]
    t["f0_2_est"] = t["f0_1_est"] * (1 + planted / 100) * np.exp(rng.normal(0, 2e-4, len(t)))
    m = H.mistuned_table(t, conds, dataset="mistuned_harmonics", n_boot=200)
    mine = m[m.observer == "planted"].set_index(["metric", "condition"])
    shift = mine.loc["mistuned_shift_percent"].loc[conds["condition"], "value"].to_numpy()
    np.testing.assert_allclose(shift, (conds["harmonic"].map(weights) * conds["mistuning_percent"]).to_numpy(),
                               atol=0.06)
    for f0 in (100, 200, 400):
        for h, w in weights.items():
            row = mine.loc[("harmonic_weight", f"f0={f0}-h{h}")]
            assert row["value"] == pytest.approx(w, abs=0.01)
            assert row["value_ci_low"] <= row["value"] <= row["value_ci_high"]
    base = m[m.observer == H.EQUAL_WEIGHTS].set_index(["metric", "condition"])
    np.testing.assert_allclose(base.loc["harmonic_weight", "value"], 1 / 12)
    hum = m[(m.observer == HUMANS) & (m.metric == "harmonic_weight")].set_index("condition")["value"]
    assert len(hum) == 18 and hum["f0=200-h2"] > hum["f0=200-h6"]
    r = mine.loc[("r_mistuned_shift", "")]
    assert r["n"] == 108 and r["value_ci_low"] <= r["value"] <= r["value_ci_high"]
    # an observer that reports the listeners' own means gets r = 1, the equal-weight baseline less
    t2 = t.copy()                                          # (the trials carry their condition's columns)
    t2["f0_2_est"] = t2["f0_1_est"] * (1 + t2["human_pitch_shift_percent"] / 100)
    m2 = H.mistuned_table(t2, conds, dataset="mistuned_harmonics", n_boot=50)
    rr = m2[m2.metric == "r_mistuned_shift"].set_index("observer")["value"]
    assert rr["planted"] == pytest.approx(1.0) and rr[H.EQUAL_WEIGHTS] < 0.9
    with pytest.raises(ValueError, match="f0_1_est"):
        H.mistuned_table(t.drop(columns="f0_1_est"), conds, dataset="mistuned_harmonics")


def test_alt_phase_matches_and_table():
    from psychobench.experiments.hearing import AlternatingPhase

    at_f0, at_2f0 = H.alt_phase_matches(np.array([100, 140, 142, 200, 280, 290, 50]), np.full(7, 100.0))
    np.testing.assert_array_equal(at_f0, [1, 1, 0, 0, 0, 0, 0])     # boundary at sqrt(2) F0
    np.testing.assert_array_equal(at_2f0, [0, 0, 1, 1, 1, 0, 0])    # and at 2 sqrt(2) F0
    exp = AlternatingPhase(n_items=5, n_boot=200)
    conds = exp.conditions_table()
    assert len(conds) == 27 and conds["human_2f0_minus_f0"].notna().all()
    # an observer that follows the resolvability rule exactly: r equals the rule's
    t = _trials(conds, 5)
    t["f0_2_est"] = t["f0_true"] * np.where(t["lowest_harmonic"] > 10, 2.0, 1.0) * 1.01
    m = H.alt_phase_table(t, conds, dataset="alt_phase", n_boot=200)
    mine = m[m.observer == "planted"].set_index(["metric", "condition"])
    rule = m[m.observer == H.RESOLVABILITY_RULE].set_index(["metric", "condition"])
    v = mine.loc["alt_phase_2f0_minus_f0", "value"]
    assert set(v) == {-100.0, 100.0} and (mine.loc["alt_phase_neither_percent", "value"] == 0).all()
    assert mine.loc[("r_alt_phase", ""), "value"] == pytest.approx(rule.loc[("r_alt_phase", ""), "value"])
    assert mine.loc[("r_alt_phase", ""), "value"] > 0.8
    # half the items at F0, half at 2 F0 gives 0; estimates at 3 F0 count as neither
    t["f0_2_est"] = t["f0_true"] * np.where(np.arange(len(t)) % 5 < 2, 1.0, np.where(np.arange(len(t)) % 5 < 4,
                                                                                        2.0, 3.0))
    m = H.alt_phase_table(t, conds, dataset="alt_phase", n_boot=200)
    mine = m[m.observer == "planted"].set_index(["metric", "condition"])
    assert (mine.loc["alt_phase_2f0_minus_f0", "value"] == 0).all()
    np.testing.assert_allclose(mine.loc["alt_phase_neither_percent", "value"], 20.0)
    assert mine.loc[("r_alt_phase", ""), "status"] == "undefined"          # a constant observer has no r


def test_preset_settings_are_checked():
    from psychobench.experiments.hearing import AlternatingPhase, MistunedHarmonics

    with pytest.raises(SettingError, match="bands"):
        AlternatingPhase(bands=(125, 2000))
    with pytest.raises(SettingError, match="harmonics"):
        MistunedHarmonics(harmonics=(1, 13))
    with pytest.raises(SettingError, match="Nyquist"):
        MistunedHarmonics(f0s_hz=(800,))
    with pytest.raises(SettingError, match="n_items"):
        AlternatingPhase(n_items=1)


def test_preset_stimuli_carry_the_design():
    from psychobench.experiments.hearing import AlternatingPhase

    exp = AlternatingPhase(bands=(3900,), f0s_hz=(100.0,), n_items=2)
    ws = exp.stimuli()
    man = ws.manifest
    assert len(man) == 2 and set(man["category"]) == {"second"}          # lowest harmonic 39: unresolved
    assert (man["f0_true"] / 100.0).between(0.96, 1.04).all()
    assert "half an octave" in exp.notes["design"]["ours"]


def test_transposed_tone_spectrum_and_preset():
    from psychobench.experiments.hearing import TransposedTones

    fs = P.PITCH_FS
    x = P.transposed_tone(np.array([125.0]), 4000.0, fs, dur_s=1.0, ramp_s=0.0, level_dbfs=0.0)[0]
    spec = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(len(x), 1 / fs)
    strong = f[spec > 0.02 * spec.max()]
    # energy only near the carrier (within its 0.2 x carrier low-pass), none at the rate itself
    assert strong.min() >= 4000 - 800 - 1 and strong.max() <= 4000 + 800 + 1
    assert spec[np.argmin(np.abs(f - 125))] < 1e-6 * spec.max()
    # sidebands at the carrier +- multiples of the rate: the envelope's period is 1 / rate
    assert spec[np.argmin(np.abs(f - 4125))] > 0.1 * spec.max()
    with pytest.raises(ValueError, match="Nyquist"):
        P.transposed_tone(np.array([125.0]), 10080.0, fs)
    with pytest.raises(SettingError, match="10.08-kHz"):
        TransposedTones(carriers_hz=(0, 10080))
    exp = TransposedTones(f0s_hz=(125.44,), deltas_pct=(1.0, 10.0), n_per_level=2)
    conds = exp.conditions_table()
    assert list(conds["condition"]) == ["pure-f0=125.44", "transposed-4000-f0=125.44", "transposed-6350-f0=125.44"]
    np.testing.assert_allclose(conds["human_f0dl_percent"], [2.36, 9.21, 13.74])
    ws = exp.stimuli()
    assert ws.waves.shape == (3 * 2 * 2, 2, int(0.2 * fs)) and np.isfinite(ws.waves).all()
