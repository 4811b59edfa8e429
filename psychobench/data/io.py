"""Files in and out, once for the whole house: the user cache root, atomic writes, digests and
strict JSON.

Every file psychobench writes appears atomically: it is written to a hidden temporary name
beside its destination and renamed into place only when complete, so a killed process never
leaves a half-written file under a final name.  Digests are sha256 hex strings.  JSON is
written strictly: NaN and infinities become ``null`` (``json.dumps`` would write the non-standard
``NaN``) and numpy scalars become Python numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def cache_dir() -> Path:
    """Root of the user cache: ``$PSYCHOBENCH_CACHE`` (an empty value counts as unset), else
    ``~/.cache/psychobench``; created on demand."""
    root = Path(os.environ.get("PSYCHOBENCH_CACHE", "").strip() or Path.home() / ".cache" / "psychobench")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Give a finished temporary file normal permissions and rename it to ``dest`` (atomic)."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, dest)
    return Path(dest)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to (by any library); renamed to ``path`` when
    the block ends, removed if it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_frame(df, path: str | os.PathLike, **kw) -> Path:
    """A DataFrame as ``.parquet`` or ``.csv`` (by the suffix of ``path``), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False, **kw)
        elif path.suffix == ".csv":
            df.to_csv(tmp, index=False, **kw)
        else:
            raise ValueError(f"{path}: write tables as .parquet or .csv")
    return path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    """sha256 of an object's canonical JSON (sorted keys; values that JSON lacks as ``str``)."""
    return sha256_bytes(json.dumps(obj, sort_keys=True, default=str).encode())


def strict(o: Any) -> Any:
    """``o`` with NaN/inf as None, numpy scalars and arrays as Python values, tuples as lists."""
    if isinstance(o, dict):
        return {str(k): strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [strict(v) for v in o]
    if hasattr(o, "tolist") and not isinstance(o, (str, bytes)):   # numpy scalar or array
        return strict(o.tolist())
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def dumps_strict(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (see :func:`strict`)."""
    return json.dumps(strict(obj), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """``obj`` as strict JSON, atomically."""
    return atomic_write_text(path, dumps_strict(obj) + "\n")


# ------------------------------------------------------------------------- sealed cache entries

class IntegrityWarning(UserWarning):
    """A cached file did not match its stored digest; it is fetched or computed again."""


def seal_path(path: str | os.PathLike) -> Path:
    return Path(f"{path}.sha256")


def seal(path: str | os.PathLike) -> str:
    """Store the sha256 of a finished cache entry beside it (``PATH.sha256``, atomically);
    returns the digest.  Write the entry first: an entry without its seal is not trusted."""
    digest = sha256_file(path)
    atomic_write_text(seal_path(path), f"{digest}  {Path(path).stat().st_size}\n")
    return digest


def check_seal(path: str | os.PathLike, what: str = "cache entry") -> bool:
    """Whether ``path`` exists and its bytes match its seal.  A mismatch (or a missing seal) is
    warned about, naming the file, and both are removed so that the caller recomputes; a missing
    entry returns False quietly."""
    import logging
    import warnings

    path = Path(path)
    if not path.is_file():
        return False
    sp = seal_path(path)
    try:
        want = sp.read_text().split()[0]
    except (OSError, IndexError):
        want = None
    if want is not None and sha256_file(path) == want:
        return True
    msg = (f"{path}: {what} has no stored digest" if want is None else
           f"{path}: {what} does not match its stored digest (changed on disk)") + "; computing it again"
    logging.getLogger("psychobench").warning(msg)
    warnings.warn(msg, IntegrityWarning, stacklevel=2)
    path.unlink(missing_ok=True)
    sp.unlink(missing_ok=True)
    return False


def write_sealed(path: str | os.PathLike, write) -> Path:
    """Write a cache entry with ``write(tmp_path)`` atomically, then its seal."""
    path = Path(path)
    with atomic_path(path) as tmp:
        write(tmp)
    seal(path)
    return path
