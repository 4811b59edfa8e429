"""Fitted readouts: a linear classifier from a layer's features to the experiment's labels.

Two readouts (``model/readout=logistic`` and ``model/readout=probabilities``) share one fitting
rule (:meth:`FittedReadout.fit_predict`):

* **a separate set of fitting stimuli** (``model.readout.fit=...``, or the experiment's own
  choice, e.g. cue-conflict's single-cue images): the readout is fitted on all of them and
  answers every stimulus of the experiment (``fold = -1``);
* **otherwise, cross-validation within the experiment**: stratified k-fold over *groups* of
  stimuli (a group holds a stimulus and all its other conditions: the same source image, word
  token or stimulus id), so that each stimulus is answered by a readout fitted on folds that
  hold neither it nor any other condition of it.  Every split is checked for that before it is
  used.

Why scikit-learn and not torch: the problems here are small (hundreds to a few thousand stimuli,
up to a few thousand features, 2-64 labels) and convex; scikit-learn solves them exactly
(L-BFGS / Newton-CG with convergence checks), brings the group-aware splitters this needs
(``StratifiedGroupKFold``) and the grid search for nested cross-validation, and Brain-Score's own
``probabilities`` readout is a scikit-learn classifier, so the same solver reproduces it.  A
torch solver would pay off only for far larger fitting sets on an accelerator.

Features are standardised (mean 0, sd 1 per feature) with statistics of the fitting stimuli
only; the optional PCA (``pca=N``) is fitted on them too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from psychobench.data.answers import AnswerSpace
from psychobench.models.base import ObserverError
from psychobench.models.readouts import Readout, closed_labels


@dataclass
class FitData:
    """Features ``X`` (n, d), labels ``y`` (n,) and ``groups`` (n,): stimuli of one group (a
    stimulus and its other conditions) never sit on both sides of a split."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray

    def __post_init__(self):
        self.X = np.asarray(self.X, dtype=np.float64)
        self.y = np.asarray(self.y).astype(str)
        self.groups = np.asarray(self.groups).astype(str)
        if self.X.ndim != 2:
            raise ObserverError(f"features must be (stimuli, features), got shape {self.X.shape}")
        if not (len(self.X) == len(self.y) == len(self.groups)):
            raise ObserverError(f"{len(self.X)} feature rows, {len(self.y)} labels, {len(self.groups)} groups")
        bad = ~np.isfinite(self.X).all(axis=1)
        if bad.any():
            raise ObserverError(f"{int(bad.sum())} stimuli have non-finite features (first: row {int(np.argmax(bad))}); "
                                "the layer's activations overflow: choose another layer")

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Fit:
    """What a fitted readout answers: ``scores`` (n, labels) probabilities in the order of
    ``labels``, ``fold`` (n,) the cross-validation fold that answered each stimulus (-1: the
    readout fitted on the separate fitting stimuli), and ``info`` (how it was fitted)."""

    labels: tuple[str, ...]
    scores: np.ndarray
    fold: np.ndarray
    info: dict

    @property
    def response(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=object)[self.scores.argmax(axis=1)]


class LeakError(AssertionError):
    """A cross-validation split put a group of stimuli on both sides."""


def check_disjoint(groups: np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
    """Raise :class:`LeakError` if any group has stimuli both in ``train`` and ``test``."""
    shared = np.intersect1d(groups[train], groups[test])
    if shared.size:
        raise LeakError(f"{shared.size} group(s) of stimuli (e.g. {shared[0]!r}) are both in a fold's fitting "
                        "stimuli and in its test stimuli")


def grouped_splits(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold splits that keep every group on one side (``StratifiedGroupKFold``,
    shuffled with ``seed``), each checked with :func:`check_disjoint`."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise ObserverError(f"cross-validation in {n_splits} folds needs at least {n_splits} groups of stimuli; "
                            f"there are {n_groups}")
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(np.zeros(len(y)), y, groups)]
    for tr, te in splits:
        check_disjoint(groups, tr, te)
    return splits


def _proba(estimator, X: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """``predict_proba`` in the columns of ``labels`` (0 for a label the estimator never saw)."""
    p = estimator.predict_proba(X)
    out = np.zeros((len(X), len(labels)))
    col = {lab: j for j, lab in enumerate(labels)}
    for k, cls in enumerate(estimator.classes_):
        out[:, col[str(cls)]] = p[:, k]
    return out


def _mean_log_likelihood(estimator, X, y) -> float:
    """Selection score of the nested cross-validation: mean log probability of the true label
    (a proper scoring rule; a label absent from the fitting part scores log 1e-12)."""
    classes = [str(c) for c in estimator.classes_]
    p = estimator.predict_proba(X)
    idx = {c: k for k, c in enumerate(classes)}
    k = np.array([idx.get(str(t), -1) for t in y])
    pt = np.where(k >= 0, p[np.arange(len(y)), np.maximum(k, 0)], 0.0)
    return float(np.mean(np.log(np.clip(pt, 1e-12, 1.0))))


class FittedReadout(Readout):
    """A readout fitted on features.  ``fit``: the stimuli to fit on (names of ``conf/stimuli``
    entries, folders, or stimulus-set configs; resolved by the run pipeline); None: the
    experiment's own fitting stimuli where it names some, else cross-validation within it."""

    fitted = True
    #: True where the readout is fitted only on given fitting stimuli (no cross-validation).
    needs_fitting_stimuli: ClassVar[bool] = False
    fit: Any = None

    def check(self, answers: AnswerSpace) -> tuple[str, ...]:
        return closed_labels(answers, self.name)

    def bind(self, answers: AnswerSpace, n_outputs: int):
        raise ObserverError(f"the {self.name} readout is fitted on features; it has no fixed mapping of outputs")

    def estimator(self, n: int, d: int, seed: int):
        """An unfitted scikit-learn pipeline (standardise, [PCA], classifier) and what it is."""
        raise NotImplementedError

    def _fit_one(self, data: FitData, seed: int):
        """Fit on ``data``: the fitted estimator and what was chosen (e.g. C)."""
        raise NotImplementedError

    def fit_predict(self, test: FitData, labels, fitting: FitData | None = None, *, seed: int = 0,
                    folds: int | None = None) -> Fit:
        """Fit and answer (see the module docstring).  ``test``: the experiment's stimuli (their
        ``y`` are the true labels, used for fitting only in cross-validation); ``fitting``: a
        separate set, or None; ``labels``: the answer space's labels (score columns)."""
        from threadpoolctl import threadpool_limits

        # One BLAS/OpenMP thread: these fits are small, and beside torch's thread pools the
        # multi-threaded path was 100x slower here (2 cores: 0.04 s vs 4 s for one fit).
        with threadpool_limits(limits=1):
            return self._fit_predict(test, labels, fitting, seed=seed, folds=folds)

    def _fit_predict(self, test: FitData, labels, fitting: FitData | None, *, seed: int,
                     folds: int | None) -> Fit:
        labels = tuple(str(v) for v in labels)
        unknown = sorted(set(test.y) - set(labels))
        if unknown:
            raise ObserverError(f"stimuli of categories {unknown[:5]} outside the answer space {list(labels)[:6]}")
        if fitting is not None:
            bad = sorted(set(fitting.y) - set(labels))
            if bad:
                raise ObserverError(f"fitting stimuli of categories {bad[:5]} that are not answers of the experiment")
            if len(np.unique(fitting.y)) < 2:
                raise ObserverError("the fitting stimuli hold one category only; a readout needs at least two")
            est, chosen = self._fit_one(fitting, seed)
            scores = _proba(est, test.X, labels)
            info = {"mode": "fitting stimuli", "n_fit": len(fitting), "n_test": len(test),
                    "fit_labels": sorted(set(fitting.y)), **chosen,
                    "training_accuracy": float(np.mean(est.predict(fitting.X).astype(str) == fitting.y))}
            return Fit(labels, scores, np.full(len(test), -1, dtype=np.int64), {**self.identity(), **info})
        if self.needs_fitting_stimuli:
            raise ObserverError(f"the {self.name} readout is fitted only on given fitting stimuli "
                                "(model.readout.fit=[NAME, ...]); none were given")
        k = int(folds or getattr(self, "folds", 5))
        splits = grouped_splits(test.y, test.groups, k, seed)
        scores = np.zeros((len(test), len(labels)))
        fold = np.full(len(test), -2, dtype=np.int64)
        per_fold: list[dict] = []
        missing: set[str] = set()
        for f, (tr, te) in enumerate(splits):
            part = FitData(test.X[tr], test.y[tr], test.groups[tr])
            est, chosen = self._fit_one(part, seed + f)
            scores[te] = _proba(est, test.X[te], labels)
            fold[te] = f
            missing |= set(test.y[te]) - set(part.y)
            per_fold.append({**chosen, "n_fit": int(len(tr)), "n_test": int(len(te)),
                             "training_accuracy": float(np.mean(est.predict(part.X).astype(str) == part.y))})
        if (fold < 0).any():
            raise AssertionError("cross-validation left stimuli unanswered")
        info = {"mode": "cross-validation", "folds": k, "n_groups": int(len(np.unique(test.groups))),
                "n_test": len(test), "per_fold": per_fold}
        if missing:
            info["labels_absent_from_a_fold"] = sorted(missing)
        return Fit(labels, scores, fold, {**self.identity(), **info})


def _pipeline(steps):
    from sklearn.pipeline import Pipeline

    return Pipeline(steps)


@dataclass
class LogisticReadout(FittedReadout):
    """Multinomial logistic regression on standardised features (L2 penalty).

    ``C``: inverse regularisation strength; None: chosen among ``Cs`` by nested cross-validation
    on the fitting stimuli (``inner_folds`` grouped stratified folds, mean log-likelihood of the
    true label).  ``folds``: outer folds of the cross-validation within the experiment.
    ``pca``: project on the first N principal components of the fitting stimuli first.
    ``fit``: separate fitting stimuli (see :class:`FittedReadout`)."""

    C: float | None = None
    Cs: tuple = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
    folds: int = 5
    inner_folds: int = 3
    pca: int | None = None
    max_iter: int = 2000
    fit: Any = None
    name = "logistic"

    def __post_init__(self):
        self.Cs = tuple(float(c) for c in self.Cs)
        if self.C is not None:
            self.C = float(self.C)
            if not self.C > 0:
                raise ObserverError(f"model.readout.C must be > 0, got {self.C}")
        if not self.Cs or min(self.Cs) <= 0:
            raise ObserverError(f"model.readout.Cs must be positive numbers, got {list(self.Cs)}")
        if int(self.folds) < 2 or int(self.inner_folds) < 2:
            raise ObserverError("model.readout.folds and inner_folds must be >= 2")
        if self.pca is not None and int(self.pca) < 1:
            raise ObserverError(f"model.readout.pca must be >= 1 or null, got {self.pca}")

    def estimator(self, n: int, d: int, seed: int, C: float = 1.0):
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        steps = [("scale", StandardScaler())]
        if self.pca is not None:
            steps.append(("pca", PCA(n_components=min(int(self.pca), n - 1, d), random_state=seed)))
        steps.append(("clf", LogisticRegression(C=C, solver="lbfgs", max_iter=int(self.max_iter))))
        return _pipeline(steps)

    def _fit_one(self, data: FitData, seed: int):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import GridSearchCV

        n, d = data.X.shape
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            if self.C is not None or len(self.Cs) == 1:
                c = self.C if self.C is not None else self.Cs[0]
                est = self.estimator(n, d, seed, c).fit(data.X, data.y)
                return est, {"C": c}
            inner = grouped_splits(data.y, data.groups, int(self.inner_folds), seed)
            search = GridSearchCV(self.estimator(n, d, seed), {"clf__C": list(self.Cs)}, cv=inner,
                                  scoring=_mean_log_likelihood, refit=True, n_jobs=1, error_score="raise")
            search.fit(data.X, data.y)
        c = float(search.best_params_["clf__C"])
        edge = c in (min(self.Cs), max(self.Cs))
        return search.best_estimator_, {"C": c, **({"C_at_grid_edge": True} if edge else {})}

    def identity(self) -> dict:
        return {"readout": self.name, "C": self.C, "Cs": None if self.C is not None else list(self.Cs),
                "folds": int(self.folds), "inner_folds": int(self.inner_folds),
                "pca": None if self.pca is None else int(self.pca), "max_iter": int(self.max_iter),
                "standardize": True, "solver": "lbfgs"}


@dataclass
class ProbabilitiesReadout(FittedReadout):
    """Brain-Score's ``probabilities`` readout (``ProbabilitiesMapping``, started by
    ``start_task("probabilities", fitting_stimuli)``): features standardised with the fitting
    stimuli's statistics, then multinomial logistic regression with ``C = 1e-3`` (Newton-CG),
    fitted only on the given fitting stimuli; no cross-validation, no choice of C."""

    fit: Any = None
    C: float = 1e-3
    name = "probabilities"
    needs_fitting_stimuli = True

    def estimator(self, n: int, d: int, seed: int):
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        return _pipeline([("scale", StandardScaler()),
                          ("clf", LogisticRegression(C=float(self.C), solver="newton-cg", max_iter=100))])

    def _fit_one(self, data: FitData, seed: int):
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            est = self.estimator(*data.X.shape, seed).fit(data.X, data.y)
        return est, {"C": float(self.C)}

    def identity(self) -> dict:
        return {"readout": self.name, "C": float(self.C), "solver": "newton-cg", "standardize": True}


__all__ = ["Fit", "FitData", "FittedReadout", "LeakError", "LogisticReadout", "ProbabilitiesReadout",
           "check_disjoint", "grouped_splits"]
