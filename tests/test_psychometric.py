"""Psychometric fits (E6, E7), thresholds, model-vs-human curve comparison and the GEE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psychobench.consistency.psychometric import (
    bootstrap_threshold,
    compare_curves,
    fit_batch,
    fit_psychometric,
    psychometric_value,
    threshold_score,
    threshold_value,
)
from psychobench.consistency.stats import compare_observers


def test_e6_threshold_formulas():
    assert threshold_value("logistic", 0.0, 1.0, 0.5, 0.02, 0.75) == pytest.approx(0.0834, abs=1e-3)
    assert threshold_value("weibull", 2.0, 3.0, 0.5, 0.02, 0.75) == pytest.approx(1.8055, abs=1e-3)


def test_e6_fit_recovery():
    x = [-12, -9, -6, -3, 0, 3, 6]
    f = fit_psychometric(x, [50, 51, 58, 83, 96, 98, 98], [100] * 7, kind="logistic", guess=0.5)
    assert f.alpha == pytest.approx(-3.98, abs=0.05)
    assert f.beta == pytest.approx(0.79, abs=0.05)
    assert f.lapse == pytest.approx(0.019, abs=0.05)
    assert f.threshold(0.75) == pytest.approx(-3.88, abs=0.05)
    assert f.threshold(0.75) == pytest.approx(-3.896, abs=0.05)      # the generating value


@pytest.mark.parametrize("kind, x, params", [
    ("logistic", [-3, -2, -1, 0, 1, 2, 3], (-0.5, -1.3, 0.03)),      # falling with level
    ("gaussian", [0.0, 0.1, 0.2, 0.3, 0.4, 0.6], (0.25, 8.0, 0.01)),
    ("weibull", [1, 2, 4, 8, 16, 32], (6.0, 1.8, 0.04)),
    ("log_weibull", [-15, -12, -9, -6, -3, 0], (-8.0, 2.5, 0.0)),
])
def test_every_kind_recovers_its_parameters(kind, x, params):
    guess = 1 / 16
    n = np.full(len(x), 1e6)
    k = np.round(n * psychometric_value(kind, np.asarray(x, float), *params[:2], guess, params[2]))
    f = fit_psychometric(x, k, n, kind=kind, guess=guess)
    np.testing.assert_allclose([f.alpha, f.beta, f.lapse], params, atol=2e-2 * max(1, abs(params[0])))
    t = threshold_value(kind, *params[:2], guess, params[2], 0.5)
    assert f.threshold(0.5) == pytest.approx(t, abs=1e-2 * max(1.0, abs(t)))


def test_lapse_bounds_and_not_reached():
    x = np.array([1.0, 2, 3, 4, 5])
    n = np.full(5, 1000.0)
    k = np.round(n * psychometric_value("logistic", x, 3.0, 2.0, 0.5, 0.2))   # true lapse 0.2
    f = fit_psychometric(x, k, n, kind="logistic", guess=0.5, lapse_bounds=(0, 0.06))
    assert 0 <= f.lapse <= 0.06 + 1e-12
    assert f.threshold_status(0.97) == "not_reached" and np.isnan(f.threshold(0.97))
    two = fit_psychometric([0.0, 1.0], [500, 900], [1000, 1000], kind="logistic", guess=0.5)
    assert two.threshold_status(0.75) == "underdetermined"


def test_bootstrap_threshold_interval():
    x = np.array([-12, -9, -6, -3, 0, 3, 6.0])
    n = np.full(7, 200.0)
    k = np.round(n * psychometric_value("logistic", x, -4.0, 0.8, 0.5, 0.02))
    f = fit_psychometric(x, k, n, kind="logistic", guess=0.5)
    b = bootstrap_threshold(f, 0.75, n_boot=300, seed=0)
    true = threshold_value("logistic", -4.0, 0.8, 0.5, 0.02, 0.75)
    assert b["ci"][0] < true < b["ci"][1]
    assert b["ci"][1] - b["ci"][0] < 2.0
    assert b["p_not_reached"] == 0.0


def test_batch_fit_equals_single_fits():
    x = np.array([1.0, 2, 3, 4, 5, 6])
    n = np.full((3, 6), 80.0)
    k = np.array([[20, 30, 45, 60, 70, 75], [10, 15, 30, 50, 70, 78], [40, 50, 60, 70, 75, 79]], float)
    a, b, lam, _ = fit_batch(x, k, n, kind="gaussian", guess=0.25)
    for i in range(3):
        f = fit_psychometric(x, k[i], n[i], kind="gaussian", guess=0.25)
        assert [a[i], b[i], lam[i]] == pytest.approx([f.alpha, f.beta, f.lapse], abs=1e-4)


def test_e7_threshold_score():
    assert threshold_score(2.6, [2.0, 2.5, 3.0]) == pytest.approx(0.8422, abs=1e-3)


@pytest.mark.parametrize("dataset, condition, level", [
    ("contrast", "c05", 0.05), ("contrast", "c100", 1.0), ("uniform-noise", "0.35", 0.35),
    ("eidolonI", "8-10-10", 8.0), ("eidolonIII", "128-0-10", 128.0), ("high-pass", "inf", np.inf),
    ("high-pass", "0.55", 0.55), ("low-pass", "0", 0.0), ("false-colour", "True", 0.0),
    ("false-colour", "False", 1.0), ("colour", "bw", 0.0), ("power-equalisation", "pow", 1.0),
    ("rotation", "270", 90.0), ("rotation", "180", 180.0), ("phase-scrambling", "150", 150.0),
])
def test_condition_levels(dataset, condition, level):
    from psychobench.experiments import mvh

    assert mvh.scheme(dataset).levels([condition])[condition] == level


def test_condition_level_errors():
    from psychobench.experiments import mvh

    with pytest.raises(ValueError, match="no numeric levels"):
        mvh.scheme("cue-conflict").levels(["0"])
    with pytest.raises(ValueError, match="colour"):
        mvh.scheme("colour").levels(["grey"])


def _observer_trials(subject, levels, p_of, n, rng, experiment="synthetic"):
    lv = np.repeat(levels, n)
    correct = rng.random(lv.size) < p_of(lv)
    return pd.DataFrame({"experiment": experiment, "subject": subject, "session": 1,
                         "trial": np.arange(1, lv.size + 1),
                         "stimulus_id": [f"{subject}-{i}" for i in range(lv.size)],
                         "condition": [f"w{v:g}" for v in lv], "category": "a",
                         "response": np.where(correct, "a", "b"), "correct": correct, "rt": 0.5})


def test_compare_curves_recovers_a_threshold_shift():
    rng = np.random.default_rng(0)
    levels = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    level_of = {f"w{v:g}": v for v in levels}
    g = 0.5
    human = lambda a: (lambda x: psychometric_value("logistic", x, a, -15.0, g, 0.02))  # noqa: E731
    humans = pd.concat([_observer_trials(f"h{i}", levels, human(0.35 + 0.01 * (i - 2)), 150, rng)
                        for i in range(5)], ignore_index=True)
    humans["category"] = np.where(rng.random(len(humans)) < 0.5, "a", "b")
    humans["response"] = np.where(humans["correct"], humans["category"],
                                  np.where(humans["category"] == "a", "b", "a"))
    model = _observer_trials("net", levels, human(0.2), 300, rng)
    res = compare_curves(model, humans, level_of, kind="logistic", guess=0.5, n_boot=200)
    assert res["criterion"] == 0.75
    assert res["human_threshold"] == pytest.approx(0.35 + np.log(0.5208 / 0.4792) / -15, abs=0.03)
    assert res["delta"] == pytest.approx(-0.15, abs=0.04)
    assert res["delta_ci"][0] < res["delta"] < res["delta_ci"][1] < 0
    assert res["z"] < -3                        # far outside the spread of the humans
    assert res["model_status"] == "ok"
    assert set(res["subject_thresholds"]) == {f"h{i}" for i in range(5)}
    with pytest.raises(ValueError, match="w0.7"):
        compare_curves(_observer_trials("net", [0.7], human(0.2), 10, rng), humans, level_of)


def test_gee_tells_a_different_curve_from_a_human_like_one():
    rng = np.random.default_rng(1)
    levels = np.array([0.1, 0.2, 0.3, 0.4])
    p_h = lambda x: psychometric_value("logistic", x, 0.25, -20.0, 0.5, 0.0)  # noqa: E731
    humans = pd.concat([_observer_trials(f"h{i}", levels, p_h, 120, rng) for i in range(4)],
                       ignore_index=True)
    same = _observer_trials("net", levels, p_h, 120, rng)
    flat = _observer_trials("net", levels, lambda x: np.full_like(x, 0.75), 120, rng)
    r_same = compare_observers(same, humans, calibrate=False)
    r_flat = compare_observers(flat, humans)
    assert r_same["p_interaction"] > 0.01
    assert r_flat["p_interaction"] < 1e-4
    assert r_flat["df_interaction"] == 3 and r_flat["n_clusters"] == 5
    assert r_flat["p_interaction_calibrated"] == pytest.approx(1 / 5)   # beats all 4 humans


def test_threshold_only_where_the_data_show_one():
    from psychobench.consistency.psychometric import chance_p_value, fit_psychometric

    # exact one-sided binomial test: P(X >= 60 | n = 100, p = 0.5)
    assert float(chance_p_value(60, 100, 0.5)) == pytest.approx(0.028443966820490392, rel=1e-9)
    levels = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    n = np.full(5, 40)
    # at chance everywhere (the easy end, 24/40 correct, gives p = 0.13): no threshold, and the
    # status says why
    chance = fit_psychometric(levels, np.array([19, 21, 20, 22, 24]), n, guess=0.5)
    assert chance.threshold_status(0.707) == "at_chance" and np.isnan(chance.threshold(0.707))
    rising = fit_psychometric(levels, np.array([20, 22, 28, 36, 39]), n, guess=0.5)
    assert rising.threshold_status(0.707) == "ok" and 1.0 <= rising.threshold(0.707) <= 16.0
