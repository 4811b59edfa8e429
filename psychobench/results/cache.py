"""Observer answers cached by content.

The key of a cached answer table is the hash of everything that determines it: the observer's
identity (architecture, weights digest, preprocessing, readout bound to the answer space), the
prediction settings that change numerics (precision), the answer space and the stimulus set's
content (ids, conditions, categories and file checksums, or every sample of a waveform set).  A
run that finds its key does no forward pass; an interrupted sweep resumes with what is missing.
Entries are written atomically and sealed with their sha256 (``KEY.parquet.sha256``); an entry
whose bytes no longer match is warned about, removed and computed again.  A long prediction
is also checkpointed (``trainer.checkpoint_every`` stimuli at a time, sealed the same way under
``answers/checkpoints/``): a run killed part way resumes at its first missing checkpoint, and
the checkpoints are removed once the whole table is stored.

Features (for fitted readouts) are cached the same way, under the observer's feature identity
(architecture, weights, preprocessing, layer, pooling: not the readout), the precision and the
stimulus set's content: the features of a set are computed once and serve every experiment and
every readout that uses the set (e.g. the edge images as an experiment and as fitting stimuli).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def _checkpoint_path(key: str, start: int, stop: int) -> Path:
    return cache_dir() / "answers" / "checkpoints" / key[:2] / f"{key}.{start}-{stop}.parquet"


def load_checkpoint(key: str, start: int, stop: int) -> pd.DataFrame | None:
    """The answers to rows ``start:stop`` of the set whose whole table is cached under ``key``,
    as one checkpoint of an unfinished prediction, or None (absent, or its bytes did not match
    its seal: warned and removed)."""
    p = _checkpoint_path(key, start, stop)
    if not check_seal(p, "answer checkpoint"):
        return None
    table = pd.read_parquet(p)
    if len(table) != stop - start or "response" not in table.columns:
        p.unlink(missing_ok=True)
        return None
    return table


def store_checkpoint(key: str, start: int, stop: int, table: pd.DataFrame) -> Path:
    return write_sealed(_checkpoint_path(key, start, stop), lambda tmp: table.to_parquet(tmp, index=False))


def drop_checkpoints(key: str, n: int, chunk: int) -> None:
    """Remove the checkpoints of ``key`` once its whole table is stored."""
    from psychobench.data.io import seal_path

    for start in range(0, n, chunk):
        p = _checkpoint_path(key, start, min(start + chunk, n))
        p.unlink(missing_ok=True)
        seal_path(p).unlink(missing_ok=True)


def store_info(key: str, info: dict) -> Path:
    """What went with the answers under ``key`` (how a fitted readout was fitted), as sealed JSON."""
    from psychobench.data.io import dumps_strict

    return write_sealed(_path(key).with_suffix(".json"),
                        lambda tmp: Path(tmp).write_text(dumps_strict(info) + "\n"))


def load_info(key: str) -> dict | None:
    import json

    p = _path(key).with_suffix(".json")
    if not check_seal(p, "cached readout fit"):
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        p.unlink(missing_ok=True)
        return None


def feature_key(observer: dict, prediction: dict, stimuli: str) -> str:
    return sha256_json({"v": FORMAT_VERSION, "features": observer, "prediction": prediction, "stimuli": stimuli})


def _feature_path(key: str) -> Path:
    return cache_dir() / "features" / key[:2] / f"{key}.npy"


def load_features(key: str, n: int) -> np.ndarray | None:
    """The cached ``(n, features)`` matrix under ``key``, or None (absent, or its bytes did not
    match its seal: warned and removed)."""
    p = _feature_path(key)
    if not check_seal(p, "cached feature matrix"):
        return None
    try:
        x = np.load(p, allow_pickle=False)
    except Exception:  # sealed but unreadable (a format change): recomputed, never trusted
        p.unlink(missing_ok=True)
        return None
    if x.ndim != 2 or len(x) != n:
        p.unlink(missing_ok=True)
        return None
    return x


def store_features(key: str, x: np.ndarray) -> Path:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(x, dtype=np.float32), allow_pickle=False)
    return write_sealed(_feature_path(key), write)
