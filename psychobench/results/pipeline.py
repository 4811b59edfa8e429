"""One run, seeing or hearing: observer x experiments -> trial tables -> metric table -> run folder.

:func:`run` is the whole of it:

1. build the experiments (``stimuli=NAME`` or a preset's ``experiments``), the observer
   (``model``), the prediction settings (``trainer``) and the score settings (``metrics``);
2. check everything that can be checked before any network runs: the observer's modality and
   answer space against each experiment, each experiment's human data against its stimuli;
3. per experiment: the observer's answers (from the answer cache, or predicted; for an
   observer with a fitted readout, features first and the readout fitted on them:
   :mod:`psychobench.results.fitting`), its trial table, its metric table;
4. write the run folder (:class:`~psychobench.results.run_folder.RunFolder`): trials, model-vs-
   human CSVs, ``metrics.csv``; return the summary (derived from the metric table), which the
   caller writes last.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from psychobench.consistency import scoring
from psychobench.consistency import table as T
from psychobench.errors import SettingError, user_error
from psychobench.experiments.base import Experiment, ScoreSettings
from psychobench.models.base import Observer, ObserverError
from psychobench.results import cache, fitting
from psychobench.results.run_folder import RunFolder

log = logging.getLogger(__name__)


def experiment_configs(cfg: DictConfig) -> dict[str, DictConfig]:
    """The experiments of a run: ``stimuli=NAME`` if given, else the preset's ``experiments``."""
    if cfg.get("stimuli") is not None:
        return {"stimuli": cfg.stimuli}
    sets = cfg.get("experiments") or {}
    if not sets:
        raise ValueError("no experiment: choose `stimuli=NAME` or an `experiment=` preset")
    return dict(sets)


def experiments_of(cfg: DictConfig) -> dict[str, Experiment]:
    """The run's experiments, built (cheap: stimuli and human data load on first use), by name."""
    out: dict[str, Experiment] = {}
    for key, c in experiment_configs(cfg).items():
        exp = instantiate(c, _convert_="all")
        if not isinstance(exp, Experiment):
            raise TypeError(f"{key}: the config builds {type(exp).__name__}, not an Experiment")
        if exp.name in out:
            raise ValueError(f"two experiments named {exp.name!r}")
        out[exp.name] = exp
    return out


def check_settings(cfg: DictConfig) -> None:
    """The settings refused before any cache lookup (nothing is loaded): the prediction
    settings (``trainer.*``), the metric settings (``metrics.*``, ``seed``) and a model name
    that names another architecture than the one the model group runs."""
    try:
        instantiate(cfg.trainer, _convert_="all")
    except Exception as e:                       # Hydra wraps the Predictor's own error
        err = user_error(e)
        if err is None:
            raise
        raise err from None
    ScoreSettings.of(cfg.get("metrics"), seed=cfg.get("seed", 0))
    model = cfg.get("model")
    if model is None or "_target_" not in model:
        raise SettingError("model: no observer configured; choose one with model=NAME")
    if model.get("_target_") == "psychobench.models.vision.create":
        from psychobench.models.vision import check_model_name

        check_model_name(model.get("name"), model.get("arch"))


def observer_of(cfg: DictConfig) -> Observer:
    obs = instantiate(cfg.model, _convert_="all")
    if not isinstance(obs, Observer):
        raise TypeError(f"model: the config builds {type(obs).__name__}, not an Observer")
    return obs


def check(observer: Observer, experiments: dict[str, Experiment]) -> None:
    """Everything checkable before a network runs: modality, answer space, human data."""
    for exp in experiments.values():
        if exp.modality != observer.modality:
            raise ObserverError(f"{exp.name} is a {'hearing' if exp.modality == 'audio' else 'vision'} experiment, "
                                f"but model={observer.name} {'hears' if observer.modality == 'audio' else 'sees'}; "
                                "choose a model of the same modality")
        exp.validate()
        observer.check(exp.answers)


def answers_for(observer: Observer, exp: Experiment, predictor, use_cache: bool = True) -> tuple[pd.DataFrame, int]:
    """The observer's answers to the experiment's stimuli (manifest order) and the forward
    passes they took (0 from the answer cache)."""
    stimuli = exp.stimuli()
    key = None
    if use_cache:
        observer.prepare()
        key = cache.answer_key(observer.identity(exp.answers), predictor.identity(), exp.answers.identity(),
                               stimuli.content_key())
        hit = cache.load(key, len(stimuli.manifest))
        if hit is not None:
            log.info("%s on %s: answers from the cache (%s)", observer.name, exp.name, key[:12])
            return hit, 0
    chunk = predictor.chunk_size(observer) if key is not None else None
    if chunk is None or len(stimuli.manifest) <= chunk:
        answers, passes = predictor.predict(observer, stimuli, exp.answers)
    else:
        answers, passes = _checkpointed(observer, exp, predictor, stimuli, key, chunk)
    if key is not None:
        cache.store(key, answers)
        if chunk is not None:
            cache.drop_checkpoints(key, len(stimuli.manifest), chunk)
    return answers, passes


def _checkpointed(observer: Observer, exp: Experiment, predictor, stimuli, key: str, chunk: int
                  ) -> tuple[pd.DataFrame, int]:
    """Answers in consecutive checkpoints of ``chunk`` stimuli, each cached (sealed) as soon as it
    is answered under the whole set's key and its row range: a run killed part way resumes at
    its first missing checkpoint.  The checkpoints' tables must agree in their columns."""
    n = len(stimuli.manifest)
    parts, passes, fresh, t0 = [], 0, 0, time.perf_counter()
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        part = cache.load_checkpoint(key, start, stop)
        if part is None:
            part, p = predictor.predict(observer, stimuli.take(start, stop), exp.answers)
            cache.store_checkpoint(key, start, stop, part)
            passes += p
            fresh += stop - start
            per = (time.perf_counter() - t0) / fresh
            log.info("%s on %s: stimuli %d-%d of %d answered (%.2f s each; about %.0f min to go)",
                     observer.name, exp.name, start + 1, stop, n, per, per * (n - stop) / 60)
        else:
            log.info("%s on %s: stimuli %d-%d of %d from a checkpoint", observer.name, exp.name, start + 1, stop, n)
        if parts and list(part.columns) != list(parts[0].columns):
            raise RuntimeError(f"{exp.name}: the answers to stimuli {start + 1}-{stop} have columns "
                               f"{list(part.columns)}, the first checkpoint's {list(parts[0].columns)}")
        parts.append(part)
    return pd.concat(parts, ignore_index=True), passes


def score_all(tables: dict[str, pd.DataFrame], experiments: dict[str, Experiment], observer: Observer,
              settings: ScoreSettings) -> pd.DataFrame:
    """The metric table of a run: every experiment's rows and their means over data sets."""
    parts = [experiments[name].score(t, settings, chance=observer.chance(experiments[name].answers))
             for name, t in tables.items()]
    table = T.concat(parts)
    return T.concat([table, scoring.aggregate(table)])


def summarise(table: pd.DataFrame, model: str, experiments: dict[str, Experiment], **extra) -> dict:
    """``summary.json``: ``model``, the views of :func:`~psychobench.consistency.table.summary_view`,
    each experiment's ``notes`` and headline metrics, then ``extra`` (``observer``: name,
    family and readout; ``readout``: per experiment how a fitted readout was fitted;
    n_trials, forward_passes, seconds)."""
    out = {"model": model, **T.summary_view(table, model)}
    notes = {n: e.notes for n, e in experiments.items() if e.notes}
    if notes:
        out["notes"] = notes
    out["headline"] = {n: list(e.headline) for n, e in experiments.items()}
    out.update(extra)
    return out


def run(cfg: DictConfig, run_dir: str | Path, experiments: dict[str, Experiment] | None = None) -> dict:
    """Run the configured observer on the configured experiments (``experiments``: already
    built from ``cfg``) and score it (see the module docstring).  Returns the summary; the
    caller writes ``summary.json``, last."""
    t0 = time.perf_counter()
    folder = RunFolder(run_dir)
    experiments = experiments if experiments is not None else experiments_of(cfg)
    observer = observer_of(cfg)
    check_settings(cfg)
    predictor = instantiate(cfg.trainer, _convert_="all")
    settings = ScoreSettings.of(cfg.get("metrics"), seed=cfg.get("seed", 0))
    check(observer, experiments)
    use_cache = bool(cfg.get("cache_answers", True))
    seed = int(cfg.get("seed", 0))
    plans = {name: fitting.plan(observer, exp, seed) for name, exp in experiments.items()} if observer.fitted else {}
    tables, passes, fits, analyses = {}, 0, {}, []
    for name, exp in experiments.items():
        if getattr(exp, "features_analysis", False):      # scored from features per layer, not answers
            part, n, _ = exp.analyse(cfg.model, predictor, use_cache=use_cache)
            analyses.append(part)
            passes += n
            continue
        if observer.fitted:
            answers, n, fits[name] = fitting.fitted_answers(observer, exp, predictor, plans[name], seed=seed,
                                                            use_cache=use_cache)
            log.info("%s on %s: %s", observer.name, name, fits[name]["note"])
        else:
            answers, n = answers_for(observer, exp, predictor, use_cache=use_cache)
        tables[name] = exp.trials(answers, observer.name)
        passes += n
    metrics = score_all(tables, experiments, observer, settings)
    if analyses:
        metrics = T.concat([metrics, *analyses])
    folder.write_trials(tables, observer.name)
    folder.write_metrics(metrics)
    about = {"name": observer.name, "family": observer.family,
             "readout": getattr(observer.readout, "name", None), "fitted": observer.fitted}
    extra = {"readout": fits} if fits else {}
    timing = {"images": int(predictor.images), "forward_seconds": round(predictor.forward_seconds, 3)}
    return summarise(metrics, observer.name, experiments, observer=about, **extra,
                     n_trials=int(sum(len(t) for t in tables.values())),
                     forward_passes=int(passes), seconds=round(time.perf_counter() - t0, 3), timing=timing)
