"""Maskers: speech-shaped noise, speech-envelope-modulated noise, multi-talker babble from
synthetic voices, synthetic music and synthetic auditory scenes, and segments drawn from them.

A :class:`MaskerBank` holds one long waveform per masker type (float32, ``fs`` Hz); mixing draws
random segments from it by one fancy-indexing operation, which is what makes stimulus mixing fast.
The bank is built once (seeded) and cached in the user cache.

The five backgrounds of Saddler & McDermott (2024; the Kell et al. 2018 design) are auditory
scenes, 8-talker babble, instrumental music, stationary speech-shaped noise and modulated noise.
Their natural recordings are not public; here they are replaced by synthetic versions with the same
role (see :data:`SADDLER_BACKGROUNDS`), which every comparison reports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal as sps

from psychobench.data.io import atomic_path, check_seal, seal

from .signal import rms
from .synth import Voice, audio_cache_dir, espeak, make_voices
from .words import BABBLE_SENTENCES

#: Saddler 2024 background code -> (our masker name, what it stands in for).
SADDLER_BACKGROUNDS: dict[int, tuple[str, str]] = {
    0: ("scene", "auditory scenes (theirs: natural scene recordings; ours: synthetic scene of "
                 "pink-noise bed plus band-limited noise events and tone glides)"),
    1: ("babble8", "8-speaker babble (theirs: recorded talkers; ours: 8 espeak-ng voices)"),
    2: ("music", "instrumental music (theirs: recordings; ours: synthetic polyphonic notes of "
                 "decaying harmonic complexes)"),
    3: ("ssn", "stationary speech-shaped noise (ours: shaped to the synthetic voices' "
               "long-term spectrum)"),
    4: ("modulated", "modulated noise (ours: speech-shaped noise times the broadband envelope "
                     "of one synthetic talker, low-passed at 30 Hz)"),
}


def long_term_spectrum(waves: list[np.ndarray], nfft: int = 1024) -> np.ndarray:
    """Average power spectrum (Welch, Hann, 50% overlap) of the concatenated ``waves``; ``(nfft//2+1,)``."""
    x = np.concatenate([np.asarray(w, np.float64) for w in waves])
    _, p = sps.welch(x, nperseg=nfft, noverlap=nfft // 2)
    return p


def shaped_noise(n: int, spectrum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of ``n`` samples whose power spectrum follows ``spectrum`` (any length)."""
    white = rng.standard_normal(n)
    f = np.fft.rfft(white)
    grid = np.linspace(0, 1, len(spectrum))
    g = np.sqrt(np.interp(np.linspace(0, 1, len(f)), grid, spectrum))
    y = np.fft.irfft(f * g, n)
    return y / rms(y)


def envelope(x: np.ndarray, fs: int, cutoff_hz: float = 30.0) -> np.ndarray:
    """Broadband Hilbert envelope, low-passed (4th-order Butterworth, zero phase), floored at 0."""
    e = np.abs(sps.hilbert(x))
    sos = sps.butter(4, cutoff_hz, fs=fs, output="sos")
    return np.maximum(sps.sosfiltfilt(sos, e), 0.0)


def speech_stream(voice: Voice, seconds: float, fs: int, rng: np.random.Generator,
                  gap_s: tuple[float, float] = (0.05, 0.3)) -> np.ndarray:
    """Running speech of one synthetic talker: random sentences with short pauses, ``seconds`` long."""
    parts, total = [], 0
    n = int(seconds * fs)
    while total < n:
        s = espeak(BABBLE_SENTENCES[rng.integers(len(BABBLE_SENTENCES))], voice, fs)
        s = s / max(rms(s), 1e-12)
        gap = np.zeros(int(rng.uniform(*gap_s) * fs))
        parts += [s, gap]
        total += len(s) + len(gap)
    return np.concatenate(parts)[:n]


def babble(streams: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Sum of talker streams, each at equal RMS and circularly shifted by a random offset."""
    n = min(len(s) for s in streams)
    out = np.zeros(n)
    for s in streams:
        s = s[:n] / rms(s[:n])
        out += np.roll(s, int(rng.integers(n)))
    return out / rms(out)


def synthetic_music(n: int, fs: int, rng: np.random.Generator, voices: int = 3) -> np.ndarray:
    """Polyphonic synthetic music: ``voices`` lines of notes (100-500 ms, semitone grid 110-880 Hz),
    each a harmonic complex (amplitudes 1/k, 10 harmonics below Nyquist) with a decaying envelope."""
    out = np.zeros(n)
    k = np.arange(1, 11)
    for _ in range(voices):
        t0 = 0
        while t0 < n:
            dur = int(rng.uniform(0.1, 0.5) * fs)
            f0 = 110.0 * 2 ** (rng.integers(0, 37) / 12)
            t = np.arange(dur) / fs
            ks = k[k * f0 < fs / 2]
            note = (np.sin(2 * np.pi * f0 * np.outer(ks, t) + rng.uniform(0, 2 * np.pi, (len(ks), 1)))
                    / ks[:, None]).sum(0)
            note *= np.exp(-t / rng.uniform(0.1, 0.4)) * np.minimum(1, t / 0.005)
            stop = min(n, t0 + dur)
            out[t0:stop] += note[: stop - t0]
            t0 += dur
    return out / rms(out)


def synthetic_scene(n: int, fs: int, rng: np.random.Generator, events_per_s: float = 4.0) -> np.ndarray:
    """A synthetic auditory scene: pink-noise bed plus random band-limited noise events
    (0.05-1 s, centre 200-6000 Hz, 1-octave band) and tone glides, at random levels."""
    f = np.fft.rfftfreq(n, 1 / fs)
    pink = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(np.maximum(f, 20.0)), n)
    out = 0.5 * pink / rms(pink)
    for _ in range(int(events_per_s * n / fs)):
        dur = int(rng.uniform(0.05, 1.0) * fs)
        start = int(rng.integers(0, max(1, n - dur)))
        t = np.arange(dur) / fs
        env = np.sin(np.pi * t / t[-1]) ** 2 if dur > 1 else np.ones(dur)
        if rng.random() < 0.7:
            fc = rng.uniform(200, 6000)
            sos = sps.butter(2, [fc / np.sqrt(2), min(fc * np.sqrt(2), fs / 2 * 0.99)], "bandpass", fs=fs, output="sos")
            ev = sps.sosfilt(sos, rng.standard_normal(dur))
        else:
            f1, f2 = rng.uniform(500, 4000, 2)
            ev = np.sin(2 * np.pi * np.cumsum(np.linspace(f1, f2, dur)) / fs)
        out[start:start + dur] += 10 ** (rng.uniform(-10, 6) / 20) * env * ev / max(rms(ev), 1e-12)
    return out / rms(out)


@dataclass
class MaskerBank:
    """Long masker waveforms by name (float32, ``fs`` Hz) and a vectorised segment sampler."""

    fs: int
    waves: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.waves)

    def draw(self, name: str, n_items: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        """``n_items`` random segments of ``n_samples`` from masker ``name``; ``(n_items, n_samples)``."""
        w = self.waves[name]
        if len(w) < n_samples:
            raise ValueError(f"masker {name!r} has {len(w)} samples, segments need {n_samples}")
        starts = rng.integers(0, len(w) - n_samples + 1, n_items)
        return w[starts[:, None] + np.arange(n_samples)]

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, fs=self.fs, **self.waves)
        seal(path)

    @classmethod
    def load(cls, path: Path) -> "MaskerBank":
        z = np.load(path, allow_pickle=False)
        return cls(int(z["fs"]), {k: z[k] for k in z.files if k != "fs"})


def build_masker_bank(fs: int = 16000, seconds: float = 30.0, seed: int = 0,
                      speech_for_spectrum: list[np.ndarray] | None = None,
                      n_babble: int = 8, cache: bool = True) -> MaskerBank:
    """The synthetic maskers (``ssn, modulated, babble8, babble2, music, scene``), seeded and cached.

    Talkers of the babble and of the modulating envelope are espeak-ng voices drawn with ``seed``
    (use a different seed for training and test banks so test talkers and noise are new).
    speech_for_spectrum: waves whose long-term spectrum shapes the SSN (default: the babble talkers).
    """
    key = hashlib.sha256(json.dumps([fs, seconds, seed, n_babble,
                                     None if speech_for_spectrum is None else len(speech_for_spectrum)]).encode()).hexdigest()[:16]
    path = audio_cache_dir() / f"maskers_{key}.npz"
    if cache and speech_for_spectrum is None and check_seal(path, "masker bank"):
        return MaskerBank.load(path)
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    voices = make_voices(n_babble + 1, seed=10_000 + seed)
    streams = [speech_stream(v, seconds, fs, rng) for v in voices]
    spec = long_term_spectrum(speech_for_spectrum or streams)
    ssn = shaped_noise(n, spec, rng)
    env = envelope(streams[-1], fs)
    mod = shaped_noise(n, spec, rng) * env
    bank = MaskerBank(fs, {
        "ssn": ssn, "modulated": mod / rms(mod), "babble8": babble(streams[:n_babble], rng),
        "babble2": babble(streams[:2], rng), "music": synthetic_music(n, fs, rng),
        "scene": synthetic_scene(n, fs, rng),
    })
    bank.waves = {k: v.astype(np.float32) for k, v in bank.waves.items()}
    if cache and speech_for_spectrum is None:
        bank.save(path)
    return bank


#: what each background is when built from the English CCC's speech (``speech="ccc"``): the
#: speech-derived ones are real speech; music and scenes remain synthetic stand-ins
CCC_SPEECH_BACKGROUNDS: dict[str, str] = {
    "scene": SADDLER_BACKGROUNDS[0][1] + " [stand-in]",
    "babble8": "8-stream babble of real speech: the English CCC's 4 talkers (Marxer et al. 2016), two streams "
               "each of different word tokens (theirs: 8 recorded talkers) [real speech, 4 talkers]",
    "music": SADDLER_BACKGROUNDS[2][1] + " [stand-in]",
    "ssn": "stationary noise shaped to the long-term spectrum of the English CCC's real speech [real spectrum]",
    "modulated": "speech-shaped noise (CCC spectrum) times the broadband envelope of one CCC talker's running "
                 "words, low-passed at 30 Hz [real envelope]",
}


def ccc_streams(folder: str | Path, fs: int = 16000, seconds: float = 30.0, seed: int = 0,
                per_talker: int = 2) -> list[np.ndarray]:
    """Running speech from the English CCC's real word tokens: ``per_talker`` streams for each
    of its talkers, each of its own randomly drawn tokens joined with 50-300 ms pauses, ``seconds``
    long (tokens of one talker are split between its streams, so no token repeats)."""
    from psychobench.data.listeners import load_ccc
    from psychobench.stimuli.audio.ccc import load_ccc_speech

    table = load_ccc()
    rng = np.random.default_rng([seed, 2016])
    n = int(seconds * fs)
    streams = []
    for talker in sorted(table["Speaker"].unique()):
        ids = rng.permutation(table.loc[table["Speaker"] == talker, "ID"].to_numpy())
        for k in range(per_talker):
            mine = ids[k::per_talker]
            parts, total, j = [], 0, 0
            while total < n:
                if j >= len(mine):
                    raise ValueError(f"CCC talker {talker}: {len(mine)} tokens make less than {seconds} s")
                w = np.asarray(load_ccc_speech([int(mine[j])], folder)[0], np.float64)
                gap = np.zeros(int(rng.uniform(0.05, 0.3) * fs))
                parts += [w, gap]
                total += len(w) + len(gap)
                j += 1
            streams.append(np.concatenate(parts)[:n])
    return streams


def build_ccc_masker_bank(folder: str | Path, fs: int = 16000, seconds: float = 30.0, seed: int = 0,
                          cache: bool = True) -> MaskerBank:
    """The masker bank with its speech-derived backgrounds built from the English CCC's real
    speech (:data:`CCC_SPEECH_BACKGROUNDS`): ``ssn`` shaped to its long-term spectrum,
    ``modulated`` that noise times one talker's envelope, ``babble8`` and ``babble2`` of its
    talkers' running words; ``music`` and ``scene`` are the synthetic ones of
    :func:`build_masker_bank` with the same seed.  Seeded, cached by content and sealed."""
    key = hashlib.sha256(json.dumps(["ccc-speech", 1, fs, seconds, seed]).encode()).hexdigest()[:16]
    path = audio_cache_dir() / f"maskers_ccc_{key}.npz"
    if cache and check_seal(path, "masker bank (CCC speech)"):
        return MaskerBank.load(path)
    rng = np.random.default_rng([seed, 7])
    n = int(seconds * fs)
    streams = ccc_streams(folder, fs, seconds, seed)
    spec = long_term_spectrum(streams)
    ssn = shaped_noise(n, spec, rng)
    env = envelope(streams[0], fs)
    mod = shaped_noise(n, spec, rng) * env
    synthetic = build_masker_bank(fs, seconds, seed=seed)
    # two streams of different talkers for 2-talker babble (streams go talker by talker, 2 each)
    bank = MaskerBank(fs, {"ssn": ssn, "modulated": mod / rms(mod), "babble8": babble(streams, rng),
                           "babble2": babble([streams[0], streams[2]], rng),
                           "music": synthetic.waves["music"], "scene": synthetic.waves["scene"]})
    bank.waves = {k: np.asarray(v, np.float32) for k, v in bank.waves.items()}
    if cache:
        bank.save(path)
    return bank
