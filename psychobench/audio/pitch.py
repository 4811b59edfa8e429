"""Pitch stimuli and the two-interval F0-discrimination task.

Harmonic complexes with chosen F0, lowest harmonic, sine or random phase and band-pass filtering,
and pure tones, as two-interval "higher/lower" trials (after Bernstein & Oxenham 2005: the pass
band is fixed per condition, so the lowest audible harmonic is ``f_lo / F0``).  Thresholds are the
F0 difference (in % of F0) at 70.7% correct, the point tracked by the 2-down 1-up procedures of
the human studies (Levitt 1971).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .signal import ramp, rms, set_level

PITCH_FS = 16000


def harmonic_complex(f0: np.ndarray, fs: int = PITCH_FS, dur_s: float = 0.2, *, f_lo: np.ndarray | float = 0.0,
                     f_hi: np.ndarray | float | None = None, order: int = 4, phase: str = "sine",
                     rng: np.random.Generator | None = None, ramp_s: float = 0.01,
                     level_dbfs: float = -20.0) -> np.ndarray:
    """Harmonic complexes ``(len(f0), n)``, one row per F0 (Hz).

    Harmonic k has amplitude |H(k F0)| of a Butterworth band-pass of ``order`` with edges
    ``f_lo, f_hi`` Hz (``f_lo = 0``: low-pass only; ``f_hi = None``: up to Nyquist); harmonics
    above 0.95 Nyquist are left out.  phase: ``"sine"`` (all 0), ``"cosine"``, or ``"random"``
    (uniform, drawn from ``rng`` per harmonic and row).  Raised-cosine ramps, RMS ``level_dbfs``.
    """
    f0 = np.atleast_1d(np.asarray(f0, float))
    n = int(round(dur_s * fs))
    t = np.arange(n) / fs
    kmax = int(np.floor(0.95 * fs / 2 / f0.min()))
    k = np.arange(1, kmax + 1)
    fk = f0[:, None] * k[None, :]                                    # (B, K)
    lo = np.broadcast_to(np.asarray(f_lo, float), f0.shape)[:, None]
    hi = np.broadcast_to(np.asarray(fs / 2 if f_hi is None else f_hi, float), f0.shape)[:, None]
    with np.errstate(divide="ignore"):
        g_hp = np.where(lo > 0, 1.0 / np.sqrt(1.0 + (lo / fk) ** (2 * order)), 1.0)
    amp = g_hp / np.sqrt(1.0 + (fk / hi) ** (2 * order))
    amp = np.where(fk < 0.95 * fs / 2, amp, 0.0)
    if phase == "sine":
        ph = np.zeros_like(fk)
    elif phase == "cosine":
        ph = np.full_like(fk, np.pi / 2)
    elif phase == "random":
        ph = (rng or np.random.default_rng()).uniform(0, 2 * np.pi, fk.shape)
    else:
        raise ValueError(f"phase must be 'sine', 'cosine' or 'random', not {phase!r}")
    # sum_k a_k sin(2 pi f_k t + phi_k), as one (B, K) x (K, n) product per row block
    x = np.einsum("bk,bkn->bn", amp, np.sin(2 * np.pi * fk[:, :, None] * t[None, None, :] + ph[:, :, None]))
    x *= ramp(n, int(ramp_s * fs), "cos2")
    return set_level(x, level_dbfs)


def pure_tone(f: np.ndarray, fs: int = PITCH_FS, dur_s: float = 0.2, ramp_s: float = 0.01,
              level_dbfs: float = -20.0) -> np.ndarray:
    """Pure tones ``(len(f), n)`` at frequencies ``f`` Hz, sine phase, ramps, RMS ``level_dbfs``."""
    f = np.atleast_1d(np.asarray(f, float))
    t = np.arange(int(round(dur_s * fs))) / fs
    x = np.sin(2 * np.pi * f[:, None] * t[None, :]) * ramp(len(t), int(ramp_s * fs), "cos2")
    return set_level(x, level_dbfs)


def two_interval_trials(conditions: pd.DataFrame, deltas_pct: np.ndarray, n_per_level: int, seed: int = 0
                        ) -> pd.DataFrame:
    """Trial list: every condition row x F0 difference x repetition.

    conditions: columns ``condition, f0_hz, f_lo, f_hi, phase, kind`` (kind ``"complex"`` or
    ``"tone"``).  Each trial has a reference F0 and a comparison F0 * (1 +- delta/100), the
    higher one in interval 1 or 2 at random; ``answer`` is ``"second"`` or ``"first"`` (which
    interval is higher).  Returns one row per trial with ``f0_1, f0_2, delta_pct, answer``.
    """
    rng = np.random.default_rng(seed)
    deltas = np.asarray(deltas_pct, float)
    c = conditions.loc[conditions.index.repeat(len(deltas) * n_per_level)].reset_index(drop=True)
    c["delta_pct"] = np.tile(np.repeat(deltas, n_per_level), len(conditions))
    up = rng.random(len(c)) < 0.5                       # comparison above or below the reference
    second_higher = rng.random(len(c)) < 0.5
    ref = c["f0_hz"].to_numpy(float)
    cmp_ = ref * np.where(up, 1 + c["delta_pct"] / 100, 1 / (1 + c["delta_pct"] / 100))
    lo, hi = np.minimum(ref, cmp_), np.maximum(ref, cmp_)
    c["f0_1"] = np.where(second_higher, lo, hi)
    c["f0_2"] = np.where(second_higher, hi, lo)
    c["answer"] = np.where(second_higher, "second", "first")
    c["stimulus_id"] = [f"pitch-{i:06d}" for i in range(len(c))]
    return c


def render_intervals(trials: pd.DataFrame, fs: int = PITCH_FS, dur_s: float = 0.2, noise_snr_db: float | None = None,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Waveforms of both intervals, ``(n_trials, n)`` each; optional white noise at ``noise_snr_db``."""
    rng = np.random.default_rng(seed)
    out = []
    for col in ("f0_1", "f0_2"):
        x = np.empty((len(trials), int(round(dur_s * fs))))
        for kind, phase in trials[["kind", "phase"]].drop_duplicates().itertuples(index=False):
            sel = ((trials["kind"] == kind) & (trials["phase"] == phase)).to_numpy()
            f = trials.loc[sel, col].to_numpy(float)
            if kind == "tone":
                x[sel] = pure_tone(f, fs, dur_s)
            else:
                x[sel] = harmonic_complex(f, fs, dur_s, f_lo=trials.loc[sel, "f_lo"].to_numpy(float),
                                          f_hi=trials.loc[sel, "f_hi"].to_numpy(float), phase=phase, rng=rng)
        if noise_snr_db is not None:
            noise = rng.standard_normal(x.shape)
            x = x + noise * (rms(x) / rms(noise) * 10 ** (-noise_snr_db / 20))[:, None]
        out.append(x)
    return out[0], out[1]


def threshold_2afc(delta_pct: np.ndarray, correct: np.ndarray, criterion: float = 0.707) -> float:
    """F0 difference (%) at ``criterion`` proportion correct: the proportion correct per level is
    made non-decreasing in delta (running maximum), then interpolated linearly in log10(delta).
    NaN if the criterion is never reached; the smallest delta if it is reached there already."""
    d = np.asarray(delta_pct, float)
    levels, inv = np.unique(d, return_inverse=True)
    p = np.bincount(inv, weights=np.asarray(correct, float)) / np.bincount(inv)
    p = np.maximum.accumulate(p)
    if p[-1] < criterion:
        return float("nan")
    if p[0] >= criterion:
        return float(levels[0])
    j = int(np.argmax(p >= criterion))
    x0, x1 = np.log10(levels[j - 1]), np.log10(levels[j])
    return float(10 ** (x0 + (criterion - p[j - 1]) / (p[j] - p[j - 1]) * (x1 - x0)))


def bernstein_oxenham_conditions(bandwidth_oct: float = 1.0) -> pd.DataFrame:
    """The 24 conditions of Bernstein & Oxenham (2005) Fig. 1: low (f_lo 1560 Hz) and high (3280 Hz)
    spectrum, sine or random phase, their F0s; pass band ``f_lo .. f_lo * 2**bandwidth_oct``."""
    from .humans import bernstein_oxenham_2005
    h = bernstein_oxenham_2005()
    f_lo = np.where(h["spectrum"] == "low", 1560.0, 3280.0)
    return pd.DataFrame({
        "condition": [f"{s}-{p}-f0={f:g}" for s, p, f in zip(h["spectrum"], h["phase"], h["f0_hz"])],
        "spectrum": h["spectrum"], "phase": h["phase"], "f0_hz": h["f0_hz"].astype(float),
        "lowest_harmonic": h["lowest_harmonic"], "f_lo": f_lo, "f_hi": f_lo * 2 ** bandwidth_oct,
        "kind": "complex", "human_f0dl_percent": h["f0dl_percent"],
    })
