"""psychobench benchmarks: prints one JSON object.

    python scripts/bench.py [--parts spine,consistency,stimuli,audio,sweep] [--repeats 5]

spine (medians of ``--repeats`` runs, measured side by side in one process):
* ``predict_efficiency``: end-to-end prediction throughput (Lightning ``Trainer.predict`` over
  PNG files on local disk: decode, resize, normalise, forward, decision rule, trial rows)
  divided by the throughput of a bare forward pass of the same network and batch size on
  tensors already in memory; runs alternate so that both see the same machine load;
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
    net = create("tf_efficientnet_lite0")
    predictor = Predictor(accelerator="cpu", batch_size=batch_size, num_workers=1, progress_bar=False)
    h, w = net.preprocessing.size
    batches = [torch.randn(batch_size, 3, h, w).contiguous(memory_format=torch.channels_last)
               for _ in range(n_images // batch_size)]

    def bare():
        with torch.inference_mode():
            for x in batches:
                net.module(x)

    def e2e():
        predictor.predict(net, stim, IMAGENET16)

    bare()  # warm-up
    e2e()
    t_bare, t_e2e = [], []
    for _ in range(repeats):
        t_bare.append(_median_time(bare, 1))
        t_e2e.append(_median_time(e2e, 1))
    n_bare = len(batches) * batch_size
    out["bare_images_per_second"] = n_bare / statistics.median(t_bare)
    out["predict_images_per_second"] = n_images / statistics.median(t_e2e)
    out["predict_efficiency"] = out["predict_images_per_second"] / out["bare_images_per_second"]
    out["predict_batch_size"] = batch_size
    out["threads"] = torch.get_num_threads()
    return out


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
    p.add_argument("--parts", default="spine,consistency,stimuli,audio,sweep")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    result: dict = {}
    failed = False
    for part in args.parts.split(","):
        t = time.perf_counter()
        try:
            result.update(bench_spine(args.repeats) if part == "spine" else _part(part))
        except Exception as e:  # report the others; the exit status says one failed
            result[f"{part}_error"] = f"{type(e).__name__}: {e}"
            failed = True
        print(f"[bench] {part}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    print(json.dumps(result, indent=2, default=float))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
