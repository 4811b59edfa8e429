"""psychobench benchmarks: prints one JSON object.

    python scripts/bench.py [--parts spine,run,consistency,stimuli,audio,sweep] [--repeats 5]

spine (medians of ``--repeats`` runs, measured side by side in one process):
* ``predict_efficiency``: end-to-end prediction throughput (Lightning ``Trainer.predict`` from
  the warm decoded-stimulus cache: memory-mapped uint8 batches, normalise, forward, decision
  rule, trial rows) divided by the throughput of a bare forward pass of the same network and
  batch size on tensors already in memory; runs alternate so that both see the same machine
  load (target >= 0.95).  ``predict_efficiency_png``: the same with the cache off (every PNG
  decoded and resized in the loader), for comparison;
* ``run_efficiency`` (part ``run``): the bare forward time of the default experiment's 1600
  images divided by the wall time of the whole ``psychobench`` command on them (start-up,
  imports, data checks, prediction, scoring with ceilings, writing), answer cache and run memo
  off (``cache_answers=false``), decoded-stimulus cache warm; alternated, medians of
  ``--repeats`` (target >= 0.85 on 2 CPU cores); ``run_efficiency_cold``: one run with the
  decoded-stimulus cache emptied first;
* ``metrics_suite_seconds``: model-vs-human's benchmark metrics on all 17 data sets for one
  model (ResNet-50's published outputs), trial tables already in memory;
* ``load_seconds``: reading and validating the 17 human data sets and the model's 17 tables.

The other parts come from ``scripts/bench_<part>.py`` (each has ``run() -> dict``).
Data come through the registry (set ``PSYCHOBENCH_MIRROR`` to work offline).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_spine(repeats: int = 5, n_images: int = 256, batch_size: int = 32) -> dict:
    import torch

    from psychobench import api
    from psychobench.data import registry, trials
    from psychobench.data.answers import IMAGENET16
    from psychobench.experiments import mvh
    from psychobench.lightning.predict import Predictor
    from psychobench.models.vision import create
    from psychobench.stimuli.manifest import StimulusSet
    from psychobench.stimuli.sets import texture_shape

    out: dict = {}
    ref_root = registry.fetch_dataset("reference/resnet50", progress=False)

    def load():
        humans = mvh.load_humans()
        _, model = trials.load_model_trials(ref_root, kinds=mvh.kinds())
        return humans, model

    humans, model = load()
    out["load_seconds"] = _median_time(load, repeats)

    def suite():                  # model-vs-human's benchmark metrics of one model on the 17 sets
        from psychobench.consistency import benchmark
        for ds, t in model.items():
            benchmark.dataset_metrics(t, humans[ds], ds, excluded=mvh.scheme(ds).excluded,
                                      with_shape_bias=mvh.has_shape_bias(ds))

    out["metrics_suite_seconds"] = _median_time(suite, repeats)
    # the whole metric table without ceilings (benchmark metrics, human reference, accuracy per
    # condition, aggregate): what psychobench-score --no-consistency computes
    out["score_table_seconds"] = _median_time(lambda: api.score(model, humans, ceilings=False), repeats)

    full = texture_shape("cue-conflict")
    stim = StimulusSet("bench", full.root, full.manifest.iloc[:n_images].reset_index(drop=True))
    # PSYCHOBENCH_BENCH_ACCELERATOR=gpu (scripts/bench_gpu.sh): the same comparison on a GPU
    acc = os.environ.get("PSYCHOBENCH_BENCH_ACCELERATOR", "cpu")
    device = torch.device("cuda" if acc == "gpu" else "cpu")
    net = create("tf_efficientnet_lite0")
    cached = Predictor(accelerator=acc, batch_size=batch_size, num_workers=1, progress_bar=False)
    png = Predictor(accelerator=acc, batch_size=batch_size, num_workers=1, progress_bar=False,
                    decoded_cache=False)
    h, w = net.preprocessing.size
    batches = [torch.randn(batch_size, 3, h, w, device=device).contiguous(memory_format=torch.channels_last)
               for _ in range(n_images // batch_size)]

    def bare():
        net.module.to(device)
        with torch.inference_mode():
            for x in batches:
                net.module(x)
        if device.type == "cuda":
            torch.cuda.synchronize()

    bare()  # warm-up (and the decoded cache filled)
    cached.predict(net, stim, IMAGENET16)
    png.predict(net, stim, IMAGENET16)
    t_bare, t_e2e, t_png = [], [], []
    for _ in range(repeats):
        t_bare.append(_median_time(bare, 1))
        t_e2e.append(_median_time(lambda: cached.predict(net, stim, IMAGENET16), 1))
        t_png.append(_median_time(lambda: png.predict(net, stim, IMAGENET16), 1))
    n_bare = len(batches) * batch_size
    out["bare_images_per_second"] = n_bare / statistics.median(t_bare)
    out["predict_images_per_second"] = n_images / statistics.median(t_e2e)
    # each prediction run against the bare pass beside it (same machine load), then the median
    eff = [n_images / e / (n_bare / b) for b, e in zip(t_bare, t_e2e)]
    eff_png = [n_images / e / (n_bare / b) for b, e in zip(t_bare, t_png)]
    out["predict_efficiency"] = statistics.median(eff)
    out["predict_efficiency_png"] = statistics.median(eff_png)
    out["predict_efficiency_runs"] = [round(x, 3) for x in eff]
    out["predict_batch_size"] = batch_size
    out["threads"] = torch.get_num_threads()
    return out


def bench_run(repeats: int = 3, batch_size: int = 32) -> dict:
    """``run_efficiency``: bare forward time of the default experiment's images / wall time of
    the whole command (see the module docstring)."""
    import shutil
    import subprocess
    import tempfile

    import numpy as np
    import torch
    from hydra import compose, initialize_config_dir

    from psychobench.data.io import cache_dir
    from psychobench.models.vision import create
    from psychobench.results.pipeline import experiments_of
    from psychobench.stimuli.decoded import decode_set

    conf = HERE.parent / "conf"
    with initialize_config_dir(str(conf), version_base="1.3"):
        cfg = compose("config")
    net = create("tf_efficientnet_lite0")
    sets = [e.stimuli() for e in experiments_of(cfg).values()]
    arrays = [decode_set(s, net.preprocessing, progress=False) for s in sets]      # warm
    n = sum(len(a) for a in arrays)

    def bare():
        from psychobench.models.vision import normalize
        with torch.inference_mode():
            for a in arrays:
                for i in range(0, len(a), batch_size):
                    x = normalize(torch.from_numpy(np.array(a[i:i + batch_size])), net.preprocessing)
                    net.module(x.contiguous(memory_format=torch.channels_last))

    out_root = Path(tempfile.mkdtemp(prefix="psychobench-bench-run-"))
    cmd = [sys.executable, "-m", "psychobench.cli.main", "cache_answers=false", "trainer.progress_bar=false",
           f"trainer.batch_size={batch_size}", f"results_dir={out_root}"]
    env = dict(os.environ)

    def run_once(tag: str) -> float:
        t = time.perf_counter()
        res = subprocess.run(cmd + [f"hydra.run.dir={out_root / tag}"], capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t
        if res.returncode != 0 or not (out_root / tag / "summary.json").is_file():
            raise RuntimeError(f"psychobench failed (exit {res.returncode}): {res.stderr[-2000:]}")
        return dt

    bare()
    t_bare, t_run = [], []
    try:
        for k in range(repeats):
            t_bare.append(_median_time(bare, 1))
            t_run.append(run_once(f"warm{k}"))
        shutil.rmtree(cache_dir() / "decoded", ignore_errors=True)
        t_cold = run_once("cold")
    finally:
        shutil.rmtree(out_root, ignore_errors=True)
    b, r = statistics.median(t_bare), statistics.median(t_run)
    return {"run_images": n, "run_bare_forward_seconds": b, "run_wall_seconds": r,
            "run_efficiency": b / r, "run_wall_seconds_cold": t_cold, "run_efficiency_cold": b / t_cold}


def _part(name: str) -> dict:
    path = HERE / f"bench_{name}.py"
    if not path.is_file():
        return {f"{name}_error": f"{path.name} is missing"}
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # so that its functions pickle for worker processes
    spec.loader.exec_module(mod)
    return mod.run()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default="spine,run,consistency,stimuli,audio,sweep")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    result: dict = {}
    failed = False
    for part in args.parts.split(","):
        t = time.perf_counter()
        try:
            if part == "spine":
                result.update(bench_spine(args.repeats))
            elif part == "run":
                result.update(bench_run(max(1, min(args.repeats, 3))))
            else:
                result.update(_part(part))
        except Exception as e:  # report the others; the exit status says one failed
            result[f"{part}_error"] = f"{type(e).__name__}: {e}"
            failed = True
        print(f"[bench] {part}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    print(json.dumps(result, indent=2, default=float))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
