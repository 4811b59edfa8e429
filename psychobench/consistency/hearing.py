"""Comparisons of model trial tables with the human audio data.

* Words in noise (Saddler & McDermott 2024, Kell et al. 2018 design): per-background psychometric
  functions and speech reception thresholds (SRTs, with bootstrap 95% intervals), fitted by the
  shared binomial maximum-likelihood code of :mod:`psychobench.consistency.psychometric`; r^2 of
  model and human accuracy over the noisy (background, SNR) cells against the split-half
  reliability of the listener mean (:func:`psychobench.consistency.ceiling.estimate_from_halves`).
* English CCC item level: per token, correct / among the listeners' answers / the listeners'
  dominant confusion / log-probability under the listeners' answer distribution; leave-one-
  listener-out ceiling.
* Pitch: F0DL thresholds (method of constant stimuli, psychometric fits) against lowest harmonic
  and phase; correlation of log thresholds with Bernstein & Oxenham (2005).
* Speech detection: d' per SNR from a yes/no table.
All functions are array code over tidy tables (no torch).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from psychobench.consistency.ceiling import estimate_from_halves
from psychobench.consistency.metrics import dprime, pearson
from psychobench.consistency.psychometric import (PsychometricFit, above_chance, bootstrap_threshold, fit_batch,
                                                 threshold_value)

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


def split_halves(S: np.ndarray, n_splits: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Random halves of the listeners: ``S (n_subjects, n_cells)`` -> the mean cell vectors of
    half A and half B, each ``(n_splits, n_cells)``, and the half sizes ``n_a, n_b``."""
    rng = np.random.default_rng(seed)
    n = S.shape[0]
    perm = np.argsort(rng.random((n_splits, n)), axis=1)
    in_a = np.zeros((n_splits, n), bool)
    np.put_along_axis(in_a, perm[:, : n // 2], True, axis=1)
    wa = in_a / in_a.sum(1, keepdims=True)
    wb = ~in_a / (~in_a).sum(1, keepdims=True)
    return wa @ S, wb @ S, n // 2, n - n // 2


def per_snr_centred(x: np.ndarray, snrs: np.ndarray) -> np.ndarray:
    """``x (..., cells)`` minus its mean over the cells of the same SNR: what is left is the
    pattern across backgrounds, with the effect of SNR removed."""
    out = np.array(x, float, copy=True)
    for s in np.unique(snrs):
        sel = snrs == s
        out[..., sel] -= out[..., sel].mean(-1, keepdims=True)
    return out


def per_snr_means(x: np.ndarray, snrs: np.ndarray) -> np.ndarray:
    """Each cell's value replaced by the mean of its SNR's cells (the prediction of SNR alone)."""
    return np.asarray(x, float) - per_snr_centred(x, snrs)


def _rowwise_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of matching rows of ``a`` and ``b`` (..., cells); NaN where a row is constant."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


def cell_pattern_stats(m_k: np.ndarray, m_n: np.ndarray, S: np.ndarray, snrs: np.ndarray, *,
                       n_boot: int = 1000, seed: int = 0) -> dict:
    """What the cell means of a words-in-noise comparison say beyond SNR.

    m_k, m_n: the model's correct trials and trials per noisy cell; S: listeners x cells
    proportion correct; snrs: each cell's SNR.  Returns point values and 95% percentile
    intervals (``<name>_ci``) of
    - ``r2_cell_means``: r^2 of model and listener-mean accuracy over the cells;
    - ``r2_snr_only``: r^2 of the listener cell means with their own per-SNR means, i.e. what
      SNR alone explains (a model that knew only the SNR and the listeners' per-SNR accuracy
      would reach it);
    - ``r_background_pattern``: r of model and listener cell means after each side's per-SNR
      mean is removed (the background pattern).
    Intervals: ``n_boot`` draws resampling the listeners (with replacement) and the model's
    trials (binomially per cell, at its observed rate), both at once."""
    m = m_k / m_n
    h = S.mean(0)
    out = {"r2_cell_means": float(_rowwise_r(m, h)) ** 2,
           "r2_snr_only": float(_rowwise_r(h, per_snr_means(h, snrs))) ** 2,
           "r_background_pattern": float(_rowwise_r(per_snr_centred(m, snrs), per_snr_centred(h, snrs)))}
    if n_boot:
        rng = np.random.default_rng(seed)
        n_subj = S.shape[0]
        mult = rng.multinomial(n_subj, np.full(n_subj, 1.0 / n_subj), size=n_boot)
        hb = mult @ S / n_subj                                              # (B, cells)
        mb = rng.binomial(m_n.astype(np.int64), m, size=(n_boot, len(m))) / m_n
        draws = {"r2_cell_means": _rowwise_r(mb, hb) ** 2,
                 "r2_snr_only": _rowwise_r(hb, per_snr_means(hb, snrs)) ** 2,
                 "r_background_pattern": _rowwise_r(per_snr_centred(mb, snrs), per_snr_centred(hb, snrs))}
        for k, d in draws.items():
            out[f"{k}_ci"] = _bc_ci(d, out[k])
    return out


def _bc_ci(draws: np.ndarray, estimate: float, level: float = 0.95) -> list[float | None]:
    """Bias-corrected percentile interval (Efron & Tibshirani 1993, ch. 14.3, without the
    acceleration term).  The draws here add the model's binomial trial noise to an estimate that
    already carries it, so they sit below the estimate (a correlation is attenuated by noise);
    the plain percentile interval would then exclude the estimate. The bias correction shifts
    the percentiles by z0 = Phi^-1(share of draws below the estimate)."""
    from scipy.stats import norm

    d = np.asarray(draws, float)
    d = d[np.isfinite(d)]
    if not d.size or not np.isfinite(estimate):
        return [None, None]
    below = (np.sum(d < estimate) + 0.5 * np.sum(d == estimate)) / d.size
    below = float(np.clip(below, 0.5 / d.size, 1 - 0.5 / d.size))
    z0 = norm.ppf(below)
    za = norm.ppf([(1 - level) / 2, (1 + level) / 2])
    q = norm.cdf(2 * z0 + za) * 100
    return [float(v) for v in np.percentile(d, q)]


#: Saddler & McDermott (2024)'s networks (fig5b_fig5c.csv of msaddler/phaselocknet): their
#: background names -> the listener data's background codes (modulated noise was not plotted).
SADDLER_FIG5_BACKGROUNDS = {"auditory_scenes": 0, "8_talker_babble": 1, "instrumental_music": 2,
                            "stationary_noise": 3}
SADDLER_FIG5_FILE = "data/source_data_files/fig5b_fig5c.csv"


def saddler_model_cells(path=None) -> pd.DataFrame:
    """Saddler & McDermott (2024)'s published word-recognition cell means of their networks on
    the real stimuli, by phase-locking limit of the simulated auditory nerve (50, 320, 1000,
    3000 Hz; each the mean of 10 architectures): columns ``model, background, snr_db, acc``."""
    from psychobench.data.listeners import SADDLER_DATASET, read_listener_csv, fetch_file

    path = path or fetch_file(SADDLER_DATASET, SADDLER_FIG5_FILE)
    d = read_listener_csv(path)
    d = d[(d["model"].astype(str) != "human") & d["condition"].isin(list(SADDLER_FIG5_BACKGROUNDS))]
    g = d.groupby(["model", "condition", "snr"], sort=True)["correct_word"].mean().reset_index()
    return pd.DataFrame({"model": "saddler2024-ihc" + g["model"].astype(str) + "hz",
                         "background": g["condition"].map(SADDLER_FIG5_BACKGROUNDS).to_numpy(int),
                         "snr_db": g["snr"].to_numpy(float), "acc": g["correct_word"].to_numpy(float)})


def srt_fits(levels: np.ndarray, k: np.ndarray, n: np.ndarray, *, guess: np.ndarray, criterion: float,
             lapse_max: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Logistic fits of many curves at shared SNRs: ``k, n (R, L)`` with per-row guess rates
    ``guess (R,)``.  Rows sharing a guess rate are fitted together (one batched call each).
    Returns ``alpha, beta, lapse, srt`` each ``(R,)``; srt is NaN where the criterion is not
    crossed inside the tested SNR range.  The lapse may reach ``lapse_max``: in word tasks the
    upper asymptote follows the clean accuracy, which is well below 1."""
    guess = np.asarray(guess, float)
    out = np.full((4, len(k)), np.nan)
    for g in np.unique(guess):   # one fit call per distinct guess rate (two: model and humans)
        sel = guess == g
        a, b, lam, _ = fit_batch(levels, k[sel], n[sel], kind="logistic", guess=float(g),
                                 lapse_bounds=(0.0, lapse_max))
        t = threshold_value("logistic", a, b, g, lam, criterion)
        t = np.where((t >= levels.min()) & (t <= levels.max()), t, np.nan)
        out[:, sel] = a, b, lam, t
    return out[0], out[1], out[2], out[3]


def words_in_noise_comparison(model_trials: pd.DataFrame, humans: pd.DataFrame, *, gamma_model: float,
                              srt_criterion: float = 0.5, n_splits: int = 100, n_boot: int = 1000,
                              seed: int = 0, human_trials_per_cell: float = 15.0,
                              lapse_max: float = 0.5) -> tuple[dict, pd.DataFrame]:
    """Compare a model's words-in-noise trials with the Saddler 2024 listeners.

    model_trials: trial table with ``background`` (Saddler code), ``snr_db`` (inf = clean), ``correct``.
    humans: :func:`~psychobench.data.listeners.load_saddler2024_words` (proportion correct per
    listener and cell).  gamma_model: the model's guess rate (1 / vocabulary for a closed set);
    people answered open set (guess 0).

    Returns ``(summary, metrics)``.  summary: ``r2_cell_means`` (squared Pearson r of model and
    listener-mean accuracy over the noisy cells present in both), ``ceiling`` (the split-half
    reliability of the listener mean, Spearman-Brown corrected: the largest r^2 a model can
    expect), ``r2_over_ceiling``, and per background ``srt``: SRT of model and pooled listeners
    (logistic fits, criterion ``srt_criterion``), 95% intervals (model: binomial bootstrap of its
    trials; listeners: bootstrap over listeners), the difference with a paired interval, and the
    model's z against the 44 single-listener SRTs.  Listener counts are proportions x
    ``human_trials_per_cell`` words (the data give proportions; about 15 words a listener and cell).
    metrics: tidy table of per-cell accuracies and per-background fits.
    """
    S, cols = human_cells(humans)
    n_subj = S.shape[0]
    hum_mean = pd.Series(S.mean(0), index=cols, name="human_acc")
    mc = cell_table(model_trials).set_index(["background", "snr_db"])
    noisy = [c for c in cols if np.isfinite(c[1]) and c in mc.index]
    if len(noisy) < 3:
        raise ValueError(f"only {len(noisy)} noisy cells shared by model and humans; need >= 3")
    cidx = np.array([cols.get_loc(c) for c in noisy])
    m_vec = mc.loc[noisy, "acc"].to_numpy(float)
    h_vec = hum_mean.iloc[cidx].to_numpy(float)
    half_a, half_b, n_a, n_b = split_halves(S[:, cidx], n_splits, seed)
    est = estimate_from_halves(m_vec, h_vec, half_a, half_b, n_a=n_a, n_b=n_b)
    r, reliability = est["value"], est["reliability"]
    cell_snrs = np.array([c[1] for c in noisy], float)
    pattern = cell_pattern_stats(mc.loc[noisy, "k"].to_numpy(float), mc.loc[noisy, "n"].to_numpy(float),
                                 S[:, cidx], cell_snrs, n_boot=n_boot, seed=seed)

    rng = np.random.default_rng(seed)
    rows, srt = [], {}
    t = float(human_trials_per_cell)
    for bg in sorted({c[0] for c in noisy}):  # five backgrounds; every fit inside is batched
        snrs = np.array(sorted(c[1] for c in noisy if c[0] == bg))
        hk = np.stack([S[:, cols.get_loc((bg, s))] for s in snrs], 1) * t        # (n_subj, L)
        mm = mc.loc[[(bg, s) for s in snrs]]
        k = np.vstack([mm["k"].to_numpy(float), hk.sum(0), hk])
        n = np.vstack([mm["n"].to_numpy(float), np.full(len(snrs), t * n_subj), np.full((n_subj, len(snrs)), t)])
        guess = np.r_[gamma_model, np.zeros(n_subj + 1)]
        a, b, lam, th = srt_fits(snrs, k, n, guess=guess, criterion=srt_criterion, lapse_max=lapse_max)
        fit_m = PsychometricFit("logistic", a[0], b[0], float(gamma_model), lam[0], np.nan, snrs, k[0], n[0],
                                (0.0, lapse_max))
        bm = bootstrap_threshold(fit_m, srt_criterion, n_boot=n_boot, seed=seed)
        # listeners: resample listeners (multiplicities), refit the pooled curve for every draw at once
        mult = rng.multinomial(n_subj, np.full(n_subj, 1.0 / n_subj), size=n_boot).astype(float)
        ab, bb, lb, _ = fit_batch(snrs, mult @ hk, np.full((n_boot, len(snrs)), t * n_subj), kind="logistic",
                                  guess=0.0, lapse_bounds=(0.0, lapse_max), init=(a[1], b[1], lam[1]))
        hd = threshold_value("logistic", ab, bb, 0.0, lb, srt_criterion)
        hd = np.where((hd >= snrs.min()) & (hd <= snrs.max()), hd, np.nan)
        d = bm["draws"] - hd
        single = th[2:][np.isfinite(th[2:])]
        z = (th[0] - single.mean()) / single.std(ddof=1) if single.size >= 2 and np.isfinite(th[0]) else np.nan
        srt[str(bg)] = {
            "human_srt_db": _num(th[1]), "human_ci": _ci(hd), "model_srt_db": _num(th[0]), "model_ci": _ci(bm["draws"]),
            "model_status": bm["status"], "delta_db": _num(th[0] - th[1]), "delta_ci": _ci(d),
            "model_z_vs_listeners": _num(z), "n_listeners_with_srt": int(single.size),
        }
        for who, i in (("model", 0), ("human", 1)):
            rows.append({"metric": "psychometric_fit", "observer": who, "background": bg, "snr_db": np.nan,
                         "value": th[i], "fit_alpha": a[i], "fit_beta": b[i], "fit_lapse": lam[i],
                         "fit_guess": guess[i]})
    for (bg, snr), mv, hv in zip(noisy, m_vec, h_vec):
        rows.append({"metric": "cell_accuracy", "observer": "model", "background": bg, "snr_db": snr, "value": mv})
        rows.append({"metric": "cell_accuracy", "observer": "human", "background": bg, "snr_db": snr, "value": hv})
    clean_m = mc[~np.isfinite(mc.index.get_level_values("snr_db"))]["acc"]
    clean_h = hum_mean[~np.isfinite(hum_mean.index.get_level_values("snr_db"))]
    summary = {
        "r2_cell_means": _num(r * r), "r_cell_means": _num(r),
        "ceiling": _num(reliability), "ceiling_kind": "split-half reliability of the listener mean "
                                                      "(Spearman-Brown), the largest expected r^2",
        "r2_over_ceiling": _num(r * r / reliability) if reliability > 0 else None,
        "r_half": _num(est["r_half"]), "n_splits": int(n_splits),
        "n_cells": len(noisy), "n_listeners": int(n_subj),
        "model_clean_accuracy": _num(clean_m.mean()) if len(clean_m) else None,
        "human_clean_accuracy": _num(clean_h.mean()) if len(clean_h) else None,
        "srt_criterion": srt_criterion, "srt": srt,
        "r2_cell_means_ci": pattern.get("r2_cell_means_ci"),
        "r2_snr_only": _num(pattern["r2_snr_only"]), "r2_snr_only_ci": pattern.get("r2_snr_only_ci"),
        "r_background_pattern": _num(pattern["r_background_pattern"]),
        "r_background_pattern_ci": pattern.get("r_background_pattern_ci"),
    }
    if not np.isfinite(r):
        summary["r_undefined"] = "model accuracy is the same in every noisy cell (e.g. at chance): r is undefined"
    return summary, pd.DataFrame(rows)


def _num(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _ci(draws: np.ndarray) -> list[float | None]:
    d = np.asarray(draws, float)
    d = d[np.isfinite(d)]
    return [float(v) for v in np.percentile(d, [2.5, 97.5])] if d.size else [None, None]


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


def ccc_leave_one_listener_out(answers: list[list[str]], targets: np.ndarray, alpha: float = 0.5,
                               per_token: bool = False) -> dict[str, float] | pd.DataFrame:
    """The four rates of a held-out listener scored against the others, averaged over listeners
    and tokens (each token weighted equally): the ceiling the model's rates are read against.
    The dominant confusion of the others is their most frequent answer other than the target
    (ties: alphabetical), as the corpus defines Confusion.

    Vectorised over all (token, listener) answers: with ``c(w)`` the count of answer ``w`` among
    a token's ``N`` listeners and ``K`` its distinct answers, a held-out answer ``a`` leaves
    ``c(a) - 1`` copies of itself among ``N - 1`` others with ``K - [c(a) = 1]`` distinct answers;
    ``a`` is the others' dominant confusion when ``c(a) - 1 >= 1`` beats the best other wrong
    answer (count, then alphabet).
    """
    if len(answers) != len(targets):
        raise ValueError(f"{len(answers)} answer lists for {len(targets)} targets")
    sizes = np.fromiter((len(a) for a in answers), int, len(answers))
    if (sizes < 2).any():
        raise ValueError(f"token {int(np.argmax(sizes < 2))}: leave-one-listener-out needs >= 2 listeners")
    flat = np.concatenate([np.asarray(a, dtype=object) for a in answers]).astype(str)
    words, code = np.unique(np.concatenate([flat, np.asarray(targets, dtype=str)]), return_inverse=True)
    ans, tgt = code[: len(flat)], code[len(flat):]          # codes are alphabetical ranks
    tok = np.repeat(np.arange(len(answers)), sizes)
    nw = len(words)
    pair = tok * nw + ans
    upair, inv, cnt = np.unique(pair, return_inverse=True, return_counts=True)
    c = cnt[inv]                                          # count of the held-out answer in its token
    k = np.bincount(upair // nw, minlength=len(answers))[tok]      # distinct answers per token
    n = sizes[tok]
    # best and second-best wrong answer per token: sort by (token, -count, code)
    ut, uw = upair // nw, upair % nw
    wrong = uw != tgt[ut]
    wt, ww, wc = ut[wrong], uw[wrong], cnt[wrong]
    order = np.lexsort((ww, -wc, wt))
    wt, ww, wc = wt[order], ww[order], wc[order]
    first = np.r_[True, wt[1:] != wt[:-1]]
    second = np.r_[False, ~first[1:]] & np.r_[False, first[:-1]]
    best_w = np.full(len(answers), -1)
    best_c = np.zeros(len(answers), int)
    best_w[wt[first]], best_c[wt[first]] = ww[first], wc[first]
    next_w = np.full(len(answers), -1)
    next_c = np.zeros(len(answers), int)
    next_w[wt[second]], next_c[wt[second]] = ww[second], wc[second]
    is_best = best_w[tok] == ans
    other_w = np.where(is_best, next_w[tok], best_w[tok])
    other_c = np.where(is_best, next_c[tok], best_c[tok])
    left = c - 1
    is_wrong = ans != tgt[tok]
    dominant = is_wrong & (left >= 1) & ((left > other_c) | ((left == other_c) & (ans < other_w)))
    rates = np.stack([ans == tgt[tok], left >= 1, dominant,
                      np.log((left + alpha) / (n - 1 + alpha * (k - (c == 1) + 1)))], 1)
    tokens = np.add.reduceat(rates, np.r_[0, np.cumsum(sizes)[:-1]], axis=0) / sizes[:, None]
    if per_token:                     # (tokens, 4): each token's mean over its held-out listeners
        return pd.DataFrame(tokens, columns=list(CCC_RATES))
    r = tokens.mean(0)
    return {"correct": float(r[0]), "in_answers": float(r[1]), "dominant": float(r[2]), "logprob": float(r[3])}


#: the four per-token rates of the English CCC comparison
CCC_RATES = ("correct", "in_answers", "dominant", "logprob")


# --------------------------------------------------------------------------------------------
# pitch


def _f0dl_counts(trials: pd.DataFrame):
    """Correct counts and trial counts ``(conditions x deltas)`` and log10 deltas."""
    g = trials.groupby(["condition", "delta_pct"])["correct"].agg(k="sum", n="count")
    k = g["k"].unstack(fill_value=0).astype(float)
    n = g["n"].unstack(fill_value=0).astype(float)
    return k, n, np.log10(k.columns.to_numpy(float))


def _f0dl_fit(x, k, n, criterion: float, lapse_max: float):
    """Batched logistic fits of count rows ``k, n (..., deltas)`` at log10 deltas ``x``; returns
    ``alpha, beta, lapse, nll, log10 threshold, status`` per row (the threshold rule of
    :func:`f0dl_thresholds`)."""
    a, b, lam, nll = fit_batch(x, k, n, kind="logistic", guess=0.5, lapse_bounds=(0.0, lapse_max))
    t = threshold_value("logistic", a, b, 0.5, lam, criterion)
    # a threshold only where the data show one: accuracy at the largest delta significantly
    # above chance (one-sided exact binomial test, p < 0.05) and the fit crossing inside the range
    top = np.argmax(x)
    shown = above_chance(k[..., top], n[..., top], 0.5)
    crossed = (t >= x.min()) & (t <= x.max())
    status = np.where(~shown, "at_chance", np.where(
        crossed, "ok", np.where(np.isfinite(t) & (t < x.min()) & (b > 0), "below_range", "not_reached")))
    return a, b, lam, nll, t, status


def f0dl_thresholds(trials: pd.DataFrame, criterion: float = 0.707, n_boot: int = 200, seed: int = 0,
                    lapse_max: float = 0.06) -> pd.DataFrame:
    """F0 difference limens by the method of constant stimuli: per condition, a logistic
    psychometric function of log10(delta %) with guess rate 0.5 (two intervals) is fitted by
    binomial maximum likelihood (all conditions in one batched fit) and read at ``criterion``
    (70.7%: the point a 2-down 1-up track converges on, Levitt 1971).

    trials: columns ``condition, delta_pct, correct``.  Returns one row per condition:
    ``condition, threshold_percent`` (NaN when the criterion is not crossed inside the tested
    deltas), ``ci_low, ci_high`` (binomial bootstrap, ``n_boot`` draws), ``status``
    (``ok``; ``at_chance``: accuracy at the largest delta not significantly above 50%, one-sided
    exact binomial test, p >= 0.05, so the data show no threshold; ``below_range``: a rising
    curve already above criterion at the smallest delta; ``not_reached``: not crossed, or
    accuracy not rising with delta),
    ``alpha, beta, lapse`` (on the log10 scale) and ``n_trials``.
    """
    k, n, x = _f0dl_counts(trials)
    a, b, lam, nll, t, status = _f0dl_fit(x, k.to_numpy(), n.to_numpy(), criterion, lapse_max)
    inside = status == "ok"
    ci = np.full((len(k), 2), np.nan)
    for i in np.flatnonzero(inside):   # one bootstrap per condition (24), each batched over draws
        fit = PsychometricFit("logistic", a[i], b[i], 0.5, lam[i], nll[i], x, k.to_numpy()[i], n.to_numpy()[i],
                              (0.0, lapse_max))
        d = bootstrap_threshold(fit, criterion, n_boot=n_boot, seed=seed + i)["draws"]
        d = d[np.isfinite(d)]
        if d.size:
            ci[i] = 10 ** np.percentile(d, [2.5, 97.5])
    with np.errstate(over="ignore", invalid="ignore"):
        thr = np.where(inside, 10 ** np.where(inside, t, 0.0), np.nan)
    return pd.DataFrame({
        "condition": k.index.to_numpy(), "threshold_percent": thr,
        "ci_low": ci[:, 0], "ci_high": ci[:, 1], "status": status,
        "alpha": a, "beta": b, "lapse": lam, "n_trials": n.to_numpy().sum(1).astype(int),
    })


def pitch_headline_draws(trials: pd.DataFrame, conditions: pd.DataFrame, criterion: float = 0.707,
                         n_boot: int = 200, seed: int = 0, lapse_max: float = 0.06) -> dict[str, np.ndarray]:
    """Bootstrap draws of the two pitch headlines over the model's trials: each condition x
    delta cell is resampled (binomially: ``k* ~ Bin(n, k / n)``, the trial bootstrap of that cell),
    every curve refitted (one batched fit of all draws and conditions) and the threshold rule
    applied again; per draw, ``n_thresholds_reached`` (conditions with status ``ok``) and
    ``r_log_thresholds`` over those conditions (NaN with fewer than 3).  The listeners'
    thresholds (published means, no trial data) are held fixed, so an interval from these draws
    bounds the model's value under its own trial noise, not the listeners'."""
    k, n, x = _f0dl_counts(trials)
    h = np.log10(conditions.set_index("condition").loc[k.index, "human_f0dl_percent"].to_numpy(float))
    rng = np.random.default_rng([seed, 1005])
    kk, nn = k.to_numpy(), n.to_numpy()
    p = np.divide(kk, nn, out=np.zeros_like(kk), where=nn > 0)
    kb = rng.binomial(nn.astype(np.int64)[None].repeat(n_boot, 0), p[None].repeat(n_boot, 0)).astype(float)
    nb = np.broadcast_to(nn, kb.shape)
    *_, t, status = _f0dl_fit(x, kb, nb, criterion, lapse_max)
    ok = (status == "ok") & np.isfinite(h)[None, :]
    count = ok.sum(1)
    r = np.full(n_boot, np.nan)
    for i in np.flatnonzero(count >= 3):
        r[i] = pearson(t[i, ok[i]], h[ok[i]])
    return {"n_thresholds_reached": count.astype(float), "r_log_thresholds": r}


def draws_interval(draws: np.ndarray, estimate, min_valid: float = 0.9) -> tuple[float | None, float | None]:
    """Bias-corrected percentile 95% interval (:func:`_bc_ci`: the draws add trial noise to an
    estimate that already carries it) of bootstrap ``draws`` around ``estimate``, or
    ``(None, None)`` when fewer than ``min_valid`` of the draws are defined (an interval from the
    few draws that happened to give a value would be conditioned on them)."""
    d = np.asarray(draws, float)
    if estimate is None or d.size == 0 or np.isfinite(d).sum() < min_valid * d.size:
        return None, None
    lo, hi = _bc_ci(d, float(estimate))
    return lo, hi


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


# --------------------------------------------------------------------------------------------
# speech detection


def detection_dprime(trials: pd.DataFrame, by: str = "snr_db") -> pd.DataFrame:
    """Yes/no detection per level of ``by``: hit rate (answer ``speech`` on speech trials), false-
    alarm rate (``speech`` on noise-only trials) and d' = z(H) - z(F).  Rates use the log-linear
    correction (k + 0.5) / (n + 1) (Hautus 1995), so d' stays finite at 0 or 1.

    trials: columns ``by``, ``category`` (``speech``/``noise``), ``response``.
    Returns columns ``by, n_speech, n_noise, hit_rate, fa_rate, dprime``.
    """
    yes = trials["response"].astype(str).eq("speech").to_numpy(float)
    df = pd.DataFrame({by: trials[by].to_numpy(), "speech": trials["category"].eq("speech").to_numpy(), "yes": yes})
    g = df.groupby([by, "speech"])["yes"].agg(k="sum", n="count").unstack("speech")
    if ("k", True) not in g.columns or ("k", False) not in g.columns:
        raise ValueError("detection_dprime needs both speech and noise-only trials")
    kh, nh = g[("k", True)].fillna(0).to_numpy(), g[("n", True)].fillna(0).to_numpy()
    kf, nf = g[("k", False)].fillna(0).to_numpy(), g[("n", False)].fillna(0).to_numpy()
    hr, fa = (kh + 0.5) / (nh + 1), (kf + 0.5) / (nf + 1)
    return pd.DataFrame({by: g.index.to_numpy(), "n_speech": nh.astype(int), "n_noise": nf.astype(int),
                         "hit_rate": kh / np.maximum(nh, 1), "fa_rate": kf / np.maximum(nf, 1),
                         "dprime": dprime(hr, fa)})


# --------------------------------------------------------------------------------------------
# metric tables


def _cell_name(background_name: str, snr_db: float) -> str:
    return "clean" if not np.isfinite(snr_db) else f"{background_name}_snr{snr_db:+g}"


def words_in_noise_table(model_trials: pd.DataFrame, humans: pd.DataFrame, *, dataset: str,
                         background_names: dict[int, str], gamma_model: float, srt_criterion: float = 0.5,
                         n_splits: int = 100, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """:func:`words_in_noise_comparison` as metric rows: ``r2_cell_means`` (value, the listeners'
    split-half ceiling, value / ceiling), ``r_cell_means``, ``clean_accuracy``; per background
    (``condition`` = its masker name) ``srt_db`` of model and listeners with intervals,
    ``srt_delta_db``, ``srt_z`` and the fitted curves (``fit_alpha``, ``fit_beta``, ``fit_lapse``,
    ``fit_guess``); per cell (``condition`` = ``<masker>_snr<dB>``) ``accuracy``."""
    from psychobench.consistency import table as T

    observer = str(model_trials["subject"].iloc[0])
    summary, metrics = words_in_noise_comparison(model_trials, humans, gamma_model=gamma_model,
                                                 srt_criterion=srt_criterion, n_splits=n_splits,
                                                 n_boot=n_boot, seed=seed)
    n_m = len(model_trials)
    n_cells = summary["n_cells"]
    r2, ceil = summary["r2_cell_means"], summary["ceiling"]
    rows = [T.row(dataset, "r_background_pattern", observer, summary["r_background_pattern"],
                  value_ci=summary["r_background_pattern_ci"], n=n_cells),
            T.row(dataset, "r2_cell_means", observer, r2, value_ci=summary["r2_cell_means_ci"], ceiling=ceil,
                  normalized=summary["r2_over_ceiling"], n=n_cells,
                  status=None if r2 is not None else "undefined"),
            # the trivial baseline beside it: what SNR alone explains of the listeners' cell means
            T.row(dataset, "r2_snr_only", T.HUMANS, summary["r2_snr_only"], value_ci=summary["r2_snr_only_ci"],
                  n=n_cells),
            T.row(dataset, "r_cell_means", observer, summary["r_cell_means"], n=n_cells),
            T.row(dataset, "clean_accuracy", observer, summary["model_clean_accuracy"],
                  n=int((~np.isfinite(model_trials["snr_db"].to_numpy(float))).sum())),
            T.row(dataset, "clean_accuracy", T.HUMANS, summary["human_clean_accuracy"], n=summary["n_listeners"])]
    def only(v, ci):          # an interval only beside a value: the draws of a threshold not reached bound nothing
        return ci if v is not None else None

    for bg, s in summary["srt"].items():
        cond = background_names[int(bg)]
        rows += [
            T.row(dataset, "srt_db", observer, s["model_srt_db"], condition=cond, value_ci=only(s["model_srt_db"], s["model_ci"]), n=n_m,
                  status=None if s["model_srt_db"] is not None else "not_reached"),
            T.row(dataset, "srt_db", T.HUMANS, s["human_srt_db"], condition=cond, value_ci=only(s["human_srt_db"], s["human_ci"]),
                  n=summary["n_listeners"], status=None if s["human_srt_db"] is not None else "not_reached"),
            T.row(dataset, "srt_delta_db", observer, s["delta_db"], condition=cond, value_ci=only(s["delta_db"], s["delta_ci"]), n=n_m,
                  status=None if s["delta_db"] is not None else "not_reached"),
            T.row(dataset, "srt_z", observer, s["model_z_vs_listeners"], condition=cond, n=s["n_listeners_with_srt"],
                  status=None if s["model_z_vs_listeners"] is not None else "not_reached"),
        ]
    rows += saddler_reference_rows(humans, dataset)
    for r in metrics.itertuples(index=False):
        who = observer if r.observer == "model" else T.HUMANS
        name = background_names[int(r.background)]
        if r.metric == "cell_accuracy":
            rows.append(T.row(dataset, "accuracy", who, r.value, condition=_cell_name(name, r.snr_db)))
        else:
            for k in ("alpha", "beta", "lapse", "guess"):
                rows.append(T.row(dataset, f"fit_{k}", who, getattr(r, f"fit_{k}"), condition=name))
    return T.metric_table(rows, f"{dataset}/{observer}")


def saddler_reference_rows(humans: pd.DataFrame, dataset: str) -> list[dict]:
    """Reference rows: Saddler & McDermott (2024)'s own networks, on the real stimuli, against
    the same listeners (``r2_cell_means``, ``r_background_pattern`` over the 4 backgrounds x 5
    SNRs they published; observer ``saddler2024-ihc<limit>hz``; no interval: cell means only)."""
    from psychobench.consistency import table as T

    ref = saddler_model_cells()
    S, cols = human_cells(humans)
    h = pd.Series(S.mean(0), index=cols)
    rows = []
    for name, g in ref.groupby("model", sort=False):
        g = g[np.isfinite(g["snr_db"])]
        cells = [(b, s) for b, s in zip(g["background"], g["snr_db"]) if (b, s) in h.index]
        if len(cells) < 3:
            continue
        mv = g.set_index(["background", "snr_db"]).loc[cells, "acc"].to_numpy(float)
        hv = h.loc[cells].to_numpy(float)
        snrs = np.array([c[1] for c in cells])
        r = float(_rowwise_r(mv, hv))
        rp = float(_rowwise_r(per_snr_centred(mv, snrs), per_snr_centred(hv, snrs)))
        rows += [T.row(dataset, "r2_cell_means", name, r * r, n=len(cells)),
                 T.row(dataset, "r_background_pattern", name, rp, n=len(cells))]
    return rows


def ccc_table(model_trials: pd.DataFrame, answers: list[list[str]], *, dataset: str, alpha: float = 0.5,
              n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """English CCC per-token rates of the model (:func:`ccc_item_rates`; trials carry ``category``
    = target and ``ccc_confusion``) beside the leave-one-listener-out ceiling: rows ``correct``,
    ``in_answers``, ``dominant`` (value, ceiling, value / ceiling) and ``logprob`` (value,
    ceiling; a log-probability has no ratio).

    Every number is a mean over tokens (each token weighted equally), so its 95% interval comes
    from resampling tokens (``n_boot`` draws, seeded; percentile intervals, which for means of
    bounded per-token rates over hundreds of tokens are close to the BCa ones): the model's rate
    and the ceiling from the same draws, so the normalised rate's interval carries their
    covariance.  The ceiling's interval bounds the listeners' agreement over these tokens with
    these listeners (listeners are not resampled).  The empty answer (a recogniser that heard
    no word) is a wrong answer: it is never the target and no listener typed it."""
    from psychobench.consistency import table as T

    observer = str(model_trials["subject"].iloc[0])
    targets = model_trials["category"].to_numpy(object)
    rates = ccc_item_rates(answers, targets, model_trials["ccc_confusion"].to_numpy(object),
                           model_trials["response"].to_numpy(object), alpha)
    lolo = ccc_leave_one_listener_out(answers, targets, alpha, per_token=True)
    n = len(rates)
    m = rates[list(CCC_RATES)].to_numpy(float)
    c = lolo[list(CCC_RATES)].to_numpy(float)
    draws = None
    if n_boot > 0 and n >= 2:
        rng = np.random.default_rng([seed, 3207])
        W = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot) / n          # (B, n) token weights
        draws = W @ m, W @ c                                                  # (B, 4) each

    def ci(x):
        return tuple(float(v) for v in np.percentile(x, [2.5, 97.5]))

    rows = []
    for j, k in enumerate(CCC_RATES):
        v, ceil = float(m[:, j].mean()), float(c[:, j].mean())
        has_ratio = k != "logprob" and ceil > 0
        norm = v / ceil if has_ratio else None
        kw = {}
        if draws is not None:
            kw = {"value_ci": ci(draws[0][:, j]), "ceiling_ci": ci(draws[1][:, j])}
            if has_ratio:
                with np.errstate(invalid="ignore", divide="ignore"):
                    kw["normalized_ci"] = ci(draws[0][:, j] / draws[1][:, j])
        rows.append(T.row(dataset, k, observer, v, ceiling=ceil, normalized=norm, n=n, **kw))
    return T.metric_table(rows, f"{dataset}/{observer}")


def pitch_table(model_trials: pd.DataFrame, conditions: pd.DataFrame, *, dataset: str, criterion: float = 0.707,
                n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """F0 difference limens per condition (:func:`f0dl_thresholds`) of the model and the
    listeners' (``conditions``: ``condition, human_f0dl_percent``), the median estimated / true
    F0 where the observer reports estimates, and ``r_log_thresholds`` (r of log thresholds over
    the conditions where the model has one), ``n_thresholds_reached``."""
    from psychobench.consistency import table as T

    observer = str(model_trials["subject"].iloc[0])
    th = f0dl_thresholds(model_trials, criterion, n_boot=n_boot, seed=seed)
    m = conditions.merge(th, on="condition", how="left")
    n_per = model_trials.groupby("condition").size()
    rows = []
    for r in m.itertuples(index=False):
        ok = r.status == "ok"
        rows.append(T.row(dataset, "f0dl_percent", observer, r.threshold_percent if ok else None, condition=r.condition,
                          value_ci=(r.ci_low, r.ci_high), n=n_per.get(r.condition), status=None if ok else r.status))
        rows.append(T.row(dataset, "f0dl_percent", T.HUMANS, r.human_f0dl_percent, condition=r.condition))
    if {"f0_1_est", "f0_2_est"} <= set(model_trials.columns):
        est = pd.concat([model_trials["f0_1_est"] / model_trials["f0_1"], model_trials["f0_2_est"] / model_trials["f0_2"]])
        cond = pd.concat([model_trials["condition"], model_trials["condition"]])
        ratio = est.groupby(cond.to_numpy()).median()
        for c, v in ratio.items():
            rows.append(T.row(dataset, "f0_estimate_ratio", observer, v, condition=c, n=2 * n_per.get(c, 0)))
    comp = pitch_comparison(m)
    draws = pitch_headline_draws(model_trials, conditions, criterion, n_boot=n_boot, seed=seed)
    rows.append(T.row(dataset, "r_log_thresholds", observer, comp["r_log_thresholds"], n=comp["n_conditions"],
                      value_ci=draws_interval(draws["r_log_thresholds"], comp["r_log_thresholds"]),
                      status=None if comp["r_log_thresholds"] is not None else "undefined"))
    rows.append(T.row(dataset, "n_thresholds_reached", observer, comp["n_conditions"], n=len(m),
                      value_ci=draws_interval(draws["n_thresholds_reached"], comp["n_conditions"])))
    return T.metric_table(rows, f"{dataset}/{observer}")


#: the observer row of the pitch-shift baseline that follows de Boer's rule
DEBOER = "baseline: shift / centre harmonic"


def pitch_shift_draws(shift: np.ndarray, cond_index: np.ndarray, n_cond: int, n_boot: int, seed: int,
                      stat=np.median, tag: int = 2003) -> np.ndarray:
    """Bootstrap draws ``(n_boot, n_cond)`` of each condition's ``stat`` (median) of ``shift``,
    resampling the items of every condition (with replacement, within the condition); a
    condition without items gets NaN.  ``tag`` separates the random streams of experiments."""
    rng = np.random.default_rng([seed, tag])
    order = np.argsort(cond_index, kind="stable")
    sizes = np.bincount(cond_index, minlength=n_cond)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    out = np.full((n_boot, n_cond), np.nan)
    for c in range(n_cond):
        vals = shift[order[starts[c]:starts[c] + sizes[c]]]
        if len(vals):
            out[:, c] = stat(vals[rng.integers(0, len(vals), (n_boot, len(vals)))], axis=1)
    return out


def _f0_estimates(model_trials: pd.DataFrame, dataset: str, columns: tuple[str, ...]) -> list[np.ndarray]:
    """The observer's F0 estimate columns as arrays; a clear error when the observer reports
    none or a trial has no positive finite estimate (no trial is dropped silently)."""
    missing = [c for c in columns if c not in model_trials.columns]
    if missing:
        raise ValueError(f"{dataset}: the observer reports no F0 estimates (trial columns {missing} missing); "
                         "this experiment needs one that does (model=pitchnet, model=crepe)")
    out = []
    for c in columns:
        est = model_trials[c].to_numpy(float)
        bad = ~np.isfinite(est) | (est <= 0)
        if bad.any():
            raise ValueError(f"{dataset}: {int(bad.sum())} trials without a positive finite {c} "
                             f"(first: {model_trials['stimulus_id'].iloc[np.flatnonzero(bad)[0]]})")
        out.append(est)
    return out


def _condition_index(model_trials: pd.DataFrame, conds: pd.DataFrame, dataset: str) -> np.ndarray:
    idx = pd.Index(conds["condition"]).get_indexer(model_trials["condition"])
    if (idx < 0).any():
        raise ValueError(f"{dataset}: trial conditions not in the design: "
                         f"{sorted(set(model_trials['condition'][idx < 0]))[:5]}")
    return idx


#: the r-over-conditions headlines written by :func:`_r_rows`, and the per-condition values
#: written by :func:`_condition_rows`
CONDITION_R_METRICS = ("r_pitch_shift", "r_mistuned_shift", "r_alt_phase")
CONDITION_METRICS = ("pitch_shift_percent", "mistuned_shift_percent", "alt_phase_2f0_minus_f0")


def _condition_rows(dataset: str, metric: str, observer: str, conds: pd.DataFrame, point: np.ndarray,
                    draws: np.ndarray, n_per: np.ndarray, fixed: dict[str, np.ndarray]) -> list[dict]:
    """Per condition: the model's ``point`` value with a 95% percentile interval of its item
    ``draws`` (none for a condition without items), then each ``fixed`` observer's value (the
    listeners, a baseline)."""
    from psychobench.consistency import table as T

    rows = []
    for c, cond in enumerate(conds["condition"]):
        lo, hi = np.percentile(draws[:, c], [2.5, 97.5]) if n_per[c] else (None, None)
        rows.append(T.row(dataset, metric, observer, point[c], condition=cond, value_ci=(lo, hi), n=n_per[c]))
        rows += [T.row(dataset, metric, name, v[c], condition=cond) for name, v in fixed.items()]
    return rows


def _r_rows(dataset: str, metric: str, observer: str, point: np.ndarray, draws: np.ndarray, human: np.ndarray,
            baselines: dict[str, np.ndarray]) -> list[dict]:
    """``metric``: r of the condition values ``point`` with the listeners' ``human`` over the
    conditions where both are defined, with a bias-corrected interval from ``draws`` (the
    listeners held fixed), and each baseline's r on the same conditions."""
    from psychobench.consistency import table as T

    ok = np.isfinite(human) & np.isfinite(point)
    if ok.sum() < 3:
        return [T.row(dataset, metric, observer, None, n=int(ok.sum()), status="undefined")]
    r_hat = float(pearson(point[ok], human[ok]))
    r_draws = np.asarray(pearson(draws[:, ok], human[None, ok]), float)
    rows = [T.row(dataset, metric, observer, r_hat, value_ci=draws_interval(r_draws, r_hat), n=int(ok.sum()),
                  status=None if np.isfinite(r_hat) else "undefined")]
    for name, b in baselines.items():
        rows.append(T.row(dataset, metric, name, float(pearson(b[ok], human[ok])), n=int(ok.sum())))
    return rows


def _slopes(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> dict:
    """Least-squares slope of ``y`` on ``x`` within each group, over the last axis of ``y``."""
    out = {}
    for g in np.unique(groups):
        sel = groups == g
        xc = x[sel] - x[sel].mean()
        out[g] = (y[..., sel] - y[..., sel].mean(-1, keepdims=True)) @ xc / (xc @ xc)
    return out


def pitch_shift_table(model_trials: pd.DataFrame, conditions: pd.DataFrame, *, dataset: str, n_boot: int = 1000,
                      seed: int = 0) -> pd.DataFrame:
    """Pitch shifts of frequency-shifted complexes (Moore & Moore 2003).

    Per trial, the pitch shift is ``100 (f0_2_est / f0_true - 1)`` % (the observer's F0 estimate
    of the shifted complex over its true F0); per condition, the median over items (robust to an
    occasional octave error), with a 95% percentile interval from ``n_boot`` resamples of the
    items.  ``r_pitch_shift``: r of the condition medians with the listeners' (bias-corrected
    interval from the same resamples; the listeners' means are held fixed);
    ``pitch_shift_slope`` per centre harmonic (``condition`` = ``h<N>``): the slope of pitch shift
    on component shift, the model's with its interval and the listeners'.  Beside them the
    baseline of de Boer's rule (observer :data:`DEBOER`: pitch shift = component shift / centre
    harmonic), which a model must beat to show more than the place of the envelope."""
    from psychobench.consistency import table as T

    if "f0_true" not in model_trials.columns:
        raise ValueError(f"{dataset}: trial column 'f0_true' missing (the stimulus manifest carries it)")
    observer = str(model_trials["subject"].iloc[0])
    (est,) = _f0_estimates(model_trials, dataset, ("f0_2_est",))
    shift = 100 * (est / model_trials["f0_true"].to_numpy(float) - 1)
    conds = conditions.reset_index(drop=True)
    idx = _condition_index(model_trials, conds, dataset)
    point = np.array([np.median(shift[idx == c]) if (idx == c).any() else np.nan for c in range(len(conds))])
    draws = pitch_shift_draws(shift, idx, len(conds), n_boot, seed)
    human = conds["human_pitch_shift_percent"].to_numpy(float)
    deboer = conds["shift_percent"].to_numpy(float) / conds["centre_harmonic"].to_numpy(float)
    n_per = np.bincount(idx, minlength=len(conds))
    rows = _condition_rows(dataset, "pitch_shift_percent", observer, conds, point, draws, n_per,
                           {T.HUMANS: human, DEBOER: deboer})
    ok = np.isfinite(human) & np.isfinite(point)
    rows += _r_rows(dataset, "r_pitch_shift", observer, point, draws, human, {DEBOER: deboer})
    x, g = conds["shift_percent"].to_numpy(float), conds["centre_harmonic"].to_numpy(int)
    if len(np.unique(x)) >= 2:
        m_sl, d_sl = _slopes(point, x, g), _slopes(draws, x, g)
        h_sl, b_sl = (_slopes(np.where(ok, human, np.nan), x, g) if ok.all() else {}), _slopes(deboer, x, g)
        for c in m_sl:
            lo, hi = np.percentile(d_sl[c], [2.5, 97.5])
            rows.append(T.row(dataset, "pitch_shift_slope", observer, m_sl[c], condition=f"h{c}", value_ci=(lo, hi)))
            if c in h_sl:
                rows.append(T.row(dataset, "pitch_shift_slope", T.HUMANS, h_sl[c], condition=f"h{c}"))
            rows.append(T.row(dataset, "pitch_shift_slope", DEBOER, b_sl[c], condition=f"h{c}"))
    return T.metric_table(rows, f"{dataset}/{observer}")


#: the observer row of the mistuned-harmonic baseline: every harmonic's implied F0 weighted alike
EQUAL_WEIGHTS = "baseline: equal harmonic weights"


def _weights_through_origin(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> dict:
    """Least-squares slope through the origin of ``y`` on ``x`` within each group, over the last
    axis of ``y`` (the pitch shift of a tuned complex is 0 by construction)."""
    return {g: y[..., groups == g] @ x[groups == g] / (x[groups == g] @ x[groups == g]) for g in np.unique(groups)}


def mistuned_table(model_trials: pd.DataFrame, conditions: pd.DataFrame, *, dataset: str, n_harmonics: int = 12,
                   weight_max_mistuning_pct: float = 3.0, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Pitch shifts of complexes with one mistuned harmonic (Moore, Glasberg & Peters 1985).

    Per trial, the pitch shift is ``100 (f0_2_est / f0_1_est - 1)`` %: the observer's F0
    estimate of the mistuned complex over its estimate of the tuned one (the listeners matched
    against the tuned complex).  Per condition: the median over items with a 95% percentile
    interval from ``n_boot`` resamples of the items (``mistuned_shift_percent``).
    ``r_mistuned_shift``: r of the condition medians with the listeners' means (bias-corrected
    interval; the listeners held fixed).  ``harmonic_weight`` per F0 and harmonic (``condition``
    ``f0=<F0>-h<N>``): the slope through the origin of pitch shift on mistuning over mistunings
    up to ``weight_max_mistuning_pct`` (where the listeners' shifts still grow with the
    mistuning).  Baseline :data:`EQUAL_WEIGHTS`: the F0 that weights every harmonic's implied F0
    alike moves by mistuning / ``n_harmonics``, whatever the harmonic."""
    from psychobench.consistency import table as T

    observer = str(model_trials["subject"].iloc[0])
    est1, est2 = _f0_estimates(model_trials, dataset, ("f0_1_est", "f0_2_est"))
    shift = 100 * (est2 / est1 - 1)
    conds = conditions.reset_index(drop=True)
    idx = _condition_index(model_trials, conds, dataset)
    n_per = np.bincount(idx, minlength=len(conds))
    point = np.array([np.median(shift[idx == c]) if n_per[c] else np.nan for c in range(len(conds))])
    draws = pitch_shift_draws(shift, idx, len(conds), n_boot, seed, tag=1985)
    human = conds["human_pitch_shift_percent"].to_numpy(float)
    mist = conds["mistuning_percent"].to_numpy(float)
    base = mist / float(n_harmonics)
    rows = _condition_rows(dataset, "mistuned_shift_percent", observer, conds, point, draws, n_per,
                           {T.HUMANS: human, EQUAL_WEIGHTS: base})
    rows += _r_rows(dataset, "r_mistuned_shift", observer, point, draws, human, {EQUAL_WEIGHTS: base})
    sel = (mist > 0) & (mist <= weight_max_mistuning_pct)
    if sel.any():
        group = np.array([f"f0={f:g}-h{h}" for f, h in zip(conds["f0_hz"], conds["harmonic"])])
        m_w = _weights_through_origin(point[sel], mist[sel], group[sel])
        d_w = _weights_through_origin(draws[:, sel], mist[sel], group[sel])
        h_ok = sel & np.isfinite(human)
        h_w = _weights_through_origin(human[h_ok], mist[h_ok], group[h_ok]) if h_ok.any() else {}
        for g in m_w:
            lo, hi = np.percentile(d_w[g], [2.5, 97.5]) if np.isfinite(d_w[g]).all() else (None, None)
            rows.append(T.row(dataset, "harmonic_weight", observer, m_w[g], condition=g, value_ci=(lo, hi)))
            if g in h_w:
                rows.append(T.row(dataset, "harmonic_weight", T.HUMANS, h_w[g], condition=g))
            rows.append(T.row(dataset, "harmonic_weight", EQUAL_WEIGHTS, 1.0 / n_harmonics, condition=g))
    return T.metric_table(rows, f"{dataset}/{observer}")


#: the observer row of the alternating-phase baseline: F0 when resolved, 2 F0 when not
RESOLVABILITY_RULE = "baseline: resolvability rule"


def alt_phase_matches(f0_est: np.ndarray, f0_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(at_f0, at_2f0)`` booleans per trial: the estimate within half an octave of F0
    (``log2(est / F0)`` in [-0.5, 0.5)) or of 2 F0 ([0.5, 1.5)); neither otherwise."""
    lg = np.log2(np.asarray(f0_est, float) / np.asarray(f0_true, float))
    return (lg >= -0.5) & (lg < 0.5), (lg >= 0.5) & (lg < 1.5)


def alt_phase_table(model_trials: pd.DataFrame, conditions: pd.DataFrame, *, dataset: str,
                    resolvability_harmonic: float = 10.0, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Pitch of alternating-phase complexes (Shackleton & Carlyon 1994).

    Per trial, the observer's F0 estimate of the alternating-phase complex is a match at F0, at
    2 F0 or neither (:func:`alt_phase_matches`).  Per condition: ``alt_phase_2f0_minus_f0``, the
    share of matches at 2 F0 minus at F0 in % (the listeners' measure; -100 = always F0), with
    a 95% percentile interval from ``n_boot`` resamples of the items, and
    ``alt_phase_neither_percent``, the share of estimates near neither (listeners chose one of
    the two).  ``r_alt_phase``: r with the listeners over the conditions (bias-corrected
    interval, listeners fixed).  Baseline :data:`RESOLVABILITY_RULE`: +100 when the band's lowest
    harmonic (lower cut-off / F0) is above ``resolvability_harmonic``, else -100."""
    from psychobench.consistency import table as T

    if "f0_true" not in model_trials.columns:
        raise ValueError(f"{dataset}: trial column 'f0_true' missing (the stimulus manifest carries it)")
    observer = str(model_trials["subject"].iloc[0])
    (est,) = _f0_estimates(model_trials, dataset, ("f0_2_est",))
    at_f0, at_2f0 = alt_phase_matches(est, model_trials["f0_true"].to_numpy(float))
    v = 100.0 * (at_2f0.astype(float) - at_f0.astype(float))
    conds = conditions.reset_index(drop=True)
    idx = _condition_index(model_trials, conds, dataset)
    n_per = np.bincount(idx, minlength=len(conds))
    point = np.bincount(idx, v, len(conds)) / np.where(n_per, n_per, np.nan)
    neither = 100.0 * np.bincount(idx, ~(at_f0 | at_2f0), len(conds)) / np.where(n_per, n_per, np.nan)
    draws = pitch_shift_draws(v, idx, len(conds), n_boot, seed, stat=np.mean, tag=1994)
    human = conds["human_2f0_minus_f0"].to_numpy(float)
    rule = np.where(conds["lowest_harmonic"].to_numpy(float) > resolvability_harmonic, 100.0, -100.0)
    rows = _condition_rows(dataset, "alt_phase_2f0_minus_f0", observer, conds, point, draws, n_per,
                           {T.HUMANS: human, RESOLVABILITY_RULE: rule})
    rows += [T.row(dataset, "alt_phase_neither_percent", observer, neither[c], condition=cond, n=n_per[c])
             for c, cond in enumerate(conds["condition"])]
    rows += _r_rows(dataset, "r_alt_phase", observer, point, draws, human, {RESOLVABILITY_RULE: rule})
    return T.metric_table(rows, f"{dataset}/{observer}")


def detection_table(model_trials: pd.DataFrame, *, dataset: str) -> pd.DataFrame:
    """Speech detection per SNR (:func:`detection_dprime`): ``dprime``, ``hit_rate`` and
    ``fa_rate`` rows with ``condition`` = ``snr<dB>``."""
    from psychobench.consistency import table as T

    observer = str(model_trials["subject"].iloc[0])
    d = detection_dprime(model_trials)
    rows = []
    for r in d.itertuples(index=False):
        c = f"snr{r.snr_db:+g}"
        n = int(r.n_speech + r.n_noise)
        rows += [T.row(dataset, "dprime", observer, r.dprime, condition=c, n=n),
                 T.row(dataset, "hit_rate", observer, r.hit_rate, condition=c, n=int(r.n_speech)),
                 T.row(dataset, "fa_rate", observer, r.fa_rate, condition=c, n=int(r.n_noise))]
    return T.metric_table(rows, f"{dataset}/{observer}")
