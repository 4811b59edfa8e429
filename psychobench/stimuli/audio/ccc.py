"""English Consistent Confusion Corpus stimuli, rebuilt exactly (Marxer et al. 2016).

The recipe of the corpus's ``confusionWavs/ReadMe.txt`` (see also the data mirror's
``sources/english-ccc.md``): a token's speech channel, with a segment of one of the three
continuous maskers cut at the token's recorded onset, scaled to the token's SNR over the target
and ramped, summed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from psychobench.data.listeners import CCC_DATASET, CCC_MASKERS, fetch_file

from .signal import AudioError, load_audio, ramp

CCC_FS = 16000
CCC_PAD = 3200          # 200 ms of lead/lag silence around each CCC target, samples at 16 kHz
CCC_RAMP_S = 0.020      # 20-ms linear on/off ramps (confusionWavs/ReadMe.txt)


def load_ccc_masker(name: str) -> np.ndarray:
    """One of the three continuous CCC maskers (``SSN``, ``BMN3``, ``BAB4``), float64 at 16 kHz."""
    if name not in CCC_MASKERS:
        raise ValueError(f"unknown CCC masker {name!r}; known: {CCC_MASKERS}")
    return load_audio(fetch_file(CCC_DATASET, f"maskerWavs/{name}.wav"), CCC_FS, on_rate_mismatch="error")


def load_ccc_speech(ids: np.ndarray | list[int], folder: str | os.PathLike) -> list[np.ndarray]:
    """Speech channel of CCC tokens from a user folder, float64 at 16 kHz.

    The folder holds either the upstream stereo stimuli ``T_<ID>.wav`` (left channel = speech)
    or speech-only files ``T_<ID>_speech.flac`` / ``.wav``.  Errors name the missing file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: CCC speech folder does not exist")
    out = []
    for i in ids:  # one file per token
        for name, ch in ((f"T_{i}_speech.flac", None), (f"T_{i}_speech.wav", None), (f"T_{i}.wav", 0)):
            f = folder / name
            if f.is_file():
                out.append(load_audio(f, CCC_FS, channel=ch, on_rate_mismatch="error"))
                break
        else:
            raise FileNotFoundError(f"{folder}: no T_{i}.wav or T_{i}_speech.flac for CCC token {i}")
    return out


def ccc_mix(speech: list[np.ndarray], table: pd.DataFrame, maskers: dict[str, np.ndarray],
            snr_db: np.ndarray | float | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Rebuild CCC stimuli (recipe of confusionWavs/ReadMe.txt, sources/english-ccc.md).

    masker segment = masker[Onset - 1 - 3200 : + len(speech)], scaled so that the SNR over the
    target (samples 3200 .. 3200 + Length of the speech) is ``snr_db`` (default: the recorded SNR
    column); 20-ms linear ramps on the masker (the speech file already has them); summed.
    Returns ``(mixtures, realised SNR in dB)``; lengths differ between tokens.
    """
    snr = table["SNR"].to_numpy(float) if snr_db is None else np.broadcast_to(np.asarray(snr_db, float), (len(table),))
    mixes, real = [], np.empty(len(table))
    for k, (s, onset, length, mname) in enumerate(zip(speech, table["Onset"], table["Length"], table["Masker"])):
        start = int(onset) - 1 - CCC_PAD
        m = maskers[mname][start:start + len(s)]
        if start < 0 or len(m) != len(s):
            raise AudioError(f"CCC token row {k}: masker {mname} segment {start}..{start + len(s)} out of range")
        reg = slice(CCC_PAD, CCC_PAD + int(length))
        ps, pm = np.sum(s[reg] ** 2), np.sum(m[reg] ** 2)
        m = m * (np.sqrt(ps / pm / 10 ** (snr[k] / 10)) if np.isfinite(snr[k]) else 0.0)
        real[k] = 10 * np.log10(ps / np.sum(m[reg] ** 2)) if np.isfinite(snr[k]) else np.inf
        m = m * ramp(len(m), int(CCC_RAMP_S * CCC_FS), "linear")
        mixes.append(s + m)
    return mixes, real


