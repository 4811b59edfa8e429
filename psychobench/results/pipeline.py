"""A vision run: network x stimulus sets -> trial tables -> scores -> run folder.

Run folder layout (every file written atomically; ``summary.json`` last, so a folder with a
summary is complete):

* ``config.yaml``: the resolved configuration;
* ``trials.parquet``: the model's trial table over all stimulus sets;
* ``responses/<set>/<set>_<model>_session-1.csv``: the same trials in model-vs-human's format
  (``psychobench-score RUN/responses`` re-scores them);
* ``metrics.csv``: tidy metric table (set, metric, observer, value, ceiling, normalized, ci);
* ``summary.json`` (written by the app after the runner returns): ``{"model", "datasets",
  "aggregate", "human_reference", "n_trials", "forward_passes", "seconds", ...}``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig

from psychobench.consistency.benchmark import shape_bias
from psychobench.data.io import cache_dir, publish
from psychobench.data.schema import CORE_COLUMNS
from psychobench.data.trials import as_trial_table, load_human_trials, write_mvh_csv
from psychobench.results import cache
from psychobench.results.scoring import condition_comparison, metrics_table, score_model_tables

log = logging.getLogger(__name__)


def stimulus_set_configs(cfg: DictConfig) -> dict[str, DictConfig]:
    """The stimulus sets of a run: ``stimuli=NAME`` if given, else the preset's ``stimulus_sets``."""
    if cfg.get("stimuli") is not None:
        return {cfg.stimuli.name: cfg.stimuli}
    sets = cfg.get("stimulus_sets") or {}
    if not sets:
        raise ValueError("no stimulus set: choose `stimuli=NAME` or an `experiment=` preset")
    return {s.name: s for s in sets.values()}


def n_devices(devices, accelerator: str = "auto") -> int:
    """How many devices a Trainer ``devices`` setting asks for (-1 / "auto": every GPU here)."""
    if isinstance(devices, (list, tuple)) or hasattr(devices, "__len__") and not isinstance(devices, str):
        return len(devices)
    text = str(devices).strip()
    if text in ("-1", "auto"):
        import torch
        gpus = torch.cuda.device_count() if str(accelerator) in ("auto", "gpu", "cuda") else 0
        return max(1, gpus) if text == "-1" or gpus > 1 else 1
    if "," in text:
        return len([t for t in text.split(",") if t.strip()])
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"trainer.devices: cannot read {devices!r} (an int, a list or -1)") from None


def predict_answers(net, rule, stimset, trainer_cfg: DictConfig, *, subject: str,
                    use_cache: bool = True) -> tuple[pd.DataFrame, int]:
    """The network's trial table on a stimulus set, from the answer cache or by running it.

    Returns ``(table, forward_passes)``; ``forward_passes`` is 0 for a cache hit.
    """
    import pytorch_lightning as pl

    from psychobench.lightning.data import StimulusDataModule
    from psychobench.lightning.module import ObserverModule, ShardWriter, read_shards, trial_table

    key = cache.answer_key(net.identity(), rule.identity(), stimset.content_key(), subject)
    if use_cache:
        hit = cache.load(key)
        if hit is not None:
            log.info("%s on %s: answers from the cache (%s)", subject, stimset.name, key[:12])
            return hit, 0
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    module = ObserverModule(net, rule)
    dm = StimulusDataModule(stimset, net.preprocessing, batch_size=trainer_cfg.batch_size,
                            num_workers=trainer_cfg.num_workers)
    strategy = trainer_cfg.get("strategy", "auto")
    multi = n_devices(trainer_cfg.devices, trainer_cfg.accelerator) > 1
    shard_dir = Path(tempfile.mkdtemp(prefix=".predict-", dir=cache_dir())) if multi else None
    if multi and strategy == "auto":
        strategy = "ddp_spawn"       # the launching process alone goes on to score and write
    devices = trainer_cfg.devices
    if isinstance(devices, ListConfig):
        devices = list(devices)
    trainer = pl.Trainer(accelerator=trainer_cfg.accelerator, devices=devices,
                         strategy=strategy,
                         precision=trainer_cfg.precision, logger=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         enable_progress_bar=trainer_cfg.progress_bar,
                         callbacks=[ShardWriter(shard_dir)] if multi else None)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            outputs = trainer.predict(module, datamodule=dm, return_predictions=not multi)
        passes = module.forward_passes
        if multi:
            outputs, passes = read_shards(shard_dir, trainer.world_size)
    finally:
        if shard_dir is not None:
            shutil.rmtree(shard_dir, ignore_errors=True)
    table = trial_table(stimset, outputs, subject=subject, categories=rule.categories)
    if use_cache:
        cache.store(key, table)
    return table, passes


def run_vision(cfg: DictConfig, run_dir: Path) -> dict:
    """Run the configured network on the configured stimulus sets and score it."""
    from psychobench.models.decision import get_rule

    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    sets = stimulus_set_configs(cfg)
    net = instantiate(cfg.model)
    subject = net.name
    tables, forward_passes = {}, 0
    for name, scfg in sets.items():
        stimset = instantiate(scfg.source)
        if stimset.name != name:
            stimset = type(stimset)(name=name, root=stimset.root, manifest=stimset.manifest)
        rule = get_rule(scfg.task)
        table, n = predict_answers(net, rule, stimset, cfg.trainer, subject=subject,
                                   use_cache=cfg.cache_answers)
        tables[name] = as_trial_table(table)
        forward_passes += n

    trials = pd.concat(tables.values(), ignore_index=True)
    trials.to_parquet(_tmp := run_dir / ".trials.parquet.part", index=False)
    publish(_tmp, run_dir / "trials.parquet")
    safe = subject.replace("_", "-")
    for name, t in tables.items():
        write_mvh_csv(t, run_dir / "responses" / name / f"{name}_{safe}_session-1.csv")

    item_sets = {n: s.humans for n, s in sets.items() if s.get("comparison") == "item" and s.humans}
    humans = {n: load_human_trials(h) for n, h in item_sets.items()}
    summary: dict = {"model": subject}
    if humans:
        # Score what the exported model-vs-human CSVs hold (no probabilities), so that
        # psychobench-score on responses/ reproduces this summary exactly.
        exported = {n: tables[n][list(CORE_COLUMNS) + ["imagename"]] for n in humans}
        scores = score_model_tables(exported, humans, cfg.metrics, seed=cfg.seed)
        summary.update(scores)
    else:
        summary.update({"datasets": {}, "aggregate": {}})
    condition_sets = [n for n, s in sets.items() if s.get("comparison") == "condition" and s.humans]
    if condition_sets:
        summary["condition_level"] = {
            n: condition_comparison(tables[n], load_human_trials(sets[n].humans), sets[n].humans,
                                    n_boot=int(cfg.metrics.n_boot), seed=cfg.seed)
            for n in condition_sets}
    summary["n_trials"] = int(len(trials))
    summary["forward_passes"] = int(forward_passes)
    summary["accuracy"] = {n: float(t["correct"].mean()) for n, t in tables.items()}
    cue_sets = {n: t for n, t in tables.items() if "texture" in t.columns}
    if cue_sets:  # any set with a texture cue per image (published or synthesised conflicts)
        summary["shape_bias"] = {n: shape_bias(t) for n, t in cue_sets.items()}
    summary["accuracy_by_condition"] = {
        n: {str(c): float(a) for c, a in t.groupby("condition", sort=False)["correct"].mean().items()}
        for n, t in tables.items()}
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    metrics_table(summary).to_csv(_m := run_dir / ".metrics.csv.part", index=False)
    publish(_m, run_dir / "metrics.csv")
    return summary  # the app writes summary.json, last
