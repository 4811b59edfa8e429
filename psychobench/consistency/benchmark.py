"""model-vs-human's behavioural benchmark metrics, vectorised (Geirhos et al. 2021).

Definitions (model-vs-human ``modelvshuman/plotting/analyses.py``, Geirhos et al. 2021):

* trials pair by ``stimulus_id`` within a data set (every human saw the same list once);
* the benchmark means use only the conditions an experiment does not exclude (model-vs-human's
  ``EXCLUDE_CONDITIONS``: the unmanipulated condition and those where humans are below 20%);
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

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from psychobench.consistency.agreement import kappa_from_rates
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


def _arrow(col: pd.Series) -> pa.Array:
    arr = pa.array(col, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def _encode(*cols: pd.Series) -> tuple[list[np.ndarray], np.ndarray]:
    """Integer codes of string columns over one shared dictionary (codes -1 = missing).

    Arrow's hash encoding: the string work is done once, in C++, for all columns together."""
    arrays = [_arrow(c) for c in cols]
    arr = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
    enc = arr.dictionary_encode()
    idx = enc.indices
    if idx.null_count:
        idx = idx.fill_null(-1)
    codes = idx.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    bounds = np.cumsum([0] + [len(a) for a in arrays])
    return ([codes[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
            enc.dictionary.to_numpy(zero_copy_only=False))


def _matrix(table: pd.DataFrame, x_code: np.ndarray, n_stimuli: int) -> tuple[np.ndarray, np.ndarray]:
    """(subjects, stimuli) correctness matrix of a trial table, given each trial's stimulus code."""
    (s_code,), subjects = _encode(table["subject"])
    mat = np.full((len(subjects), n_stimuli), np.nan)
    mat[s_code, x_code] = table["correct"].to_numpy(dtype=float)
    return subjects, mat


def pair(model: pd.DataFrame, humans: pd.DataFrame, dataset: str,
         excluded: frozenset[str] = frozenset()) -> Paired:
    """Put a model's and the humans' trials of ``dataset`` on one stimulus axis; ``excluded``:
    the conditions left out of the benchmark means.

    The condition of each stimulus is the humans'; a model trial whose own condition is given and
    disagrees is an error, as is a stimulus the model never answered or one the humans never saw.
    """
    same = model is humans
    cols = [humans["stimulus_id"]] if same else [humans["stimulus_id"], model["stimulus_id"]]
    codes, stim = _encode(*cols)
    h_code = codes[0]
    if not same and len(stim) > (n := int(h_code.max()) + 1):
        x_code = codes[1]
        unseen = x_code >= n
        missing = pd.unique(model["stimulus_id"].to_numpy()[unseen])[:5].tolist()
        raise TrialTableError(
            f"model trials of {dataset}: {int(unseen.sum())} trial(s) on stimuli the humans never "
            f"saw, e.g. {missing}")
    n = len(stim)
    first = np.empty(n, dtype=np.int64)
    first[h_code[::-1]] = np.arange(len(h_code))[::-1]          # first trial of each stimulus
    (c_all,), conditions = _encode(humans["condition"])
    cond = c_all[first]
    used = np.array([c not in excluded for c in conditions], dtype=bool)

    subjects, human = _matrix(humans, h_code, n)
    if same:
        return Paired(dataset, stim, conditions, cond, used, subjects, human, human)
    x_code = codes[1]
    _, mmat = _matrix(model, x_code, n)
    unanswered = np.isnan(mmat).all(axis=0)
    if unanswered.any():
        ids = stim[unanswered][:5].tolist()
        raise TrialTableError(
            f"model trials of {dataset}: {int(unanswered.sum())} stimuli the humans saw have no "
            f"model answer, e.g. {ids} (stimulus ids do not match?)")
    mcond = model["condition"]
    given = mcond.notna().to_numpy()
    if given.any():
        m_c = pc.index_in(_arrow(mcond[given]), value_set=pa.array(conditions, pa.large_string()))
        m_c = m_c.fill_null(-1).to_numpy(zero_copy_only=False)
        clash = m_c != cond[x_code[given]]
        if clash.any():
            i = int(np.flatnonzero(given)[np.flatnonzero(clash)[0]])
            raise TrialTableError(
                f"model trials of {dataset}: stimulus {model['stimulus_id'].iloc[i]!r} has condition "
                f"{mcond.iloc[i]!r}, the humans' is {conditions[cond[x_code[i]]]!r}")
    return Paired(dataset, stim, conditions, cond, used, subjects, human, mmat)


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
    vals = np.stack([(acc_a - acc_h) ** 2, c_obs, kappa])        # (3, A, S, C)
    vals = np.where(valid, vals, np.nan)
    with warnings.catch_warnings():                            # all-NaN slices are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        per_obs = np.nanmean(np.nanmean(vals, axis=3), axis=2)  # conditions, then humans
        agg = np.nanmean(per_obs, axis=1)                       # then observers
    return dict(zip(PAIRWISE, map(float, agg)))


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


def dataset_metrics(model: pd.DataFrame, humans: pd.DataFrame, dataset: str, *,
                    excluded: frozenset[str] = frozenset(), with_shape_bias: bool = False) -> dict[str, float]:
    """The benchmark metrics of one model on one data set (shape bias where the experiment has
    a texture cue per image)."""
    p = pair(model, humans, dataset, excluded)
    out = {"ood_accuracy": ood_accuracy(p, p.model)}
    out.update(pairwise_metrics(p.model, p.human, p.cond, p.used))
    if with_shape_bias:
        out["shape_bias"] = shape_bias(model)
    return out


def human_reference(humans: pd.DataFrame, dataset: str, *, excluded: frozenset[str] = frozenset(),
                    with_shape_bias: bool = False) -> dict[str, float]:
    """The "humans" row: every ordered pair of different humans, aggregated the same way;
    OOD accuracy and shape bias pooled over all human trials."""
    p = pair(humans, humans, dataset, excluded)       # model is humans: one pass
    out = {"ood_accuracy": ood_accuracy(p, p.human)}
    out.update(pairwise_metrics(p.human, p.human, p.cond, p.used, exclude_self=True))
    if with_shape_bias:
        out["shape_bias"] = shape_bias(humans)
    return out
