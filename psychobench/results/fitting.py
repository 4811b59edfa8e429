"""Answers of an observer whose readout is fitted: features first, then the fit, then answers.

The Lightning path answers batch by batch; a fitted readout needs the features of every
stimulus of the experiment (and of its fitting stimuli) before it can answer any.  So for such
an observer a run does, per experiment:

1. :func:`plan`: where the readout learns.  Fitting stimuli given with the readout
   (``model.readout.fit=[NAME, ...]``: names of ``conf/stimuli`` entries, folders, or stimulus
   configs) win; else the experiment's own fitting stimuli where it names some (cue-conflict:
   only the single-cue images, never the conflict images); else cross-validation within the
   experiment, grouped so that no stimulus is answered by a readout that saw it or any other
   condition of it.  Fitting stimuli that are stimuli of the experiment itself (same file or
   samples) are refused.
2. :func:`features_of`: the pooled features of each stimulus set (Lightning prediction, or the
   feature cache: keyed by the observer's feature identity, precision and the set's content);
3. :meth:`~psychobench.models.fitting.FittedReadout.fit_predict`, and the answer table in the
   usual format (``response``, ``p_<label>``) with the fold that answered each stimulus
   (``readout_fold``; -1 for a readout fitted on separate stimuli).  The table is cached under a
   key that adds the fitting stimuli's content, the groups and the seed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from psychobench.data.io import sha256_json
from psychobench.models.base import Observer, ObserverError
from psychobench.models.fitting import Fit, FitData
from psychobench.results import cache

log = logging.getLogger(__name__)


@dataclass
class FittingPlan:
    """Where a fitted readout learns for one experiment: ``mode`` (``cross-validation`` or
    ``fitting stimuli``), ``sets`` (name -> stimulus set; empty for cross-validation),
    ``source`` (``model.readout.fit``, ``experiment`` or None) and ``note`` (said in the run's
    summary)."""

    mode: str
    sets: dict = field(default_factory=dict)
    source: str | None = None
    note: str = ""

    def describe(self) -> dict:
        out = {"mode": self.mode, "note": self.note}
        if self.sets:
            out["fitting_stimuli"] = {name: int(len(s.manifest)) for name, s in self.sets.items()}
            out["fitting_from"] = self.source
        return out


def groups_of(stimuli) -> np.ndarray:
    """What keeps stimuli together in cross-validation: the manifest's ``source_id`` (the
    source image or word token a stimulus was made from, shared by its conditions) where it
    has one, else its ``stimulus_id`` (the same id in every condition)."""
    m = stimuli.manifest
    col = "source_id" if "source_id" in m.columns else "stimulus_id"
    return m[col].astype(str).to_numpy()


def item_digests(stimuli) -> np.ndarray:
    """One digest per stimulus of its content: the file's sha256, or the sha256 of a waveform."""
    m = stimuli.manifest
    if "sha256" in m.columns:
        return m["sha256"].astype(str).to_numpy()
    return np.array([hashlib.sha256(np.ascontiguousarray(stimuli.wave(i), np.float32).tobytes()).hexdigest()
                     for i in range(len(m))])


# ------------------------------------------------------------------------- fitting stimuli

def _config_dir() -> str:
    from psychobench.cli.main import config_dir      # the app's conf/ folder ($PSYCHOBENCH_CONF or the source tree's)

    return config_dir()


def _compose_stimuli(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        cfg = compose("config", overrides=overrides)
    else:
        with initialize_config_dir(_config_dir(), version_base="1.3"):
            cfg = compose("config", overrides=overrides)
    return cfg.stimuli


def resolve(spec, seed: int = 0):
    """A stimulus set (:class:`~psychobench.stimuli.manifest.StimulusSet` or
    :class:`~psychobench.stimuli.waveforms.WaveformSet`) from a fitting-stimuli spec: a set, an
    experiment, a zero-argument callable returning either, a config with ``_target_``, a folder
    (laid out as for ``stimuli=folder``) or the name of a ``conf/stimuli`` entry."""
    from hydra.utils import instantiate

    from psychobench.experiments.base import Experiment
    from psychobench.stimuli.manifest import StimulusSet
    from psychobench.stimuli.waveforms import WaveformSet

    if isinstance(spec, (StimulusSet, WaveformSet)):
        return spec
    if isinstance(spec, Experiment):
        return spec.stimuli()
    if isinstance(spec, Mapping) or hasattr(spec, "_get_node"):
        return resolve(instantiate(spec, _convert_="all"), seed)
    if isinstance(spec, (str, os.PathLike)):
        text = str(spec)
        p = Path(text).expanduser()
        if p.is_dir():
            from psychobench.experiments.folder import from_folder

            return from_folder(path=str(p)).stimuli()
        try:
            conf = _compose_stimuli([f"stimuli={text}", f"seed={int(seed)}"])
        except Exception as e:
            raise ObserverError(f"model.readout.fit: {text!r} is neither a folder nor a stimuli config "
                                f"(conf/stimuli/NAME.yaml): {str(e).splitlines()[0]}") from None
        return resolve(instantiate(conf, _convert_="all"), seed)
    if callable(spec):
        return resolve(spec(), seed)
    raise ObserverError(f"model.readout.fit: cannot make stimuli of {type(spec).__name__} {spec!r}")


def _named(spec) -> dict:
    """``{name: spec}`` from a list, a mapping or one spec."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping) and "_target_" not in spec:
        return {str(k): v for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return {(str(s) if isinstance(s, (str, os.PathLike)) else f"fit{i}"): s for i, s in enumerate(spec)}
    return {str(spec) if isinstance(spec, (str, os.PathLike)) else "fit0": spec}


def plan(observer: Observer, exp, seed: int = 0) -> FittingPlan:
    """Where ``observer``'s fitted readout learns on experiment ``exp`` (see the module
    docstring); the fitting stimuli are made (downloaded, generated) and checked here, before
    any network runs: their categories must be answers of the experiment, and none may be a
    stimulus of the experiment itself."""
    readout = observer.readout
    given = _named(getattr(readout, "fit", None))
    own = _named(getattr(exp, "fitting", None))
    if given:
        specs, source = given, "model.readout.fit"
    elif own:
        specs, source = own, "experiment"
    else:
        if getattr(readout, "needs_fitting_stimuli", False):
            raise ObserverError(f"{exp.name}: the {readout.name} readout is fitted only on given fitting stimuli "
                                "(Brain-Score's probabilities task); give model.readout.fit=[NAME, ...] "
                                "(conf/stimuli entries or folders), or use model/readout=logistic")
        return FittingPlan("cross-validation", note=(
            f"readout fitted by {int(getattr(readout, 'folds', 5))}-fold cross-validation within {exp.name}: each "
            "stimulus answered by a readout fitted on folds holding neither it nor its other conditions "
            "(grouped by source image / stimulus id)"))
    sets = {}
    for name, spec in specs.items():
        s = resolve(spec, seed)
        sets[getattr(s, "name", None) or name] = s
    stimuli = exp.stimuli()
    mine = set(item_digests(stimuli))
    labels = set(exp.answers.labels or ())
    for name, s in sets.items():
        if exp.modality == "audio" and not hasattr(s, "wave") or exp.modality == "image" and hasattr(s, "wave"):
            raise ObserverError(f"fitting stimuli {name} are {'sounds' if hasattr(s, 'wave') else 'images'}; "
                                f"{exp.name} is a {'hearing' if exp.modality == 'audio' else 'vision'} experiment")
        cats = set(s.manifest["category"].astype(str))
        bad = sorted(cats - labels)
        if bad:
            raise ObserverError(f"fitting stimuli {name}: categories {bad[:5]} are not answers of {exp.name}")
        shared = int(np.isin(item_digests(s), list(mine)).sum())
        if shared:
            raise ObserverError(f"fitting stimuli {name}: {shared} of them are stimuli of {exp.name} itself (same "
                                "content); a readout must not be fitted on what it answers")
    what = ", ".join(f"{n} ({len(s.manifest)})" for n, s in sets.items())
    note = f"readout fitted on {what}, not on the {len(stimuli.manifest)} stimuli of {exp.name}"
    reason = getattr(exp, "fitting_note", "") if source == "experiment" else ""
    if reason:
        note += f": {reason}"
    return FittingPlan("fitting stimuli", sets, source, note)


# ------------------------------------------------------------------------- features and fit

def features_of(observer: Observer, stimuli, predictor, use_cache: bool = True) -> tuple[np.ndarray, int]:
    """The observer's pooled features of every stimulus of ``stimuli`` (manifest order) and the
    forward passes they took (0 from the feature cache)."""
    key = None
    if use_cache:
        observer.prepare()
        key = cache.feature_key(observer.feature_identity(), predictor.identity(), stimuli.content_key())
        hit = cache.load_features(key, len(stimuli.manifest))
        if hit is not None:
            log.info("%s on %s: features from the cache (%s)", observer.name, stimuli.name, key[:12])
            return hit, 0
    x, passes = predictor.features(observer, stimuli)
    if key is not None:
        cache.store_features(key, x)
    return x, passes


def fit_data(x: np.ndarray, stimuli) -> FitData:
    return FitData(x, stimuli.manifest["category"].astype(str).to_numpy(), groups_of(stimuli))


def answer_frame(fit: Fit) -> pd.DataFrame:
    """A fit's answers in the answer-table format: ``response``, ``p_<label>``, ``readout_fold``."""
    cols = {"response": fit.response.astype(str)}
    cols.update({f"p_{lab}": fit.scores[:, j].astype(float) for j, lab in enumerate(fit.labels)})
    cols["readout_fold"] = fit.fold.astype(np.int64)
    return pd.DataFrame(cols)


def fitted_answers(observer: Observer, exp, predictor, fitting: FittingPlan, *, seed: int = 0,
                   use_cache: bool = True) -> tuple[pd.DataFrame, int, dict]:
    """The answers of ``observer`` (fitted readout) to ``exp``'s stimuli, the forward passes
    they took and how the readout was fitted (``info``, for the run's summary)."""
    stimuli = exp.stimuli()
    labels = exp.answers.labels
    observer.readout.check(exp.answers)
    fit_sets = [(name, s, groups_of(s)) for name, s in fitting.sets.items()]
    fit_id = {"plan": fitting.mode, "seed": int(seed),
              "groups": hashlib.sha256("\n".join(groups_of(stimuli)).encode()).hexdigest(),
              "sets": [[name, s.content_key(), hashlib.sha256("\n".join(g).encode()).hexdigest()]
                       for name, s, g in fit_sets]}
    key = None
    if use_cache:
        observer.prepare()
        key = cache.answer_key(observer.identity(exp.answers), predictor.identity(), exp.answers.identity(),
                               f"{stimuli.content_key()}|fit:{sha256_json(fit_id)}")
        hit = cache.load(key, len(stimuli.manifest))
        info = cache.load_info(key)
        if hit is not None and info is not None:
            log.info("%s on %s: answers from the cache (%s)", observer.name, exp.name, key[:12])
            return hit, 0, info
    x, passes = features_of(observer, stimuli, predictor, use_cache)
    test = fit_data(x, stimuli)
    train = None
    if fit_sets:
        parts = []
        for _name, s, _g in fit_sets:
            xs, n = features_of(observer, s, predictor, use_cache)
            passes += n
            parts.append(fit_data(xs, s))
        train = FitData(np.concatenate([p.X for p in parts]), np.concatenate([p.y for p in parts]),
                        np.concatenate([p.groups for p in parts]))
    fit = observer.readout.fit_predict(test, labels, train, seed=seed)
    info = {**fit.info, **fitting.describe(), "n_features": int(x.shape[1])}
    answers = answer_frame(fit)
    if key is not None:
        cache.store(key, answers)
        cache.store_info(key, info)
    return answers, passes, info


__all__ = ["FittingPlan", "answer_frame", "features_of", "fit_data", "fitted_answers", "groups_of", "item_digests",
           "plan", "resolve"]
