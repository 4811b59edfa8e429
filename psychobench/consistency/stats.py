"""Does a model's accuracy curve differ from the humans'?  A binomial GEE on trial correctness.

Model: ``correct ~ C(condition) * C(observer_type)`` (logit link), observers as clusters with an
exchangeable working correlation (Liang & Zeger 1986; statsmodels ``GEE``).  The interaction's
joint Wald test asks whether the model's curve has a different *shape* from the humans' (the
condition effects differ); the main effect of observer type whether it is shifted overall (at the
reference condition).

Caveat, and what is done about it: the model is a single cluster, so the sandwich covariance of
its parameters is degenerate (robust: far too small; bias-reduced: explodes).  The default
``cov_type="naive"`` uses the model-based covariance, so the Wald p-values ask whether the model
differs from the human *mean* curve beyond trial noise: a single held-out human often does too.
The calibrated p-values (``calibrate=True``) answer the question that matters: each human in turn
is refitted as if it were the model against the others, and
``p_calibrated = (1 + #{humans with a Wald statistic >= the model's}) / (1 + n_humans)``
(a single-case test; its smallest value is ``1 / (1 + n_humans)``).  A condition where one
observer type is at 0% or 100% separates the logit model: such conditions are listed in
``separated`` and dropped (``drop_separated=True``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd


def _table(model_trials: pd.DataFrame, human_trials: pd.DataFrame, conditions):
    parts = []
    for df, kind in ((model_trials, "model"), (human_trials, "human")):
        parts.append(pd.DataFrame({
            "correct": df["correct"].to_numpy(dtype=float),
            "condition": df["condition"].astype(str).to_numpy(),
            "observer_type": kind,
            "cluster": (kind + ":" + df["subject"].astype(str)).to_numpy(),
        }))
    d = pd.concat(parts, ignore_index=True)
    if conditions is not None:
        d = d[d["condition"].isin([str(c) for c in conditions])]
    return d


def _wald_tests(d: pd.DataFrame, cov_type: str):
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    multi = d["condition"].nunique() > 1
    formula = ("correct ~ C(condition) * C(observer_type, Treatment('human'))" if multi
               else "correct ~ C(observer_type, Treatment('human'))")
    mod = smf.gee(formula, groups="cluster", data=d, family=sm.families.Binomial(),
                  cov_struct=sm.cov_struct.Exchangeable())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mod.fit(cov_type=cov_type)
    names = list(res.params.index)

    def wald(idx):
        if not idx:
            return np.nan, np.nan, 0
        R = np.zeros((len(idx), len(names)))
        R[np.arange(len(idx)), idx] = 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = res.wald_test(R, scalar=True)
        return float(np.squeeze(w.statistic)), float(w.pvalue), len(idx)

    inter = wald([i for i, n in enumerate(names) if ":" in n])
    main = wald([i for i, n in enumerate(names) if n.startswith("C(observer_type") and ":" not in n])
    return inter, main, res


def compare_observers(model_trials: pd.DataFrame, human_trials: pd.DataFrame, *,
                      conditions: Sequence[str] | None = None, cov_type: str = "naive",
                      drop_separated: bool = True, calibrate: bool = True) -> dict:
    """Binomial GEE of correctness by condition and observer type (model vs humans).

    Returns ``{"p_interaction", "wald_interaction", "df_interaction", "p_observer",
    "wald_observer", "p_interaction_calibrated", "p_observer_calibrated", "n_trials",
    "n_clusters", "conditions", "separated", "params"}``.  Interaction entries are NaN when one
    condition is left (no curve to compare); calibrated entries NaN with ``calibrate=False``.
    """
    d = _table(model_trials, human_trials, conditions)
    acc = d.groupby(["condition", "observer_type"])["correct"].mean().unstack()
    separated = sorted(acc.index[((acc == 0) | (acc == 1)).any(axis=1)])
    if drop_separated and separated:
        d = d[~d["condition"].isin(separated)]
    conds = sorted(d["condition"].unique())
    if not conds:
        raise ValueError(f"no condition left to fit (separated: {separated})")
    (wi, pi, dfi), (wm, pm, _), res = _wald_tests(d, cov_type)
    p_cal_i = p_cal_m = np.nan
    if calibrate:
        humans = d[d["observer_type"] == "human"]
        subj = sorted(humans["cluster"].unique())
        w_i, w_m = [], []
        for s in subj:                      # one refit per human (a handful), not a hot path
            h = humans.copy()
            h.loc[h["cluster"] == s, "observer_type"] = "model"
            (a, _, _), (b, _, _), _ = _wald_tests(h, cov_type)
            w_i.append(a)
            w_m.append(b)
        w_i, w_m = np.asarray(w_i), np.asarray(w_m)
        if np.isfinite(wi):
            p_cal_i = float((1 + np.sum(w_i >= wi)) / (1 + len(subj)))
        if np.isfinite(wm):
            p_cal_m = float((1 + np.sum(w_m >= wm)) / (1 + len(subj)))
    return {"p_interaction": pi, "wald_interaction": wi, "df_interaction": dfi,
            "p_observer": pm, "wald_observer": wm,
            "p_interaction_calibrated": p_cal_i, "p_observer_calibrated": p_cal_m,
            "n_trials": int(len(d)), "n_clusters": int(d["cluster"].nunique()),
            "conditions": conds, "separated": separated,
            "params": {n: float(v) for n, v in res.params.items()}}
