"""The Python API, for notebooks and scripts::

    import psychobench as pb

    model = pb.read_trials("results/runs/RUN/responses")      # model-vs-human CSVs, or a trial table
    humans = pb.read_trials("my_experiment/humans")
    table = pb.score(model, humans, n_boot=200)                  # the metric table (a DataFrame)
    run_dir = pb.run("stimuli=edge", "model=tf_efficientnet_lite1")

:func:`score` scores every experiment of the model's table against the humans' trials of the
same experiment name at item level (the stimuli people saw), with the facts of the built-in
model-vs-human experiments where the name is one of them (their benchmark exclusions), and
returns the same metric table a run writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from psychobench.data.schema import TrialTableError
from psychobench.data.trials import check_model_trials


def read_trials(path: str | os.PathLike) -> pd.DataFrame:
    """A trial table from a model-vs-human CSV, a folder of them (data-set names from the file
    names), or a trial table (``.parquet``, or a CSV with the trial-table columns)."""
    from psychobench.data.trials import read_trials as read_any
    from psychobench.experiments import mvh

    return read_any(path, kinds=mvh.kinds())


def _by_experiment(x, what: str) -> dict[str, pd.DataFrame]:
    """``{experiment: trial table}`` of a trial table, a path, or such a dict already."""
    if isinstance(x, dict):
        return {str(k): v for k, v in x.items()}
    if isinstance(x, (str, os.PathLike)):
        x = read_trials(x)
    if not isinstance(x, pd.DataFrame):
        raise TypeError(f"{what}: expected a trial table (DataFrame), a dict of them or a path, "
                        f"got {type(x).__name__}")
    groups = x.groupby(x["experiment"].astype(str), sort=False).indices
    if len(groups) == 1:
        return {next(iter(groups)): x.reset_index(drop=True)}
    return {name: x.take(idx).reset_index(drop=True) for name, idx in groups.items()}


def _experiment_name(name: str) -> str:
    """A model-vs-human data set in its own spelling (``uniform_noise`` -> ``uniform-noise``);
    any other experiment's name as given."""
    from psychobench.errors import UnknownNameError
    from psychobench.experiments import mvh
    try:
        return mvh.canonical_name(name)
    except UnknownNameError:
        return name


def answer_labels(experiment: str, humans: pd.DataFrame) -> tuple[str, ...] | None:
    """The answer space a model's trials of ``experiment`` are checked against: the 16
    categories for model-vs-human's data sets; otherwise the categories of the human data where
    the humans answered only with them (a closed set), else None (the humans answered freely:
    an open set)."""
    from psychobench.data.categories import CATEGORIES, NO_ANSWER
    from psychobench.experiments import mvh

    if experiment in mvh.DATASETS:
        return tuple(CATEGORIES)
    cats = set(humans["category"].astype(str))
    answered = set(humans["response"].astype(str)) - {NO_ANSWER}
    return tuple(sorted(cats)) if answered <= cats else None


def score(model, humans, *, ceilings: bool = True, n_boot: int = 1000, seed: int = 0, n_splits: int = 10,
          split: str = "subjects", answers: str | Sequence[str] | None = None, where=None) -> pd.DataFrame:
    """Score a model's trials against human trials: the metric table
    (:mod:`psychobench.consistency.table`), one block of rows per experiment and their means
    over experiments (``dataset = "aggregate"``).

    model, humans: trial tables (or ``{experiment: trial table}``), or anything
    :func:`read_trials` accepts; rows pair by experiment and (stimulus_id, condition).  ``ceilings=False`` leaves out the noise ceilings
    and bootstrap intervals (as ``psychobench-score --no-consistency`` and
    ``metrics.consistency=false``); ``n_boot`` bootstrap draws and ``n_splits`` split halves of
    ``split`` (``subjects`` or ``trials``), seeded with ``seed``.

    Before scoring, each experiment's model trials are checked (:func:`check_model_trials`):
    one observer, each stimulus with the humans' category, every answer in the answer space:
    ``answers`` (a list of labels, ``"open"``, or None for :func:`answer_labels`).  ``where``:
    ``{experiment: where(i)}`` naming the file and line of model row ``i`` in error messages."""
    from psychobench.consistency import scoring
    from psychobench.consistency import table as T
    from psychobench.experiments import mvh
    from psychobench.experiments.base import ScoreSettings

    m, h = _by_experiment(model, "model"), _by_experiment(humans, "humans")
    m, h = ({_experiment_name(k): v for k, v in d.items()} for d in (m, h))
    settings = ScoreSettings(consistency=bool(ceilings), n_splits=int(n_splits), n_boot=int(n_boot),
                             split=str(split), seed=int(seed))
    parts = []
    for name, mt in m.items():
        if name not in h:
            raise TrialTableError(f"no human trials of experiment {name!r} (the humans' experiments: "
                                  f"{sorted(h)})")
        ht = h[name]
        subject = mt["subject"].astype(str)
        observers = pd.unique(subject)
        if len(observers) != 1:
            at = (where or {}).get(name)
            first = f"{at(int((subject != observers[0]).to_numpy().argmax()))}, column 'subj': " if at else ""
            raise TrialTableError(f"{first}model trials of {name}: {len(observers)} observers "
                                  f"({', '.join(observers[:5])}); score one observer at a time")
        labels = (None if answers == "open" else answer_labels(name, ht) if answers is None
                  else tuple(answers))
        check_model_trials(name, mt, ht, labels, (where or {}).get(name))
        try:
            scheme = mvh.scheme(name)
            excluded, shape = scheme.excluded, mvh.has_shape_bias(name)
        except KeyError:
            excluded, shape = frozenset(), "texture" in mt.columns
        parts.append(scoring.item_level(mt, ht, dataset=name,
                                        excluded=excluded, with_shape_bias=shape,
                                        consistency=settings.consistency, n_splits=settings.n_splits,
                                        n_boot=settings.n_boot, seed=settings.seed, split=settings.split))
    table = T.concat(parts)
    return T.concat([table, scoring.aggregate(table)])


def run(*overrides: str, config_dir: str | os.PathLike | None = None) -> Path:
    """Run the Hydra app with ``overrides`` (as on the command line) in this process; returns
    the run folder."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf, open_dict

    from psychobench.cli.main import config_dir as default_config_dir
    from psychobench.cli.main import retired_override, spell_choices
    from psychobench.errors import SettingError
    from psychobench.results.run_folder import RunFolder
    from psychobench.results.store import run_job

    msg = retired_override(overrides)
    if msg:
        raise SettingError(msg)
    conf = Path(config_dir or default_config_dir()).resolve()
    overrides = spell_choices(list(overrides), conf)
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(conf), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    run_dir = Path(OmegaConf.select(cfg, "hydra.run.dir"))
    with open_dict(cfg):
        del cfg["hydra"]
    folder = RunFolder(run_dir)
    folder.write_config(OmegaConf.to_yaml(cfg, resolve=True))
    summary = run_job(cfg, run_dir)
    folder.write_summary(summary)
    return run_dir
