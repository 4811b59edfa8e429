"""A model's consistency with the humans, with noise ceilings and bootstrap intervals.

:func:`consistency_details` returns one row per metric: ``value``, ``ceiling``, ``normalized``
and a 95% interval of each (``value_ci_low`` ... ``normalized_ci_high``):

=================== ===================================================================
o1_acc              per-category accuracy, correlated over categories
o1_dprime           one-vs-rest d' per category
o2_offdiag          off-diagonal of the row-normalised confusion matrix
o2_dprime           pairwise d' (hit: say a when a; false alarm: say a when b)
i1                  per-stimulus accuracy (humans pooled; the model's p_true when given)
i1n                 i1 minus the mean over stimuli of the same category and condition
i2, i2n             2AFC data only: image-by-distractor d' (and normalised)
error_consistency   mean kappa(model, subject) over conditions, then subjects
=================== ===================================================================

Each interval is the 2.5 / 97.5 percentile of its quantity over bootstrap draws that resample
stimuli (within condition) and subjects, crossed, with the splits redone in every draw
(non-finite draws ignored).  NaN appears only where a quantity is undefined: a constant vector
(e.g. a model that is right on every stimulus gives no i1 correlation), a non-positive human
split-half reliability (no ceiling), fewer than two human observers, or (error consistency) no
condition where kappa is defined (c_exp = 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from psychobench.consistency import ceiling as C
from psychobench.consistency.arrays import human_arrays, paired_arrays
from psychobench.data.schema import TrialTableError


def _subset(df: pd.DataFrame, conditions: Sequence[str] | None, name: str) -> pd.DataFrame:
    if conditions is None:
        return df
    # rows without a condition (a model table that pairs by stimulus id alone) are kept
    keep = df["condition"].astype(str).isin([str(c) for c in conditions]) | df["condition"].isna()
    if not keep.any():
        raise TrialTableError(f"{name}: no trial in conditions {list(conditions)}")
    return df.loc[keep]


def _interval_columns(r: dict) -> dict:
    """CI columns, standard errors (on the interval's working scale) and statuses of one
    metric's result from :func:`ceiling.run`."""
    row = {}
    for k in ("value", "ceiling", "normalized"):
        iv = r["intervals"][k]
        row[f"{k}_ci_low"], row[f"{k}_ci_high"] = iv.low, iv.high
        row[f"{k}_se"] = iv.se
        row[f"{k}_interval"] = iv.status
    return row


def consistency_details(model: pd.DataFrame, humans: pd.DataFrame, *, n_splits: int = 10,
                        n_boot: int = 1000, seed: int = 0, split: str = "subjects",
                        estimator: int = 1, model_reliability: float | str = 1.0,
                        conditions: Sequence[str] | None = None, interval: str = "crossed") -> pd.DataFrame:
    """Tidy table, one row per metric: value, ceiling, normalized, their 95% CIs
    (``*_ci_low/high``), standard errors on the interval's working scale (``*_se``) and each
    interval's status (``*_interval``: ``ok``, ``no_valid_interval``, ``too_few_observers``,
    ``undefined``, ``no_interval``), and the human split-half reliability r_SB.

    model, humans: trial tables (``psychobench.data.schema``) of one experiment; the model table
        holds one observer and may carry ``p_true``; rows pair by (stimulus_id, condition), and
        a human stimulus without a model trial raises :class:`TrialTableError` naming it.
    n_splits: K seeded split halves; n_boot: bootstrap draws per set (0: no interval).
    interval: ``"crossed"`` (stimuli, observers and both resampled, the variance combined as in
        :func:`psychobench.consistency.intervals.crossed`, a normal interval around the estimate
        on Fisher's z scale for correlations), ``"percentile"`` (the earlier percentile interval
        of crossed draws; biased low for ceilings, kept for comparison) or ``"none"``.
    split: ``"subjects"`` (halves of observers) or ``"trials"`` (each stimulus's observations).
    estimator: 1 (full data / sqrt(SB reliability), default), 2 (Brain-Score), 3 (objectome).
    model_reliability: r_mm, 1 for a deterministic model; ``"human"`` for a noisy observer.
    conditions: restrict both tables to these conditions (default: all).
    """
    m, h = paired_arrays(_subset(model, conditions, "model"), _subset(humans, conditions, "humans"))
    res = C.run(h, m, n_splits=n_splits, n_boot=n_boot, seed=seed, split=split,
                estimator=estimator, model_reliability=model_reliability, interval=interval)
    rows = []
    for name, r in res.items():
        row = {"metric": name, "value": r["value"], "ceiling": r["ceiling"],
               "normalized": r["normalized"], "reliability": r["reliability"]}
        row.update(_interval_columns(r))
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(n_subjects=h.shape[0], n_stimuli=h.shape[1])
    return out


def human_ceilings(humans: pd.DataFrame, *, n_splits: int = 10, n_boot: int = 0, seed: int = 0,
                   split: str = "subjects", conditions: Sequence[str] | None = None,
                   interval: str = "crossed") -> pd.DataFrame:
    """The humans' own noise ceilings, one row per metric: ``reliability`` (split-half,
    Spearman-Brown corrected r_SB; NaN for error consistency), ``ceiling`` (sqrt(r_SB): the
    largest correlation a deterministic model can expect; for error consistency the mean kappa
    over human pairs) and, with ``n_boot > 0``, the ceiling's 95% CI (``interval`` as in
    :func:`consistency_details`) and its status ``ceiling_interval``."""
    h = human_arrays(_subset(humans, conditions, "humans"))
    res = C.run(h, None, n_splits=n_splits, n_boot=n_boot, seed=seed, split=split,
                interval=interval)
    rows = []
    for name, r in res.items():
        cols = _interval_columns(r)
        rows.append({"metric": name, "reliability": r["reliability"], "ceiling": r["ceiling"],
                     "ceiling_ci_low": cols["ceiling_ci_low"], "ceiling_ci_high": cols["ceiling_ci_high"],
                     "ceiling_interval": cols["ceiling_interval"]})
    out = pd.DataFrame(rows)
    out.attrs.update(n_subjects=h.shape[0], n_stimuli=h.shape[1])
    return out
