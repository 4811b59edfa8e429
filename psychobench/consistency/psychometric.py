"""Psychometric functions: accuracy against stimulus level, fitted by binomial maximum likelihood.

``psi(x) = guess + (1 - guess - lapse) F(x; alpha, beta)`` (Wichmann & Hill 2001, including
the lapse bound):

=========== ============================================ ====================================
kind        F                                            threshold at criterion p*
=========== ============================================ ====================================
logistic    1 / (1 + exp(-beta (x - alpha)))             alpha + ln(q / (1 - q)) / beta
gaussian    Phi(beta (x - alpha))                        alpha + Phi^-1(q) / beta
weibull     1 - exp(-(x / alpha)^beta), x > 0             alpha (-ln(1 - q))^(1 / beta)
log_weibull 1 - exp(-10^(beta (x - alpha) / 20)), x in dB alpha + 20 log10(-ln(1 - q)) / beta
=========== ============================================ ====================================

with ``q = (p* - guess) / (1 - guess - lapse)``.  ``guess`` is fixed (1 / number of
alternatives); ``lapse`` is fitted within ``lapse_bounds`` (default [0, 0.06]).  logistic and
gaussian allow a negative slope (accuracy falling with level, e.g. noise width); weibull and
log_weibull rise with level.  The fitter is a batched projected Newton method (numerical
derivatives, Levenberg damping, backtracking) started from the best points of a grid, so that
many data sets (bootstrap draws, subjects) are fitted at once as array axes.

A threshold is reported only where the data show one (:meth:`PsychometricFit.threshold_status`):
with fewer than three levels the curve is underdetermined (status ``"underdetermined"``); where
accuracy at the easy end of the tested range is not significantly above the guess rate (one-sided
exact binomial test of that level's counts against ``guess``, p >= 0.05: :func:`above_chance`) the
data show no threshold (``"at_chance"``); where ``q`` is outside (0, 1) or the fitted curve crosses
``p*`` outside the tested range it is ``"not_reached"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, ndtr, ndtri

KINDS = ("logistic", "gaussian", "weibull", "log_weibull")
_EPS = 1e-12


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _F(kind, x, a, b):
    """Core sigmoid; ``a``, ``b`` are the natural (alpha, beta) parameters."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if kind == "logistic":
            return expit(b * (x - a))
        if kind == "gaussian":
            return ndtr(b * (x - a))
        if kind == "weibull":
            return -np.expm1(-np.power(np.clip(x, 0, None) / a, b))
        return -np.expm1(-np.power(10.0, np.clip(b * (x - a) / 20.0, -300, 300)))


def psychometric_value(kind, x, alpha, beta, guess, lapse):
    """psi(x) for parameter arrays broadcast against ``x``."""
    _check_kind(kind)
    return guess + (1.0 - guess - lapse) * _F(kind, np.asarray(x, float), alpha, beta)


def _natural(kind, u):
    """Internal (..., 3) -> alpha, beta, lapse (weibull: log alpha, log beta internally)."""
    a, b, lam = u[..., 0], u[..., 1], u[..., 2]
    if kind == "weibull":
        return np.exp(a), np.exp(b), lam
    if kind == "log_weibull":
        return a, np.exp(b), lam
    return a, b, lam


def _nll(kind, u, x, k, n, guess):
    """Binomial negative log-likelihood (without the constant), shape ``u.shape[:-1]``."""
    a, b, lam = _natural(kind, u)
    p = guess + (1.0 - guess - lam[..., None]) * _F(kind, x, a[..., None], b[..., None])
    p = np.clip(np.nan_to_num(p, nan=0.5), _EPS, 1 - _EPS)
    return -(k * np.log(p) + (n - k) * np.log1p(-p)).sum(-1)


def _grid(kind, x):
    x = x[np.isfinite(x)]
    lo, hi = float(x.min()), float(x.max())
    span = max(hi - lo, 1e-6)
    if kind == "weibull":
        pos = x[x > 0]
        plo, phi = (float(pos.min()), float(pos.max())) if pos.size else (1e-3, 1.0)
        alphas = np.log(np.geomspace(plo / 2, phi * 2, 25))
        betas = np.log(np.geomspace(0.3, 20, 15))
    elif kind == "log_weibull":
        alphas = np.linspace(lo - 0.25 * span, hi + 0.25 * span, 25)
        betas = np.log(np.geomspace(0.05, 20, 15) * 20 / span)
    else:
        alphas = np.linspace(lo - 0.25 * span, hi + 0.25 * span, 25)
        mag = np.geomspace(0.3, 60, 12) / span
        betas = np.r_[-mag[::-1], mag]
    A, Bt, L = np.meshgrid(alphas, betas, [0.0, 0.02, 0.05], indexing="ij")
    return np.stack([A.ravel(), Bt.ravel(), L.ravel()], -1)                      # (G, 3)


def _psi_u(kind, u, x, guess):
    a, b, lam = _natural(kind, u)
    return guess + (1.0 - guess - lam[..., None]) * _F(kind, x, a[..., None], b[..., None])


def _newton(kind, u, x, k, n, guess, lapse_bounds, iters=60):
    """Batched projected Fisher scoring (Levenberg-damped, backtracking) from ``u`` (..., 3)."""
    lo, hi = lapse_bounds
    f = lambda v: _nll(kind, v, x, k, n, guess)  # noqa: E731
    eye = np.eye(3)
    cur = f(u)
    mu = np.full(cur.shape, 1e-3)
    for _ in range(iters):
        p = np.clip(np.nan_to_num(_psi_u(kind, u, x, guess), nan=0.5), _EPS, 1 - _EPS)   # (..., L)
        h = 1e-6 * (1.0 + np.abs(u))
        J = np.stack([(_psi_u(kind, u + h[..., i:i + 1] * eye[i], x, guess) - p) / h[..., i:i + 1]
                      for i in range(3)], -1)                                        # (..., L, 3)
        J = np.nan_to_num(J)
        v = p * (1 - p)
        g = -np.einsum("...l,...li->...i", (k - n * p) / v, J)                       # gradient of NLL
        info = np.einsum("...l,...li,...lj->...ij", n / v, J, J)                     # Fisher information
        at_lo = (u[..., 2] <= lo + 1e-12) & (g[..., 2] > 0)
        at_hi = (u[..., 2] >= hi - 1e-12) & (g[..., 2] < 0)
        frozen = at_lo | at_hi
        scale = np.abs(np.diagonal(info, axis1=-2, axis2=-1)).max(-1)[..., None, None] + 1e-12
        Hd = info + (mu[..., None, None] * scale + 1e-12) * eye
        Hd[frozen, 2, :] = 0.0
        Hd[frozen, :, 2] = 0.0
        Hd[frozen, 2, 2] = 1.0
        gg = g.copy()
        gg[frozen, 2] = 0.0
        step = -np.linalg.solve(Hd, gg[..., None])[..., 0]
        bad = ~np.isfinite(step).all(-1)
        step[bad] = 0.0
        best, best_u = cur, u
        for t in (1.0, 0.3, 0.05):
            cand = u + t * step
            cand[..., 2] = np.clip(cand[..., 2], lo, hi)
            fc = f(cand)
            better = np.isfinite(fc) & (fc < best - 1e-12)
            best = np.where(better, fc, best)
            best_u = np.where(better[..., None], cand, best_u)
        improved = best < cur - 1e-10
        mu = np.where(improved, mu * 0.1, np.minimum(mu * 10, 1e8))
        gain = float(np.nanmax(cur - best)) if cur.size else 0.0
        u, cur = best_u, best
        if gain < 1e-9 and (mu >= 1e-2).all():
            break
    return u, cur


def fit_batch(levels, n_correct, n_trials, *, kind="logistic", guess=0.5, lapse_bounds=(0.0, 0.06),
              n_starts: int = 4, init=None):
    """Fit many curves at once: ``n_correct``, ``n_trials`` of shape (..., L) at shared ``levels``
    (L,).  Returns natural parameters ``alpha, beta, lapse`` and the NLL, each of shape (...).
    ``init`` = (alpha, beta, lapse) starts every curve there (with two grid starts as back-up)
    instead of ``n_starts`` grid points (used for bootstrap draws near a fitted curve)."""
    _check_kind(kind)
    x = np.asarray(levels, float)
    k = np.asarray(n_correct, float)
    n = np.asarray(n_trials, float)
    k, n = np.broadcast_arrays(k, n)
    ok = np.isfinite(x) & (n > 0).all(axis=tuple(range(n.ndim - 1)))
    if kind == "weibull":
        ok &= x > 0
    x, k, n = x[ok], k[..., ok], n[..., ok]
    if x.size == 0:
        raise ValueError("no usable level (finite, with trials; > 0 for weibull)")
    grid = _grid(kind, x)
    grid[:, 2] = np.clip(grid[:, 2], *lapse_bounds)
    batch = k.shape[:-1]
    kb, nb = k.reshape(-1, 1, x.size), n.reshape(-1, 1, x.size)
    vals = _nll(kind, grid[None], x, kb, nb, guess)                            # (M, G)
    if init is None:
        u0 = grid[np.argsort(vals, -1)[:, :n_starts]]                            # (M, s, 3)
    else:
        a0, b0, l0 = (float(v) for v in init)
        if kind == "weibull":
            a0, b0 = np.log(a0), np.log(b0)
        elif kind == "log_weibull":
            b0 = np.log(b0)
        u_init = np.broadcast_to(np.array([a0, b0, l0]), (kb.shape[0], 1, 3))
        u0 = np.concatenate([u_init, grid[np.argsort(vals, -1)[:, :2]]], axis=1)
    u, f = _newton(kind, u0, x, kb, nb, guess, lapse_bounds)
    best = np.argmin(np.where(np.isfinite(f), f, np.inf), -1)
    u = np.take_along_axis(u, best[:, None, None], 1)[:, 0]
    f = np.take_along_axis(f, best[:, None], 1)[:, 0]
    a, b, lam = _natural(kind, u)
    return (a.reshape(batch), b.reshape(batch), lam.reshape(batch), f.reshape(batch))


#: Significance level of the test that the easy end of the tested range is above chance.
CHANCE_ALPHA = 0.05


def chance_p_value(n_correct, n_trials, guess):
    """One-sided exact binomial test of accuracy above ``guess``: ``P(X >= k)`` for
    ``X ~ Binomial(n, guess)`` (arrays; 1 where ``n`` is 0)."""
    k = np.asarray(n_correct, float)
    n = np.asarray(n_trials, float)
    p = stats.binom.sf(np.ceil(k) - 1, n.astype(np.int64), guess)
    return np.where(n > 0, p, 1.0)


def above_chance(n_correct, n_trials, guess, alpha: float = CHANCE_ALPHA):
    """Whether accuracy ``n_correct / n_trials`` is significantly above ``guess``
    (:func:`chance_p_value` < ``alpha``)."""
    return chance_p_value(n_correct, n_trials, guess) < alpha


def easy_end(levels, alpha, beta, guess, lapse, kind="logistic"):
    """Index of the endpoint of the tested range (lowest or highest finite level) at which the
    fitted curve is higher: where accuracy is best ("the top of the tested range")."""
    lv = np.asarray(levels, float)
    fin = np.flatnonzero(np.isfinite(lv))
    lo, hi = fin[np.argmin(lv[fin])], fin[np.argmax(lv[fin])]
    p = psychometric_value(kind, np.array([lv[lo], lv[hi]]), alpha, beta, guess, lapse)
    return int(hi if p[1] >= p[0] else lo)


def threshold_value(kind, alpha, beta, guess, lapse, criterion):
    """x* where psi = criterion (NaN where q is outside (0, 1)); arrays broadcast."""
    _check_kind(kind)
    alpha, beta, lapse = (np.asarray(v, float) for v in (alpha, beta, lapse))
    with np.errstate(invalid="ignore", divide="ignore"):
        q = (criterion - guess) / (1.0 - guess - lapse)
        q = np.where((q > 0) & (q < 1), q, np.nan)
        if kind == "logistic":
            return alpha + np.log(q / (1 - q)) / beta
        if kind == "gaussian":
            return alpha + ndtri(q) / beta
        if kind == "weibull":
            return alpha * np.power(-np.log1p(-q), 1.0 / beta)
        return alpha + 20.0 * np.log10(-np.log1p(-q)) / beta


@dataclass
class PsychometricFit:
    """A fitted psychometric function (natural parameters) and the data it was fitted to."""

    kind: str
    alpha: float
    beta: float
    guess: float
    lapse: float
    nll: float
    levels: np.ndarray
    n_correct: np.ndarray
    n_trials: np.ndarray
    lapse_bounds: tuple[float, float] = (0.0, 0.06)
    extra: dict = field(default_factory=dict)

    def predict(self, x):
        """psi at levels ``x``."""
        return psychometric_value(self.kind, x, self.alpha, self.beta, self.guess, self.lapse)

    def threshold(self, criterion: float = 0.75) -> float:
        """Level at which psi = criterion; NaN when not reached (see :meth:`threshold_status`)."""
        st = self.threshold_status(criterion)
        return float(threshold_value(self.kind, self.alpha, self.beta, self.guess, self.lapse,
                                     criterion)) if st == "ok" else float("nan")

    def threshold_status(self, criterion: float = 0.75) -> str:
        """"ok"; "underdetermined" (fewer than three levels); "at_chance" (accuracy at the easy
        end of the tested range not significantly above the guess rate: :func:`above_chance`);
        "not_reached" (criterion not crossed inside the tested range)."""
        fin = np.isfinite(self.levels) & (self.n_trials > 0)
        lv = self.levels[fin]
        if np.unique(lv).size < 3:
            return "underdetermined"
        top = easy_end(np.where(fin, self.levels, np.nan), self.alpha, self.beta, self.guess,
                       self.lapse, self.kind)
        if not above_chance(self.n_correct[top], self.n_trials[top], self.guess):
            return "at_chance"
        t = threshold_value(self.kind, self.alpha, self.beta, self.guess, self.lapse, criterion)
        return "ok" if np.isfinite(t) and lv.min() <= t <= lv.max() else "not_reached"


def fit_psychometric(levels, n_correct, n_trials, *, kind: str = "logistic", guess: float = 0.5,
                     lapse_bounds: tuple[float, float] = (0.0, 0.06)) -> PsychometricFit:
    """Binomial maximum-likelihood fit of one curve: ``levels`` (L,), counts (L,)."""
    lv = np.asarray(levels, float)
    k = np.asarray(n_correct, float)
    n = np.asarray(n_trials, float)
    if not (lv.shape == k.shape == n.shape) or lv.ndim != 1:
        raise ValueError(f"levels, n_correct, n_trials must be 1-D of equal length, got "
                         f"{lv.shape}, {k.shape}, {n.shape}")
    if (k < 0).any() or (k > n).any():
        raise ValueError("n_correct must lie in [0, n_trials]")
    a, b, lam, f = fit_batch(lv, k, n, kind=kind, guess=guess, lapse_bounds=lapse_bounds)
    return PsychometricFit(kind, float(a), float(b), float(guess), float(lam), float(f), lv, k, n,
                           tuple(lapse_bounds))


def bootstrap_threshold(fit: PsychometricFit, criterion: float = 0.75, *, n_boot: int = 1000,
                        seed: int = 0) -> dict:
    """Threshold with a 95% CI from resampling trials within each level (binomial draws at the
    observed proportions), all draws fitted at once.  Returns ``{"threshold", "ci", "status",
    "p_not_reached", "draws"}``; the CI uses the draws where the threshold is reached."""
    rng = np.random.default_rng(seed)
    n = fit.n_trials
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, fit.n_correct / n, 0.0)
    kb = rng.binomial(n.astype(np.int64), p, size=(n_boot, len(n))).astype(float)
    a, b, lam, _ = fit_batch(fit.levels, kb, np.broadcast_to(n, kb.shape), kind=fit.kind,
                             guess=fit.guess, lapse_bounds=fit.lapse_bounds,
                             init=(fit.alpha, fit.beta, fit.lapse))
    t = threshold_value(fit.kind, a, b, fit.guess, lam, criterion)
    lv = fit.levels[np.isfinite(fit.levels)]
    t = np.where((t >= lv.min()) & (t <= lv.max()), t, np.nan)
    fin = t[np.isfinite(t)]
    ci = [float(v) for v in np.percentile(fin, [2.5, 97.5])] if fin.size else [np.nan, np.nan]
    return {"threshold": fit.threshold(criterion), "ci": ci,
            "status": fit.threshold_status(criterion),
            "p_not_reached": float(1 - fin.size / max(n_boot, 1)), "draws": t}


# --------------------------------------------------------------------------- model vs humans
def transform_levels(levels, transform: str | None):
    """Apply a fitting transform (None, "log10", "log2"); non-positive levels become NaN
    (excluded from the fit)."""
    x = np.asarray(levels, float)
    if transform is None:
        return x
    with np.errstate(divide="ignore", invalid="ignore"):
        y = {"log10": np.log10, "log2": np.log2}[transform](np.where(x > 0, x, np.nan))
    return np.where(np.isfinite(y), y, np.nan)


def level_counts(trials: pd.DataFrame, level_of: Mapping[str, float],
                 by_subject: bool = False) -> pd.DataFrame:
    """Tidy counts per level (and subject): columns [subject,] level, n_correct, n_trials, accuracy.
    Conditions missing from ``level_of`` raise; NaN/inf levels are kept (fits skip them)."""
    cond = trials["condition"].astype(str)
    unknown = sorted(set(cond.unique()) - set(map(str, level_of)))
    if unknown:
        raise ValueError(f"level_of has no level for condition(s) {unknown}")
    lv = cond.map({str(k): float(v) for k, v in level_of.items()}).astype(float)
    df = pd.DataFrame({"level": lv.to_numpy(), "correct": trials["correct"].to_numpy(dtype=float)})
    keys = ["level"]
    if by_subject:
        df.insert(0, "subject", trials["subject"].astype(str).to_numpy())
        keys = ["subject", "level"]
    out = df.groupby(keys, sort=True)["correct"].agg(n_correct="sum", n_trials="count").reset_index()
    out["accuracy"] = out["n_correct"] / out["n_trials"]
    return out


def compare_curves(model_trials: pd.DataFrame, human_trials: pd.DataFrame,
                   level_of: Mapping[str, float], *, kind: str = "logistic", guess: float | None = None,
                   criterion: float | None = None, transform: str | None = None,
                   lapse_bounds=(0.0, 0.06), n_boot: int = 1000, seed: int = 0) -> dict:
    """Model threshold against human thresholds on the same conditions.

    level_of: condition -> numeric level (an experiment's condition scheme); ``transform`` ("log10",
    "log2") is applied before fitting and thresholds are reported on the transformed scale.
    guess: default 1 / number of categories in the human table.  criterion: default halfway
    between guess and 1 (0.75 for 2AFC).  Returns a dict: ``model_threshold``, ``model_ci``,
    ``human_threshold`` (pooled humans), ``human_ci``, ``delta`` (model - human) and
    ``delta_ci`` (paired bootstrap), ``z`` (model vs per-subject thresholds, ddof 1),
    ``human_loo_abs_z`` (mean |z| of each human against the others: the z a human reaches),
    ``subject_thresholds``, statuses, fitted parameters and the tidy ``counts`` table.
    """
    _check_kind(kind)
    if guess is None:
        guess = 1.0 / human_trials["category"].nunique()
    if criterion is None:
        criterion = guess + (1.0 - guess) / 2.0
    mc = level_counts(model_trials, level_of)
    hc = level_counts(human_trials, level_of)
    sc = level_counts(human_trials, level_of, by_subject=True)
    levels = np.asarray(sorted(set(hc["level"]) | set(mc["level"])), float)
    subjects = sorted(sc["subject"].unique())

    def dense(tab):
        idx = np.searchsorted(levels, tab["level"].to_numpy())
        k, n = np.zeros(len(levels)), np.zeros(len(levels))
        k[idx], n[idx] = tab["n_correct"].to_numpy(float), tab["n_trials"].to_numpy(float)
        return k, n

    rows = [dense(mc), dense(hc)] + [dense(sc[sc["subject"] == s]) for s in subjects]
    K = np.stack([r[0] for r in rows])
    N = np.stack([r[1] for r in rows])
    x = transform_levels(levels, transform)
    fits = [PsychometricFit(kind, 0, 0, guess, 0, 0, x, K[i], N[i], tuple(lapse_bounds))
            for i in range(len(rows))]
    a, b, lam, f = fit_batch(x, K, N, kind=kind, guess=guess, lapse_bounds=lapse_bounds)
    for i, ft in enumerate(fits):
        ft.alpha, ft.beta, ft.lapse, ft.nll = float(a[i]), float(b[i]), float(lam[i]), float(f[i])
    thr = np.array([ft.threshold(criterion) for ft in fits])
    m_t, h_t, s_t = thr[0], thr[1], thr[2:]
    bm = bootstrap_threshold(fits[0], criterion, n_boot=n_boot, seed=seed)
    bh = bootstrap_threshold(fits[1], criterion, n_boot=n_boot, seed=seed + 1)
    d = bm["draws"] - bh["draws"]
    d = d[np.isfinite(d)]
    fin = s_t[np.isfinite(s_t)]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (m_t - fin.mean()) / fin.std(ddof=1) if fin.size >= 2 else np.nan
        loo = []
        for i in np.flatnonzero(np.isfinite(s_t)):       # loop over subjects (a handful) only
            rest = np.delete(s_t, i)
            rest = rest[np.isfinite(rest)]
            if rest.size >= 2:
                loo.append(abs((s_t[i] - rest.mean()) / rest.std(ddof=1)))
    return {
        "kind": kind, "criterion": float(criterion), "guess": float(guess), "transform": transform,
        "model_threshold": float(m_t), "model_ci": bm["ci"],
        "model_status": fits[0].threshold_status(criterion),
        "human_threshold": float(h_t), "human_ci": bh["ci"],
        "human_status": fits[1].threshold_status(criterion),
        "delta": float(m_t - h_t),
        "delta_ci": [float(v) for v in np.percentile(d, [2.5, 97.5])] if d.size else [np.nan, np.nan],
        "z": float(z), "human_loo_abs_z": float(np.mean(loo)) if loo else float("nan"),
        "subject_thresholds": {s: float(t) for s, t in zip(subjects, s_t, strict=True)},
        "params": {name: {"alpha": ft.alpha, "beta": ft.beta, "lapse": ft.lapse}
                   for name, ft in zip(["model", "humans"] + subjects, fits, strict=True)},
        "counts": pd.concat([mc.assign(observer="model"), hc.assign(observer="humans")], ignore_index=True),
    }


def threshold_score(model_threshold: float, human_thresholds) -> float:
    """Brain-Score's threshold score (Malania2007 benchmarks): mean over humans of
    ``max(0, 1 - |t_h - t_m| / t_h)``.  Valid for positive thresholds only (not dB: use the
    delta / z of :func:`compare_curves` there)."""
    t = np.asarray(human_thresholds, float)
    if (t <= 0).any():
        raise ValueError("threshold_score needs positive human thresholds")
    return float(np.mean(np.maximum(0.0, 1.0 - np.abs(t - model_threshold) / t)))
