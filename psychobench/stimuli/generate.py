"""Generate parametric stimulus sets (model-vs-human manipulations of base images), cached.

``make_set("uniform-noise", base=..., seed=0)`` applies every condition of the set's recipe to
every base image, writes 8-bit PNGs named as the human experiments named theirs
(``NNNN_EXP_dnn_COND_CAT_K_SOURCE.png`` under ``dnn/session-1/``, model-vs-human's release layout)
and a manifest, and returns a :class:`~psychobench.stimuli.manifest.StimulusSet`.  Results are
cached in a content-addressed folder (recipe, base content, seed, code version): a second call
returns the cached set; the folder is written under a temporary name and renamed when complete
(manifest last), so an interrupted run leaves nothing that looks finished.

Randomness: each stimulus draws from its own ``numpy.random.default_rng`` seeded with
``(seed, sha256(source_id | condition))``, so a stimulus does not depend on which other images
are in the set; the same seed regenerates the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import manipulations as M
from .bases import DEFAULT_BASE, BaseSet, load_base
from .images import StimulusError, encode_png
from .levels import SetSpec, get_set, numeric_level, parse_level
from psychobench.data.io import sha256_bytes

from .manifest import (StimulusSet, cached_set, output_folder, read_manifest, staging,
                       write_manifest)
from .recipes import Recipe, load_recipe

#: Bumped whenever generated pixels change for the same recipe, base and seed.  2: power
#: equalisation and false colour use the experiments' data tables (:mod:`.tables`).
GENERATOR_VERSION = "2"
#: Recipe parameters that choose inputs of the generator rather than per-stimulus parameters.
_GENERATOR_PARAMS = ("gamma_table", "on_grey", "spectrum")
#: ``params.spectrum`` of power-equalisation recipes: the human stimuli's table (default) or,
#: as a fallback, the mean amplitude spectrum of the base images.
SPECTRUM_CHOICES = ("geirhos2018", "base")
BATCH = 64


def stimulus_rng(seed: int, source_id: str, condition: str) -> np.random.Generator:
    """The generator of one stimulus: depends on the seed, the source image and the condition."""
    k = int.from_bytes(hashlib.sha256(f"{source_id}|{condition}".encode()).digest()[:8], "little")
    return np.random.default_rng([int(seed), k])


def apply_level(spec: SetSpec, params: dict[str, Any], x: np.ndarray, rngs=None, *,
                mean_amplitude: np.ndarray | None = None, gamma: np.ndarray | None = None) -> np.ndarray:
    """Apply one condition to a batch ``x`` (N, H, W[, 3]) in [0, 1] -> float (N, H, W[, 3]).

    ``rngs``: one Generator per image (noise, phase, eidolon); ``mean_amplitude``: target
    spectrum (H, W) for power equalisation (default: the experiments' mean spectrum,
    :func:`.tables.mean_power_spectrum`); ``gamma``: monitor table for false colour (default:
    the measured one, :func:`.tables.gamma_table`).
    """
    return spec.make(x, params, rngs, {"mean_amplitude": mean_amplitude, "gamma": gamma})


def default_workers() -> int:
    """Threads for stimulus generation: the cores this process may use (at most 8)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def ordered_map(fn: Callable, jobs: Iterable, workers: int | None = None) -> Iterator:
    """``map(fn, jobs)`` on ``workers`` threads, results in job order, at most ``2 * workers``
    jobs in flight (bounded memory).  numpy, scipy.ndimage, torch and zlib release the GIL in
    their inner loops, so the manipulations scale with threads; each job's randomness comes from
    its own generators, so results do not depend on ``workers``."""
    workers = default_workers() if workers is None else int(workers)
    if workers <= 1:
        yield from map(fn, jobs)
        return
    with ThreadPoolExecutor(workers) as ex:
        window: deque = deque()
        for job in jobs:
            window.append(ex.submit(fn, job))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def iter_levels(spec: SetSpec, levels: list[tuple[str, str, dict]], x: np.ndarray,
                source_ids: list[str], seed: int, *, extra_params: dict | None = None,
                mean_amplitude: np.ndarray | None = None, gamma: np.ndarray | None = None,
                quantise: str = "truncate", batch: int = BATCH,
                workers: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(level index j, batch start s, uint8 images)`` for every level of ``levels``
    (``parse_level`` triples) and every batch of ``x`` (N, H, W[, 3]) in [0, 1], level after
    level, computed on ``workers`` threads.  Image ``i``'s randomness is
    :func:`stimulus_rng` ``(seed, source_ids[i], condition)``."""
    if len(source_ids) != len(x):
        raise StimulusError(f"{len(source_ids)} source ids for {len(x)} images")
    extra = dict(extra_params or {})

    def job(js: tuple[int, int]) -> tuple[int, int, np.ndarray]:
        j, s = js
        _, canon, params = levels[j]
        idx = range(s, min(s + batch, len(x)))
        rngs = [stimulus_rng(seed, source_ids[i], canon) for i in idx]
        y = apply_level(spec, {**params, **extra}, x[s:s + len(idx)], rngs,
                        mean_amplitude=mean_amplitude, gamma=gamma)
        return j, s, M.to_uint8(y, quantise)

    jobs = ((j, s) for j in range(len(levels)) for s in range(0, len(x), batch))
    yield from ordered_map(job, jobs, workers)


def imagename(index: int, spec: SetSpec, raw: str, category: str, source_id: str) -> str:
    """``NNNN_EXP_dnn_COND_CAT_K_SOURCE.png`` (1-based running index, raw condition string)."""
    return f"{index:04d}_{spec.code}_dnn_{raw}_{category}_{spec.tag}_{source_id}.png"


def _check_base(spec: SetSpec, base: BaseSet, on_grey: str = "error") -> BaseSet:
    """Check sizes (all equal) and colour; ``on_grey='skip'`` drops grey images of colour sets."""
    if spec.colour:
        grey = [b for b in base.images if b.image.ndim != 3]
        if grey and on_grey != "skip":
            raise StimulusError(f"{grey[0].origin}: greyscale image, but {spec.name} needs colour "
                                "(RGB) images")
        if grey:
            warnings.warn(f"{spec.name}: skipping {len(grey)} greyscale base image(s): "
                          + ", ".join(b.source_id for b in grey), stacklevel=3)
            base = BaseSet(base.name, tuple(b for b in base.images if b.image.ndim == 3))
    if not base.images:
        raise StimulusError(f"{base.name}: no usable base images for {spec.name}")
    shapes = {b.image.shape[:2] for b in base.images}
    if len(shapes) > 1:
        b = next(b for b in base.images if b.image.shape[:2] != base.images[0].image.shape[:2])
        raise StimulusError(f"{b.origin}: wrong size {b.image.shape[1]}x{b.image.shape[0]}; the other "
                            f"base images are {base.images[0].image.shape[1]}x{base.images[0].image.shape[0]}")
    return base


def _as_rgb_float(imgs: list[np.ndarray]) -> np.ndarray:
    return np.stack([np.repeat(i[..., None], 3, 2) if i.ndim == 2 else i for i in imgs]) / 255.0


def generate(recipe: Recipe, base: BaseSet, seed: int, out: Path, *, quantise: str = "truncate",
             progress: bool = False, workers: int | None = None) -> tuple[pd.DataFrame, str]:
    """Write the stimuli of ``recipe`` x ``base`` into ``out`` (an empty folder), computing and
    encoding on ``workers`` threads (default :func:`default_workers`; output does not depend on it).

    Returns the manifest (paths relative to ``out``) and the pixel key (sha256 over the
    condition, id and decoded uint8 pixels of every stimulus: independent of the PNG encoder).
    """
    spec = get_set(recipe.manipulation)
    levels = [parse_level(spec, c) for c in recipe.conditions]
    x = _as_rgb_float([b.image for b in base.images])
    if spec.grey_input:
        x = M.grey(x)                  # once for all levels (the manipulations start from Y)
    mean_amp = M.mean_amplitude_spectrum(x) if _spectrum_choice(recipe, spec) == "base" else None
    gamma = np.asarray(recipe.params["gamma_table"]) if "gamma_table" in recipe.params else None
    sub = out / "dnn" / "session-1"
    sub.mkdir(parents=True, exist_ok=True)
    rows = []
    pix = hashlib.sha256()
    order = [(i, j) for i in range(len(base.images)) for j in range(len(levels))]
    names = {}
    for k, (i, j) in enumerate(order, start=1):
        b, (raw, canon, params) = base.images[i], levels[j]
        names[(i, j)] = imagename(k, spec, raw, b.category, b.source_id)
    extra = {k: v for k, v in recipe.params.items() if k not in _GENERATOR_PARAMS}
    ids = [b.source_id for b in base.images]
    n_batches = -(-len(ids) // BATCH)
    it = iter_levels(spec, levels, x, ids, seed, extra_params=extra, mean_amplitude=mean_amp,
                     gamma=gamma, quantise=quantise, batch=BATCH, workers=workers)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, total=len(levels) * n_batches, desc=f"make {recipe.name}", unit="batch")

    def encode(job: tuple[int, int, np.ndarray]) -> list[tuple[int, int, bytes, np.ndarray]]:
        j, s, u8 = job
        out = []
        for i, img in zip(range(s, s + len(u8)), u8):
            data = encode_png(img, stack_rgb=spec.stack_rgb)
            (sub / names[(i, j)]).write_bytes(data)
            out.append((i, j, data, img))
        return out

    results: dict[tuple[int, int], tuple[bytes, np.ndarray]] = {}
    for done in ordered_map(encode, it, workers):
        for i, j, data, img in done:
            raw, canon, params = levels[j]
            params = {**params, **extra}
            results[(i, j)] = (data, img)
            b = base.images[i]
            rows.append({
                "stimulus_id": names[(i, j)][:-4], "path": f"dnn/session-1/{names[(i, j)]}",
                "condition": canon, "category": b.category,
                "params": json.dumps({**params, "seed": int(seed), "source": b.source_id},
                                     sort_keys=True),
                "sha256": sha256_bytes(data), "imagename": names[(i, j)],
                "level": numeric_level(spec, params), "source_id": b.source_id,
                "_k": i * len(levels) + j,
            })
    df = pd.DataFrame(rows).sort_values("_k").drop(columns="_k").reset_index(drop=True)
    for (i, j) in order:
        data, img = results[(i, j)]
        pix.update(f"{levels[j][1]}|{base.images[i].source_id}|{img.shape}\n".encode())
        pix.update(np.ascontiguousarray(img).tobytes())
    return df, pix.hexdigest()


def _spectrum_choice(recipe: Recipe, spec: SetSpec) -> str | None:
    """``geirhos2018`` / ``base`` for power equalisation (see :data:`SPECTRUM_CHOICES`), else None."""
    if not spec.mean_spectrum:
        return None
    choice = recipe.params.get("spectrum", "geirhos2018")
    if choice not in SPECTRUM_CHOICES:
        raise StimulusError(f"{recipe.source}: params.spectrum must be one of {SPECTRUM_CHOICES}; "
                            f"got {choice!r}")
    return choice


def _tables_used(recipe: Recipe, spec: SetSpec) -> dict[str, str]:
    """sha256 of the data tables the set's pixels depend on (in the cache key)."""
    from .tables import GAMMA_FILE, SPECTRUM_FILE, table_digests
    d = table_digests()
    if _spectrum_choice(recipe, spec) == "geirhos2018":
        return {SPECTRUM_FILE: d[SPECTRUM_FILE]}
    if spec.name == "false-colour" and "gamma_table" not in recipe.params:
        return {GAMMA_FILE: d[GAMMA_FILE]}
    return {}


def _key(recipe: Recipe, base: BaseSet, seed: int, quantise: str) -> str:
    spec = get_set(recipe.manipulation)
    blob = json.dumps({"recipe": recipe.generation_dict(), "base": base.key(), "seed": int(seed),
                       "quantise": quantise, "version": GENERATOR_VERSION,
                       "tables": _tables_used(recipe, spec)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def make_set(name: str, base: str | Path = DEFAULT_BASE, *, seed: int = 0, out: str | Path | None = None,
             recipe: str | Path | None = None, conditions: list[str] | None = None,
             quantise: str = "truncate", limit: int | None = None, progress: bool = False,
             check_expected: bool = True, on_grey: str | None = None,
             workers: int | None = None) -> StimulusSet:
    """Materialise parametric stimulus set ``name`` from ``base`` (see :mod:`.bases`).

    ``out``: write there (must not exist or be empty) instead of the cache; ``recipe``: a
    recipe file or name (default: the set's recipe under ``stimuli/``, else built-in levels);
    ``conditions``: a subset or new levels (raw or canonical strings); ``limit``: images per
    category; ``on_grey``: ``'error'`` or ``'skip'`` grey base images of colour sets (default:
    the recipe's, else error); ``workers``: threads (default: the usable cores, at most 8; the
    output does not depend on it).  With ``check_expected`` a recipe's pinned pixel checksum for this base and seed
    must match (a mismatch raises: the generator changed).
    """
    rec = load_recipe(recipe or name)
    if conditions is not None:
        rec = rec.with_conditions([str(c) for c in conditions])
    bset = _check_base(get_set(rec.manipulation), load_base(base, limit=limit),
                       on_grey or rec.params.get("on_grey", "error"))
    key = _key(rec, bset, seed, quantise)
    final, done = output_folder(rec.name, key, out)
    if done is not None:
        return done
    with staging(final) as tmp:
        df, pixel_key = generate(rec, bset, seed, tmp, quantise=quantise, progress=progress,
                                 workers=workers)
        df.attrs["pixel_key"] = pixel_key
        expected = rec.expected_for(bset.name, seed, quantise) if (check_expected and limit is None
                                                                   and conditions is None) else None
        if expected is not None and expected.get("pixel_key") not in (None, pixel_key):
            raise StimulusError(
                f"{rec.source}: {rec.name} from {bset.name!r} with seed {seed} gives pixel key "
                f"{pixel_key[:16]}..., the recipe pins {expected['pixel_key'][:16]}...")
        info = {"name": rec.name, "base": bset.name, "base_key": bset.key(), "seed": int(seed),
                "quantise": quantise, "generator_version": GENERATOR_VERSION, "pixel_key": pixel_key,
                "recipe": rec.generation_dict(), "n": len(df),
                "tables": _tables_used(rec, get_set(rec.manipulation))}
        (tmp / "set.json").write_text(json.dumps(info, indent=1, sort_keys=True))
        write_manifest(df, tmp)
    if expected is not None and expected.get("content_key"):
        got = read_manifest(final, name=rec.name).content_key()
        if got != expected["content_key"]:
            warnings.warn(f"{rec.name}: file checksums differ from the recipe's (same pixels; a "
                          "different PNG encoder or zlib)", stacklevel=2)
    return read_manifest(final, name=rec.name)


def parametric_set(name: str, base: str = DEFAULT_BASE, seed: int = 0, recipe: str | None = None,
                   conditions: list[str] | None = None, limit: int | None = None,
                   cache: str | None = None, quantise: str = "truncate",
                   workers: int | None = None) -> StimulusSet:
    """Hydra factory (``_target_: psychobench.stimuli.generate.parametric_set``).

    ``cache``: a folder to materialise into instead of the content-addressed user cache (reused
    if it holds a complete set).
    """
    done = cached_set(Path(cache), name) if cache is not None else None
    if done is not None:
        return done
    return make_set(name, base, seed=seed, out=cache, recipe=recipe,
                    conditions=list(conditions) if conditions is not None else None,
                    limit=limit, quantise=quantise, workers=workers)
