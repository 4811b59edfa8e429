"""Benchmark of the stimulus generators: ``run() -> dict``; as a script prints JSON.

Targets (issue 4): uniform noise, contrast and low-pass for 1280 images x 8 levels each in under
30 s in memory and under 90 s with the PNG files written; rendering >= 50 views a second.
Images are random 224 x 224 RGB (the manipulations' cost does not depend on content).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from psychobench.stimuli import manipulations as M
from psychobench.stimuli.generate import default_workers, iter_levels, ordered_map
from psychobench.stimuli.images import encode_png
from psychobench.stimuli.levels import get_set, parse_level

SETS = ("uniform-noise", "contrast", "low-pass")


def _one_pass(x: np.ndarray, out: Path | None, workers: int | None = None) -> float:
    """Seconds for every level of every set, computed by the generators' own threaded loop
    (:func:`iter_levels`, ``workers`` threads); with ``out`` the PNGs are encoded and written
    on the same number of threads while later batches are computed."""
    t0 = time.perf_counter()
    x = M.grey(x)          # as the generators do: luminance once, then every level
    ids = [f"img{i}" for i in range(len(x))]
    for name in SETS:
        spec = get_set(name)
        levels = [parse_level(spec, raw) for raw in spec.levels]
        it = iter_levels(spec, levels, x, ids, 0, workers=workers)
        if out is None:
            for _ in it:
                pass
            continue

        def write(job, name=name, levels=levels):
            j, s, u8 = job
            for i, img in enumerate(u8):
                (out / f"{name}_{levels[j][0]}_{s + i:04d}.png").write_bytes(encode_png(img))
        for _ in ordered_map(write, it, workers):
            pass
    return time.perf_counter() - t0


def run(n_images: int = 1280, repeats: int = 1, views: int = 100) -> dict:
    """Seconds for ``n_images`` x 8 levels of each of the three sets (all three together)."""
    x = np.random.default_rng(0).integers(0, 256, (n_images, 224, 224, 3), dtype=np.uint8) / 255.0
    workers = default_workers()
    mem = [_one_pass(x, None) for _ in range(repeats)]
    one = [_one_pass(x, None, workers=1) for _ in range(repeats)]      # side by side: one thread
    with tempfile.TemporaryDirectory() as d:
        png = _one_pass(x, Path(d))
    res = {"n_images": n_images, "levels_per_set": 8, "sets": list(SETS), "workers": workers,
           "manip_in_memory_seconds": float(np.median(mem)), "manip_with_png_seconds": png,
           "manip_in_memory_one_thread_seconds": float(np.median(one))}
    try:
        from psychobench.stimuli.render import bench_render
        res["render_views_per_second"] = bench_render(views)                   # distinct cameras
        res["render_views_per_second_roll_reuse"] = bench_render(views, distinct=False)
    except ImportError as e:  # pybullet missing
        res["render_views_per_second"] = None
        res["render_error"] = str(e)
    return res


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1280
    print(json.dumps(run(n), indent=1))
