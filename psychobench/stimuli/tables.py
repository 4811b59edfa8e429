"""The two data tables the original manipulation code reads, fetched through the download registry.

* :func:`mean_power_spectrum`: ``code/mean_power_spectrum_grey.npy`` of Geirhos et al. (2018)
  (rgeirhos/generalisation-humans-DNNs): the 224x224 mean amplitude spectrum
  ``|fftshift(fft2(Y))|`` that power equalisation imposes on every image (its DC term 22803.9
  gives every output the mean 0.4545 before clipping).
* :func:`gamma_table`: ``code/x_gamma_function.npy``: the 256-entry measured monitor table
  ``g[k]`` (luminance fraction of 8-bit value k) that false colour linearises and re-encodes with.

Both files are pinned by sha256 in ``psychobench/data/registry_files.tsv`` (data set
``tables/geirhos2018-manipulations``) and fetched with :func:`psychobench.data.registry.fetch_dataset`
(which honours ``$PSYCHOBENCH_MIRROR``).  With them both manipulations reproduce the human
experiments' stimuli pixel for pixel; the loaded arrays are read-only.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from psychobench.data import registry
from psychobench.data.registry import MANIPULATION_TABLES
from psychobench.errors import PsychobenchError

SPECTRUM_FILE = "mean_power_spectrum_grey.npy"
GAMMA_FILE = "x_gamma_function.npy"
#: Side of the images the mean spectrum belongs to (the 224x224 stimuli).
SPECTRUM_SHAPE = (224, 224)


class TableError(PsychobenchError, ValueError):
    """A manipulation table has the wrong shape, type or values."""


def table_digests() -> dict[str, str]:
    """Pinned sha256 of each table file (part of generated sets' cache keys)."""
    return {e.relpath: e.sha256 for e in registry.files_of()[MANIPULATION_TABLES]}


def _load(rel: str) -> tuple[Path, np.ndarray]:
    path = registry.fetch_dataset(MANIPULATION_TABLES, progress=False, only=rel) / rel
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise TableError(f"{path}: unreadable .npy table ({e})") from None
    if a.dtype != np.float64:
        raise TableError(f"{path}: expected float64 values; got {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise TableError(f"{path}: non-finite values")
    return path, a


@cache
def mean_power_spectrum() -> np.ndarray:
    """The 224x224 float64 mean amplitude spectrum (fftshift layout, DC at [112, 112])."""
    path, a = _load(SPECTRUM_FILE)
    if a.shape != SPECTRUM_SHAPE:
        raise TableError(f"{path}: expected shape {SPECTRUM_SHAPE}; got {a.shape}")
    if np.any(a < 0):
        raise TableError(f"{path}: negative amplitudes")
    a.setflags(write=False)
    return a


@cache
def gamma_table() -> np.ndarray:
    """The 256-entry float64 monitor table ``g[k]`` (the file stores it as 256x1)."""
    path, a = _load(GAMMA_FILE)
    if a.shape not in ((256, 1), (256,)):
        raise TableError(f"{path}: expected shape (256, 1); got {a.shape}")
    g = a.reshape(256).copy()
    if g[0] != 0 or g[-1] != 1 or np.any(np.diff(g) <= 0):
        raise TableError(f"{path}: a monitor table must rise strictly from 0 to 1")
    g.setflags(write=False)
    return g
