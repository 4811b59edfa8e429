"""Observer answers cached by content.

The key of a cached answer table is the hash of everything that determines it: the observer's
identity (architecture, weights digest, preprocessing, readout bound to the answer space), the
prediction settings that change numerics (precision), the answer space and the stimulus set's
content (ids, conditions, categories and file checksums, or every sample of a waveform set).  A
run that finds its key does no forward pass; an interrupted sweep resumes with what is missing.
Entries are written atomically and sealed with their sha256 (``KEY.parquet.sha256``); an entry
whose bytes no longer match is warned about, removed and computed again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from psychobench.data.io import cache_dir, check_seal, sha256_json, write_sealed

FORMAT_VERSION = 2


def answer_key(observer: dict, prediction: dict, answers: dict, stimuli: str) -> str:
    return sha256_json({"v": FORMAT_VERSION, "observer": observer, "prediction": prediction,
                        "answers": answers, "stimuli": stimuli})


def _path(key: str) -> Path:
    return cache_dir() / "answers" / key[:2] / f"{key}.parquet"


def load(key: str, n: int) -> pd.DataFrame | None:
    """The cached answers under ``key`` (``n`` rows expected), or None (absent, or its bytes
    did not match its seal: warned and removed)."""
    p = _path(key)
    if not check_seal(p, "cached answer table"):
        return None
    table = pd.read_parquet(p)
    if len(table) != n or "response" not in table.columns:      # sealed but not ours: a format change
        p.unlink(missing_ok=True)
        return None
    return table


def store(key: str, table: pd.DataFrame) -> Path:
    return write_sealed(_path(key), lambda tmp: table.to_parquet(tmp, index=False))
