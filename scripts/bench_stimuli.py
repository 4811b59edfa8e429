"""Benchmark of the stimulus generators: ``run() -> dict``; as a script prints JSON.

Targets (issue 4): uniform noise, contrast and low-pass for 1280 images x 8 levels each in under
30 s in memory and under 90 s with the PNG files written; rendering >= 50 views a second.
Images are random 224 x 224 RGB (the manipulations' cost does not depend on content).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from psychobench.stimuli import manipulations as M
from psychobench.stimuli.generate import apply_level, stimulus_rng
from psychobench.stimuli.images import encode_png
from psychobench.stimuli.levels import get_set, parse_level

SETS = ("uniform-noise", "contrast", "low-pass")


def _write(job: tuple[Path, str, np.ndarray]) -> None:
    out, prefix, u8 = job
    for i, img in enumerate(u8):
        (out / f"{prefix}_{i:04d}.png").write_bytes(encode_png(img, compress_level=1))


def _one_pass(x: np.ndarray, out: Path | None, batch: int = 64) -> float:
    """Seconds for every level of every set; with ``out`` the PNGs (zlib level 1) are written by
    a pool of processes (one per core) while the next batch is computed."""
    t0 = time.perf_counter()
    pool = ProcessPoolExecutor(min(2, os.cpu_count() or 1)) if out is not None else None
    pending = []
    x = M.grey(x)          # as the generators do: luminance once, then every level
    for name in SETS:
        spec = get_set(name)
        for raw in spec.levels:
            _, canon, params = parse_level(spec, raw)
            for s in range(0, len(x), batch):
                xb = x[s:s + batch]
                rngs = [stimulus_rng(0, f"img{s + i}", canon) for i in range(len(xb))]
                u8 = M.to_uint8(apply_level(spec, params, xb, rngs))
                if pool is not None:
                    pending.append(pool.submit(_write, (out, f"{name}_{raw}_{s:04d}", u8)))
    if pool is not None:
        for f in pending:
            f.result()
        pool.shutdown()
    return time.perf_counter() - t0


def run(n_images: int = 1280, repeats: int = 1, views: int = 100) -> dict:
    """Seconds for ``n_images`` x 8 levels of each of the three sets (all three together)."""
    x = np.random.default_rng(0).integers(0, 256, (n_images, 224, 224, 3), dtype=np.uint8) / 255.0
    mem = [_one_pass(x, None) for _ in range(repeats)]
    with tempfile.TemporaryDirectory() as d:
        png = _one_pass(x, Path(d))
    res = {"n_images": n_images, "levels_per_set": 8, "sets": list(SETS),
           "manip_in_memory_seconds": float(np.median(mem)), "manip_with_png_seconds": png}
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
