"""Split-half noise ceilings, noise-corrected consistency and the crossed bootstrap.

After Rajalingham et al. (2018) and Brain-Score.  The engine evaluates every metric for a
batch of bootstrap draws ``B`` and split halves ``K`` at once: a draw is a vector of stimulus
multiplicities ``w`` (B, N) (resampled within each condition) and of subject multiplicities
``mult`` (B, S); a split is a half-assignment of the distinct drawn subjects (``split="subjects"``,
the default: halves are (B, K, 2, S) weights and every half statistic is one matmul) or of each
stimulus's observations (``split="trials"``: (B, K, 2, S, N) weights, slower).  A subject drawn
twice stays in one half, so duplicates never inflate the split-half correlation.

Estimators of the noise-corrected correlation (``m`` model vector, ``h`` human vector):
1. ``corr(m, h_full) / sqrt(r_SB * r_mm)`` (default); ``r_SB`` = mean over splits of the
   Spearman-Brown-corrected half-half correlation.
2. Brain-Score Rajalingham2018: mean over splits of ``corr(m, h_A) / sqrt(r_half * r_mm)``.
3. objectome: mean over splits of ``mean(corr(m, h_A), corr(m, h_B)) / sqrt(r_half * r_mm_half)``.
``r_mm`` is 1 for a deterministic model; ``model_reliability="human"`` sets it to the
single-observer reliability implied by the human panel (``SB(r_SB, 1/S)``), the right choice when
the "model" is one more noisy observer (e.g. a held-out human).

For every estimator the triple is (value, ceiling, normalized): the raw statistic, the value an
ideal observer would reach given the human noise, and their ratio (estimator 1: exactly
``value / ceiling``; 2 and 3: the mean of per-split ratios).  Error consistency: value = mean over
subjects of the mean over conditions of kappa(model, subject, condition); ceiling = the same mean
over all unordered human pairs; normalized = value / ceiling.  Nothing is clipped here.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from psychobench.consistency import intervals as I
from psychobench.consistency import metrics as M
from psychobench.consistency.agreement import kappa_from_rates
from psychobench.consistency.arrays import TrialArrays

OBJECT_METRICS = ("o1_acc", "o1_dprime", "o2_offdiag", "o2_dprime")
IMAGE_METRICS = ("i1", "i1n")
TWO_AFC_METRICS = ("i2", "i2n")
EC = "error_consistency"
CHUNK_ELEMENTS = 1 << 22   # floats per half-statistic array in one chunk of bootstrap draws
USE_GRAM = True            # i1 / i1n through Gram matrices when every cell has equal trials


class _Prepared:
    """Derived arrays of a (model, humans) pair, computed once."""

    def __init__(self, H: TrialArrays, Mo: TrialArrays | None):
        self.H, self.M = H, Mo
        S, N = H.shape
        T = H.n_categories
        R = T + 1
        self.S, self.N, self.T, self.R = S, N, T, R
        self.gstarts = H.group_starts
        self.cstarts = H.condition_starts
        self.cond_sizes = np.diff(np.r_[self.cstarts, N])
        code = H.target[H.tr_stimulus] * R + H.tr_response
        # per-stimulus, per-subject response-code counts: (N, S * R * T)
        self.P_h = sparse.csr_matrix(
            (np.ones(len(code)), (H.tr_stimulus, H.tr_subject * T * R + code)), shape=(N, S * T * R))
        self.P_cell = sparse.csr_matrix(
            (np.ones(len(code)), (H.tr_subject * N + H.tr_stimulus, code)), shape=(S * N, T * R))
        with np.errstate(invalid="ignore", divide="ignore"):
            self.h_acc = np.where(H.n_trials > 0, H.n_correct / H.n_trials, 0.0)
        self.h_valid = (H.n_trials > 0).astype(float)
        self.is_2afc = H.is_2afc
        self.uniform_cells = bool((H.n_trials == H.n_trials.flat[0]).all() and H.n_trials.flat[0] > 0)
        if self.is_2afc:
            self.ch_h, self.nt_h = self._choice_cells(H)
        if Mo is not None:
            mcode = Mo.target[Mo.tr_stimulus] * R + Mo.tr_response
            self.P_m = sparse.csr_matrix(
                (np.ones(len(mcode)), (Mo.tr_stimulus, mcode)), shape=(N, T * R))
            with np.errstate(invalid="ignore", divide="ignore"):
                self.m_i1 = Mo.n_value[0] / Mo.n_trials[0]
                self.m_acc = Mo.n_correct[0] / Mo.n_trials[0]
            if self.is_2afc:
                ch, nt = self._choice_cells(Mo)
                with np.errstate(invalid="ignore", divide="ignore"):
                    self.m_E = (ch / nt)[0].reshape(N, T)

    def _choice_cells(self, A: TrialArrays):
        S, N, T = A.shape[0], self.N, self.T
        ok = A.tr_distractor >= 0
        col = A.tr_stimulus[ok] * T + A.tr_distractor[ok]
        flat = A.tr_subject[ok] * N * T + col
        ch = np.bincount(flat, weights=A.tr_chose[ok], minlength=S * N * T).reshape(S, N * T)
        nt = np.bincount(flat, minlength=S * N * T).reshape(S, N * T).astype(float)
        return ch, nt

    @property
    def metric_names(self) -> tuple[str, ...]:
        names = OBJECT_METRICS + IMAGE_METRICS
        return names + TWO_AFC_METRICS if self.is_2afc else names


# ----------------------------------------------------------------------------- random draws
def _stimulus_weights(rng, cond_sizes, B):
    """(B, N) multiplicities, resampled with replacement within each condition."""
    return np.concatenate([_counts(rng, n, B) for n in cond_sizes], axis=1)


def _counts(rng, n, B):
    """(B, n) multiplicities of n items drawn n times with replacement."""
    idx = rng.integers(0, n, size=(B, n)) + n * np.arange(B)[:, None]
    return np.bincount(idx.ravel(), minlength=B * n).reshape(B, n).astype(float)


def _subject_halves(u, mult):
    """Halves over distinct drawn subjects from uniform priorities ``u`` (B, K, S): (B, K, 2, S)
    weights and the (B, K) half sizes."""
    u = np.where(mult[:, None, :] > 0, u, np.inf)
    rank = u.argsort(-1).argsort(-1)
    present = mult[:, None, :] > 0
    a = present & (rank % 2 == 0)
    b = present & (rank % 2 == 1)
    halves = np.stack([a * mult[:, None, :], b * mult[:, None, :]], axis=2).astype(float)
    return halves, a.sum(-1).astype(float), b.sum(-1).astype(float)


def _trial_halves(u, mult, valid):
    """Halves of each stimulus's observations from uniform priorities ``u`` (B or 1, K, S, N):
    (B, K, 2, S, N) weights, mean half sizes (B, K)."""
    B, S = mult.shape
    u = np.broadcast_to(u, (B,) + u.shape[1:])
    ok = (mult[:, None, :, None] > 0) & (valid[None, None] > 0)
    u = np.where(ok, u, np.inf)
    rank = u.argsort(2).argsort(2)
    a = ok & (rank % 2 == 0)
    b = ok & (rank % 2 == 1)
    m = mult[:, None, :, None]
    halves = np.stack([a * m, b * m], axis=2).astype(float)
    return halves, a.sum(2).mean(-1), b.sum(2).mean(-1)


# ----------------------------------------------------------------------------- metric vectors
def _ratio(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _object_vectors(conf, T, R):
    c = conf.reshape(conf.shape[:-1] + (T, R))
    return {"o1_acc": M.o1_accuracy(c), "o1_dprime": M.o1_dprime(c),
            "o2_offdiag": M.o2_offdiag(c), "o2_dprime": M.o2_dprime(c)}


def _image_vectors(p: _Prepared, w, mult, halves, trials_mode):
    """i1 / i1n metric vectors (general path: missing cells, unequal trial counts, trial splits)."""
    H, N = p.H, p.N
    out = {}
    full_i1 = _ratio(mult @ H.n_value, mult @ H.n_trials)                        # (B, N)
    if trials_mode:
        half_i1 = _ratio(np.einsum("bkhsn,sn->bkhn", halves, H.n_value),
                         np.einsum("bkhsn,sn->bkhn", halves, H.n_trials))
    else:
        h2 = halves.reshape(-1, p.S)
        half_i1 = _ratio(h2 @ H.n_value, h2 @ H.n_trials).reshape(halves.shape[:3] + (N,))
    m_i1 = None if p.M is None else np.broadcast_to(p.m_i1, full_i1.shape)
    out["i1"] = (m_i1, full_i1, half_i1, w)
    wk = w[:, None, None, :]
    out["i1n"] = (None if m_i1 is None else M.normalize_by_group(m_i1, p.gstarts, w),
                  M.normalize_by_group(full_i1, p.gstarts, w),
                  M.normalize_by_group(half_i1, p.gstarts, wk), w)
    return out


def _vectors(p: _Prepared, w, mult, halves, trials_mode, image_level=True):
    """Per metric: (model (B, L) or None, human full (B, L), halves (B, K, 2, L), weights or None)."""
    H, T, R, N = p.H, p.T, p.R, p.N
    out = {}
    wk = w[:, None, None, :]
    if image_level:
        out.update(_image_vectors(p, w, mult, halves, trials_mode))
    # object level: confusion counts under stimulus weights
    B = w.shape[0]
    A = np.asarray(w @ p.P_h).reshape(B, p.S, T * R)                              # (B, S, TR)
    full_conf = np.einsum("bs,bsc->bc", mult, A)
    if trials_mode:
        K = halves.shape[1]
        wh = (halves * w[:, None, None, None, :]).reshape(B * K * 2, p.S * N)
        half_conf = np.asarray(wh @ p.P_cell).reshape(B, K, 2, T * R)
    else:
        K = halves.shape[1]
        half_conf = np.matmul(halves.reshape(B, K * 2, p.S), A).reshape(B, K, 2, T * R)
    hv, fv = _object_vectors(half_conf, T, R), _object_vectors(full_conf, T, R)
    mv = None if p.M is None else _object_vectors(np.asarray(w @ p.P_m), T, R)
    for name in OBJECT_METRICS:
        out[name] = (None if mv is None else mv[name], fv[name], hv[name], None)
    if p.is_2afc:
        full_E = _ratio(mult @ p.ch_h, mult @ p.nt_h).reshape(B, N, T)
        if trials_mode:
            ch = p.ch_h.reshape(p.S, N, T)
            nt = p.nt_h.reshape(p.S, N, T)
            half_E = _ratio(np.einsum("bkhsn,snj->bkhnj", halves, ch),
                            np.einsum("bkhsn,snj->bkhnj", halves, nt))
        else:
            half_E = _ratio(halves @ p.ch_h, halves @ p.nt_h).reshape(halves.shape[:3] + (N, T))
        g = H.group
        i2 = lambda E, ww: M.i2_dprime(E, H.target, g, ww)  # noqa: E731
        f2, h2 = i2(full_E, w), i2(half_E, wk)
        m2 = None if p.M is None else i2(np.broadcast_to(p.m_E, full_E.shape), w)
        wt = np.repeat(w, T, axis=-1)
        flat = lambda a: None if a is None else a.reshape(a.shape[:-2] + (N * T,))  # noqa: E731
        out["i2"] = (flat(m2), flat(f2), flat(h2), wt)
        n = lambda a, ww: None if a is None else M.i2_normalize(a, p.gstarts, ww)  # noqa: E731
        out["i2n"] = (flat(n(m2, w)), flat(n(f2, w)), flat(n(h2, wk)), wt)
    return out


def _correlations(m, hf, hh, wt, estimator):
    """Correlations an estimator needs, from metric vectors: r_k (B, K) between halves,
    raw (B,) model vs full humans, raw_a / raw_b (B, K) model vs each half (or None)."""
    wk = None if wt is None else wt[:, None, :]
    r_k = M.pearson(hh[:, :, 0], hh[:, :, 1], wk)
    if m is None:
        return r_k, None, None, None
    raw = M.pearson(m, hf, wt)
    raw_a = raw_b = None
    if estimator in (2, 3):
        raw_a = M.pearson(m[:, None], hh[:, :, 0], wk)
        if estimator == 3:
            raw_b = M.pearson(m[:, None], hh[:, :, 1], wk)
    return r_k, raw, raw_a, raw_b


def _combine(r_k, raw, raw_a, raw_b, n_a, n_b, estimator, model_reliability, n_target=None):
    """Arrays (B,) of value, ceiling, normalized and reliability (r_SB) for one metric.

    ``n_target`` (B,): the panel size the reliability is projected to (default: the observers
    present, ``n_a + n_b``); a replicate with observers left out keeps the full panel's."""
    if n_target is None:
        rsb = M.nanmean_last(M.split_half_to_full(r_k, n_a, n_b))                # (B,)
        n_subj = (n_a + n_b).mean(-1)
    else:
        n_subj = np.asarray(n_target, float)
        rsb = M.nanmean_last(M.split_half_to(r_k, n_a, n_b, n_subj[:, None]))
    if model_reliability == "human":
        rmm = M.spearman_brown(rsb, 1.0 / n_subj)
    else:
        rmm = np.full_like(rsb, float(model_reliability))
    with np.errstate(invalid="ignore"):
        ceil_full = np.where((rsb > 0) & (rmm > 0), np.sqrt(rsb * rmm), np.nan)
    res = {"reliability": rsb}
    nan = np.full_like(rsb, np.nan)
    if raw is None:
        res.update(value=nan, ceiling=ceil_full, normalized=nan)
        return res
    if estimator == 1:
        value, ceiling = raw, ceil_full
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = value / ceiling
    elif estimator in (2, 3):
        if estimator == 2:
            rawk, rm = raw_a, rmm[:, None]
        else:
            rawk, rm = 0.5 * (raw_a + raw_b), (rmm / (2.0 - rmm))[:, None]
        with np.errstate(invalid="ignore"):
            ck = np.where((r_k > 0) & (rm > 0), np.sqrt(r_k * rm), np.nan)
        value, ceiling = M.nanmean_last(rawk), M.nanmean_last(ck)
        norm = M.nanmean_last(rawk / ck)
    else:
        raise ValueError(f"estimator must be 1, 2 or 3, got {estimator!r}")
    res.update(value=value, ceiling=ceiling, normalized=norm)
    return res


def _gram_image_level(p: _Prepared, w, mult, halves, estimator):
    """i1 and i1n correlations without per-stimulus arrays (every cell holds the same number of
    trials, so a half's mean vector is its weighted sum of subject rows up to a positive scale).

    With V = per-cell values (S, N): C(alpha, beta) = alpha' G beta, where G is the weighted,
    (group-)centred Gram matrix of V; correlations of the model vector m use Q = centred V w m.
    """
    V = p.H.n_value
    Vw = V[None] * w[:, None, :]                                                   # (B, S, N)
    G = np.matmul(Vw, V.T)                                                         # (B, S, S)
    W = w.sum(-1)                                                                  # (B,)
    u = Vw.sum(-1)                                                                 # (B, S)
    U = np.add.reduceat(Vw, p.gstarts, axis=-1)                                    # (B, S, g)
    Wg = np.add.reduceat(w, p.gstarts, axis=-1)                                    # (B, g)
    with np.errstate(invalid="ignore", divide="ignore"):
        Ug = np.where(Wg[:, None, :] > 0, U / Wg[:, None, :], 0.0)
        grams = {"i1": G - u[:, :, None] * u[:, None, :] / W[:, None, None],
                 "i1n": G - np.matmul(Ug, np.swapaxes(U, 1, 2))}
    cross = {}
    if p.M is not None:
        m = p.m_i1
        wm = w * m
        Q = wm @ V.T                                                               # (B, S)
        sm, smm = wm.sum(-1), (wm * m).sum(-1)
        gm = np.add.reduceat(wm, p.gstarts, axis=-1)                               # (B, g)
        with np.errstate(invalid="ignore", divide="ignore"):
            gmean = np.where(Wg > 0, gm / Wg, 0.0)
            cross = {"i1": (Q - u * (sm / W)[:, None], smm - sm * sm / W),
                     "i1n": (Q - np.einsum("bsg,bg->bs", U, gmean), smm - (gm * gmean).sum(-1))}
    hA, hB = halves[:, :, 0], halves[:, :, 1]
    out = {}
    for name, Gx in grams.items():
        GA, GB = np.matmul(hA, Gx), np.matmul(hB, Gx)                              # (B, K, S)
        aa, bb, ab = (GA * hA).sum(-1), (GB * hB).sum(-1), (GA * hB).sum(-1)
        r_k = _corr_from(ab, aa, bb)
        raw = raw_a = raw_b = None
        if cross:
            Qx, mm = cross[name]
            ff = np.einsum("bs,bst,bt->b", mult, Gx, mult)
            raw = _corr_from((Qx * mult).sum(-1), mm, ff)
            if estimator in (2, 3):
                raw_a = _corr_from((Qx[:, None] * hA).sum(-1), mm[:, None], aa)
                raw_b = _corr_from((Qx[:, None] * hB).sum(-1), mm[:, None], bb)
        out[name] = (r_k, raw, raw_a, raw_b)
    return out


def _corr_from(xy, xx, yy):
    scale = np.maximum(np.abs(xx), np.abs(yy))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = xy / np.sqrt(xx * yy)
    return np.where((xx > 1e-12 * scale) & (yy > 1e-12 * scale) & (scale > 0), np.clip(r, -1, 1), np.nan)


# ----------------------------------------------------------------------------- error consistency
def _pairs(S):
    i, j = np.triu_indices(S, k=1)
    return i, j


def _error_consistency(p: _Prepared, w, mult):
    """(value (B,), ceiling (B,)) of error consistency under draws (w, mult).

    Per condition and observer pair the weighted counts n, sum(a_i), sum(a_j) and
    sum(a_i a_j) give p_i = sum(a_i)/n, p_j, and c_obs = 1 - p_i - p_j + 2 sum(a_i a_j)/n
    (correctness a in [0, 1]; fractional when a cell holds several trials).
    """
    a, v = p.h_acc, p.h_valid
    i, j = _pairs(p.S)
    all_valid = bool(v.all())
    if p.M is not None:
        am = np.nan_to_num(p.m_acc)
        vm = np.isfinite(p.m_acc).astype(float)
        all_valid = all_valid and bool(vm.all())
    kp, km = [], []
    for st, n in zip(p.cstarts, p.cond_sizes, strict=True):      # loop over conditions (a handful)
        sl = slice(st, st + n)
        ws = w[:, sl]
        ac = a[:, sl]
        if all_valid:
            n_all = ws.sum(-1, keepdims=True)
            s_subj = ws @ ac.T                                                       # (B, S)
            n_p, s1, s2 = n_all, s_subj[:, i], s_subj[:, j]
            s12 = ws @ (ac[i] * ac[j]).T                                             # (B, P)
        else:
            vc = v[:, sl]
            n_p = ws @ (vc[i] * vc[j]).T
            s1 = ws @ (ac[i] * vc[j]).T
            s2 = ws @ (vc[i] * ac[j]).T
            s12 = ws @ (ac[i] * ac[j]).T
        p1, p2 = _ratio(s1, n_p), _ratio(s2, n_p)
        kp.append(kappa_from_rates(p1, p2, 1.0 - p1 - p2 + 2.0 * _ratio(s12, n_p)))
        if p.M is not None:
            amc = am[sl]
            if all_valid:
                n_m, s_m = n_all, ws @ amc[:, None]                                  # (B, 1)
                s_s = s_subj
            else:
                vmc = vm[sl] * v[:, sl]
                n_m, s_m, s_s = ws @ vmc.T, ws @ (vmc * amc).T, ws @ (vmc * ac).T
            s_ms = ws @ (ac * amc).T
            pm, ps = _ratio(s_m, n_m), _ratio(s_s, n_m)
            km.append(kappa_from_rates(pm, ps, 1.0 - pm - ps + 2.0 * _ratio(s_ms, n_m)))
    pair_k = M.nanmean_last(np.stack(kp, -1))                                     # (B, P)
    pw = np.where(np.isfinite(pair_k), mult[:, i] * mult[:, j], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ceiling = (np.nan_to_num(pair_k) * pw).sum(-1) / pw.sum(-1)
    if p.M is None:
        return np.full_like(ceiling, np.nan), ceiling
    subj_k = M.nanmean_last(np.stack(km, -1))                                     # (B, S)
    sw = np.where(np.isfinite(subj_k), mult, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (np.nan_to_num(subj_k) * sw).sum(-1) / sw.sum(-1)
    return value, ceiling


# ----------------------------------------------------------------------------- driver
def _priorities(rng, B, K, p: _Prepared, split):
    """Uniform split priorities: (B, K, S) for subject splits, (B, K, S, N) for trial splits."""
    if split == "subjects":
        return rng.random((B, K, p.S))
    if split == "trials":
        return rng.random((B, K, p.S, p.N))
    raise ValueError(f"split must be 'subjects' or 'trials', got {split!r}")


def _evaluate(p: _Prepared, w, mult, rng, K, split, estimator, model_reliability, with_ec=True,
              n_target=None):
    """All metrics for draws (w, mult); ``rng`` is a Generator, or an array of uniform split
    priorities (B or 1, K, S) for subject splits, (B or 1, K, S, N) for trial splits (shared by
    every draw when its first axis is 1).  ``n_target``: see :func:`_combine`."""
    trials_mode = split == "trials"
    u = rng if isinstance(rng, np.ndarray) else _priorities(rng, w.shape[0], K, p, split)
    if trials_mode:
        halves, n_a, n_b = _trial_halves(u, mult, p.h_valid)
    else:
        halves, n_a, n_b = _subject_halves(np.broadcast_to(u, (w.shape[0],) + u.shape[1:]), mult)
    fast = USE_GRAM and not trials_mode and p.uniform_cells
    vecs = _vectors(p, w, mult, halves, trials_mode, image_level=not fast)
    corr = {name: _correlations(*vecs[name], estimator) for name in vecs}
    if fast:
        corr.update(_gram_image_level(p, w, mult, halves, estimator))
    out = {name: _combine(*corr[name], n_a, n_b, estimator, model_reliability, n_target)
           for name in p.metric_names}
    if with_ec:
        value, ceiling = _error_consistency(p, w, mult)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[EC] = {"value": value, "ceiling": ceiling, "normalized": value / ceiling,
                       "reliability": np.full_like(value, np.nan)}
    return out


def _chunk(p: _Prepared, n_splits: int, split: str) -> int:
    """Draws per vectorised chunk (memory: :data:`CHUNK_ELEMENTS` floats per half statistic)."""
    K2 = 2 * n_splits
    sizes = [p.S * p.N, K2 * p.T * p.R, p.S * p.T * p.R]
    if not (USE_GRAM and split == "subjects" and p.uniform_cells):
        sizes.append(K2 * p.N * (p.S if split == "trials" else 1))
    if p.is_2afc:
        sizes.append(K2 * p.N * p.T * (p.S if split == "trials" else 1))
    if split == "trials":
        sizes.append(K2 * p.S * p.N)
    return max(1, CHUNK_ELEMENTS // max(sizes))


def _in_chunks(p, w_all, mult_all, u, n_splits, split, estimator, model_reliability, with_ec,
               n_target=None):
    """:func:`_evaluate` over many draws, chunk by chunk; ``u``: priorities shared by every draw
    (first axis 1), one set per draw, or a Generator."""
    chunk = _chunk(p, n_splits, split)
    parts = []
    for start in range(0, w_all.shape[0], chunk):      # chunks of draws, each chunk vectorised
        sl = slice(start, start + chunk)
        r = u if not isinstance(u, np.ndarray) or u.shape[0] == 1 else u[sl]
        nt = None if n_target is None else n_target[sl]
        parts.append(_evaluate(p, w_all[sl], mult_all[sl], r, n_splits, split, estimator,
                               model_reliability, with_ec, nt))
    return {name: {k: np.concatenate([q[name][k] for q in parts]) for k in parts[0][name]}
            for name in parts[0]}


def _working_scale(name: str, what: str) -> str:
    """Fisher's z for correlations (value and ceiling of the correlation metrics); the identity
    for normalised scores and error consistency."""
    return "fisher" if name != EC and what != "normalized" else "identity"


#: Intervals the design cannot give validly, by metric: in scripts/coverage.py the split-half
#: ceiling of O2 d' is biased upward (+0.04 to +0.06: d' of pooled confusion counts does not
#: follow the Spearman-Brown model) and its 95% interval covered the truth in only 67-88% of
#: panels (normalised score: 90-97%), so neither is printed (status ``no_valid_interval``).
NO_VALID_INTERVAL = {"o2_dprime": ("ceiling", "normalized")}


def _crossed_intervals(p: _Prepared, u0, rng, n_boot, n_splits, split, estimator, model_reliability,
                       with_ec, res):
    """The intervals of :func:`intervals.crossed` for every metric's value, ceiling and
    normalised score, added to ``res`` as ``res[metric]["intervals"]``.

    Three sets of ``n_boot`` draws: stimuli resampled within condition, observers resampled, and
    the same two crossed.  Every draw keeps the point estimate's split priorities (an observer's
    copies stay in one half) and projects its reliability to the real panel size; the value of a
    correlation metric in a draw is ``normalized x ceiling``, the consistency with a panel of the
    real size."""
    S, N = p.S, p.N
    w = _stimulus_weights(rng, p.cond_sizes, n_boot)
    mult = _counts(rng, S, n_boot)
    ones_w, ones_m = np.ones((n_boot, N)), np.ones((n_boot, S))
    sets = {"stimuli": (w, ones_m), "observers": (ones_w, mult), "both": (w, mult)}
    n_target = np.full(n_boot, float(S))
    draws = {k: _in_chunks(p, ww, mm, u0, n_splits, split, estimator, model_reliability, with_ec,
                           n_target) for k, (ww, mm) in sets.items()}
    for name, r in res.items():
        out = {}
        for what in ("value", "ceiling", "normalized"):
            if what == "value" and p.M is None:
                out[what] = I.NONE
                continue
            per = []
            for k in ("stimuli", "observers", "both"):
                d = draws[k][name]
                if what == "value" and name != EC:
                    with np.errstate(invalid="ignore"):
                        per.append(d["normalized"] * d["ceiling"])
                else:
                    per.append(d[what])
            out[what] = I.crossed(r[what], *per, transform=_working_scale(name, what))
            if what in NO_VALID_INTERVAL.get(name, ()) and out[what].status == "ok":
                out[what] = I.Interval(np.nan, np.nan, np.nan, "no_valid_interval")
        r["intervals"] = out


def run(H: TrialArrays, Mo: TrialArrays | None = None, *, n_splits: int = 10, n_boot: int = 1000,
        seed: int = 0, split: str = "subjects", estimator: int = 1, model_reliability=1.0,
        with_ec: bool = True, interval: str = "crossed") -> dict[str, dict]:
    """Point estimates and 95% intervals of every metric.

    ``interval``: ``"crossed"`` (default: three sets of ``n_boot`` bootstrap draws, stimuli,
    observers and both, combined as in :func:`intervals.crossed`), ``"percentile"`` (the
    percentiles of ``n_boot`` crossed draws without projection: the earlier method, biased low
    for ceilings, kept for comparison) or ``"none"``.

    Returns ``{metric: {"value", "ceiling", "normalized", "reliability": float, "intervals":
    {"value", "ceiling", "normalized": Interval}}}`` and, for ``"percentile"``, ``"draws"``
    (same keys: (n_boot,) arrays).  Splits use ``seed``; the draws use an independent stream
    spawned from it.
    """
    if n_splits < 1:
        raise ValueError("n_splits must be >= 1")
    if interval not in ("crossed", "percentile", "none"):
        raise ValueError(f"interval must be 'crossed', 'percentile' or 'none', got {interval!r}")
    p = _Prepared(H, Mo)
    root = np.random.default_rng(seed)
    rng_split, rng_boot = root.spawn(2)
    u0 = _priorities(rng_split, 1, n_splits, p, split)
    point = _evaluate(p, np.ones((1, p.N)), np.ones((1, p.S)), u0, n_splits, split,
                      estimator, model_reliability, with_ec)
    res = {name: {k: float(v[0]) for k, v in d.items()} for name, d in point.items()}
    if n_boot <= 0 or interval == "none":
        for r in res.values():
            r["intervals"] = {k: I.NONE for k in ("value", "ceiling", "normalized")}
    elif interval == "crossed":
        _crossed_intervals(p, u0, rng_boot, n_boot, n_splits, split, estimator, model_reliability,
                           with_ec, res)
    else:
        # draws are generated up front, so results do not depend on the chunk size
        w_all = _stimulus_weights(rng_boot, p.cond_sizes, n_boot)
        mult_all = _counts(rng_boot, p.S, n_boot)
        u = _priorities(rng_boot, n_boot, n_splits, p, split) if split == "subjects" else rng_boot
        draws = _in_chunks(p, w_all, mult_all, u, n_splits, split, estimator, model_reliability, with_ec)
        for name in res:
            res[name]["draws"] = draws[name]
            res[name]["intervals"] = {k: I.percentile(draws[name][k]) if not (k == "value" and p.M is None)
                                      else I.NONE for k in ("value", "ceiling", "normalized")}
    return res


def estimate_from_halves(model, full, half_a, half_b, *, estimator: int = 1,
                         model_reliability: float | str = 1.0, n_a=1.0, n_b=1.0,
                         weights=None) -> dict[str, float]:
    """Noise-corrected consistency from explicit vectors (the worked-example form).

    model, full: (L,) model and full-panel human metric vectors; half_a, half_b: (K, L) the
    human halves of K splits of ``n_a`` and ``n_b`` observers.  Returns ``{"value", "ceiling",
    "normalized", "reliability", "r_half"}``.
    """
    m = np.asarray(model, float)[None]
    hf = np.asarray(full, float)[None]
    hh = np.stack([np.atleast_2d(half_a), np.atleast_2d(half_b)], axis=1)[None].astype(float)
    wt = None if weights is None else np.asarray(weights, float)[None]
    K = hh.shape[1]
    na = np.full((1, K), float(n_a))
    nb = np.full((1, K), float(n_b))
    corr = _correlations(m, hf, hh, wt, estimator)
    res = _combine(*corr, na, nb, estimator, model_reliability)
    out = {k: float(v[0]) for k, v in res.items()}
    out["r_half"] = float(M.nanmean_last(corr[0])[0])
    return out
