"""Linear decoding of category and category-orthogonal variables from a layer's features
(Hong, Yamins, Majaj & DiCarlo 2016, Nat Neurosci 19:613; Kell & McDermott 2019, Curr Opin
Neurobiol 55:121, Fig. 3c).

Per layer: the category by multinomial logistic regression, and each orthogonal variable
(position, scale, in-plane and in-depth rotation) by ridge regression, both on standardised
features (clipped to +-10 SD) and scored out of fold (stratified k-fold by category, seeded).  scikit-learn does the
fitting (``LogisticRegression``, ``RidgeCV``: a well-kept, tested implementation; nothing here
is faster to hand-write).

* ``category_accuracy``: the share of out-of-fold predictions that are right (chance
  1 / categories);
* ``r2_<variable>``: 1 - SS_res / SS_tot of the pooled out-of-fold predictions (0: no better
  than the mean; negative: worse).

Two 95% intervals per score: ``value_ci`` from resampling the objects (2000 draws, percentile:
the score's spread over objects like these, the unit that varies most) and, as ``fold_sd``
beside it in the details, the standard deviation over folds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def _folds(category: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    fold = np.empty(len(category), int)
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(skf.split(np.zeros(len(category)), category)):
        fold[test] = k
    return fold


def _scaler() -> list:
    """Standardisation, then clipping to +-10 SD: a unit nearly silent in the training folds (a
    dead ReLU, say) gets a tiny SD, and a test stimulus that drives it would otherwise become an
    extreme input with an extreme prediction (seen: r2 of -3 at one network's pre_logits)."""
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return [StandardScaler(), FunctionTransformer(np.clip, kw_args={"a_min": -10.0, "a_max": 10.0})]


def readout_pipeline(binary: bool = False, C: float = 1.0):
    """A logistic readout on standardised, clipped features (:func:`_scaler`); ``binary``:
    classes weighted by their frequency (present/absent detection)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(*_scaler(), LogisticRegression(C=C, max_iter=2000,
                                                        class_weight="balanced" if binary else None))


def out_of_fold(x: np.ndarray, category: np.ndarray, variables: dict[str, np.ndarray], *, n_folds: int = 5,
                seed: int = 0, C: float = 1.0, alphas=np.logspace(-2, 6, 17)) -> tuple[dict, np.ndarray]:
    """Out-of-fold predictions: ``{"category": predicted labels, name: predicted values}`` and
    each stimulus's fold.  Standardisation, the logistic fit and the ridge penalty (chosen by
    ``RidgeCV``'s efficient leave-one-out inside the training folds) see only training folds."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline

    x = np.asarray(x, float)
    if not np.isfinite(x).all():
        raise ValueError("features hold NaN or inf")
    category = np.asarray(category).astype(str)
    fold = _folds(category, n_folds, seed)
    pred = {"category": np.empty(len(x), dtype=object), **{k: np.empty(len(x)) for k in variables}}
    for k in range(n_folds):
        tr, te = fold != k, fold == k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # convergence notes on tiny folds
            clf = readout_pipeline(C=C)
            clf.fit(x[tr], category[tr])
            pred["category"][te] = clf.predict(x[te])
            for name, y in variables.items():
                reg = make_pipeline(*_scaler(), RidgeCV(alphas=alphas))
                reg.fit(x[tr], np.asarray(y, float)[tr])
                pred[name][te] = reg.predict(x[te])
    return pred, fold


def _r2(y, p, w=None):
    w = np.ones_like(y) if w is None else w
    mu = (w * y).sum(-1, keepdims=True) / w.sum(-1, keepdims=True)
    return 1.0 - (w * (y - p) ** 2).sum(-1) / (w * (y - mu) ** 2).sum(-1)


def decode(x: np.ndarray, category: np.ndarray, objects: np.ndarray, variables: dict[str, np.ndarray], *,
           n_folds: int = 5, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Scores of one layer: rows ``metric, value, value_ci_low, value_ci_high, fold_sd, n``
    (``category_accuracy``, then ``r2_<variable>`` for each of ``variables``)."""
    pred, fold = out_of_fold(x, category, variables, n_folds=n_folds, seed=seed)
    category = np.asarray(category).astype(str)
    objects = np.asarray(objects).astype(str)
    uo, oi = np.unique(objects, return_inverse=True)
    rng = np.random.default_rng([seed, 613])
    # object resamples: each draw weights every stimulus by how often its object was drawn
    W = rng.multinomial(len(uo), np.full(len(uo), 1.0 / len(uo)), size=n_boot)[:, oi].astype(float)
    rows = []
    hit = (pred["category"] == category).astype(float)
    per_fold = [hit[fold == k].mean() for k in range(n_folds)]
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = (W * hit).sum(1) / W.sum(1)
    rows.append(("category_accuracy", hit.mean(), draws, np.std(per_fold, ddof=1)))
    for name, y in variables.items():
        y = np.asarray(y, float)
        p = pred[name]
        per_fold = [_r2(y[fold == k], p[fold == k]) for k in range(n_folds)]
        with np.errstate(invalid="ignore", divide="ignore"):
            draws = _r2(np.broadcast_to(y, W.shape), np.broadcast_to(p, W.shape), W)
        rows.append((f"r2_{name}", float(_r2(y, p)), draws, np.std(per_fold, ddof=1)))
    out = []
    for metric, v, d, sd in rows:
        d = d[np.isfinite(d)]
        lo, hi = np.percentile(d, [2.5, 97.5]) if d.size else (np.nan, np.nan)
        out.append({"metric": metric, "value": float(v), "value_ci_low": float(lo), "value_ci_high": float(hi),
                    "fold_sd": float(sd), "n": len(x)})
    return pd.DataFrame(out)
