"""Comparisons of model trial tables with the human audio data.

* Words in noise (Saddler & McDermott 2024, Kell et al. 2018 design): per-background psychometric
  functions and speech reception thresholds; r^2 of model and human accuracy over the noisy
  (background, SNR) cells against the split-half ceiling across listeners.
* English CCC item level: per token, correct / among the listeners' answers / the listeners'
  dominant confusion / log-probability under the listeners' answer distribution; leave-one-
  listener-out ceiling.
* Pitch: F0DL thresholds against lowest harmonic and phase, correlation of log thresholds with
  Bernstein & Oxenham (2005).
All functions are array code over tidy tables (no torch).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from psychobench.consistency.metrics import pearson, spearman_brown

# --------------------------------------------------------------------------------------------
# psychometric functions (binomial maximum likelihood, metrics-reference section 5)


def logistic_psi(x: np.ndarray, alpha: float, beta: float, gamma: float, lam: float) -> np.ndarray:
    """psi(x) = gamma + (1 - gamma - lam) / (1 + exp(-beta (x - alpha)))."""
    return gamma + (1 - gamma - lam) / (1 + np.exp(-beta * (np.asarray(x, float) - alpha)))


def fit_logistic(x: np.ndarray, k: np.ndarray, n: np.ndarray, gamma: float,
                 lam_max: float = 0.5) -> dict[str, float]:
    """Binomial-MLE fit of :func:`logistic_psi` with fixed guess rate ``gamma``.

    x: levels (dB), k: counts correct, n: counts of trials (may be non-integer effective counts).
    lam_max: upper bound of the lapse (1 - upper asymptote); 0.5 lets the asymptote follow the
    clean accuracy of word tasks.  Multi-start: the best point of an (alpha, beta, lam) grid.
    Returns ``alpha, beta, lam, gamma, nll``.
    """
    x, k, n = (np.asarray(v, float) for v in (x, k, n))
    eps = 1e-9

    def nll(th: np.ndarray) -> np.ndarray:  # th (..., 3)
        p = np.clip(logistic_psi(x, th[..., :1], th[..., 1:2], gamma, th[..., 2:3]), eps, 1 - eps)
        return -(k * np.log(p) + (n - k) * np.log(1 - p)).sum(-1)

    A, B, L = np.meshgrid(np.linspace(x.min() - 6, x.max() + 6, 25), np.geomspace(0.05, 3, 12),
                          np.linspace(0, lam_max, 6), indexing="ij")
    grid = np.stack([A.ravel(), B.ravel(), L.ravel()], -1)
    start = grid[np.argmin(nll(grid))]
    res = minimize(lambda th: float(nll(th)), start, method="L-BFGS-B",
                   bounds=[(x.min() - 30, x.max() + 30), (1e-3, 20.0), (0.0, lam_max)])
    a, b, lam = res.x
    return {"alpha": float(a), "beta": float(b), "lam": float(lam), "gamma": float(gamma), "nll": float(res.fun)}


def logistic_threshold(fit: dict[str, float], p: float) -> float:
    """Level at which the fitted psi reaches proportion correct ``p``; NaN if never reached."""
    q = (p - fit["gamma"]) / (1 - fit["gamma"] - fit["lam"])
    if not 0 < q < 1:
        return float("nan")
    return float(fit["alpha"] + np.log(q / (1 - q)) / fit["beta"])


# --------------------------------------------------------------------------------------------
# words in noise


def cell_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Model accuracy per (background, snr_db): columns ``background, snr_db, n, k, acc``."""
    g = trials.groupby(["background", "snr_db"], sort=True)["correct"]
    out = g.agg(n="size", k="sum").reset_index()
    out["acc"] = out["k"] / out["n"]
    return out


def human_cells(humans: pd.DataFrame) -> tuple[np.ndarray, pd.MultiIndex]:
    """Listener x cell matrix of proportion correct ``(n_subjects, n_cells)`` and its cell index."""
    m = humans.pivot_table(index="subject", columns=["background", "snr_db"], values="prop_correct")
    return m.to_numpy(float), m.columns


def split_half_ceiling(S: np.ndarray, n_splits: int = 100, seed: int = 0) -> dict[str, float]:
    """Reliability of the listener-mean cell vector: ``S (n_subjects, n_cells)``.

    Per split, listeners are permuted into two halves; r = corr(mean_A, mean_B) over cells;
    Spearman-Brown r_SB = 2r / (1 + r).  r_SB is the reliability of the full-panel mean, i.e.
    the largest r^2 any model can reach against it (corr(true, observed)^2 = reliability).
    Returns ``ceiling_r2`` (mean r_SB), ``ceiling_r2_sd``, ``r_half`` (mean r).
    """
    rng = np.random.default_rng(seed)
    n = S.shape[0]
    perm = np.argsort(rng.random((n_splits, n)), axis=1)
    in_a = np.zeros((n_splits, n), bool)
    np.put_along_axis(in_a, perm[:, : n // 2], True, axis=1)
    wa = in_a / in_a.sum(1, keepdims=True)
    wb = ~in_a / (~in_a).sum(1, keepdims=True)
    r = pearson(wa @ S, wb @ S, axis=-1)
    sb = spearman_brown(r)
    return {"ceiling_r2": float(np.mean(sb)), "ceiling_r2_sd": float(np.std(sb)), "r_half": float(np.mean(r)),
            "n_splits": int(n_splits)}


def words_in_noise_comparison(model_trials: pd.DataFrame, humans: pd.DataFrame, *, gamma_model: float,
                              srt_criterion: float = 0.5, n_splits: int = 100, seed: int = 0,
                              human_trials_per_cell: float = 15.0) -> tuple[dict, pd.DataFrame]:
    """Compare a model's words-in-noise trials with the Saddler 2024 listeners.

    model_trials: trial table with ``background`` (Saddler code), ``snr_db`` (inf = clean), ``correct``.
    Returns ``(summary, metrics)``: summary has ``r2_cell_means`` (squared Pearson r of model and
    human accuracy over the noisy cells present in both), ``ceiling`` (split-half reliability,
    :func:`split_half_ceiling`), ``r2_over_ceiling``, per-background SRTs; metrics is the tidy table
    of per-cell accuracies and per-background fits.
    Human psychometric fits use the listener-mean proportions with ``human_trials_per_cell`` x
    n_listeners effective trials (the data give proportions, about 15 words a listener and cell).
    """
    S, cols = human_cells(humans)
    hum_mean = pd.Series(S.mean(0), index=cols, name="human_acc")
    mc = cell_table(model_trials).set_index(["background", "snr_db"])
    noisy = [c for c in cols if np.isfinite(c[1]) and c in mc.index]
    if len(noisy) < 3:
        raise ValueError(f"only {len(noisy)} noisy cells shared by model and humans; need >= 3")
    cidx = [cols.get_loc(c) for c in noisy]
    m_vec = mc.loc[noisy, "acc"].to_numpy(float)
    h_vec = hum_mean.loc[noisy].to_numpy(float)
    r = float(pearson(m_vec, h_vec))
    ceil = split_half_ceiling(S[:, cidx], n_splits, seed)
    rows, srt = [], {}
    for bg in sorted({c[0] for c in noisy}):
        hm = hum_mean.xs(bg, level="background")
        hm = hm[np.isfinite(hm.index.to_numpy(float))]
        n_h = human_trials_per_cell * S.shape[0]
        fit_h = fit_logistic(hm.index.to_numpy(float), hm.to_numpy() * n_h, np.full(len(hm), n_h), gamma=0.0)
        mm = mc.xs(bg, level="background")
        mm = mm[np.isfinite(mm.index.to_numpy(float))]
        fit_m = fit_logistic(mm.index.to_numpy(float), mm["k"].to_numpy(float), mm["n"].to_numpy(float), gamma=gamma_model)
        srt_h, srt_m = logistic_threshold(fit_h, srt_criterion), logistic_threshold(fit_m, srt_criterion)
        srt[str(bg)] = {"human_srt_db": _num(srt_h), "model_srt_db": _num(srt_m),
                        "delta_db": _num(srt_m - srt_h)}
        for who, fit, s in (("human", fit_h, srt_h), ("model", fit_m, srt_m)):
            rows.append({"metric": "psychometric_fit", "observer": who, "background": bg, "snr_db": np.nan,
                         "value": s, **{f"fit_{k}": v for k, v in fit.items()}})
    for (bg, snr), mv, hv in zip(noisy, m_vec, h_vec):
        rows.append({"metric": "cell_accuracy", "observer": "model", "background": bg, "snr_db": snr, "value": mv})
        rows.append({"metric": "cell_accuracy", "observer": "human", "background": bg, "snr_db": snr, "value": hv})
    clean_m = mc[~np.isfinite(mc.index.get_level_values("snr_db"))]["acc"]
    clean_h = hum_mean[~np.isfinite(hum_mean.index.get_level_values("snr_db"))]
    summary = {
        "r2_cell_means": r * r if np.isfinite(r) else None, "r_cell_means": _num(r),
        "ceiling": ceil["ceiling_r2"], "ceiling_sd": ceil["ceiling_r2_sd"],
        "r2_over_ceiling": _num(r * r / ceil["ceiling_r2"]) if np.isfinite(r) else None,
        "n_cells": len(noisy), "n_listeners": int(S.shape[0]),
        "model_clean_accuracy": _num(clean_m.mean()) if len(clean_m) else None,
        "human_clean_accuracy": _num(clean_h.mean()) if len(clean_h) else None,
        "srt_criterion": srt_criterion, "srt": srt,
    }
    return summary, pd.DataFrame(rows)


def _num(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


# --------------------------------------------------------------------------------------------
# English CCC item level


def answer_distribution_logprob(answers: list[list[str]], response: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """log P(response | token) under each token's listener answers, additively smoothed.

    P(w) = (count(w) + alpha) / (N + alpha (K + 1)), with K distinct answers and one extra
    "any other word" class (so an answer no listener gave gets alpha / (N + alpha (K + 1))).
    """
    out = np.empty(len(answers))
    for i, (a, r) in enumerate(zip(answers, response)):  # ragged lists, one token at a time
        a = np.asarray(a)
        k = len(np.unique(a))
        out[i] = np.log((np.sum(a == r) + alpha) / (len(a) + alpha * (k + 1)))
    return out


def _mode(a: np.ndarray) -> str:
    vals, counts = np.unique(a, return_counts=True)
    return str(vals[np.argmax(counts)])


def ccc_item_rates(answers: list[list[str]], targets: np.ndarray, confusions: np.ndarray,
                   response: np.ndarray, alpha: float = 0.5) -> pd.DataFrame:
    """Per token: ``correct`` (response = target), ``in_answers`` (among the listeners' answers),
    ``dominant`` (= the dominant confusion), ``logprob`` (:func:`answer_distribution_logprob`)."""
    response = np.asarray(response, dtype=object)
    return pd.DataFrame({
        "correct": response == np.asarray(targets, dtype=object),
        "in_answers": [r in a for r, a in zip(response, answers)],
        "dominant": response == np.asarray(confusions, dtype=object),
        "logprob": answer_distribution_logprob(answers, response, alpha),
    })


def ccc_leave_one_listener_out(answers: list[list[str]], targets: np.ndarray, alpha: float = 0.5) -> dict[str, float]:
    """The four rates of a held-out listener scored against the others, averaged over listeners
    and tokens (each token weighted equally): the ceiling the model's rates are read against.
    The dominant confusion of the others is their most frequent answer other than the target
    (ties: alphabetical), as the corpus defines Confusion."""
    sums = np.zeros(4)
    for a, t in zip(answers, targets):  # ragged: 12-17 listeners per token
        a = np.asarray(a, dtype=object)
        acc = np.zeros(4)
        for j in range(len(a)):
            rest = np.delete(a, j)
            wrong = rest[rest != t]
            dom = _mode(wrong) if len(wrong) else None
            k = len(np.unique(rest))
            acc += (a[j] == t, a[j] in set(rest), a[j] == dom,
                    np.log((np.sum(rest == a[j]) + alpha) / (len(rest) + alpha * (k + 1))))
        sums += acc / len(a)
    r = sums / len(answers)
    return {"correct": float(r[0]), "in_answers": float(r[1]), "dominant": float(r[2]), "logprob": float(r[3])}


# --------------------------------------------------------------------------------------------
# pitch


def pitch_comparison(model_thresholds: pd.DataFrame) -> dict:
    """Correlate log10 model and human F0DLs over conditions with finite model thresholds.

    model_thresholds: columns ``threshold_percent, human_f0dl_percent`` (one row a condition).
    """
    m = np.log10(model_thresholds["threshold_percent"].to_numpy(float))
    h = np.log10(model_thresholds["human_f0dl_percent"].to_numpy(float))
    ok = np.isfinite(m) & np.isfinite(h)
    r = float(pearson(m[ok], h[ok])) if ok.sum() >= 3 else float("nan")
    return {"r_log_thresholds": _num(r), "n_conditions": int(ok.sum()),
            "n_not_reached": int((~np.isfinite(m)).sum())}
