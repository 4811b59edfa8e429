"""A stimulus set held in memory: sounds made on the fly (words in noise, pitch intervals).

:class:`WaveformSet` is the hearing counterpart of :class:`~psychobench.stimuli.manifest.StimulusSet`:
a manifest table (``stimulus_id, condition, category`` and any columns the experiment records,
one row per stimulus) and the waveforms in the same order: an array ``(n, samples)``, ``(n,
intervals, samples)`` for two-interval trials, or a list of 1-D arrays of different lengths;
float32 at ``fs`` Hz.  Its content key hashes the manifest and every sample, so answers cached
under it are answers to exactly these sounds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from psychobench.stimuli.manifest import ManifestError


@dataclass(frozen=True, eq=False)
class WaveformSet:
    name: str
    manifest: pd.DataFrame
    waves: np.ndarray | list
    fs: int

    def __post_init__(self):
        n = len(self.waves)
        if n != len(self.manifest):
            raise ManifestError(f"{self.name}: {n} waveforms for {len(self.manifest)} manifest rows")
        for col in ("stimulus_id", "condition", "category"):
            if col not in self.manifest.columns:
                raise ManifestError(f"{self.name}: manifest lacks column {col!r}")
        dup = self.manifest["stimulus_id"].duplicated()
        if dup.any():
            raise ManifestError(f"{self.name}: duplicate stimulus id {self.manifest['stimulus_id'][dup].iloc[0]!r}")

    def __len__(self) -> int:
        return len(self.manifest)

    def wave(self, i: int) -> np.ndarray:
        return np.asarray(self.waves[i], dtype=np.float32)

    def take(self, start: int, stop: int) -> "WaveformSet":
        """Rows ``start:stop`` of the set (manifest and waveforms), under the same name."""
        return WaveformSet(self.name, self.manifest.iloc[start:stop].reset_index(drop=True),
                           self.waves[start:stop], self.fs)

    def content_key(self) -> str:
        """sha256 of the manifest's id, condition and category columns, the sample rate and the
        bytes of every waveform (float32)."""
        h = hashlib.sha256(f"fs={int(self.fs)}\n".encode())
        m = self.manifest
        for row in zip(m["stimulus_id"], m["condition"], m["category"]):
            h.update(("\t".join(map(str, row)) + "\n").encode())
        if isinstance(self.waves, np.ndarray):
            h.update(str(self.waves.shape).encode())
            h.update(np.ascontiguousarray(self.waves, dtype=np.float32).tobytes())
        else:
            for w in self.waves:
                a = np.ascontiguousarray(w, dtype=np.float32)
                h.update(str(a.shape).encode())
                h.update(a.tobytes())
        return h.hexdigest()
