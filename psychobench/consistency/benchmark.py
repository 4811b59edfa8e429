"""model-vs-human's behavioural benchmark metrics, vectorised (Geirhos et al. 2021).

Definitions (``metrics-reference.md`` section 8):

* trials pair by ``stimulus_id`` within a data set (every human saw the same list once);
* the benchmark means use only the conditions not in
  :data:`psychobench.data.conditions.EXCLUDED_CONDITIONS`;
* per (human s, condition c): accuracy difference ``(acc_m - acc_s)^2``, observed consistency
  and error consistency (kappa, NaN where undefined: excluded from means; model-vs-human returns
  1 there); mean over conditions, then over humans, then over data sets (unweighted);
* OOD accuracy: the model's accuracy pooled over the used conditions, then the mean over data
  sets; shape bias: cue-conflict only, all conditions, trials whose shape and texture category
  agree dropped, ``shape hits / (shape hits + texture hits)``.

Everything is array arithmetic over a (subjects x stimuli) correctness matrix and a
(stimuli x conditions) one-hot matrix: no loop over trials, subjects or conditions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from psychobench.consistency.agreement import kappa_from_rates
from psychobench.data.conditions import EXCLUDED_CONDITIONS
from psychobench.data.schema import TrialTableError
from psychobench.data.trials import texture_of

METRICS: tuple[str, ...] = ("ood_accuracy", "accuracy_difference", "observed_consistency",
                            "error_consistency", "shape_bias")
PAIRWISE: tuple[str, ...] = ("accuracy_difference", "observed_consistency", "error_consistency")


@dataclass(frozen=True)
class Paired:
    """Human and model answers of one data set on a common stimulus axis.

    ``human``: (n_subjects, n_stimuli) float correctness, NaN where a human has no trial;
    ``model``: (n_models, n_stimuli) the same for the model(s); ``cond``: (n_stimuli,) condition
    codes into ``conditions``; ``used``: (n_conditions,) bool, condition enters the means.
    """

    dataset: str
    stimulus_ids: np.ndarray
    conditions: np.ndarray
    cond: np.ndarray
    used: np.ndarray
    subjects: np.ndarray
    human: np.ndarray
    model: np.ndarray
    model_response: np.ndarray | None = None


def _matrix(table: pd.DataFrame, stim_index: pd.Index, source: str):
    """(subjects, stimuli) correctness matrix of a trial table on ``stim_index``."""
    subjects, s_code = np.unique(table["subject"].to_numpy(dtype=str), return_inverse=True)
    x_code = stim_index.get_indexer(table["stimulus_id"])
    if (x_code < 0).any():
        missing = table["stimulus_id"][x_code < 0].unique()[:5].tolist()
        raise TrialTableError(
            f"{source}: {int((x_code < 0).sum())} trial(s) on stimuli the humans never saw, "
            f"e.g. {missing}")
    mat = np.full((len(subjects), len(stim_index)), np.nan)
    mat[s_code, x_code] = table["correct"].to_numpy(dtype=float)
    return subjects, mat, s_code, x_code


def pair(model: pd.DataFrame, humans: pd.DataFrame, dataset: str) -> Paired:
    """Put a model's and the humans' trials of ``dataset`` on one stimulus axis.

    The condition of each stimulus is the humans'; a model trial whose own condition is given and
    disagrees is an error, as is a stimulus the model never answered or one the humans never saw.
    """
    stim = pd.Index(pd.unique(humans["stimulus_id"].to_numpy(dtype=str)))
    h_first = humans.drop_duplicates("stimulus_id").set_index("stimulus_id")["condition"]
    cond_of_stim = h_first.reindex(stim).to_numpy(dtype=str)
    conditions, cond = np.unique(cond_of_stim, return_inverse=True)
    excluded = EXCLUDED_CONDITIONS.get(dataset, frozenset())
    used = ~np.isin(conditions, list(excluded))

    subjects, human, _, _ = _matrix(humans, stim, f"humans of {dataset}")
    models, mmat, _, x_code = _matrix(model, stim, f"model trials of {dataset}")
    unanswered = np.isnan(mmat).all(axis=0)
    if unanswered.any():
        ids = stim[unanswered][:5].tolist()
        raise TrialTableError(
            f"model trials of {dataset}: {int(unanswered.sum())} stimuli the humans saw have no "
            f"model answer, e.g. {ids} (stimulus ids do not match?)")
    mcond = model["condition"]
    given = mcond.notna().to_numpy()
    if given.any():
        clash = given & (mcond.to_numpy(dtype=object) != cond_of_stim[x_code])
        if clash.any():
            i = int(np.flatnonzero(clash)[0])
            raise TrialTableError(
                f"model trials of {dataset}: stimulus {model['stimulus_id'].iloc[i]!r} has condition "
                f"{mcond.iloc[i]!r}, the humans' is {cond_of_stim[x_code[i]]!r}")
    return Paired(dataset, stim.to_numpy(), conditions, cond, used, subjects, human, mmat)


def _per_subject_condition(a: np.ndarray, h: np.ndarray, onehot: np.ndarray):
    """Pairwise statistics per (observer a_i, human s, condition c).

    ``a``: (A, X) correctness of the observers scored, ``h``: (S, X) humans, NaN = no trial;
    ``onehot``: (X, C).  Returns arrays of shape (A, S, C): n, acc_a, acc_h, c_obs.
    """
    va, vh = ~np.isnan(a), ~np.isnan(h)
    a0, h0 = np.nan_to_num(a), np.nan_to_num(h)
    both = va[:, None, :] & vh[None, :, :]                     # (A, S, X)
    n = both.astype(float) @ onehot                              # (A, S, C)
    sum_a = (both * a0[:, None, :]) @ onehot
    sum_h = (both * h0[None, :, :]) @ onehot
    agree = (both * (a0[:, None, :] == h0[None, :, :])) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        return n, sum_a / n, sum_h / n, agree / n


def pairwise_metrics(a: np.ndarray, h: np.ndarray, cond: np.ndarray, used: np.ndarray,
                     exclude_self: bool = False) -> dict[str, float]:
    """Accuracy difference, observed and error consistency of observers ``a`` against humans
    ``h``, aggregated as model-vs-human does (conditions, then humans; then observers).

    ``exclude_self``: ``a`` are the humans themselves; pairs (i, i) are left out.
    """
    onehot = np.eye(len(used))[cond][:, used]                    # only used conditions
    n, acc_a, acc_h, c_obs = _per_subject_condition(a, h, onehot)
    kappa = kappa_from_rates(acc_a, acc_h, c_obs)
    valid = n > 0
    if exclude_self:
        valid &= ~np.eye(a.shape[0], h.shape[0], dtype=bool)[:, :, None]
    out = {}
    for name, vals in (("accuracy_difference", (acc_a - acc_h) ** 2),
                       ("observed_consistency", c_obs), ("error_consistency", kappa)):
        v = np.where(valid, vals, np.nan)
        with np.errstate(invalid="ignore"), _quiet():
            per_pair = np.nanmean(v, axis=2)                         # over conditions
            per_obs = np.nanmean(per_pair, axis=1)                   # over humans
            out[name] = float(np.nanmean(per_obs))                   # over observers
    return out


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def ood_accuracy(p: Paired, observers: np.ndarray) -> float:
    """Accuracy pooled over all trials of the used conditions (``observers``: (A, X))."""
    keep = p.used[p.cond]
    vals = observers[:, keep]
    return float(np.nanmean(vals))


def shape_bias(table: pd.DataFrame) -> float:
    """Shape bias of cue-conflict trials (pooled over the table's observers)."""
    if "texture" in table.columns and table["texture"].notna().all():
        texture = table["texture"].astype(str)
    else:
        names = table["imagename"] if "imagename" in table.columns else table["stimulus_id"]
        texture = texture_of(names.astype(str))
    shape = table["category"].astype(str)
    resp = table["response"].astype(str)
    keep = (shape != texture).to_numpy()
    shape_hits = int(((resp == shape).to_numpy() & keep).sum())
    texture_hits = int(((resp == texture).to_numpy() & keep).sum())
    if shape_hits + texture_hits == 0:
        return float("nan")
    return shape_hits / (shape_hits + texture_hits)


def dataset_metrics(model: pd.DataFrame, humans: pd.DataFrame, dataset: str) -> dict[str, float]:
    """The benchmark metrics of one model on one data set."""
    p = pair(model, humans, dataset)
    out = {"ood_accuracy": ood_accuracy(p, p.model)}
    out.update(pairwise_metrics(p.model, p.human, p.cond, p.used))
    if dataset == "cue-conflict":
        out["shape_bias"] = shape_bias(model)
    return out


def human_reference(humans: pd.DataFrame, dataset: str) -> dict[str, float]:
    """The "humans" row: every ordered pair of different humans, aggregated the same way;
    OOD accuracy and shape bias pooled over all human trials."""
    p = pair(humans, humans, dataset)
    out = {"ood_accuracy": ood_accuracy(p, p.human)}
    out.update(pairwise_metrics(p.human, p.human, p.cond, p.used, exclude_self=True))
    if dataset == "cue-conflict":
        out["shape_bias"] = shape_bias(humans)
    return out


def aggregate(per_dataset: dict[str, dict[str, float]]) -> dict[str, float | None]:
    """Unweighted mean over data sets; shape bias is the cue-conflict value (None without it)."""
    out: dict[str, float | None] = {}
    for m in METRICS:
        if m == "shape_bias":
            v = per_dataset.get("cue-conflict", {}).get("shape_bias")
            out[m] = None if v is None or np.isnan(v) else float(v)
            continue
        vals = [d[m] for d in per_dataset.values() if m in d and not np.isnan(d[m])]
        out[m] = float(np.mean(vals)) if vals else None
    return out


def score(models: dict[str, pd.DataFrame], humans: dict[str, pd.DataFrame]) -> dict:
    """Score one model's trial tables (``{dataset: table}``) against the humans'.

    Returns ``{"datasets": {dataset: {metric: value}}, "aggregate": {metric: value}}``.
    """
    missing = sorted(set(models) - set(humans))
    if missing:
        raise KeyError(f"no human data for data set(s) {missing}")
    per = {ds: dataset_metrics(models[ds], humans[ds], ds) for ds in models}
    return {"datasets": per, "aggregate": aggregate(per)}


def score_humans(humans: dict[str, pd.DataFrame]) -> dict:
    """The human reference row over the given data sets (same shape as :func:`score`)."""
    per = {ds: human_reference(t, ds) for ds, t in humans.items()}
    return {"datasets": per, "aggregate": aggregate(per)}
