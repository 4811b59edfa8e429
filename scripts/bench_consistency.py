"""Benchmark of the consistency module (not a timed test).

* ``ceiling_bootstrap_seconds``: every consistency metric of one model (model-vs-human's
  ResNet-50 answers) against the cue-conflict humans, K = 10 splits, 1000 bootstrap draws.
* ``ceiling_suite_seconds``: the human split-half ceilings (object level, image level, human-pair
  error consistency; K = 10, no bootstrap) of all 17 model-vs-human data sets, from their trial
  tables (loading the CSVs is not timed).

Each is the median of 5 runs.  Run: ``python scripts/bench_consistency.py`` (prints JSON).
Data come through the project's download code (``$PSYCHOBENCH_MIRROR`` points it at a mirror).
"""

from __future__ import annotations

import json
import time

import numpy as np

N_RUNS = 5


def _median_seconds(fn, n=N_RUNS) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def run() -> dict:
    from psychobench.consistency.scores import consistency_details, human_ceilings
    from psychobench.data import registry
    from psychobench.data.trials import load_model_trials
    from psychobench.experiments import mvh

    humans = mvh.load_humans()
    model = load_model_trials(registry.fetch_dataset("reference/resnet50", progress=False), kinds=mvh.kinds())[1]
    cc_model, cc_humans = model["cue-conflict"], humans["cue-conflict"]

    def bootstrap():
        consistency_details(cc_model, cc_humans, n_splits=10, n_boot=1000, seed=0)

    def suite():
        for h in humans.values():
            human_ceilings(h, n_splits=10, n_boot=0, seed=0)

    return {"ceiling_bootstrap_seconds": _median_seconds(bootstrap),
            "ceiling_suite_seconds": _median_seconds(suite),
            "runs": N_RUNS, "n_splits": 10, "n_boot": 1000}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
