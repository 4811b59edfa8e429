"""Pitch stimuli and the two-interval F0-discrimination task.

Harmonic complexes with chosen F0, lowest harmonic, sine or random phase and band-pass filtering,
and pure tones, as two-interval "higher/lower" trials.  The default experiment follows Bernstein &
Oxenham (2005) Experiment 1 (:data:`BERNOX_DESIGN`): F0 varies inside a fixed spectral region, so
the lowest audible harmonic number is ``ref / F0``.  Thresholds are the F0 difference (in % of F0)
at 70.7% correct, the point tracked by 2-down 1-up procedures (Levitt 1971), read off psychometric
functions fitted to a method of constant stimuli.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .signal import ramp, rms, set_level

PITCH_FS = 16000

# Bernstein & Oxenham (2005, JASA 117:3816) Experiment 1, as replicated by Saddler, Gonzalez &
# McDermott (2021, Nat Commun 12:7278; github.com/msaddler/pitchnet, assets_datasets/
# stimuli_generate_BernsteinOxenham*.py, whose filter follows B&O's own "filterbw.m"):
#: -3 dB corners (Hz) of the 4th-order Butterworth high-pass and low-pass whose product is the
#: pass band; the response is then shifted along linear frequency to place the spectral region.
BERNOX_BASE_CORNERS_HZ = (2500.0, 3500.0)
BERNOX_FILTER_ORDER = 4
#: Level of each component in the pass band above its masked threshold in the background noise
#: (dB SL); a component is audible where the filter attenuates it by less than this, so the
#: lowest audible harmonic sits at the filter's lower -15 dB point.
BERNOX_COMPONENT_DB_SL = 15.0
#: Lower -15 dB point of the two fixed spectral regions (Hz): lowest harmonic number = ref / F0
#: (the human table's "low" and "high" spectrum conditions).
BERNOX_REGION_REF_HZ = {"low": 1560.0, "high": 3280.0}

#: Which parameter of the pitch experiment comes from where (written into every pitch summary).
BERNOX_DESIGN: dict[str, str] = {
    "conditions": "Bernstein & Oxenham (2005) Fig. 1 as digitised by Saddler et al. (2021): low region "
                  "F0 = 50-300 Hz, high region F0 = 100-600 Hz, sine and random phase (24 conditions); "
                  "human thresholds from the same table",
    "spectral_region": "fixed per condition; lowest harmonic number = 1560/F0 (low) or 3280/F0 (high), "
                       "as in the human table; filter = 4th-order Butterworth high-pass x low-pass with "
                       "-3 dB corners 2.5/3.5 kHz, shifted along frequency so its lower -15 dB point is at "
                       "1560 or 3280 Hz (Saddler et al. 2021 replication, after B&O's filterbw.m)",
    "levels": "each component 15 dB above its masked threshold in the pass band (15 dB SL, Saddler et al. "
              "2021 replication of B&O); masked threshold taken as the noise power in one ERB",
    "noise": "threshold-equalising noise (equal power per ERB, Moore et al. 2000), fresh per interval, "
             "gated with the tone; the frequency-dependent efficiency K of real TEN is left out (ours)",
    "ours": "duration 200 ms with 10-ms raised-cosine ramps, 16 kHz sampling, reference at the condition F0 "
            "and comparison at F0 (1 + delta) or F0 / (1 + delta) at random, higher interval first or "
            "second at random; method of constant stimuli with logistic fits on log10(delta) instead of the "
            "human adaptive tracks; criterion 70.7% correct",
}


def erb_hz(f: np.ndarray) -> np.ndarray:
    """Equivalent rectangular bandwidth (Hz) at ``f`` Hz (Glasberg & Moore 1990)."""
    return 24.7 * (4.37 * np.asarray(f, float) / 1000.0 + 1.0)


def _butter_db(f: np.ndarray, corners=BERNOX_BASE_CORNERS_HZ, order: int = BERNOX_FILTER_ORDER) -> np.ndarray:
    f = np.maximum(np.asarray(f, float), 1e-9)
    lo, hi = corners
    return -10 * np.log10(1 + (lo / f) ** (2 * order)) - 10 * np.log10(1 + (f / hi) ** (2 * order))


def fixed_region_gain_db(f: np.ndarray, ref_hz: float | np.ndarray, corners=BERNOX_BASE_CORNERS_HZ,
                         order: int = BERNOX_FILTER_ORDER, edge_db: float = -BERNOX_COMPONENT_DB_SL) -> np.ndarray:
    """Gain in dB (0 at the pass-band peak) of the fixed spectral region at frequencies ``f`` Hz.

    The base response is the product of a high-pass and a low-pass Butterworth of ``order`` at
    ``corners``, normalised to a 0-dB peak, shifted along linear frequency so that its lower
    ``edge_db`` point lies at ``ref_hz`` (broadcast against ``f``).  Frequencies below the shifted
    origin get -inf dB.
    """
    grid = np.arange(1.0, 12000.0, 0.5)
    base = _butter_db(grid, corners, order)
    base -= base.max()
    rising = grid < grid[np.argmax(base)]
    edge = float(np.interp(edge_db, base[rising], grid[rising]))       # base's lower edge (Hz)
    g = np.asarray(f, float) - (np.asarray(ref_hz, float) - edge)
    peak = float(_butter_db(grid[np.argmax(base)], corners, order))
    return np.where(g > 0, _butter_db(g, corners, order) - peak, -np.inf)


def ten_noise(shape: tuple[int, int], fs: int, rng: np.random.Generator, f_lo: float = 20.0) -> np.ndarray:
    """Threshold-equalising noise (after Moore et al. 2000): Gaussian noise whose power per ERB
    is the same at every frequency (spectrum level proportional to 1 / ERB(f)), from ``f_lo`` to
    Nyquist, scaled so that the power in one ERB is 1 (so a tone of power 1 is near its masked
    threshold; the frequency dependence of the detection efficiency K is left out).
    shape: ``(n_items, n_samples)``; returns float64 of that shape."""
    n = shape[1]
    f = np.fft.rfftfreq(n, 1.0 / fs)
    g = np.where(f >= f_lo, np.sqrt((fs / 2.0) / erb_hz(f)), 0.0)     # white (var 1) PSD is 2/fs per Hz
    return np.fft.irfft(np.fft.rfft(rng.standard_normal(shape), axis=-1) * g, n, axis=-1)


def _sum_of_sines(amp: np.ndarray, freq: np.ndarray, phase: np.ndarray, t: np.ndarray,
                  max_elements: int = 2 ** 24) -> np.ndarray:
    """``sum_k amp[b, k] sin(2 pi freq[b, k] t + phase[b, k])`` per row ``b``, ``(B, len(t))``.
    Computed in blocks of rows whose ``(rows, K, n)`` argument stays under ``max_elements``
    (128 MiB of float64), so memory does not grow with the trial count (one block for all rows
    would take 17 GB for 2160 trials of 50-Hz complexes)."""
    B, K = amp.shape
    out = np.empty((B, len(t)))
    step = max(1, int(max_elements // max(1, K * len(t))))
    for s in range(0, B, step):
        sl = slice(s, s + step)
        arg = 2 * np.pi * freq[sl, :, None] * t[None, None, :] + phase[sl, :, None]
        out[sl] = np.einsum("bk,bkn->bn", amp[sl], np.sin(arg, out=arg))
    return out


def bernox_complex(f0: np.ndarray, region_ref_hz: np.ndarray, phase: str, rng: np.random.Generator,
                   fs: int = PITCH_FS, dur_s: float = 0.2, ramp_s: float = 0.01,
                   component_db_sl: float = BERNOX_COMPONENT_DB_SL, noise: bool = True,
                   level_dbfs: float = -20.0) -> np.ndarray:
    """Harmonic complexes in the fixed spectral region of :func:`fixed_region_gain_db` at
    ``region_ref_hz`` (one per row), each component ``component_db_sl`` dB above the noise power
    in one ERB times its filter gain, in fresh TEN (:func:`ten_noise`, gated with the tone);
    ``phase`` ``"sine"`` or ``"random"`` (drawn per component and row).  Harmonics above 0.95
    Nyquist are left out.  Raised-cosine ramps; the mixture is scaled to ``level_dbfs`` RMS
    (the tone-to-noise ratio is kept).  Returns ``(len(f0), round(dur_s fs))`` float64.
    """
    f0 = np.atleast_1d(np.asarray(f0, float))
    ref = np.broadcast_to(np.asarray(region_ref_hz, float), f0.shape)
    n = int(round(dur_s * fs))
    t = np.arange(n) / fs
    k = np.arange(1, int(np.floor(0.95 * fs / 2 / f0.min())) + 1)
    fk = f0[:, None] * k[None, :]                                                # (B, K)
    gain = fixed_region_gain_db(fk, ref[:, None])
    amp = np.where(fk < 0.95 * fs / 2, np.sqrt(2.0 * 10 ** ((component_db_sl + gain) / 10)), 0.0)
    if phase == "sine":
        ph = np.zeros_like(fk)
    elif phase == "random":
        ph = rng.uniform(0, 2 * np.pi, fk.shape)
    else:
        raise ValueError(f"phase must be 'sine' or 'random', not {phase!r}")
    x = _sum_of_sines(amp, fk, ph, t)
    if noise:
        x = x + ten_noise(x.shape, fs, rng)
    x *= ramp(n, int(ramp_s * fs), "cos2")
    return set_level(x, level_dbfs)


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
    elif phase == "alternating":                       # odd harmonics in sine, even in cosine phase
        ph = np.broadcast_to(np.where(k % 2 == 0, np.pi / 2, 0.0), fk.shape).copy()
    elif phase == "random":
        ph = (rng or np.random.default_rng()).uniform(0, 2 * np.pi, fk.shape)
    else:
        raise ValueError(f"phase must be 'sine', 'cosine', 'alternating' or 'random', not {phase!r}")
    x = _sum_of_sines(amp, fk, ph, t)
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
                     seed: int = 0, component_db_sl: float = BERNOX_COMPONENT_DB_SL,
                     ten: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Waveforms of both intervals, ``(n_trials, n)`` each, rendered per (kind, phase) group.

    kind ``"bernox"``: :func:`bernox_complex` in the region ``region_ref_hz`` (TEN if ``ten``);
    ``"complex"``: :func:`harmonic_complex` with pass band ``f_lo .. f_hi``; ``"tone"``: pure tones.
    noise_snr_db: white noise added to every interval at this SNR (None: none).
    """
    rng = np.random.default_rng(seed)
    out = []
    for col in ("f0_1", "f0_2"):
        x = np.empty((len(trials), int(round(dur_s * fs))))
        for kind, phase in trials[["kind", "phase"]].drop_duplicates().itertuples(index=False):
            sel = ((trials["kind"] == kind) & (trials["phase"] == phase)).to_numpy()
            f = trials.loc[sel, col].to_numpy(float)
            if kind == "tone":
                x[sel] = pure_tone(f, fs, dur_s)
            elif kind == "bernox":
                x[sel] = bernox_complex(f, trials.loc[sel, "region_ref_hz"].to_numpy(float), phase, rng, fs, dur_s,
                                        component_db_sl=component_db_sl, noise=ten)
            else:
                x[sel] = harmonic_complex(f, fs, dur_s, f_lo=trials.loc[sel, "f_lo"].to_numpy(float),
                                          f_hi=trials.loc[sel, "f_hi"].to_numpy(float), phase=phase, rng=rng)
        if noise_snr_db is not None:
            noise = rng.standard_normal(x.shape)
            x = x + noise * (rms(x) / rms(noise) * 10 ** (-noise_snr_db / 20))[:, None]
        out.append(x)
    return out[0], out[1]


def bernstein_oxenham_conditions(spectra: tuple[str, ...] = ("low", "high"),
                                 phases: tuple[str, ...] = ("sine", "random")) -> pd.DataFrame:
    """The conditions of Bernstein & Oxenham (2005) Fig. 1 (24 in all): low (lowest harmonic =
    1560 / F0) and high (3280 / F0) spectral region, sine or random phase, the F0s of the human
    table.  Columns ``condition, spectrum, phase, f0_hz, lowest_harmonic, region_ref_hz, kind
    ("bernox"), human_f0dl_percent, human_sd_percent``."""
    from psychobench.data.listeners import bernstein_oxenham_2005
    h = bernstein_oxenham_2005()
    h = h[h["spectrum"].isin(spectra) & h["phase"].isin(phases)].reset_index(drop=True)
    if h.empty:
        raise ValueError(f"no Bernstein & Oxenham condition with spectra {spectra} and phases {phases}")
    return pd.DataFrame({
        "condition": [f"{s}-{p}-f0={f:g}" for s, p, f in zip(h["spectrum"], h["phase"], h["f0_hz"])],
        "spectrum": h["spectrum"], "phase": h["phase"], "f0_hz": h["f0_hz"].astype(float),
        "lowest_harmonic": h["lowest_harmonic"], "region_ref_hz": h["spectrum"].map(BERNOX_REGION_REF_HZ),
        "kind": "bernox", "human_f0dl_percent": h["f0dl_percent"], "human_sd_percent": h["sd_percent"],
    })


# Moore & Moore (2003, JASA 113:977) frequency-shifted complexes, as replicated by Saddler et al.
# (2021; github.com/msaddler/pitchnet, assets_datasets, Moore & Moore 2003 generator):
#: Flat width of the spectral envelope (in harmonics) per centre harmonic: 3 for the resolved
#: condition (centre 5), 5 for the intermediate (11) and unresolved (16) ones.
MOORE2003_FLAT_HARMONICS = {5: 3, 11: 5, 16: 5}
#: Which parameter of the frequency-shift experiment comes from where (written into its summary).
MOORE2003_DESIGN: dict[str, str] = {
    "conditions": "Moore & Moore (2003): F0 100, 200, 400 Hz; spectral envelope centred on harmonic 5, 11 or "
                  "16; every component shifted up by 0, 8, 16 or 24 % of F0 (36 conditions); listeners' pitch "
                  "shifts as digitised by Saddler et al. (2021)",
    "envelope": "flat over 3 (centre 5) or 5 (centres 11, 16) harmonics around the centre, amplitude falling "
                "to 0 over 1.5 F0 on each side as (10^x - 1) / 9 with x from 1 at the flat edge to 0 "
                "(Moore & Moore 2003, p. 979, as in Saddler et al. 2021)",
    "phase_duration": "cosine phase, 150 ms (Saddler et al. 2021 replication)",
    "ours": "16-kHz sampling: components above 0.95 x Nyquist (7.6 kHz) are left out, which trims the top of "
            "the envelope at F0 400 Hz / centre 16 (flat to 7.4 kHz, slope to 8 kHz); 10-ms raised-cosine "
            "ramps; each condition at n_items F0s log-uniform within +-f0_jitter_pct of the nominal F0, each "
            "in threshold-equalising noise at snr_db (fresh per item), so that the interval over items is not zero; pitch "
            "shift = the observer's F0 estimate of the shifted complex over the true F0, in %, interval 1 "
            "(reference) is the unshifted complex",
}


def moore2003_envelope(f: np.ndarray, f0: np.ndarray | float, centre_harmonic: int) -> np.ndarray:
    """Amplitude of a component at ``f`` Hz under the Moore & Moore (2003) envelope centred on
    ``centre_harmonic`` x ``f0`` (see :data:`MOORE2003_DESIGN`)."""
    f0 = np.asarray(f0, float)
    width = MOORE2003_FLAT_HARMONICS[int(centre_harmonic)] * f0
    lo, hi = centre_harmonic * f0 - width / 2, centre_harmonic * f0 + width / 2
    dist = np.maximum(lo - f, 0.0) + np.maximum(f - hi, 0.0)              # Hz outside the flat part
    x = np.clip(1.0 - dist / (1.5 * f0), 0.0, 1.0)
    return (10.0 ** x - 1.0) / 9.0


def shifted_complex(f0: np.ndarray, shift_pct: np.ndarray | float, centre_harmonic: np.ndarray | int,
                    fs: int = PITCH_FS, dur_s: float = 0.15, ramp_s: float = 0.01, level_dbfs: float = -20.0
                    ) -> np.ndarray:
    """Frequency-shifted complexes ``(len(f0), n)``: components at ``k f0 + shift f0`` (k >= 1),
    cosine phase, amplitudes read at the shifted frequencies from :func:`moore2003_envelope` of
    the nominal ``f0`` (the envelope stays put while the components move under it, as in the
    experiment), those above 0.95 Nyquist left out; ramps, RMS ``level_dbfs``."""
    f0 = np.atleast_1d(np.asarray(f0, float))
    shift = np.broadcast_to(np.asarray(shift_pct, float), f0.shape) / 100.0
    centre = np.broadcast_to(np.asarray(centre_harmonic), f0.shape)
    n = int(round(dur_s * fs))
    t = np.arange(n) / fs
    k = np.arange(1, int(np.floor(0.95 * fs / 2 / f0.min())) + 1)
    fk = f0[:, None] * (k[None, :] + shift[:, None])
    amp = np.zeros_like(fk)
    for c in np.unique(centre):
        rows = centre == c
        amp[rows] = moore2003_envelope(fk[rows], f0[rows, None], int(c))
    amp = np.where(fk < 0.95 * fs / 2, amp, 0.0)
    x = _sum_of_sines(amp, fk, np.full_like(fk, np.pi / 2), t)
    x *= ramp(n, int(ramp_s * fs), "cos2")
    return set_level(x, level_dbfs)


# Moore, Glasberg & Peters (1985) mistuned harmonics, as replicated by Saddler et al. (2021):
#: Which parameter of the mistuned-harmonic experiment comes from where (written into its summary).
MOORE1985_DESIGN: dict[str, str] = {
    "conditions": "Moore, Glasberg & Peters (1985): 12 equal-amplitude harmonics of F0 100, 200 or 400 Hz, one "
                  "of harmonics 1-6 mistuned up by 1-8 % of its frequency; listeners' pitch matches relative to "
                  "the tuned complex, as digitised by Saddler et al. (2021)",
    "phase_duration": "sine phase, 150 ms (Saddler et al. 2021 replication)",
    "ours": "16-kHz sampling; 10-ms raised-cosine ramps; each condition at n_items F0s log-uniform within "
            "+-f0_jitter_pct of the nominal F0, in fresh threshold-equalising noise at snr_db; interval 1 is the "
            "tuned complex at the same F0, interval 2 the mistuned one; pitch shift = the observer's F0 "
            "estimate of interval 2 over its estimate of interval 1, in % (as the listeners matched against "
            "the tuned complex)",
}


def mistuned_complex(f0: np.ndarray, harmonic: np.ndarray | int, mistuning_pct: np.ndarray | float,
                     fs: int = PITCH_FS, dur_s: float = 0.15, n_harmonics: int = 12, ramp_s: float = 0.01,
                     level_dbfs: float = -20.0) -> np.ndarray:
    """Harmonics 1..``n_harmonics`` of ``f0`` (one row per F0) at equal amplitude in sine phase,
    harmonic ``harmonic`` moved to ``harmonic f0 (1 + mistuning_pct / 100)``; ramps, RMS
    ``level_dbfs``.  ``(len(f0), round(dur_s fs))`` float64."""
    f0 = np.atleast_1d(np.asarray(f0, float))
    h = np.broadcast_to(np.asarray(harmonic, int), f0.shape)
    m = np.broadcast_to(np.asarray(mistuning_pct, float), f0.shape) / 100.0
    n = int(round(dur_s * fs))
    t = np.arange(n) / fs
    k = np.arange(1, int(n_harmonics) + 1)
    fk = f0[:, None] * k[None, :] * np.where(k[None, :] == h[:, None], 1.0 + m[:, None], 1.0)
    if (fk >= 0.95 * fs / 2).any():
        raise ValueError(f"mistuned_complex: components up to {fk.max():.0f} Hz exceed 0.95 x Nyquist "
                         f"({0.95 * fs / 2:.0f} Hz)")
    x = _sum_of_sines(np.ones_like(fk), fk, np.zeros_like(fk), t)
    x *= ramp(n, int(ramp_s * fs), "cos2")
    return set_level(x, level_dbfs)


# Shackleton & Carlyon (1994) alternating-phase complexes:
#: Which parameter of the alternating-phase experiment comes from where (written into its summary).
SHACKLETON1994_DESIGN: dict[str, str] = {
    "conditions": "Shackleton & Carlyon (1994): harmonics of F0 62.5-250 Hz band-pass filtered into LOW "
                  "(125-625 Hz), MID (1375-1875 Hz) or HIGH (3900-5400 Hz); odd harmonics in sine, even in "
                  "cosine phase; listeners matched the pitch to a sine-phase complex and the share of matches "
                  "at 2 F0 minus at F0 (%) is reported, mean of 4 listeners as digitised by Saddler et al. (2021)",
    "ours": "16-kHz sampling, 150 ms, 10-ms raised-cosine ramps; harmonic amplitudes from a 4th-order Butterworth "
            "band-pass with the band's edges; each condition at n_items F0s log-uniform within +-f0_jitter_pct "
            "of the bin centre, in fresh threshold-equalising noise at snr_db; interval 1 is the sine-phase "
            "complex in the same band, interval 2 the alternating-phase one; an F0 estimate of interval 2 "
            "counts as a match at F0 when it lies within half an octave of F0 (log2(estimate / F0) in "
            "[-0.5, 0.5)), at 2 F0 when within half an octave of 2 F0 ([0.5, 1.5)), and as neither otherwise "
            "(reported as alt_phase_neither_percent)",
}


# Oxenham, Bernstein & Penagos (2004) transposed tones:
#: Which parameter of the transposed-tone experiment comes from where (written into its summary).
OXENHAM2004_DESIGN: dict[str, str] = {
    "conditions": "Oxenham, Bernstein & Penagos (2004): F0 difference limens for pure tones at 55-320 Hz and for "
                  "transposed tones with those modulation rates on carriers of 4, 6.35 and 10.08 kHz; listeners' "
                  "means as digitised by Saddler et al. (2021)",
    "transposed_tone": "a half-wave rectified sinusoid at the rate, low-passed at 0.2 x the carrier (Bernstein & "
                       "Trahiotis 2002), multiplied by the carrier: the high-frequency place receives the temporal "
                       "envelope that a low pure tone gives the low place",
    "ours": "16-kHz sampling, so the 10.08-kHz carrier cannot be made and is left out; the 6.35-kHz carrier's "
            "sidebands reach 7.6 kHz, above the top centre frequency of model=pitchnet's filterbank (6 kHz); "
            "the low-pass is an ideal (FFT) one; 200 ms, 10-ms raised-cosine ramps; each interval in fresh "
            "threshold-equalising noise at snr_db; method of constant stimuli as in experiment=pitch",
}


def transposed_tone(rate_hz: np.ndarray, carrier_hz: np.ndarray | float, fs: int = PITCH_FS, dur_s: float = 0.2,
                    ramp_s: float = 0.01, level_dbfs: float = -20.0) -> np.ndarray:
    """Transposed tones ``(len(rate_hz), n)`` (see :data:`OXENHAM2004_DESIGN`): a half-wave
    rectified sine at ``rate_hz``, low-passed (ideal, FFT) at 0.2 ``carrier_hz``, times a sine
    carrier at ``carrier_hz``; ramps, RMS ``level_dbfs``."""
    rate = np.atleast_1d(np.asarray(rate_hz, float))
    carrier = np.broadcast_to(np.asarray(carrier_hz, float), rate.shape)
    if (carrier * 1.2 >= fs / 2).any():
        raise ValueError(f"transposed_tone: carrier {carrier.max():g} Hz with its 0.2 x carrier sidebands does not "
                         f"fit under the Nyquist frequency ({fs / 2:g} Hz)")
    n = int(round(dur_s * fs))
    t = np.arange(n) / fs
    env = np.maximum(np.sin(2 * np.pi * rate[:, None] * t[None, :]), 0.0)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    env = np.fft.irfft(np.fft.rfft(env, axis=1) * (f[None, :] <= 0.2 * carrier[:, None]), n, axis=1)
    x = env * np.sin(2 * np.pi * carrier[:, None] * t[None, :])
    x *= ramp(n, int(ramp_s * fs), "cos2")
    return set_level(x, level_dbfs)
