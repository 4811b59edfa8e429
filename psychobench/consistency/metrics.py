"""Object- and image-level behavioural metrics as pure, batched array functions.

Formulas after Rajalingham et al. (2018,
J. Neurosci.) and Brain-Score's ``metrics/i1i2`` (read, not copied).  Every function works on
arrays with arbitrary leading (batch) axes, so split halves and bootstrap draws are array axes.

Conventions: ``T`` categories; a confusion array has shape ``(..., T, R)`` with rows = true
category and columns = response (``R = T`` or ``T + 1``, the extra column collecting answers
outside the category set, which count as wrong).  d' = z(HR) - z(FAR), clipped to [-5, 5]
(NaN where both rates are 0 or both 1).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

DPRIME_CAP = 5.0


def dprime(hr, far, cap: float = DPRIME_CAP):
    """z(hr) - z(far), clipped to [-cap, cap]; NaN where undefined (inf - inf or NaN rates)."""
    with np.errstate(invalid="ignore"):
        return np.clip(ndtri(hr) - ndtri(far), -cap, cap)


def spearman_brown(r, n: float = 2.0):
    """Reliability of n-fold data from reliability ``r``: ``n r / (1 + (n - 1) r)``."""
    r = np.asarray(r, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return n * r / (1.0 + (n - 1.0) * r)


def _single_observer_reliability(r, a, b):
    """The single-observer reliability rho with r^2 = SB(rho, a) SB(rho, b) (the positive root
    of the quadratic in rho), for half correlations ``r`` of halves of ``a`` and ``b`` observers."""
    r2 = r * r
    qa = a * b - r2 * (a - 1) * (b - 1)
    qb = -r2 * (a + b - 2)
    qc = -r2
    with np.errstate(invalid="ignore", divide="ignore"):
        return (-qb + np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)


def split_half_to_full(r, n_a, n_b):
    """Full-panel reliability from the correlation ``r`` of two halves of ``n_a`` and ``n_b``
    observers (parallel-test model).  Equal halves give Spearman-Brown ``2r / (1 + r)``; unequal
    halves solve ``r^2 = r_{n_a} r_{n_b}`` for the single-observer reliability ``rho`` and return
    ``SB(rho, n_a + n_b)``.  Non-positive ``r`` falls back to ``2r / (1 + r)``."""
    r, a, b = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, n_a, n_b)))
    rho = _single_observer_reliability(r, a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        unequal = spearman_brown(rho, a + b)
    equal = spearman_brown(r, 2.0)
    return np.where((a != b) & (r > 0), unequal, equal)


def split_half_to(r, n_a, n_b, n):
    """Reliability of a panel of ``n`` observers from the correlation ``r`` of two halves of
    ``n_a`` and ``n_b`` observers (parallel-test model): the single-observer reliability ``rho``
    solves ``r^2 = r_{n_a} r_{n_b}`` and the result is ``SB(rho, n)``.  With ``n = n_a + n_b``
    this is :func:`split_half_to_full`; a bootstrap panel with an observer drawn twice (fewer
    distinct observers) is projected to the full panel's size this way.  Non-positive ``r`` falls back to
    ``2r / (1 + r)``."""
    r, a, b, n = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, n_a, n_b, n)))
    rho = _single_observer_reliability(r, a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        projected = spearman_brown(rho, n)
    return np.where(r > 0, projected, spearman_brown(r, 2.0))


def pearson(x, y, w=None, axis: int = -1):
    """Weighted Pearson correlation along ``axis`` over entries finite in both ``x`` and ``y``.

    ``w`` (broadcastable; bootstrap multiplicities) weights entries; NaN where fewer than two
    entries carry weight or a vector is constant.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(x).all() and np.isfinite(y).all()
    if finite:
        ww = np.ones(1) if w is None else np.asarray(w, dtype=float)
    else:
        ok = np.isfinite(x) & np.isfinite(y)
        ww = ok.astype(float) if w is None else np.where(ok, np.asarray(w, dtype=float), 0.0)
        x = np.where(ok, x, 0.0)
        y = np.where(ok, y, 0.0)
    if w is None and finite:
        x, y = np.broadcast_arrays(x, y)
        sw = np.full(x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:], float(x.shape[axis]))
        wx, wy = x, y
        n_ok = sw
    else:
        wx, wy = ww * x, ww * y
        ww_b = np.broadcast_to(ww, np.broadcast_shapes(ww.shape, wx.shape))
        sw = ww_b.sum(axis)
        n_ok = (ww_b > 0).sum(axis)
    sx, sy = wx.sum(axis), wy.sum(axis)
    sxx, syy, sxy = (wx * x).sum(axis), (wy * y).sum(axis), (wx * y).sum(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        vx = sxx - sx * sx / sw
        vy = syy - sy * sy / sw
        r = (sxy - sx * sy / sw) / np.sqrt(vx * vy)
    good = (n_ok >= 2) & (vx > 1e-10 * np.abs(sxx)) & (vy > 1e-10 * np.abs(syy))
    return np.where(good, np.clip(r, -1.0, 1.0), np.nan)


def confusion_matrix(truth, response, n_categories: int, n_responses: int | None = None):
    """Counts ``C[t, r]`` from integer codes (responses outside [0, R) go to column R - 1)."""
    R = n_categories + 1 if n_responses is None else n_responses
    truth = np.asarray(truth, dtype=np.int64)
    response = np.asarray(response, dtype=np.int64)
    response = np.where((response >= 0) & (response < R), response, R - 1)
    counts = np.bincount(truth * R + response, minlength=n_categories * R)
    return counts.reshape(n_categories, R).astype(float)


def _rates(conf):
    conf = np.asarray(conf, dtype=float)
    T = conf.shape[-2]
    n = conf.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        R = conf[..., :T] / n[..., None]
    return R, n


def o1_accuracy(conf):
    """O1 accuracy: ``P(r = k | t = k)``, shape ``(..., T)``."""
    R, _ = _rates(conf)
    return np.diagonal(R, axis1=-2, axis2=-1)


def o1_dprime(conf, cap: float = DPRIME_CAP):
    """O1 one-vs-rest d': HR_k = R[k, k], FAR_k = share of 'k' answers to other categories."""
    conf = np.asarray(conf, dtype=float)
    T = conf.shape[-2]
    n = conf.sum(-1)
    hits = np.diagonal(conf[..., :T], axis1=-2, axis2=-1)
    fa = conf[..., :T].sum(-2) - hits
    n_other = n.sum(-1, keepdims=True) - n
    with np.errstate(invalid="ignore", divide="ignore"):
        return dprime(hits / n, fa / n_other, cap)


def _offdiag(T):
    return ~np.eye(T, dtype=bool)


def o2_offdiag(conf):
    """O2 confusion pattern: off-diagonal of the row-normalised T x T confusion, row-major,
    shape ``(..., T (T - 1))``."""
    R, _ = _rates(conf)
    T = R.shape[-1]
    return R[..., _offdiag(T)]


def o2_dprime(conf, cap: float = DPRIME_CAP):
    """O2 pairwise d' inside N-way data: ``O2[a, b] = z(R[a, a]) - z(R[b, a])``, off-diagonal
    row-major, shape ``(..., T (T - 1))``."""
    R, _ = _rates(conf)
    T = R.shape[-1]
    diag = np.diagonal(R, axis1=-2, axis2=-1)
    d = dprime(diag[..., :, None], np.swapaxes(R, -1, -2), cap)
    return d[..., _offdiag(T)]


def group_mean(v, starts, w=None, axis: int = -1):
    """Weighted NaN-skipping mean of ``v`` within contiguous groups along ``axis`` (groups begin
    at ``starts``), broadcast back to every element; shape of ``v``."""
    v0 = np.asarray(v, dtype=float)
    v = np.moveaxis(v0, axis, -1)
    if w is not None:
        w = np.asarray(w, dtype=float)
        w = np.moveaxis(w[(None,) * (v0.ndim - w.ndim)], axis, -1)
    if np.isfinite(v).all():
        if w is None:
            ww = np.ones(v.shape[-1])
            num = np.add.reduceat(v, starts, axis=-1)
        else:
            ww = w
            num = np.add.reduceat(v * w, starts, axis=-1)
    else:
        ok = np.isfinite(v)
        ww = ok.astype(float) if w is None else np.where(ok, w, 0.0)
        num = np.add.reduceat(np.where(ok, v, 0.0) * ww, starts, axis=-1)
    den = np.add.reduceat(ww, starts, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = num / den
    sizes = np.diff(np.r_[starts, v.shape[-1]])
    return np.moveaxis(np.repeat(mean, sizes, axis=-1), -1, axis)


def normalize_by_group(v, starts, w=None, axis: int = -1):
    """``v`` minus its group mean (the "n" of i1n / i2n)."""
    return np.asarray(v, dtype=float) - group_mean(v, starts, w, axis)


def luce_choice(p, target):
    """2AFC choice from N-way probabilities (Luce ratio): ``E[x, j] = p_j / (p_t + p_j)``,
    shape ``(N, T)``, NaN at ``j = target``."""
    p = np.asarray(p, dtype=float)
    pt = np.take_along_axis(p, np.asarray(target)[:, None], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        E = p / (pt + p)
    E[np.arange(len(E)), target] = np.nan
    return E


def i2_dprime(E, target, group=None, w=None, cap: float = DPRIME_CAP):
    """I2 from 2AFC choice rates ``E[..., x, j] = P(choose j | image x, {t(x), j})``.

    HR = 1 - E[x, j]; FAR = weighted mean of E[y, t(x)] over images y of object j (in the same
    condition when ``group`` codes (condition, category) as ``condition * T + category``);
    returns ``clip(z(HR) - z(FAR))``, shape of ``E``, NaN at ``j = t(x)``.
    """
    E = np.asarray(E, dtype=float)
    N, T = E.shape[-2:]
    target = np.asarray(target, dtype=np.int64)
    group = target if group is None else np.asarray(group, dtype=np.int64)
    cond = group // T
    G = np.zeros((N, int(group.max()) + 1))
    G[np.arange(N), group] = 1.0
    ok = np.isfinite(E)
    ww = np.ones(E.shape[:-1]) if w is None else np.broadcast_to(np.asarray(w, float), E.shape[:-1])
    wE = np.where(ok, E, 0.0) * ww[..., None]
    wn = ok * ww[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        F = np.einsum("...yi,yg->...gi", wE, G) / np.einsum("...yi,yg->...gi", wn, G)
    gid = cond[:, None] * T + np.arange(T)[None, :]           # group of (condition of x, object j)
    gid = np.where(gid < G.shape[1], gid, 0)
    far = F[..., gid, target[:, None]]                          # (..., N, T)
    d = dprime(1.0 - E, far, cap)
    d[..., np.arange(N), target] = np.nan
    return d


def i2_normalize(I2, group_starts, w=None):
    """i2n: I2 minus, per distractor column, the weighted mean over images of the same group."""
    ww = None if w is None else np.asarray(w, float)[..., None]
    return normalize_by_group(I2, group_starts, ww, axis=-2)


def nanmean_last(v):
    """Mean over the last axis of the finite entries (NaN where none), without warnings."""
    v = np.asarray(v, dtype=float)
    ok = np.isfinite(v)
    n = ok.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, v, 0.0).sum(-1) / n, np.nan)
