"""Trial tables -> dense arrays, once, so that every metric is an array operation.

A :class:`TrialArrays` holds one panel of observers (the humans, or the model as a panel of one)
on one shared stimulus axis.  Stimuli are sorted by (condition, category, stimulus id), so that
the stimuli of one (condition, category) group are contiguous: group sums are
``np.add.reduceat`` over the stimulus axis.

Shapes: ``S`` observers, ``N`` stimuli, ``T`` categories, ``R = T + 1`` response codes (the last
one collects answers outside the category set, e.g. ``"na"``; they count as wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from psychobench.data.categories import CATEGORIES, NO_ANSWER
from psychobench.data.schema import TrialTableError

REQUIRED = ("subject", "stimulus_id", "condition", "category", "response", "correct")


@dataclass(frozen=True)
class TrialArrays:
    """One observer panel on a shared stimulus axis (see the module docstring for shapes)."""

    subjects: np.ndarray      # (S,) observer ids
    stimuli: np.ndarray       # (N,) stimulus ids
    conditions: np.ndarray    # (C,) condition strings
    categories: np.ndarray    # (T,) category names
    condition: np.ndarray     # (N,) condition code of each stimulus
    target: np.ndarray        # (N,) true category code of each stimulus
    group: np.ndarray         # (N,) (condition, category) group code, non-decreasing
    n_trials: np.ndarray      # (S, N) trials per observer and stimulus (0 = not seen)
    n_correct: np.ndarray     # (S, N) correct trials
    n_value: np.ndarray       # (S, N) sum of the I1 value: p_true where given, else correct
    tr_subject: np.ndarray    # (n,) per trial: observer code
    tr_stimulus: np.ndarray   # (n,) per trial: stimulus code
    tr_response: np.ndarray   # (n,) per trial: response code in [0, T]
    tr_distractor: np.ndarray  # (n,) per trial: distractor code, -1 when not 2AFC
    tr_chose: np.ndarray      # (n,) per trial: P(chose distractor) (1 - p_true or 0/1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_trials.shape

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    @property
    def is_2afc(self) -> bool:
        return bool((self.tr_distractor >= 0).any())

    @property
    def group_starts(self) -> np.ndarray:
        """Index of the first stimulus of each group, for ``np.add.reduceat``."""
        return np.flatnonzero(np.r_[True, self.group[1:] != self.group[:-1]])

    @property
    def condition_starts(self) -> np.ndarray:
        return np.flatnonzero(np.r_[True, self.condition[1:] != self.condition[:-1]])


def _check(df: pd.DataFrame, name: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TrialTableError(f"{name}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise TrialTableError(f"{name}: trial table lacks column(s) {missing}")
    if len(df) == 0:
        raise TrialTableError(f"{name}: trial table is empty")
    for col in ("stimulus_id", "category"):
        bad = df[col].isna().to_numpy()
        if bad.any():
            raise TrialTableError(f"{name}: column {col!r} is empty in row {int(np.argmax(bad))}")


def _codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and string uniques of a column (NaN becomes the string 'nan')."""
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    return codes.astype(np.int64), np.asarray(pd.Index(uniques).astype(str), dtype=object)


def _lookup(uniques: np.ndarray, levels) -> np.ndarray:
    """Position of each of ``uniques`` in ``levels`` (-1 where absent)."""
    return pd.Index(np.asarray(levels, dtype=object)).get_indexer(uniques)


def category_set(*tables: pd.DataFrame) -> np.ndarray:
    """The 16 model-vs-human categories if every true category is one of them, else the tables'
    own sorted category set (audio words, 2AFC objects ...)."""
    cats = set()
    for t in tables:
        cats.update(str(c) for c in pd.unique(t["category"]))
    if cats <= set(CATEGORIES):
        return np.asarray(CATEGORIES)
    return np.asarray(sorted(cats))


class _Axis:
    """The humans' stimulus axis: unique (stimulus_id, condition), sorted by (condition,
    category, stimulus_id)."""

    def __init__(self, humans: pd.DataFrame, categories: np.ndarray):
        sid_c, self.sid_u = _codes(humans["stimulus_id"])
        cond_c, self.cond_u = _codes(humans["condition"])
        cat_c, cat_u = _codes(humans["category"])
        nc = len(self.cond_u)
        keys, first, inv = np.unique(sid_c * nc + cond_c, return_index=True, return_inverse=True)
        cat_first = cat_c[first]
        bad = cat_c != cat_first[inv]
        if bad.any():
            row = int(np.argmax(bad))
            raise TrialTableError(
                f"humans: stimulus '{self.sid_u[sid_c[row]]}' (condition '{self.cond_u[cond_c[row]]}') "
                f"has more than one category (row {row}, column 'category')")
        self.conditions = np.asarray(sorted(self.cond_u))
        cond_rank = _lookup(self.cond_u, self.conditions)
        sid_rank = np.argsort(np.argsort(self.sid_u.astype(str)))
        t = _lookup(cat_u, categories)[cat_first]
        c = cond_rank[keys % nc]
        order = np.lexsort((sid_rank[keys // nc], t, c))
        self.keys = keys[order]
        self.nc = nc
        self.stimuli = self.sid_u[self.keys // nc]
        self.condition = c[order].astype(np.int64)
        self.target = t[order].astype(np.int64)
        self.T = len(categories)
        self.group = self.condition * self.T + self.target
        # position on the axis of each sorted key
        self._pos = np.empty(len(order), dtype=np.int64)
        self._pos[order] = np.arange(len(order))
        self._sorted_keys = keys

    def index(self, df: pd.DataFrame, name: str = "model") -> np.ndarray:
        """Axis position of each row of ``df`` (-1 where the stimulus is not on the axis).

        Rows pair by (stimulus_id, condition); a row without a condition pairs by stimulus_id
        alone when the humans' ids are unique across conditions.  A row whose stimulus_id the
        humans saw only in other conditions raises :class:`TrialTableError`.
        """
        sid_c, sid_u = _codes(df["stimulus_id"])
        s = _lookup(sid_u, self.sid_u)[sid_c]
        cond = df["condition"]
        missing = cond.isna().to_numpy()
        cond_c, cond_u = _codes(cond.astype(object).where(~missing, ""))
        c = _lookup(cond_u, self.cond_u)[cond_c]
        key = np.where((s >= 0) & (c >= 0), s * self.nc + c, -1)
        at = np.clip(np.searchsorted(self._sorted_keys, key), 0, len(self._sorted_keys) - 1)
        hit = (key >= 0) & (self._sorted_keys[at] == key)
        pos = np.where(hit, self._pos[at], -1)
        # stimulus_id alone, where ids are unique across conditions
        sid_of_key = self._sorted_keys // self.nc
        n_per_sid = np.bincount(sid_of_key, minlength=len(self.sid_u))
        only = np.full(len(self.sid_u), -1, dtype=np.int64)
        uniq = n_per_sid[sid_of_key] == 1
        only[sid_of_key[uniq]] = self._pos[np.flatnonzero(uniq)]
        by_id = np.where(s >= 0, only[np.maximum(s, 0)], -1)
        if missing.any():
            pos = np.where(missing, by_id, pos)
        clash = (~missing) & (pos < 0) & (s >= 0)
        if clash.any():
            row = int(np.argmax(clash))
            keys = self._sorted_keys[sid_of_key == s[row]]
            seen = ", ".join(sorted({str(self.cond_u[k % self.nc]) for k in keys}))
            raise TrialTableError(
                f"{name}: row {row}, column 'condition': stimulus '{sid_u[sid_c[row]]}' has "
                f"condition '{cond.iloc[row]}', but the humans saw it in condition(s) {seen}")
        return pos


def _panel(df: pd.DataFrame, axis: _Axis, categories: np.ndarray) -> TrialArrays:
    T = len(categories)
    x = axis.index(df)
    keep = x >= 0
    if not keep.all():
        df, x = df.loc[keep], x[keep]
    subj_c, subj_u = _codes(df["subject"])
    subjects = np.asarray(sorted(subj_u), dtype=object)
    s = _lookup(subj_u, subjects)[subj_c]
    S, N = len(subjects), len(axis.stimuli)
    resp_c, resp_u = _codes(df["response"])
    resp = _lookup(resp_u, categories)[resp_c]
    resp = np.where(resp < 0, T, resp).astype(np.int64)
    correct = df["correct"].to_numpy(dtype=float)
    has_p = "p_true" in df.columns and bool(df["p_true"].notna().all())
    value = df["p_true"].to_numpy(dtype=float) if has_p else correct
    if "distractor" in df.columns and bool(df["distractor"].notna().any()):
        dis_c, dis_u = _codes(df["distractor"])
        dis = _lookup(dis_u, categories)[dis_c].astype(np.int64)
        if has_p:
            chose = 1.0 - value
        else:
            chose = (resp == np.where(dis >= 0, dis, -2)).astype(float)
    else:
        dis = np.full(len(df), -1, dtype=np.int64)
        chose = np.zeros(len(df))
    flat = s * N + x

    def cells(w):
        return np.bincount(flat, weights=w, minlength=S * N).reshape(S, N)

    return TrialArrays(
        subjects=subjects, stimuli=axis.stimuli, conditions=axis.conditions,
        categories=np.asarray(categories), condition=axis.condition, target=axis.target,
        group=axis.group, n_trials=cells(None).astype(float), n_correct=cells(correct),
        n_value=cells(value), tr_subject=s.astype(np.int64), tr_stimulus=x.astype(np.int64),
        tr_response=resp, tr_distractor=dis, tr_chose=chose,
    )


def human_arrays(humans: pd.DataFrame, categories=None) -> TrialArrays:
    """Dense arrays of a human trial table (its own stimulus axis)."""
    _check(humans, "humans")
    cats = category_set(humans) if categories is None else np.asarray(categories)
    return _panel(humans, _Axis(humans, cats), cats)


def paired_arrays(model: pd.DataFrame, humans: pd.DataFrame) -> tuple[TrialArrays, TrialArrays]:
    """Model and human arrays on the humans' stimulus axis: ``(model, humans)``.

    Rows pair by (stimulus_id, condition).  Every human stimulus must have at least one model
    trial, else :class:`TrialTableError` names the missing ones; model trials on stimuli that no
    human saw are ignored.  The model table must hold exactly one observer.
    """
    _check(humans, "humans")
    _check(model, "model")
    n_obs = model["subject"].nunique()
    if n_obs != 1:
        raise TrialTableError(f"model: trial table must hold one observer, found {n_obs}")
    cats = category_set(humans, model)
    axis = _Axis(humans, cats)
    seen = np.zeros(len(axis.stimuli), dtype=bool)
    x = axis.index(model)
    seen[x[x >= 0]] = True
    if not seen.all():
        miss = np.flatnonzero(~seen)
        shown = ", ".join(f"{axis.stimuli[i]} ({axis.conditions[axis.condition[i]]})" for i in miss[:10])
        more = f" and {len(miss) - 10} more" if len(miss) > 10 else ""
        raise TrialTableError(
            f"model: trial table lacks {len(miss)} of the {len(seen)} human stimuli "
            f"(stimulus_id (condition)): {shown}{more}")
    return _panel(model, axis, cats), _panel(humans, axis, cats)


__all__ = ["TrialArrays", "human_arrays", "paired_arrays", "category_set", "NO_ANSWER"]
