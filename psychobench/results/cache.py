"""Model answers cached by content.

The key of a cached trial table is the hash of everything that determines it: the network's
identity (architecture, weights digest, preprocessing), the decision rule, the stimulus set's
content (ids and file checksums) and the subject name.  A run that finds its key does no forward
pass; an interrupted sweep resumes with what is missing.  Entries are written atomically.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from psychobench.data.io import atomic_path, cache_dir

FORMAT_VERSION = 1


def answer_key(net_identity: dict, rule_identity: dict, stimuli_key: str, subject: str) -> str:
    blob = json.dumps({"v": FORMAT_VERSION, "net": net_identity, "rule": rule_identity,
                       "stimuli": stimuli_key, "subject": subject}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _path(key: str) -> Path:
    return cache_dir() / "answers" / key[:2] / f"{key}.parquet"


def load(key: str) -> pd.DataFrame | None:
    p = _path(key)
    if not p.is_file():
        return None
    try:
        return pd.read_parquet(p)
    except Exception:  # a damaged entry is recomputed, never trusted
        p.unlink(missing_ok=True)
        return None


def store(key: str, table: pd.DataFrame) -> Path:
    p = _path(key)
    with atomic_path(p) as tmp:
        table.to_parquet(tmp, index=False)
    return p
