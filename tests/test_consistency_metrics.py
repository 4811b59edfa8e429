"""Worked examples E1-E5 (checked independently with numpy/scipy), and the metric functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychobench.consistency import metrics as M
from psychobench.consistency.agreement import error_consistency, kappa_bounds
from psychobench.consistency.ceiling import estimate_from_halves
from test_consistency_ceiling import consistency_report

TOL = 1e-3


# ------------------------------------------------------------------ E1 error consistency
E1_M = [1, 1, 0, 0, 1, 1, 0, 1, 1, 1]
E1_H = [[1, 1, 1, 0, 0, 1, 0, 1, 1, 0], [1, 1, 1, 0, 1, 1, 0, 1, 0, 0], [1, 0, 1, 0, 0, 1, 1, 1, 1, 0]]


def _tables(model_correct, human_correct, conditions=None):
    n = len(model_correct)
    ids = [f"img{i}" for i in range(n)]
    cond = conditions or ["0"] * n

    def table(subject, correct):
        correct = np.asarray(correct, bool)
        return pd.DataFrame({
            "experiment": "e1", "subject": subject, "session": 1, "trial": np.arange(1, n + 1),
            "stimulus_id": ids, "condition": cond, "category": "cat",
            "response": np.where(correct, "cat", "dog"), "correct": correct, "rt": np.nan})

    model = table("model", model_correct)
    humans = pd.concat([table(f"h{i}", h) for i, h in enumerate(human_correct)], ignore_index=True)
    return model, humans


def test_e1_kappa_pairs():
    m, H = np.array(E1_M, bool), np.array(E1_H, bool)
    np.testing.assert_allclose(error_consistency(m[None], H), [0.3478, 0.3478, -0.0870], atol=TOL)
    i, j = np.triu_indices(3, 1)
    np.testing.assert_allclose(error_consistency(H[i], H[j]), [0.5833, 0.5833, 0.1667], atol=TOL)
    np.testing.assert_allclose(kappa_bounds(0.6, 0.7), (-0.5217, 0.7826), atol=TOL)


def test_e1_through_the_report():
    model, humans = _tables(E1_M, E1_H)
    ec = consistency_report(model, humans, n_boot=0)["error_consistency"]
    assert ec["value"] == pytest.approx(0.2029, abs=TOL)
    assert ec["ceiling"] == pytest.approx(0.4444, abs=TOL)
    assert ec["normalized"] == pytest.approx(0.4565, abs=TOL)


def test_error_consistency_averages_conditions_first():
    # two conditions of 5 trials: kappa per (subject, condition), mean over conditions
    cond = ["a"] * 5 + ["b"] * 5
    model, humans = _tables(E1_M, E1_H, cond)
    m, H = np.array(E1_M, bool), np.array(E1_H, bool)
    per = np.stack([error_consistency(m[None, s], H[:, s]) for s in (slice(0, 5), slice(5, 10))])
    expected = np.nanmean(per, axis=0).mean()
    ec = consistency_report(model, humans, n_boot=0)["error_consistency"]
    assert ec["value"] == pytest.approx(expected, abs=1e-9)


# ------------------------------------------------------------------ E2 Luce choice
def test_e2_luce():
    E = M.luce_choice(np.array([[0.6, 0.3, 0.1]]), np.array([0]))
    assert np.isnan(E[0, 0])
    np.testing.assert_allclose(E[0, 1:], [0.3333, 0.1429], atol=TOL)


# ------------------------------------------------------------------ E3 I2 / i2n
E3_E = np.array([[np.nan, .10, .25], [np.nan, .35, .40], [.15, np.nan, .05], [.45, np.nan, .30],
                 [.20, .10, np.nan], [.30, .25, np.nan]])
E3_P = np.array([[.70, .10, .20], [.50, .30, .20], [.10, .85, .05], [.30, .40, .30],
                 [.05, .15, .80], [.20, .20, .60]])
E3_T = np.array([0, 0, 1, 1, 2, 2])
STARTS = np.array([0, 2, 4])


def test_e3_i2_and_i2n():
    h_i2 = M.i2_dprime(E3_E, E3_T)
    np.testing.assert_allclose(h_i2[0, 1:], [1.8060, 1.3490], atol=TOL)
    np.testing.assert_allclose(h_i2[5, :2], [0.9782, 1.6091], atol=TOL)
    h_n = M.i2_normalize(h_i2, STARTS)
    np.testing.assert_allclose(h_n[0, 1:], [0.4481, 0.2106], atol=TOL)
    np.testing.assert_allclose(h_n[2, [0, 2]], [0.4554, 0.5602], atol=TOL)
    np.testing.assert_allclose(h_n[4, :2], [0.1586, 0.3035], atol=TOL)
    np.testing.assert_allclose(h_n[1, 1:], -h_n[0, 1:], atol=1e-12)
    E_m = M.luce_choice(E3_P, E3_T)
    np.testing.assert_allclose(E_m[0, 1:], [0.1250, 0.2222], atol=TOL)
    m_i2 = M.i2_dprime(E_m, E3_T)
    m_n = M.i2_normalize(m_i2, STARTS)
    np.testing.assert_allclose(m_n[0, 1:], [0.4159, 0.0994], atol=TOL)
    np.testing.assert_allclose(m_n[2, [0, 2]], [0.5361, 0.7066], atol=TOL)
    np.testing.assert_allclose(m_n[4, :2], [0.4451, 0.1643], atol=TOL)
    assert M.pearson(m_n.ravel(), h_n.ravel()) == pytest.approx(0.9419, abs=TOL)
    assert M.pearson(m_i2.ravel(), h_i2.ravel()) == pytest.approx(0.6548, abs=TOL)
    h_i1 = M.nanmean_last(h_i2)
    np.testing.assert_allclose(h_i1, [1.5775, 0.9188, 2.1856, 1.1700, 1.7558, 1.2936], atol=TOL)
    assert M.pearson(M.nanmean_last(m_i2), h_i1) == pytest.approx(0.9027, abs=TOL)
    h_i1n = M.nanmean_last(h_n)
    np.testing.assert_allclose(h_i1n, [0.3293, -0.3293, 0.5078, -0.5078, 0.2311, -0.2311], atol=TOL)
    assert M.pearson(M.nanmean_last(m_n), h_i1n) == pytest.approx(0.9841, abs=TOL)


# ------------------------------------------------------------------ E4 confusion metrics
C_H = np.array([[8, 1, 1], [2, 6, 2], [1, 3, 6]], float)
C_M = np.array([[9, 1, 0], [1, 7, 2], [0, 4, 6]], float)


def test_e4_object_level():
    np.testing.assert_allclose(M.o1_accuracy(C_H), [.8, .6, .6])
    assert M.pearson(M.o1_accuracy(C_M), M.o1_accuracy(C_H)) == pytest.approx(0.9449, abs=TOL)
    np.testing.assert_allclose(M.o1_dprime(C_H), [1.8781, 1.0950, 1.2898], atol=TOL)
    np.testing.assert_allclose(M.o1_dprime(C_M), [2.9264, 1.1989, 1.5349], atol=TOL)
    assert M.pearson(M.o1_dprime(C_M), M.o1_dprime(C_H)) == pytest.approx(0.9984, abs=TOL)
    np.testing.assert_allclose(M.o2_offdiag(C_H), [.1, .1, .2, .2, .1, .3])
    assert M.pearson(M.o2_offdiag(C_M), M.o2_offdiag(C_H)) == pytest.approx(0.9220, abs=TOL)
    np.testing.assert_allclose(M.o2_dprime(C_H), [1.6832, 2.1232, 1.5349, 0.7777, 1.5349, 1.0950],
                               atol=TOL)


def test_confusion_metrics_batch_and_extra_column():
    # a batch of two confusions with an extra "no answer" column gives per-item results
    extra = np.concatenate([C_H, np.array([[0], [2], [0]])], axis=1)
    batch = np.stack([extra, np.concatenate([C_M, np.zeros((3, 1))], axis=1)])
    acc = M.o1_accuracy(batch)
    np.testing.assert_allclose(acc[0], [.8, .5, .6])
    np.testing.assert_allclose(acc[1], [.9, .7, .6])
    assert M.o2_dprime(batch).shape == (2, 6)


def test_dprime_clip_and_undefined():
    assert M.dprime(1.0, 0.0) == 5.0
    assert M.dprime(0.0, 1.0) == -5.0
    assert np.isnan(M.dprime(1.0, 1.0))


# ------------------------------------------------------------------ E5 split-half, estimators
E5_S = np.array([[1, 1, 1, 1, 0, 1, 0, 0], [1, 1, 1, 0, 1, 0, 0, 0], [1, 1, 0, 1, 1, 1, 0, 0],
                 [1, 1, 1, 1, 0, 0, 1, 0]], float)
E5_M = np.array([.9, .5, .8, .4, .7, .2, .6, .3])


@pytest.mark.parametrize("estimator, expected", [(1, 0.5328), (2, 0.6424), (3, 0.5234)])
def test_e5_estimators(estimator, expected):
    r = estimate_from_halves(E5_M, E5_S.mean(0), E5_S[:2].mean(0), E5_S[2:].mean(0),
                             estimator=estimator, n_a=2, n_b=2)
    assert r["r_half"] == pytest.approx(0.6658, abs=TOL)
    assert r["reliability"] == pytest.approx(0.7993, abs=TOL)
    assert r["normalized"] == pytest.approx(expected, abs=TOL)
    if estimator == 1:
        assert r["value"] == pytest.approx(0.4764, abs=TOL)
        assert r["normalized"] == pytest.approx(r["value"] / r["ceiling"], abs=1e-12)


def test_spearman_brown():
    assert M.spearman_brown(0.6) == pytest.approx(0.75)
    assert M.split_half_to_full(0.6, 3, 3) == pytest.approx(0.75)
    # unequal halves of a parallel-test panel: exact for rho = 0.2 (r_2, r_3 -> r_5)
    rho = 0.2
    r = lambda n: n * rho / (1 + (n - 1) * rho)  # noqa: E731
    assert M.split_half_to_full(np.sqrt(r(2) * r(3)), 2, 3) == pytest.approx(r(5), abs=1e-9)


def test_pearson_weights_equal_repetition():
    rng = np.random.default_rng(1)
    x, y = rng.random(30), rng.random(30)
    w = rng.integers(0, 4, 30).astype(float)
    rep = np.repeat(np.arange(30), w.astype(int))
    assert M.pearson(x, y, w) == pytest.approx(np.corrcoef(x[rep], y[rep])[0, 1], abs=1e-12)
    x[3] = np.nan
    keep = np.arange(30) != 3
    assert M.pearson(x, y) == pytest.approx(np.corrcoef(x[keep], y[keep])[0, 1], abs=1e-12)
    assert np.isnan(M.pearson(np.ones(5), np.arange(5.0)))


def test_group_normalisation():
    v = np.array([1.0, 3.0, 10.0, 20.0, 30.0])
    np.testing.assert_allclose(M.normalize_by_group(v, np.array([0, 2])), [-1, 1, -10, 0, 10])
    w = np.array([3.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(M.group_mean(v, np.array([0, 2]), w), [1.5, 1.5, 15, 15, 15])
