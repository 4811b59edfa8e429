"""Audio observers with known answers: Whisper's fast closed-set search equals exhaustive scoring,
CREPE's two-interval shift reads known pitch differences, silero-vad's batched frames equal its
one-stimulus-at-a-time run; Bernstein & Oxenham stimuli have the stated spectrum and noise."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from psychobench.stimuli.audio.pitch import (BERNOX_REGION_REF_HZ, bernox_complex, erb_hz, fixed_region_gain_db,
                                     pure_tone, ten_noise)

FS = 16000
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def test_fixed_region_filter_and_lowest_harmonic():
    from scipy.optimize import brentq, minimize_scalar

    def butter_db(f):   # 4th-order Butterworth high-pass (2.5 kHz) x low-pass (3.5 kHz), power in dB
        return -10 * np.log10(1 + (2500 / f) ** 8) - 10 * np.log10(1 + (f / 3500) ** 8)

    peak = -minimize_scalar(lambda f: -butter_db(f), bounds=(2500, 3500), method="bounded").fun
    edge = brentq(lambda f: butter_db(f) - peak + 15, 1000, 2900)        # base filter's lower -15 dB point
    for ref in BERNOX_REGION_REF_HZ.values():
        f = np.array([ref - 300, ref, ref + 500, ref + 1500, ref + 3000])
        np.testing.assert_allclose(fixed_region_gain_db(f, ref), butter_db(f - (ref - edge)) - peak, atol=0.02)
        assert fixed_region_gain_db(np.array([ref]), ref)[0] == pytest.approx(-15.0, abs=0.02)
    # lowest audible harmonic (within 15 dB of the pass band) = ceil(ref / F0)
    x = bernox_complex(np.array([200.0]), np.array([1560.0]), "sine", np.random.default_rng(0), dur_s=1.0,
                       ramp_s=0, noise=False)[0]
    mag = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(len(x), 1 / FS)
    audible = f[mag >= mag.max() * 10 ** (-15 / 20)]
    assert np.allclose(audible % 200, 0) and audible.min() == 1600.0      # harmonic 8 = ceil(7.8)


def test_ten_noise_has_equal_power_per_erb_and_components_at_15_db():
    rng = np.random.default_rng(0)
    n = ten_noise((40, FS), FS, rng)
    p = (np.abs(np.fft.rfft(n, axis=1)) ** 2).mean(0) * 2 / (FS * FS)      # one-sided PSD per Hz
    f = np.fft.rfftfreq(FS, 1 / FS)
    per_erb = [p[np.abs(f - fc) < erb_hz(fc) / 2].sum() for fc in (500.0, 1000.0, 2000.0, 4000.0, 6000.0)]
    np.testing.assert_allclose(per_erb, 1.0, rtol=0.08)
    # a pass-band component has power 10^(15/10) x (noise power per ERB): tone-to-noise per ERB 15 dB
    x = bernox_complex(np.array([300.0]), np.array([1560.0]), "sine", rng, dur_s=1.0, ramp_s=0, noise=False)
    y = bernox_complex(np.array([300.0]), np.array([1560.0]), "sine", np.random.default_rng(5), dur_s=1.0,
                       ramp_s=0, noise=True)
    spec_x, spec_y = np.abs(np.fft.rfft(x[0])), np.abs(np.fft.rfft(y[0]))
    k = int(np.argmax(spec_x))                                          # strongest harmonic bin
    noise_bins = np.abs(f - f[k]) < erb_hz(f[k]) / 2
    noise_bins[k] = False
    comp = spec_y[k] ** 2 * 2 / FS ** 2
    noise_per_erb = (spec_y[noise_bins] ** 2).sum() * 2 / FS ** 2 * (noise_bins.sum() + 1) / noise_bins.sum()
    assert 10 * np.log10(comp / noise_per_erb) == pytest.approx(15.0, abs=2.0)


def test_crepe_shift_reads_pure_tone_differences():
    from psychobench.models.audio.observers import CrepeObserver
    c = CrepeObserver()
    ref = pure_tone(np.full(3, 220.0))
    up = pure_tone(220.0 * np.array([1.005, 1.02, 1.08]))
    s = c.shift_cents(c.activations(ref), c.activations(up))
    np.testing.assert_allclose(s, 1200 * np.log2([1.005, 1.02, 1.08]), rtol=0.08, atol=3.0)   # 20-cent bins
    out = c.respond_2i(np.r_[ref, up], np.r_[up, ref])
    assert list(out["response"]) == ["second"] * 3 + ["first"] * 3
    np.testing.assert_allclose(out["f0_1_est"][:3], 220.0, rtol=0.01)


@needs_espeak
def test_silero_batched_equals_one_at_a_time():
    from psychobench.models.audio.observers import SileroVADObserver
    from psychobench.stimuli.audio.synth import Voice, espeak
    w = espeak("garden", Voice())
    x = np.zeros((3, 19200))
    x[0, 4000:4000 + len(w)] = w
    x[1] = 0.01 * np.random.default_rng(0).standard_normal(19200)
    x[2, 2000:2000 + len(w)] = 0.3 * w
    obs = SileroVADObserver()
    batched = obs.speech_prob(x)
    single = np.concatenate([obs.speech_prob(x[i:i + 1]) for i in range(3)])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert list(obs.respond(x)["response"]) == ["speech", "noise", "speech"]


@needs_espeak
@pytest.mark.slow
def test_whisper_closed_set_search_equals_exhaustive_scoring():
    from psychobench.models.audio.observers import WhisperObserver, _lse_words
    from psychobench.stimuli.audio.signal import mix_at_snr
    from psychobench.stimuli.audio.synth import Voice, espeak
    vocab = ("umbrella", "garden", "zebra", "blanket", "seven", "kitten", "rocket", "pepper")
    clean = np.zeros((3, 19200))
    for i, word in enumerate(("umbrella", "seven", "garden")):
        s = espeak(word, Voice("en-us", "m3", 50, 150))
        clean[i, 4000:4000 + len(s)] = s
    noisy, _, _ = mix_at_snr(clean, np.random.default_rng(0).standard_normal(clean.shape), -6.0)
    waves = np.concatenate([clean, noisy]).astype(np.float32)
    targets = ["umbrella", "seven", "garden"] * 2
    obs = WhisperObserver(mode="closed", vocabulary=vocab, expand=2)
    fast, gap = obs.closed_set_logprobs(waves, targets)
    seqs, owner, ends, prompt = obs._candidates()
    enc = obs.encode(waves)
    full = np.empty((len(waves), len(seqs)))
    for i in range(len(waves)):   # reference: every spelling of every stimulus scored
        for c, lp in enumerate(obs._decode(np.repeat(enc[i:i + 1], len(seqs), 0), [prompt + q for q in seqs])):
            full[i, c] = lp[np.arange(len(seqs[c])), seqs[c]].sum() + np.logaddexp.reduce(lp[len(seqs[c]), ends])
    exact = _lse_words(full, owner)
    assert (fast.argmax(1) == exact.argmax(1)).all()
    t = np.array([vocab.index(w) for w in targets])
    np.testing.assert_allclose(fast[np.arange(6), t], exact[np.arange(6), t], atol=1e-9)   # targets scored
    assert (fast >= exact - 1e-9).all() and ((gap >= 0) & (gap < 1)).all()              # bounds are upper
    assert (obs.last_n_scored < len(seqs)).any()                                          # the search saves work
    assert vocab[int(fast[0].argmax())] == "umbrella"


def test_word_scores_pool_spellings_without_a_dense_word_by_spelling_array():
    """Per-word log-sum-exp of spelling scores by segments equals the definition, with words
    whose every spelling is unscored (-inf) left at -inf."""
    from psychobench.models.audio.observers import _lse_words

    rng = np.random.default_rng(0)
    owner = np.repeat(np.arange(60), rng.integers(1, 4, 60))
    x = rng.normal(size=(5, len(owner))) * 5
    x[0, owner == 3] = -np.inf
    x[1] = -np.inf
    want = np.array([[np.logaddexp.reduce(x[i, owner == w]) for w in range(60)] for i in range(5)])
    got = _lse_words(x, owner)
    assert (np.isfinite(got) == np.isfinite(want)).all() and np.isneginf(got[0, 3]) and np.isneginf(got[1]).all()
    np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-12)


def test_one_word_answers():
    from psychobench.models.audio.observers import one_word

    assert one_word("") == "na" and one_word("  ...  ") == "na"
    assert one_word(" Umbrella.") == "umbrella"
    assert one_word("the apple") == "apple"                        # longest word
    assert one_word(" Thank you.", {"you", "pin"}) == "you"        # a word of the answer space first
    assert one_word("big dog", {"cat"}) == "big"                   # none known: the longest, first of equals
