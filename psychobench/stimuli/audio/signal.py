"""Waveform primitives: RMS, SNR mixing, ramps, output level, resampling and input checks.

Every function works on float arrays of shape ``(n,)`` or ``(batch, n)`` (samples last) and is
vectorised over the batch.  Levels are RMS values in linear full-scale units (1.0 = digital full
scale); SNRs are in dB, defined by power (``10 log10``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from psychobench.errors import PsychobenchError
from psychobench.data.io import atomic_path

if TYPE_CHECKING:
    import pandas as pd

#: Fixed output level of every mixed stimulus: RMS of the mixture in dB re full scale (-20 dBFS
#: leaves > 14 dB headroom for noise crest factors before clipping).
OUTPUT_DBFS = -20.0


class AudioError(PsychobenchError, ValueError):
    """Bad audio input (wrong rate, clipped, silent, empty); the message names the file."""


def rms(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Root-mean-square over ``axis`` (float64); 0 for an all-zero signal."""
    x = np.asarray(x, dtype=np.float64)
    return np.sqrt(np.mean(np.square(x), axis=axis))


def snr_db(target: np.ndarray, masker: np.ndarray, region: slice | None = None) -> np.ndarray:
    """Power SNR in dB of ``target`` to ``masker`` over ``region`` (default: whole signal)."""
    t = np.asarray(target, dtype=np.float64)
    m = np.asarray(masker, dtype=np.float64)
    if region is not None:
        t, m = t[..., region], m[..., region]
    return 10.0 * np.log10(np.sum(t * t, axis=-1) / np.sum(m * m, axis=-1))


def ramp(n: int, ramp_samples: int, shape: str = "cos2") -> np.ndarray:
    """Onset/offset gain of length ``n``: rises over ``ramp_samples``, falls over the last ones.

    ``shape`` is ``"cos2"`` (raised cosine) or ``"linear"`` (what the English CCC used).
    """
    g = np.ones(n)
    r = int(min(ramp_samples, n // 2))
    if r <= 0:
        return g
    t = np.arange(r) / r
    up = np.sin(0.5 * np.pi * t) ** 2 if shape == "cos2" else t
    g[:r] = up
    g[n - r:] = up[::-1]
    return g


def mix_at_snr(target: np.ndarray, masker: np.ndarray, snr: float | np.ndarray, *,
               target_region: tuple[int, int] | np.ndarray | None = None,
               ramp_s: float = 0.01, fs: int = 16000, level_dbfs: float | None = OUTPUT_DBFS,
               ramp_shape: str = "cos2") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mix target and masker at ``snr`` dB; return ``(mixture, target_scaled, masker_scaled)``.

    The SNR is set by RMS over the target's duration: ``target_region = (start, stop)`` sample
    indices, one pair or an array of shape ``(batch, 2)``; default the whole signal.  The masker is
    scaled (target unchanged); ``snr = inf`` gives the clean target (masker scaled to zero).  Both
    components then get onset/offset ramps of ``ramp_s`` seconds, and all three outputs share one
    gain that sets the mixture's RMS to ``level_dbfs`` (None: no level change).
    target, masker: ``(n,)`` or ``(batch, n)``, same shape; snr: scalar or ``(batch,)``.
    """
    t = np.atleast_2d(np.asarray(target, dtype=np.float64))
    m = np.atleast_2d(np.asarray(masker, dtype=np.float64))
    if t.shape != m.shape:
        raise ValueError(f"target shape {t.shape} != masker shape {m.shape}")
    b, n = t.shape
    snr = np.broadcast_to(np.asarray(snr, dtype=np.float64), (b,))
    if target_region is None:
        mask = np.ones((b, n), bool)
    else:
        reg = np.broadcast_to(np.asarray(target_region, dtype=np.int64), (b, 2))
        idx = np.arange(n)
        mask = (idx >= reg[:, :1]) & (idx < reg[:, 1:2])
    pt = np.sum(np.where(mask, t * t, 0.0), axis=1)
    pm = np.sum(np.where(mask, m * m, 0.0), axis=1)
    if np.any(pt <= 0):
        raise AudioError(f"target is silent over its region in item(s) {np.flatnonzero(pt <= 0).tolist()}")
    finite = np.isfinite(snr)
    if np.any(finite & (pm <= 0)):
        raise AudioError(f"masker is silent over the target region in item(s) "
                         f"{np.flatnonzero(finite & (pm <= 0)).tolist()}")
    gain = np.where(finite, np.sqrt(pt / np.where(pm > 0, pm, 1.0) / 10.0 ** (np.where(finite, snr, 0) / 10.0)), 0.0)
    m = m * gain[:, None]
    if ramp_s and ramp_s > 0:
        g = ramp(n, int(round(ramp_s * fs)), ramp_shape)
        t = t * g
        m = m * g
    mix = t + m
    if level_dbfs is not None:
        k = 10.0 ** (level_dbfs / 20.0) / np.maximum(rms(mix), 1e-300)
        mix, t, m = mix * k[:, None], t * k[:, None], m * k[:, None]
    if np.ndim(target) == 1:
        return mix[0], t[0], m[0]
    return mix, t, m


def set_level(x: np.ndarray, dbfs: float = OUTPUT_DBFS) -> np.ndarray:
    """Scale each row of ``x`` to RMS ``dbfs`` dB re full scale."""
    x = np.asarray(x, dtype=np.float64)
    r = rms(x)
    if np.any(r <= 0):
        raise AudioError("cannot set the level of a silent signal")
    return x * (10.0 ** (dbfs / 20.0) / np.asarray(r))[..., None]


def resample(x: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    """Polyphase resampling along the last axis (scipy ``resample_poly``, exact rational ratio)."""
    if fs_in == fs_out:
        return np.asarray(x, dtype=np.float64)
    from math import gcd

    from scipy.signal import resample_poly
    g = gcd(int(fs_in), int(fs_out))
    return resample_poly(np.asarray(x, dtype=np.float64), fs_out // g, fs_in // g, axis=-1)


def check_audio(x: np.ndarray, source: str = "<array>", *, clip_level: float = 0.999,
                max_clipped_fraction: float = 1e-3, silence_dbfs: float = -90.0) -> None:
    """Refuse empty, non-finite, silent or clipped audio with an error that names ``source``."""
    x = np.asarray(x)
    if x.size == 0:
        raise AudioError(f"{source}: empty audio (0 samples)")
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{source}: audio contains NaN or infinite samples")
    level = 20 * np.log10(max(float(rms(x.reshape(-1))), 1e-300))
    if level < silence_dbfs:
        raise AudioError(f"{source}: silent audio (RMS {level:.1f} dBFS < {silence_dbfs} dBFS)")
    frac = float(np.mean(np.abs(x) >= clip_level))
    if frac > max_clipped_fraction:
        raise AudioError(f"{source}: clipped audio ({100 * frac:.2f}% of samples at |x| >= {clip_level})")


def load_audio(path: str | os.PathLike, fs: int = 16000, *, channel: int | None = None,
               on_rate_mismatch: str = "resample", check: bool = True) -> np.ndarray:
    """Read a sound file as float64 mono at ``fs`` Hz.

    channel: which channel of a multichannel file (None: refuse multichannel files).
    on_rate_mismatch: ``"resample"`` (polyphase) or ``"error"`` (refuse with the file's rate).
    check: refuse empty, silent or clipped audio (:func:`check_audio`), naming the file.
    """
    import soundfile as sf
    path = Path(path)
    try:
        x, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises its own error types
        raise AudioError(f"{path}: cannot read audio ({exc})") from exc
    if x.shape[1] > 1:
        if channel is None:
            raise AudioError(f"{path}: {x.shape[1]} channels; pass channel= to pick one")
        x = x[:, channel]
    else:
        x = x[:, 0]
    if rate != fs:
        if on_rate_mismatch == "error":
            raise AudioError(f"{path}: sample rate {rate} Hz, expected {fs} Hz")
        if on_rate_mismatch != "resample":
            raise ValueError(f"on_rate_mismatch must be 'resample' or 'error', not {on_rate_mismatch!r}")
        x = resample(x, rate, fs)
    if check:
        check_audio(x, str(path))
    return x


def audit_folder(folder: str | os.PathLike, pattern: str = "*.wav", **kw) -> "pd.DataFrame":
    """Check every file matching ``pattern``: a table ``file, ok, problem`` (one row a file)."""
    import pandas as pd
    rows = []
    for f in sorted(Path(folder).glob(pattern)):
        try:
            load_audio(f, check=True, **kw)
            rows.append((str(f), True, ""))
        except AudioError as exc:
            rows.append((str(f), False, str(exc)))
    return pd.DataFrame(rows, columns=["file", "ok", "problem"])


def write_wav_atomic(path: str | os.PathLike, x: np.ndarray, fs: int, subtype: str = "FLOAT") -> Path:
    """Write a mono sound file atomically (temp file + rename)."""
    import soundfile as sf
    path = Path(path)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.asarray(x, dtype=np.float32), fs, subtype=subtype, format=path.suffix[1:].upper())
    return path
