"""Benchmark of a repeated sweep (not a timed test).

A Hydra multirun of two networks on the 160 edge images (``psychobench -m
model=tf_efficientnet_lite0,tf_efficientnet_lite1 stimuli=edge``) runs twice in a row with one
fresh cache, each as its own process, as a user would type it:

* ``first_sweep_seconds``: wall time of the first sweep (downloads from the mirror, forward
  passes, scoring);
* ``repeat_sweep_seconds``: the same sweep again (new sweep folder): every job is recalled
  from the run memo;
* ``repeat_sweep_ratio``: repeat / first (target: under 0.1);
* ``forward_passes_first`` / ``forward_passes_repeat``: sums over the sweeps' ``summary.json``.

Run: ``python scripts/bench_sweep.py`` (prints JSON).  Set ``PSYCHOBENCH_MIRROR`` to work
offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("tf_efficientnet_lite0", "tf_efficientnet_lite1")
STIMULI = "edge"


def _sweep(work: Path, name: str, env: dict) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "psychobench.cli.main", "-m", f"model={','.join(MODELS)}",
           f"stimuli={STIMULI}", "trainer.progress_bar=false", f"results_dir={work}",
           f"hydra.sweep.dir={work / name}"]
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if res.returncode != 0:
        raise RuntimeError(f"sweep failed:\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    passes = sum(json.loads(p.read_text())["forward_passes"]
                 for p in (work / name).glob("*/summary.json"))
    return seconds, passes


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="psychobench-bench-sweep-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "PSYCHOBENCH_CACHE": str(work / "cache")}
        first, fp1 = _sweep(work, "first", env)
        repeat, fp2 = _sweep(work, "repeat", env)
    return {"first_sweep_seconds": round(first, 3), "repeat_sweep_seconds": round(repeat, 3),
            "repeat_sweep_ratio": round(repeat / first, 4), "forward_passes_first": fp1,
            "forward_passes_repeat": fp2, "jobs": len(MODELS), "stimuli": STIMULI}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
