"""The pitch network psychobench trains itself: F0 from a cochlear representation, after
Saddler, Gonzalez & McDermott (2021, Nat Commun 12:7278) in miniature.

Front end (:class:`CochlearFrontEnd`, fixed): 4th-order gammatone filters at ``n_channels``
(64) ERB-spaced centre frequencies from 100 Hz to ``f_hi_hz`` (7.5 kHz; 0.47 ERB apart), of
bandwidth 1.019 ERB (Glasberg & Moore 1990) -> half-wave
rectification -> power-law compression (exponent 0.3) -> a low-pass at ``phase_lock_hz``
(3 kHz: the upper limit of auditory-nerve phase locking is taken as a few kHz) -> resampled to
8 kHz.  Each channel keeps its temporal fine structure below that limit, so both place
(resolved harmonics) and timing (phase locking, envelope periodicity) cues reach the network.
With ``internal_noise`` > 0 the representation is noisy, in training and in listening
(:meth:`PitchNetModule.noisy`): Gaussian noise whose variance grows with the response, as
auditory-nerve spike counts do (Saddler et al.'s front end draws spikes; this one gives a rate).

With 32 channels up to 6 kHz, Bernstein & Oxenham's high spectral region (4.1-5.5 kHz at -3 dB)
fell on about five channels, too few to resolve its harmonics by place: the network failed
where the listeners are best (F0 600 Hz, lowest harmonic 5.5).  64 channels up to 6 kHz did not
mend it; 64 up to 7.5 kHz did (README, the pitch section).

Network (:class:`PitchNet`): three temporal convolutions within each channel (33 taps at 8 kHz,
17 at 4 kHz and 17 at 2 kHz, each with stride 2; ``time_layers=2`` drops the third), mean and
max over time, a convolution across channels, and a fully connected layer to
``n_bins`` log-spaced F0 classes (1/8 semitone from 40 to 800 Hz).  Trained on 50-ms excerpts
of harmonic complexes (:func:`training_set`) with varied spectral envelopes
(``envelope_shares``: 60% vowel-like formant envelopes, dominated by low harmonics as speech and
music are; 20% the fixed pass band of Bernstein & Oxenham's design at a random place; 15% random
Butterworth bands; 5% pure tones), phases (sine, cosine, random; ``train_phases``), levels and noise
(threshold-equalising or pink), and a share ``speech_share`` of 50-ms excerpts
of synthetic speech (:func:`speech_excerpts`: the word task's training talkers, espeak-ng and
piper, labelled by YIN where the voicing is steady; Saddler et al. trained on
natural speech and music); the target is a Gaussian of 1/2 bin around the
true F0 on the log-frequency axis, so that the posterior resolves F0 below the bin width.
Alternating-phase complexes are left out of the default training set: experiment=alt_phase tests
whether their pitch is heard at F0 or at the envelope rate 2 F0, and a network taught to label
them F0 would answer from its training, not from its hearing (``train_phases=(0, 1, 2, 3)`` puts
them back).

Two-interval answers (:meth:`PitchNetModule.log_f0`): the posterior of each interval is the
mean over 50-ms windows (hop 25 ms) of the network's posteriors; its F0 is the posterior-weighted
mean of log F0 within 1 semitone of its peak; the answer is the interval of higher F0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from psychobench.data.io import check_seal, sha256_json, write_sealed
from psychobench.lightning.training import training_threads

from .cochleagram import erb_number, erb_number_inv

FS = 16000
NET_FS = 8000


def gammatone_kernels(cf: np.ndarray, fs: int = FS, dur_s: float = 0.025) -> np.ndarray:
    """FIR impulse responses ``(channels, taps)`` of 4th-order gammatone filters at ``cf`` Hz:
    t^3 exp(-2 pi b t) cos(2 pi cf t), b = 1.019 ERB(cf), each scaled to unit gain at its
    centre frequency."""
    t = np.arange(int(dur_s * fs)) / fs
    b = 1.019 * 24.7 * (4.37 * cf / 1000.0 + 1.0)
    h = t[None, :] ** 3 * np.exp(-2 * np.pi * b[:, None] * t[None, :]) * np.cos(2 * np.pi * cf[:, None] * t[None, :])
    gain = np.abs((h * np.exp(-2j * np.pi * cf[:, None] * t[None, :])).sum(1))
    return (h / gain[:, None]).astype(np.float32)


class CochlearFrontEnd(nn.Module):
    """Waveform ``(batch, samples)`` at 16 kHz -> ``(batch, 1, channels, samples / 2)`` at 8 kHz
    (see the module docstring); no trained parameters."""

    def __init__(self, n_channels: int = 32, f_lo: float = 100.0, f_hi: float = 6000.0, compression: float = 0.3,
                 phase_lock_hz: float = 3000.0):
        super().__init__()
        from scipy.signal import firwin

        self.cf = erb_number_inv(np.linspace(erb_number(f_lo), erb_number(f_hi), n_channels))
        k = gammatone_kernels(self.cf)
        self.register_buffer("filters", torch.from_numpy(k[:, None, ::-1].copy()), persistent=False)
        lp = firwin(63, phase_lock_hz, fs=FS).astype(np.float32)
        self.register_buffer("lowpass", torch.from_numpy(np.tile(lp, (n_channels, 1, 1))), persistent=False)
        self.compression, self.n_channels = compression, n_channels

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = wave.unsqueeze(1)
        taps = self.filters.shape[-1]
        y = nn.functional.conv1d(nn.functional.pad(x, (taps - 1, 0)), self.filters)          # causal filterbank
        y = y.clamp_min(0.0).add(1e-8).pow(self.compression)
        y = nn.functional.conv1d(nn.functional.pad(y, (31, 31)), self.lowpass, groups=self.n_channels)
        return y[:, :, ::2].unsqueeze(1)


class PitchNet(nn.Module):
    """Cochlear representation ``(batch, 1, channels, time)`` -> F0 logits ``(batch, n_bins)``."""

    def __init__(self, n_channels: int = 32, n_bins: int = 416, width: int = 16, hidden: int = 256,
                 dropout: float = 0.2, time_layers: int = 2):
        super().__init__()
        w = width
        layers = [
            nn.Conv2d(1, w, (1, 33), stride=(1, 2), padding=(0, 16), bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            nn.Conv2d(w, 3 * w // 2, (1, 17), stride=(1, 2), padding=(0, 8), bias=False), nn.BatchNorm2d(3 * w // 2),
            nn.ReLU(inplace=True)]
        out = 3 * w // 2
        if time_layers >= 3:
            # a third temporal convolution (17 taps at 2 kHz, stride 2): the receptive field grows to
            # about 17 ms, more than one period down to F0 = 60 Hz, so the periodicity of an
            # unresolved complex's envelope can be read within a channel.  (A dilated kernel would
            # reach further, but PyTorch runs dilated convolutions on a slow CPU path: 0.8 training
            # steps a second on 2 cores against about 1.9 for this one.)
            layers += [nn.Conv2d(out, 2 * w, (1, 17), stride=(1, 2), padding=(0, 8), bias=False),
                       nn.BatchNorm2d(2 * w), nn.ReLU(inplace=True)]
            out = 2 * w
        self.time = nn.Sequential(*layers)
        self.freq = nn.Sequential(nn.Conv1d(2 * out, 4 * w, 5, padding=2, bias=False), nn.BatchNorm1d(4 * w),
                                  nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * n_channels, hidden), nn.ReLU(inplace=True),
                                  nn.Dropout(dropout), nn.Linear(hidden, n_bins))

    def forward(self, coch: torch.Tensor) -> torch.Tensor:
        h = self.time(coch)
        h = torch.cat([h.mean(3), h.amax(3)], 1)                   # (batch, 2 x time channels, channels)
        return self.head(self.freq(h))


@dataclass(frozen=True)
class PitchTaskConfig:
    """What defines a trained pitch network (and the key of its cached checkpoint)."""

    n_train: int = 12000
    excerpt_s: float = 0.05
    f0_range_hz: tuple[float, float] = (40.0, 800.0)
    bins_per_semitone: int = 8
    #: cochlear channels, ERB-spaced from 100 Hz to ``f_hi_hz`` (see the module docstring)
    n_channels: int = 64
    width: int = 16
    time_layers: int = 3
    #: phase kinds of the training complexes: 0 sine, 1 cosine, 2 random, 3 alternating
    #: sine/cosine (left out by default: see the module docstring)
    train_phases: tuple[int, ...] = (0, 1, 2)
    #: share of the training excerpts cut from synthetic speech (:func:`speech_excerpts`)
    speech_share: float = 0.15
    #: shares of the training complexes by spectral envelope: the fixed pass band of Bernstein &
    #: Oxenham's design at a random place, a random Butterworth band, a vowel-like formant
    #: envelope, a pure tone (they sum to 1; the speech share replaces the last rows whatever
    #: their envelope)
    envelope_shares: tuple[float, float, float, float] = (0.2, 0.15, 0.6, 0.05)
    #: upper end (Hz) of the range the vowel-like envelopes' three formants are drawn from
    #: (log-uniform from 250 Hz)
    formant_hi_hz: float = 3500.0
    #: cut-off (Hz) of the front end's low-pass: the upper limit of phase locking
    phase_lock_hz: float = 3000.0
    #: centre frequency (Hz) of the front end's highest channel (the lowest is 100 Hz)
    f_hi_hz: float = 7500.0
    #: scale of the internal noise on the cochlear representation, in training and in listening
    #: (:meth:`PitchNetModule.noisy`: Poisson-like, its variance proportional to the response; 0: none)
    internal_noise: float = 0.0
    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0

    @property
    def n_bins(self) -> int:
        lo, hi = self.f0_range_hz
        return int(round(12 * self.bins_per_semitone * np.log2(hi / lo))) + 1

    def bin_log2(self) -> np.ndarray:
        """log2 F0 (Hz) of each bin centre."""
        return np.log2(self.f0_range_hz[0]) + np.arange(self.n_bins) / (12 * self.bins_per_semitone)

    def key(self) -> str:
        """Digest of the settings.  Settings added after networks were first cached are left out
        while they hold the value every earlier network had, so those networks keep their keys."""
        d = asdict(self)
        for name, before in _ADDED_SETTINGS.items():
            if d[name] == before:
                del d[name]
        return sha256_json(d)[:16]


#: settings added to :class:`PitchTaskConfig` later, with the value every network had before
_ADDED_SETTINGS = {"envelope_shares": (0.35, 0.3, 0.3, 0.05), "phase_lock_hz": 3000.0, "f_hi_hz": 6000.0,
                   "internal_noise": 0.0, "formant_hi_hz": 3500.0}


def _synth(f0: np.ndarray, amp_of, phase: np.ndarray, n: int, t0: np.ndarray, rng: np.random.Generator,
           fs: int = FS, chunk: int = 128) -> np.ndarray:
    """Sum of harmonics of ``f0`` (one row each) with amplitudes ``amp_of(rows, fk)`` and phases
    by kind (``phase``: 0 sine, 1 cosine, 2 random, 3 alternating sine/cosine), starting at time
    ``t0`` (s) so that an excerpt has no onset."""
    out = np.empty((len(f0), n), np.float32)
    k = np.arange(1, int(0.95 * fs / 2 / f0.min()) + 2)
    for s in range(0, len(f0), chunk):
        sl = slice(s, s + chunk)
        fk = f0[sl, None] * k[None, :]
        a = np.where(fk < 0.95 * fs / 2, amp_of(sl, fk), 0.0)
        ph = np.select([phase[sl, None] == 0, phase[sl, None] == 1, phase[sl, None] == 2],
                       [np.zeros_like(fk), np.full_like(fk, np.pi / 2), rng.uniform(0, 2 * np.pi, fk.shape)],
                       np.where(k[None, :] % 2 == 1, 0.0, np.pi / 2) + 0 * fk)
        # float64 phase (cycles) wrapped before float32 sine: exact to well below the F0 steps tested
        cyc = fk[:, :, None] * (t0[sl, None, None] + np.arange(n)[None, None, :] / fs)
        arg = torch.from_numpy(2 * np.pi * (cyc - np.floor(cyc)) + ph[:, :, None]).float()
        out[sl] = torch.einsum("bk,bkn->bn", torch.from_numpy(a).float(), torch.sin(arg)).numpy()
    return out


#: YIN settings for the speech labels (de Cheveigne & Kawahara 2002): F0 search range (Hz; the
#: synthetic talkers speak above 60 Hz), frame and hop (samples at 16 kHz: 32 and 6 ms, so that
#: four frames tile a 50-ms excerpt), the aperiodicity (cumulative-mean-normalised difference at
#: the chosen lag) below which a frame counts as voiced, and the largest F0 spread (semitones)
#: among the frames of one excerpt
YIN = {"fmin": 60.0, "fmax": 600.0, "frame_length": 512, "hop_length": 96, "threshold": 0.15}
SPEECH_MAX_SPREAD_SEMITONES = 0.5


def yin_frames(waves: np.ndarray, fs: int = FS, chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """YIN F0 (Hz) and aperiodicity per frame, ``(n, frames)`` each, frames of
    ``YIN['frame_length']`` samples every ``YIN['hop_length']`` (frame j starts at sample j x hop).

    Written here rather than taken from librosa: librosa.yin gives no aperiodicity (so no
    voicing), and librosa.pyin, which does, took about 1 s per 1.2-s token on a 2-core CPU (25
    minutes for the 1500 tokens a training set labels), this about 20 ms (both measured beside
    another job), all frames of all tokens in one FFT; tests check it against pyin.  Per frame: the difference function from the
    autocorrelation (FFT), its cumulative-mean normalisation, the first lag in the search range
    whose value falls below the threshold (else the minimum), refined by a parabola.  Tokens go
    ``chunk`` at a time: each token's frames are computed alone, and all 1500 tokens at once took
    some 10 GB of memory."""
    x = np.asarray(waves, np.float64)
    parts = [_yin_chunk(x[i:i + chunk], fs) for i in range(0, len(x), chunk)]
    if not parts:
        n_fr = max(0, 1 + (x.shape[1] - YIN["frame_length"]) // YIN["hop_length"])
        return np.empty((0, n_fr)), np.empty((0, n_fr))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _yin_chunk(x: np.ndarray, fs: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`yin_frames` of the rows of ``x`` (float64)."""
    w, hop = YIN["frame_length"], YIN["hop_length"]
    n_fr = 1 + (x.shape[1] - w) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, w, axis=1)[:, ::hop][:, :n_fr]     # (n, F, w)
    tau_max = int(np.ceil(fs / YIN["fmin"]))
    tau_min = int(np.floor(fs / YIN["fmax"]))
    half = w - tau_max                                     # the integration window
    spec = np.fft.rfft(frames, 2 * w, axis=-1)
    ref = np.fft.rfft(frames[..., :half], 2 * w, axis=-1)
    acf = np.fft.irfft(spec * np.conj(ref), 2 * w, axis=-1)[..., :tau_max + 1]     # sum_j x_j x_{j+tau}, j < half
    sq = np.cumsum(frames ** 2, axis=-1)
    e0 = sq[..., half - 1]
    e_tau = np.concatenate([sq[..., half - 1:half], sq[..., half:half + tau_max] - sq[..., :tau_max]], axis=-1)
    d = e0[..., None] + e_tau - 2 * acf                                           # difference function
    tau = np.arange(tau_max + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cmnd = d * tau / np.cumsum(d, axis=-1)
    cmnd[..., 0] = 1.0
    search = cmnd[..., tau_min:tau_max]
    below = search < YIN["threshold"]
    # the first dip under the threshold: walk to its local minimum
    first = np.where(below.any(-1), below.argmax(-1), search.argmin(-1))
    idx = first.copy()
    for _ in range(tau_max):
        nxt = np.minimum(idx + 1, search.shape[-1] - 1)
        step = np.take_along_axis(search, nxt[..., None], -1)[..., 0] < np.take_along_axis(search, idx[..., None], -1)[..., 0]
        if not step.any():
            break
        idx = np.where(step, nxt, idx)
    i = np.clip(idx, 1, search.shape[-1] - 2)
    y0, y1, y2 = (np.take_along_axis(search, (i + k)[..., None], -1)[..., 0] for k in (-1, 0, 1))
    den = y0 - 2 * y1 + y2
    frac = np.where(den > 0, 0.5 * (y0 - y2) / np.where(den > 0, den, 1.0), 0.0)
    lag = tau_min + i + np.clip(frac, -0.5, 0.5)
    aper = np.take_along_axis(search, idx[..., None], -1)[..., 0]
    return fs / lag, np.nan_to_num(aper, nan=1.0)


def voiced_windows(waves: np.ndarray, m: int, fs: int = FS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of ``m`` samples of ``waves`` ``(n, samples)`` whose every YIN frame
    (:func:`yin_frames`) is voiced (aperiodicity under ``YIN['threshold']``) with an F0 spread of
    at most :data:`SPEECH_MAX_SPREAD_SEMITONES`: ``(row, start sample, F0 Hz)`` arrays, one entry
    per window start on the hop grid, the F0 the median of the frames inside the window."""
    f0, aper = yin_frames(waves, fs)
    hop, w = YIN["hop_length"], YIN["frame_length"]
    # frames lying wholly inside a window of m samples starting at j x hop
    span = max(1, (m - w) // hop + 1) if m >= w else 1
    ok = aper < YIN["threshold"]
    lf = np.log2(f0)
    rows, starts, labels = [], [], []
    for j in range(0, f0.shape[1] - span + 1):
        sl = slice(j, j + span)
        start = j * hop
        if start + m > waves.shape[1]:
            break
        good = ok[:, sl].all(1) & (12 * (lf[:, sl].max(1) - lf[:, sl].min(1)) <= SPEECH_MAX_SPREAD_SEMITONES)
        for r in np.flatnonzero(good):
            rows.append(r)
            starts.append(start)
            labels.append(float(np.median(f0[r, sl])))
    return np.asarray(rows, int), np.asarray(starts, int), np.asarray(labels, float)


def speech_excerpts(n: int, m: int, rng: np.random.Generator, which: str = "train",
                    tokens: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` excerpts of ``m`` samples from synthetic speech with their F0 (Hz), drawn from the
    steadily voiced windows (:func:`voiced_windows`) of ``tokens`` (default: the word task's
    ``which`` talkers, a random 1500 of their tokens), at most 4 per token.  The labels are a
    tracker's (YIN), not a ground truth: speech synthesisers give no F0 track."""
    if tokens is None:
        from psychobench.stimuli.audio.words import WordCorpus, load_corpus

        waves, *_ = load_corpus(WordCorpus(), which)
        tokens = waves[np.sort(rng.choice(len(waves), min(len(waves), 1500), replace=False))]
    rows, starts, f0 = voiced_windows(tokens, m)
    if not len(rows):
        raise RuntimeError("no steadily voiced 50-ms window in the synthetic speech tokens")
    seen = np.zeros(len(tokens), int)
    pick = []
    for i in rng.permutation(len(rows)):             # at most 4 windows per token
        if seen[rows[i]] < 4:
            pick.append(i)
            seen[rows[i]] += 1
    pick = np.asarray(pick)
    pick = pick[rng.integers(0, len(pick), n)] if len(pick) < n else pick[:n]
    idx = starts[pick][:, None] + np.arange(m)[None, :]
    return np.take_along_axis(tokens[rows[pick]], idx, 1).astype(np.float64), f0[pick]


def training_set(cfg: PitchTaskConfig, n: int | None = None, seed: int | None = None,
                 speech: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(waves (n, excerpt samples) float32 at 16 kHz, f0 Hz)``: see the module docstring;
    ``speech``: whose synthetic talkers give the speech excerpts (``train`` or ``test``)."""
    from psychobench.stimuli.audio.pitch import fixed_region_gain_db, ten_noise
    from psychobench.stimuli.audio.signal import set_level

    n = cfg.n_train if n is None else n
    rng = np.random.default_rng([cfg.seed if seed is None else seed, 2021])
    m = int(round(cfg.excerpt_s * FS))
    lo, hi = cfg.f0_range_hz
    f0 = 2 ** rng.uniform(np.log2(lo), np.log2(hi), n)
    kind = rng.choice(4, n, p=list(cfg.envelope_shares))     # B&O band, Butterworth band, vowel-like, pure tone
    phase = np.asarray(cfg.train_phases, int)[rng.integers(0, len(cfg.train_phases), n)]
    ref = 2 ** rng.uniform(np.log2(150), np.log2(4500), n)           # lower -15 dB edge of the fixed band
    f_lo = np.where(rng.random(n) < 0.3, 0.0, f0 * 2 ** rng.uniform(0, np.log2(25), n))
    f_hi = np.maximum(f_lo, f0) * 2 ** rng.uniform(0.6, 3.0, n)
    formants = np.sort(2 ** rng.uniform(np.log2(250), np.log2(cfg.formant_hi_hz), (n, 3)), 1)
    fbw = rng.uniform(60, 200, (n, 3))
    sl_db = rng.uniform(8, 30, n)

    def amp_of(rows, fk):
        kd = kind[rows][:, None]
        bern = np.sqrt(2.0 * 10 ** ((sl_db[rows][:, None] + fixed_region_gain_db(fk, ref[rows][:, None])) / 10))
        with np.errstate(divide="ignore"):
            g_hp = np.where(f_lo[rows][:, None] > 0, 1 / np.sqrt(1 + (f_lo[rows][:, None] / fk) ** 8), 1.0)
        band = g_hp / np.sqrt(1 + (fk / f_hi[rows][:, None]) ** 8)
        res = sum(1 / np.sqrt(1 + ((fk - formants[rows][:, j:j + 1]) / fbw[rows][:, j:j + 1]) ** 2) for j in range(3))
        vowel = res * (fk / 100.0) ** -1.0
        tone = (np.arange(fk.shape[1])[None, :] == 0).astype(float)
        return np.select([kd == 0, kd == 1, kd == 2], [bern, band, vowel], tone)

    x = _synth(f0, amp_of, phase, m, rng.uniform(0.01, 0.15, n), rng).astype(np.float64)
    # noise: TEN at the B&O level for the fixed band (as in the experiment), else TEN or pink at a
    # random SNR, or none
    noise = ten_noise((n, m), FS, rng)
    pink = np.fft.irfft(np.fft.rfft(rng.standard_normal((n, m)), axis=1) /
                        np.sqrt(np.maximum(np.fft.rfftfreq(m, 1 / FS), 20.0)), m, axis=1)
    pink /= pink.std(1, keepdims=True)
    snr = rng.uniform(0, 30, n)
    sig = x.std(1, keepdims=True)
    other = np.where(rng.random(n)[:, None] < 0.5, noise / noise.std(1, keepdims=True), pink) * sig * \
        10 ** (-snr[:, None] / 20)
    other[rng.random(n) < 0.2] = 0.0
    x = np.where(kind[:, None] == 0, x + noise, x + other)
    n_speech = int(round(cfg.speech_share * n))
    if n_speech:                                       # the last rows become speech, in the same noise
        sp, sp_f0 = speech_excerpts(n_speech, m, np.random.default_rng([cfg.seed if seed is None else seed, 2022]),
                                    speech)
        sp = sp / np.maximum(sp.std(1, keepdims=True), 1e-12) * sig[-n_speech:]
        x[-n_speech:] = sp + other[-n_speech:]
        f0 = np.r_[f0[:-n_speech], sp_f0]
    x = set_level(x, -20.0) * 10 ** (rng.uniform(-10, 10, (n, 1)) / 20)
    return x.astype(np.float32), f0


def soft_targets(f0: torch.Tensor, bin_log2: torch.Tensor, sigma_bins: float = 0.5) -> torch.Tensor:
    """Gaussian targets on the log-F0 axis (sigma in bins), normalised per row."""
    step = bin_log2[1] - bin_log2[0]
    z = (torch.log2(f0)[:, None] - bin_log2[None, :]) / (sigma_bins * step)
    w = torch.exp(-0.5 * z ** 2)
    return w / w.sum(1, keepdim=True)


class PitchNetModule(pl.LightningModule):
    """Lightning module of the pitch network: trains on cochlear representations, estimates F0
    of waveforms (see the module docstring)."""

    def __init__(self, n_channels: int = 32, n_bins: int = 416, f0_lo: float = 40.0, bins_per_semitone: int = 8,
                 width: int = 16, lr: float = 2e-3, excerpt_s: float = 0.05, time_layers: int = 2,
                 phase_lock_hz: float = 3000.0, f_hi_hz: float = 6000.0, internal_noise: float = 0.0,
                 noise_seed: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self._listening_noise = None
        self.front = CochlearFrontEnd(n_channels, f_hi=f_hi_hz, phase_lock_hz=phase_lock_hz)
        self.net = PitchNet(n_channels, n_bins, width, time_layers=time_layers)
        self.register_buffer("bin_log2", torch.log2(torch.tensor(f0_lo)) +
                             torch.arange(n_bins, dtype=torch.float32) / (12 * bins_per_semitone), persistent=False)

    def noisy(self, coch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The cochlear representation with internal noise: each sample y gets Gaussian noise of
        standard deviation ``internal_noise`` x sqrt(y) (y clipped at 0), as spike counts whose
        variance grows with their mean (auditory-nerve fibres fire roughly as Poisson processes;
        Saddler et al. 2021's front end draws spikes).  New noise every call: in training from
        torch's seeded global generator, in listening from the module's own (:meth:`reset_noise`)."""
        sigma = float(self.hparams.get("internal_noise", 0.0))
        if sigma == 0.0:
            return coch
        eps = torch.randn(coch.shape, generator=generator, dtype=coch.dtype, device=coch.device)
        return coch + sigma * coch.clamp_min(0.0).sqrt() * eps

    def reset_noise(self, seed: int | None = None) -> None:
        """Restart the listening noise from ``seed`` (default: the ``noise_seed`` setting)."""
        self._listening_noise = torch.Generator().manual_seed(int(self.hparams.get("noise_seed", 0)
                                                                  if seed is None else seed))

    def _listen(self, wave: torch.Tensor) -> torch.Tensor:
        if self._listening_noise is None:
            self.reset_noise()
        return self.noisy(self.front(wave), self._listening_noise)

    def training_step(self, batch, batch_idx):
        x, f0 = batch
        logits = self.net(self.noisy(x))
        loss = -(soft_targets(f0, self.bin_log2) * torch.log_softmax(logits, 1)).sum(1).mean()
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        from .wordnet import one_cycle_adamw
        return one_cycle_adamw(self)

    @torch.inference_mode()
    def posterior(self, wave: np.ndarray | torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """F0 posterior ``(n, n_bins)`` of waveforms ``(n, samples)`` at 16 kHz: the mean over
        50-ms windows (hop 25 ms) of the network's softmax."""
        self.eval()
        x = torch.as_tensor(np.asarray(wave, np.float32))
        win = int(self.hparams.excerpt_s * NET_FS)
        out = []
        for i in range(0, len(x), batch_size):
            c = self._listen(x[i:i + batch_size])                               # (b, 1, ch, T)
            if c.shape[-1] < win:
                raise ValueError(f"intervals of {x.shape[1]} samples are shorter than the {win * 2}-sample window")
            frames = c.unfold(3, win, win // 2)                               # (b, 1, ch, F, win)
            b, _, ch, nf, _ = frames.shape
            frames = frames.permute(0, 3, 1, 2, 4).reshape(b * nf, 1, ch, win)
            p = torch.softmax(self.net(frames).double(), 1).reshape(b, nf, -1).mean(1)
            out.append(p)
        return torch.cat(out).numpy()

    @torch.inference_mode()
    def embedding(self, wave: np.ndarray | torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """The input of the network's head, ``(n, 4 width x channels)`` float32: the output of
        the convolution across channels, averaged over the 50-ms windows (hop 25 ms) of each
        waveform (what a fitted readout reads; see :meth:`posterior` for the windows)."""
        self.eval()
        x = torch.as_tensor(np.asarray(wave, np.float32)) if not torch.is_tensor(wave) else wave.float()
        win = int(self.hparams.excerpt_s * NET_FS)
        out = []
        for i in range(0, len(x), batch_size):
            c = self._listen(x[i:i + batch_size])
            if c.shape[-1] < win:
                raise ValueError(f"intervals of {x.shape[1]} samples are shorter than the {win * 2}-sample window")
            frames = c.unfold(3, win, win // 2)
            b, _, ch, nf, _ = frames.shape
            h = self.net.time(frames.permute(0, 3, 1, 2, 4).reshape(b * nf, 1, ch, win))
            h = self.net.freq(torch.cat([h.mean(3), h.amax(3)], 1)).flatten(1)
            out.append(h.reshape(b, nf, -1).mean(1))
        return torch.cat(out)

    def log_f0(self, wave, batch_size: int = 256) -> np.ndarray:
        """log2 F0 estimate per waveform: posterior-weighted mean of log2 F0 within 1 semitone
        of the posterior's peak."""
        p = self.posterior(wave, batch_size)
        grid = self.bin_log2.numpy().astype(np.float64)
        peak = grid[p.argmax(1)]
        near = np.abs(grid[None, :] - peak[:, None]) <= 1 / 12
        w = np.where(near, p, 0.0)
        return (w * grid[None, :]).sum(1) / w.sum(1)


def checkpoint_path(cfg: PitchTaskConfig) -> Path:
    from psychobench.stimuli.audio.synth import audio_cache_dir

    return audio_cache_dir() / f"pitchnet_{cfg.key()}.ckpt"


def _module(cfg: PitchTaskConfig) -> PitchNetModule:
    return PitchNetModule(cfg.n_channels, cfg.n_bins, cfg.f0_range_hz[0], cfg.bins_per_semitone, cfg.width, cfg.lr,
                          cfg.excerpt_s, cfg.time_layers, cfg.phase_lock_hz, cfg.f_hi_hz, cfg.internal_noise)


def train_pitch_net(cfg: PitchTaskConfig = PitchTaskConfig(), *, force: bool = False, verbose: bool = False,
                    device: str = "cpu") -> Path:
    """Train (or find cached, its bytes checked against their seal) the pitch network; returns
    its checkpoint path.  Deterministic: seeded stimuli, initialisation and data order,
    deterministic kernels, :data:`~psychobench.lightning.training.TRAIN_THREADS` threads."""
    path = checkpoint_path(cfg)
    if not force and check_seal(path, "trained pitch network"):
        return path
    with training_threads():
        _fit(cfg, path, verbose, device)
    return path


def _fit(cfg: PitchTaskConfig, path: Path, verbose: bool, device: str) -> None:
    with torch.inference_mode(False), torch.enable_grad():
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        waves, f0 = training_set(cfg)
        module = _module(cfg)
        with torch.no_grad():
            coch = torch.cat([module.front(torch.from_numpy(waves[i:i + 512])) for i in range(0, len(waves), 512)])
        ds = torch.utils.data.TensorDataset(coch, torch.from_numpy(f0.astype(np.float32)))
        dl = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(cfg.seed))
        # trained where its settings were tuned (a CPU) unless asked otherwise, as the word network
        # is: the cached weights are keyed by the task alone, and another device gives other weights
        trainer = pl.Trainer(max_epochs=int(cfg.epochs), accelerator=device, logger=False, enable_checkpointing=False,
                             enable_progress_bar=verbose, enable_model_summary=False, deterministic=True)
        trainer.fit(module, dl)
    write_sealed(path, trainer.save_checkpoint)


def load_pitch_net(cfg: PitchTaskConfig = PitchTaskConfig(), trained: bool = True, twin_seed: int = 1
                   ) -> PitchNetModule:
    """The trained network (from its sealed checkpoint, training it first if missing), or its
    untrained twin (same architecture, seeded random weights)."""
    if not trained:
        torch.manual_seed(twin_seed)
        return _module(cfg).eval()
    path = checkpoint_path(cfg)
    if not check_seal(path, "trained pitch network"):
        train_pitch_net(cfg)
    return PitchNetModule.load_from_checkpoint(path, map_location="cpu").eval()
