"""Shared test setup: the data mirror and a per-session cache.

Tests reach real data only through psychobench's own download code, pointed at the mirror of
upstream URL space that lies beside the repository (``../shared/data/mirror``), or at
``$PSYCHOBENCH_MIRROR`` when set.  The cache is a fresh folder per test session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("PSYCHOBENCH_MIRROR") or REPO.parent / "shared" / "data" / "mirror")
_CACHE = Path(tempfile.mkdtemp(prefix="psychobench-test-cache-"))


def pytest_configure(config):
    if MIRROR.is_dir():
        os.environ["PSYCHOBENCH_MIRROR"] = str(MIRROR)
    os.environ["PSYCHOBENCH_CACHE"] = str(_CACHE)


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not MIRROR.is_dir():
        pytest.fail(f"no data mirror at {MIRROR}; set PSYCHOBENCH_MIRROR")
    return MIRROR


@pytest.fixture(scope="session")
def humans(mirror):
    """All 17 model-vs-human human trial tables."""
    from psychobench.experiments import mvh

    return mvh.load_humans()


@pytest.fixture(scope="session")
def resnet50(mirror):
    """model-vs-human's ResNet-50 trial tables on the 17 data sets."""
    from psychobench.data import registry
    from psychobench.data.trials import load_model_trials
    from psychobench.experiments import mvh

    return load_model_trials(registry.fetch_dataset("reference/resnet50", progress=False), kinds=mvh.kinds())[1]


@pytest.fixture(scope="module")
def edge40(mirror):
    """Every fourth image of the texture-shape edge set (40 images), from the mirror."""
    from psychobench.stimuli.manifest import StimulusSet
    from psychobench.stimuli.sets import texture_shape

    full = texture_shape("edge")
    return StimulusSet("edge40", full.root, full.manifest.iloc[::4].reset_index(drop=True))


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A fresh user cache for one test, with no decoded set taken as already verified."""
    from psychobench.stimuli import decoded

    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    decoded._VERIFIED.clear()
    return tmp_path / "cache"
