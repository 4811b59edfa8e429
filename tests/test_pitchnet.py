"""The pitch network: its cochlear front end (ERB spacing, place of a tone, phase locking),
soft F0 targets, the two-interval decision on hand-made posteriors, and deterministic sealed
training of a tiny network."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from psychobench.models.audio.cochleagram import erb_number
from psychobench.models.audio.pitchnet import (FS, NET_FS, CochlearFrontEnd, PitchTaskConfig, soft_targets,
                                               train_pitch_net)
from psychobench.models.audio.observers import ObserverError, PitchNetObserver


def _tone(f, dur=0.2):
    t = np.arange(int(dur * FS)) / FS
    return torch.from_numpy((0.1 * np.sin(2 * np.pi * f * t)).astype(np.float32))[None]


def test_front_end_channels_are_erb_spaced_and_a_tone_excites_its_place():
    fe = CochlearFrontEnd(n_channels=32)
    steps = np.diff(erb_number(fe.cf))
    assert np.allclose(steps, steps[0]) and fe.cf[0] == pytest.approx(100) and fe.cf[-1] == pytest.approx(6000)
    for f in (300.0, 1000.0, 3000.0):
        y = fe(_tone(f))[0, 0].numpy()                       # (channels, time) at 8 kHz
        assert y.shape == (32, int(0.2 * NET_FS))
        energy = y[:, 400:].std(1)
        assert abs(np.log2(fe.cf[energy.argmax()] / f)) < 0.25, f


def test_front_end_keeps_phase_locking_at_200_hz():
    """A 200-Hz tone's channel output repeats every 5 ms (40 samples at 8 kHz): its
    autocorrelation peaks there, not at a lag of 2.5 ms."""
    fe = CochlearFrontEnd(n_channels=32)
    y = fe(_tone(200.0))[0, 0].numpy()
    c = y[np.argmin(np.abs(fe.cf - 200.0)), 400:]
    c = c - c.mean()
    ac = np.array([np.dot(c[:-lag], c[lag:]) for lag in range(1, 60)])
    assert ac[24:55].argmax() + 25 == 40                  # the first peak past lag 0
    assert ac[39] > 0 > ac[19]


def test_soft_targets_peak_at_the_true_f0():
    cfg = PitchTaskConfig()
    grid = torch.from_numpy(cfg.bin_log2().astype(np.float32))
    f0 = torch.tensor([50.0, 200.0, 612.0])
    t = soft_targets(f0, grid)
    assert torch.allclose(t.sum(1), torch.ones(3))
    assert np.allclose(2 ** grid[t.argmax(1)].numpy(), f0.numpy(), rtol=0.0037)   # within half a 1/8-semitone bin
    assert cfg.n_bins == 416


class _Posteriors:
    """A stand-in module whose posterior is a bump at each row's given F0."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.bin_log2 = torch.from_numpy(cfg.bin_log2().astype(np.float32))

    def posterior(self, f0, batch_size=None):
        g = self.cfg.bin_log2()
        p = np.exp(-0.5 * ((g[None, :] - np.log2(f0)[:, None]) / (0.4 / 96)) ** 2)
        return p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("decision", ["f0", "shift"])
def test_two_interval_decision_reads_the_higher_interval(decision):
    obs = PitchNetObserver(decision=decision)
    obs._module = _Posteriors(PitchTaskConfig())
    first = np.array([100.0, 200.0, 300.0, 455.0])
    second = first * np.array([1.004, 1 / 1.004, 1.02, 1 / 1.1])     # 0.4% up, 0.4% down, 2% up, 10% down
    out = obs.respond_2i(first, second)
    assert list(out["response"]) == ["second", "first", "second", "first"]
    assert np.allclose(out["f0_1_est"], first, rtol=1e-3)


def test_observer_settings_are_checked():
    from psychobench.data.answers import answer_space

    with pytest.raises(ObserverError, match="decision"):
        PitchNetObserver(decision="median")
    with pytest.raises(ObserverError, match="two intervals"):
        PitchNetObserver().check(answer_space(["apple", "baby"]))
    assert PitchNetObserver(trained=False).family == "random"
    for bad in (1.0, -0.1, "lots"):
        with pytest.raises(ObserverError, match="speech_share"):
            PitchNetObserver(speech_share=bad)
    with pytest.raises(ObserverError, match="train_phases"):
        PitchNetObserver(train_phases=[4])
    # the training-set overrides reach the task config, so another value keys another network
    default = PitchNetObserver()._config()
    other = PitchNetObserver(speech_share=0, train_phases=[3, 0, 0])._config()
    assert (other.speech_share, other.train_phases) == (0.0, (0, 3))
    assert (default.speech_share, default.train_phases) == (0.15, (0, 1, 2)) and other.key() != default.key()
    for bad in ([0.5, 0.5], [0.5, 0.5, 0.5, -0.5], [0.3, 0.3, 0.3, 0.3], "natural"):
        with pytest.raises(ObserverError, match="envelope_shares"):
            PitchNetObserver(envelope_shares=bad)
    for bad in (10.0, 9000, "high"):
        with pytest.raises(ObserverError, match="phase_lock_hz"):
            PitchNetObserver(phase_lock_hz=bad)
    for bad in (4, 64.5, True, "many"):
        with pytest.raises(ObserverError, match="n_channels"):
            PitchNetObserver(n_channels=bad)
    for bad in (500.0, 8000, "top"):
        with pytest.raises(ObserverError, match="f_hi_hz"):
            PitchNetObserver(f_hi_hz=bad)
    for bad in (-0.1, 11, "loud"):
        with pytest.raises(ObserverError, match="internal_noise"):
            PitchNetObserver(internal_noise=bad)
    noisy = PitchNetObserver(internal_noise=0.5)._config()
    assert noisy.internal_noise == 0.5 and noisy.key() != default.key()
    assert PitchNetObserver(internal_noise=0)._config().key() == default.key()      # 0: no noise, the same network
    for bad in (100, 9000, "high"):
        with pytest.raises(ObserverError, match="formant_hi_hz"):
            PitchNetObserver(formant_hi_hz=bad)
    assert PitchNetObserver(formant_hi_hz=5500)._config().key() not in (default.key(), noisy.key())
    shaped = PitchNetObserver(envelope_shares=[0.1, 0.1, 0.75, 0.05], phase_lock_hz=1000)._config()
    assert (shaped.envelope_shares, shaped.phase_lock_hz) == ((0.1, 0.1, 0.75, 0.05), 1000.0)
    assert len({shaped.key(), default.key(), dataclasses.replace(default, phase_lock_hz=1000.0).key()}) == 3
    # the settings added later are left out of the key at their earlier values, so the networks
    # cached before them keep their keys; spelled out they give the default's key
    before = PitchNetObserver(envelope_shares=[0.35, 0.3, 0.3, 0.05], phase_lock_hz=3000, f_hi_hz=6000,
                              n_channels=32)._config()
    legacy = {k: v for k, v in dataclasses.asdict(before).items()
              if k not in ("envelope_shares", "phase_lock_hz", "f_hi_hz", "internal_noise", "formant_hi_hz")}
    from psychobench.data.io import sha256_json
    assert before.key() == sha256_json(legacy)[:16] == "cadcd5bd469583ba" != default.key()


def test_envelope_shares_and_phase_lock_reach_the_stimuli_and_front_end():
    from psychobench.models.audio.pitchnet import _module, training_set

    tones = dataclasses.replace(PitchTaskConfig(), envelope_shares=(0.0, 0.0, 0.0, 1.0), speech_share=0.0)
    waves, f0 = training_set(tones, n=8, seed=5)
    # pure tones (in noise or none): the spectrum peaks at F0
    spec = np.abs(np.fft.rfft(waves.astype(np.float64), axis=1))
    peak = np.fft.rfftfreq(waves.shape[1], 1 / FS)[spec.argmax(1)]
    assert np.all(np.abs(np.log2(peak / f0)) < 0.35)
    # formants drawn up to 7 kHz instead of 3.5 lie higher in every sound (the same draws, noise
    # included), so nearly every vowel-like sound has more of its energy above 3.5 kHz
    vowels = dataclasses.replace(PitchTaskConfig(), envelope_shares=(0.0, 0.0, 1.0, 0.0), speech_share=0.0)

    def high_share(cfg):
        w, _ = training_set(cfg, n=32, seed=5)
        p = np.abs(np.fft.rfft(w.astype(np.float64), axis=1)) ** 2
        return p[:, np.fft.rfftfreq(w.shape[1], 1 / FS) > 3500].sum(1) / p.sum(1)
    assert np.mean(high_share(dataclasses.replace(vowels, formant_hi_hz=7000.0)) > high_share(vowels)) > 0.9
    low = _module(dataclasses.replace(PitchTaskConfig(), phase_lock_hz=500.0)).front
    t = np.arange(FS // 10) / FS
    tone = torch.from_numpy(np.sin(2 * np.pi * 2000 * t).astype(np.float32))[None]
    ac = lambda c: float(c[0, 0, :, c.shape[-1] // 2:].std(1).max())      # noqa: E731  fine structure left, past the onset
    assert ac(low(tone)) < 0.2 * ac(_module(PitchTaskConfig()).front(tone))
    wide = _module(dataclasses.replace(PitchTaskConfig(), n_channels=48, f_hi_hz=7500.0)).front
    assert wide.cf.shape == (48,) and np.isclose(wide.cf[-1], 7500.0) and np.isclose(wide.cf[0], 100.0)
    assert wide(tone).shape[2] == 48


def test_internal_noise_grows_with_the_response_and_is_fresh_but_reproducible():
    from psychobench.models.audio.pitchnet import _module

    cfg = dataclasses.replace(PitchTaskConfig(), n_channels=16, width=4)
    quiet, noisy = _module(cfg), _module(dataclasses.replace(cfg, internal_noise=0.5))
    coch = torch.tensor([0.0, 0.04, 0.16, 0.64]).repeat_interleave(20000).reshape(1, 1, 1, -1)
    assert torch.equal(quiet.noisy(coch), coch)
    eps = (noisy.noisy(coch, torch.Generator().manual_seed(0)) - coch).reshape(4, -1)
    # standard deviation 0.5 x sqrt(y): 0, 0.1, 0.2, 0.4 (20000 draws each: within 2%)
    assert eps[0].abs().max() == 0 and np.allclose(eps[1:].std(1).numpy(), [0.1, 0.2, 0.4], rtol=0.02)
    assert np.allclose(eps[1:].mean(1).numpy(), 0.0, atol=0.01)
    wave = _tone(300.0)[0].repeat(3, 1).numpy()
    assert np.array_equal(quiet.posterior(wave), quiet.posterior(wave))
    a, b = noisy.posterior(wave), noisy.posterior(wave)
    assert not np.array_equal(a, b) and not np.array_equal(a[0], a[1])    # fresh noise per call and per sound
    noisy.reset_noise()
    assert np.array_equal(noisy.posterior(wave), a)                        # the same sequence from its seed


def test_training_is_deterministic_and_sealed(tmp_path, monkeypatch):
    from psychobench.data.io import IntegrityWarning

    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    # no speech excerpts (they need the word task's synthesised corpus; tested on their own below);
    # internal noise on, so that its draws too must come from the seed
    cfg = dataclasses.replace(PitchTaskConfig(), n_train=128, epochs=1, batch_size=32, width=4, speech_share=0.0,
                              internal_noise=0.3)
    w = lambda p: torch.load(p, map_location="cpu", weights_only=False)["state_dict"]   # noqa: E731
    first = {k: v.clone() for k, v in w(train_pitch_net(cfg)).items()}
    again = w(train_pitch_net(cfg, force=True))
    assert all(torch.equal(first[k], again[k]) for k in first)
    path = train_pitch_net(cfg)
    with open(path, "r+b") as f:
        f.seek(-300, 2)
        b = f.read(1)
        f.seek(-300, 2)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.warns(IntegrityWarning, match="pitch network"):
        back = train_pitch_net(cfg)
    assert all(torch.equal(first[k], v) for k, v in w(back).items())


def test_random_feature_control_reads_embedding_differences():
    from psychobench.data.answers import answer_space
    from psychobench.models.controls import random_features
    from psychobench.models.readouts import as_readout

    obs = random_features("pitchnet", seed=3, readout="logistic")
    assert isinstance(obs, PitchNetObserver) and obs.fitted and obs.family == "random"
    assert obs.name == "pitchnet-random+logistic"
    obs.check(answer_space(["first", "second"]))
    waves = torch.from_numpy(np.stack([np.stack([_tone(f)[0].numpy(), _tone(f * 1.1)[0].numpy()])
                                       for f in (150.0, 300.0)]))          # (2 trials, 2 intervals, samples)
    f = obs.features({"waves": waves})
    m = obs.module()
    assert f.shape == (2, 4 * PitchTaskConfig().width * PitchTaskConfig().n_channels) and f.dtype == torch.float32
    torch.testing.assert_close(f, m.embedding(waves[:, 1]) - m.embedding(waves[:, 0]))
    swapped = obs.features({"waves": waves.flip(1)})                 # order of the intervals flips the sign
    torch.testing.assert_close(swapped, -f)
    assert "readout" not in obs.feature_identity() and obs.identity()["readout"] == as_readout("logistic").identity()
    with pytest.raises(ObserverError, match="pipeline"):
        obs.answer({"waves": waves}, answer_space(["first", "second"]))
    with pytest.raises(ObserverError, match="fitted"):
        PitchNetObserver(trained=False, readout="imagenet")
    with pytest.raises(ObserverError, match="layer"):
        random_features("pitchnet", readout="logistic", layer="net.freq")


def test_speech_windows_are_labelled_where_the_voicing_is_steady():
    from psychobench.models.audio.pitchnet import speech_excerpts, voiced_windows, yin_frames

    fs, m = 16000, 800
    t = np.arange(int(0.6 * fs)) / fs
    # a "vowel" at 150 Hz for 0.3 s, then noise; a second token gliding 120 -> 480 Hz (two
    # octaves in 0.6 s: 40 semitones a second, 0.7 between the first and last frame centres of a
    # 50-ms window, more than the 0.5 allowed)
    vowel = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 15)) * (t < 0.3)
    rng = np.random.default_rng(0)
    vowel = vowel + (t >= 0.3) * 0.3 * rng.standard_normal(len(t))
    glide_f0 = 120 * 4 ** (t / 0.6)
    phase = 2 * np.pi * np.cumsum(glide_f0) / fs
    glide = sum(np.sin(k * phase) / k for k in range(1, 15))
    tokens = np.stack([vowel, glide]).astype(np.float32)
    rows, starts, f0 = voiced_windows(tokens, m, fs)
    assert len(rows) and set(rows) == {0}                     # the glide is never steady enough
    assert (starts + m <= int(0.3 * fs) + 256).all()           # windows (less half a frame) inside the vowel
    np.testing.assert_allclose(f0, 150, rtol=0.01)
    # the frame tracker agrees with librosa's pYIN on steady complexes, and follows the glide
    import librosa

    steady = np.stack([sum(np.sin(2 * np.pi * f * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 12))
                       for f in (97.0, 150.0, 310.0)]).astype(np.float32)
    yf, aper = yin_frames(steady, fs)
    pf, voiced, _ = librosa.pyin(steady, sr=fs, fmin=60, fmax=600, frame_length=1024, hop_length=160)
    assert (aper < 0.15).all() and voiced[:, 5:-5].all()
    np.testing.assert_allclose(np.median(yf, 1), np.nanmedian(pf[:, 5:-5], 1), rtol=0.005)
    np.testing.assert_allclose(np.median(yf, 1), [97.0, 150.0, 310.0], rtol=0.005)
    # tokens tracked a chunk at a time give exactly what they give all at once
    both = np.concatenate([steady, tokens])
    whole, one_by_one = yin_frames(both, fs, chunk=len(both)), yin_frames(both, fs, chunk=2)
    assert all(np.array_equal(a, b) for a, b in zip(whole, one_by_one)) and whole[0].shape[0] == 5
    gf, _ = yin_frames(tokens[1:], fs)
    truth = np.interp(np.arange(gf.shape[1]) * 96 + 256, np.arange(len(t)), glide_f0)   # at the frame centre
    np.testing.assert_allclose(gf[0], truth, rtol=0.03)
    x, lab = speech_excerpts(10, m, np.random.default_rng(1), tokens=tokens)
    assert x.shape == (10, m) and np.isfinite(x).all()
    np.testing.assert_allclose(lab, 150, rtol=0.01)
