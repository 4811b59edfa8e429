"""The decoded-stimulus cache: an image set decoded once to an observer's input form.

Decoding PNG files competes with the network for the cores (on a GPU it is the whole cost), so
each stimulus set is decoded once per input form, i.e. per (set content, input size, resize
interpolation, Pillow version), into one uint8 array ``(N, 3, H, W)`` in manifest order, stored
as a ``.npy`` file under ``$PSYCHOBENCH_CACHE/decoded/`` with its sha256 beside it
(:func:`psychobench.data.io.seal`), and read back memory-mapped.  Every read checks the digest
first (once per process and file state); a changed file is warned about, removed and decoded
again.  Normalisation stays in the observer (batched, on the prediction device), so the cache is
4x smaller than float input and independent of the network's mean and std.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from psychobench.data.io import atomic_path, cache_dir, check_seal, seal, sha256_json

log = logging.getLogger("psychobench")

#: Bump when the decoded form changes (the key changes with it).
FORMAT_VERSION = 1

_VERIFIED: dict[str, tuple[int, int, int]] = {}       # path -> (inode, size, mtime_ns) checked here
_LOCK = threading.Lock()


def decoded_key(stimuli, pre) -> str:
    """The content key of a set's decoded form: the set's content (ids, file checksums,
    conditions, categories), the input size and interpolation, and Pillow's version (its resize
    filters define the pixels)."""
    import PIL

    return sha256_json({"v": FORMAT_VERSION, "set": stimuli.content_key(), "size": list(pre.size),
                        "interpolation": pre.interpolation, "pillow": PIL.__version__})


def decoded_path(key: str) -> Path:
    return cache_dir() / "decoded" / key[:2] / f"{key}.npy"


def _state(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def _trusted(path: Path) -> bool:
    """Whether ``path`` holds a sealed decoded set whose bytes match its seal (hashed once per
    process and file state: a file replaced or rewritten since is hashed again)."""
    with _LOCK:
        if not path.is_file():
            return False
        if _VERIFIED.get(str(path)) == _state(path):
            return True
        if not check_seal(path, "decoded stimulus set"):
            _VERIFIED.pop(str(path), None)
            return False
        _VERIFIED[str(path)] = _state(path)
        return True


def _workers(workers: int | None) -> int:
    if workers is not None:
        return max(1, int(workers))
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, n))


def decode_set(stimuli, pre, *, workers: int | None = None, progress: bool = True) -> np.ndarray:
    """The set's images as the observer takes them: a read-only memory-mapped uint8 array
    ``(N, 3, H, W)`` in manifest order, decoded now (on ``workers`` threads; Pillow releases the
    GIL while it decodes and resizes) or read back from the cache after its digest checked."""
    from psychobench.lightning.data import read_pixels

    key = decoded_key(stimuli, pre)
    path = decoded_path(key)
    n = len(stimuli.manifest)
    h, w = pre.size
    if _trusted(path):
        arr = np.load(path, mmap_mode="r")
        if arr.shape == (n, 3, h, w) and arr.dtype == np.uint8:
            return arr
        log.warning("%s: decoded set has shape %s, expected %s; decoding again", path, arr.shape, (n, 3, h, w))
        del arr
        path.unlink(missing_ok=True)
    paths = [str(p) for p in stimuli.paths()]
    path.parent.mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, 3, h, w))

        def one(i: int, out=out) -> None:
            out[i] = read_pixels(paths[i], pre).numpy()

        with ThreadPoolExecutor(max_workers=_workers(workers)) as pool:
            for _ in tqdm(pool.map(one, range(n)), total=n, desc=f"decode {stimuli.name}",
                          disable=not progress or n < 64, leave=False):
                pass
        out.flush()
        del out
    seal(path)
    with _LOCK:
        _VERIFIED[str(path)] = _state(path)
    return np.load(path, mmap_mode="r")
