"""Noise ceilings and the bootstrap on synthetic observer panels with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from psychobench.consistency import ceiling as C
from psychobench.consistency import scoring
from psychobench.consistency import table as T
from psychobench.consistency.scores import consistency_details, human_ceilings
from psychobench.data.schema import TrialTableError


def consistency_report(model, humans, **kw):
    """consistency_details as {metric: {value, ceiling, normalized, ci, status}} (ci bounds
    normalized; status: the interval's, NaN bounds unless ``ok``)."""
    d = consistency_details(model, humans, **kw)
    return {r.metric: {"value": float(r.value), "ceiling": float(r.ceiling), "normalized": float(r.normalized),
                       "ci": [float(r.normalized_ci_low), float(r.normalized_ci_high)],
                       "status": r.normalized_interval} for r in d.itertuples()}

CATS = ["a", "b", "c", "d", "e", "f", "g", "h"]


def panel(seed, n_items=320, n_subj=8, conditions=("x",), afc=False):
    """Observers answer item x correctly with known probability p_x (no other noise):
    returns (trial table, p (n_items,), item ids, item categories)."""
    rng = np.random.default_rng(seed)
    p = expit(rng.normal(0.6, 1.3, n_items))
    cat = np.asarray(CATS)[np.arange(n_items) % len(CATS)]
    cond = np.asarray(conditions)[np.arange(n_items) // (n_items // len(conditions)) % len(conditions)]
    ids = np.array([f"s{i:04d}" for i in range(n_items)])
    correct = rng.random((n_subj, n_items)) < p
    # wrong answers go to the "next" category, with item-specific confusions
    shift = 1 + (np.arange(n_items) * 7 + rng.integers(0, 3, (n_subj, n_items))) % (len(CATS) - 1)
    wrong = np.asarray(CATS)[(np.searchsorted(CATS, cat) + shift) % len(CATS)]
    resp = np.where(correct, cat, wrong)
    df = pd.DataFrame({
        "experiment": "synthetic", "subject": np.repeat([f"h{s:02d}" for s in range(n_subj)], n_items),
        "session": 1, "trial": np.tile(np.arange(1, n_items + 1), n_subj),
        "stimulus_id": np.tile(ids, n_subj), "condition": np.tile(cond, n_subj),
        "category": np.tile(cat, n_subj), "response": resp.ravel(), "correct": correct.ravel(),
        "rt": 0.5})
    if afc:
        df["distractor"] = np.where(df["correct"], np.tile(wrong[0], n_subj), df["response"])
    return df, p, ids, cat


def model_table(ids, cat, correct, subject="model", p_true=None, condition="x"):
    correct = np.asarray(correct, bool)
    wrong = np.asarray(CATS)[(np.searchsorted(CATS, cat) + 1) % len(CATS)]
    df = pd.DataFrame({"experiment": "synthetic", "subject": subject, "session": 1,
                       "trial": np.arange(1, len(ids) + 1), "stimulus_id": ids,
                       "condition": condition, "category": cat,
                       "response": np.where(correct, cat, wrong), "correct": correct, "rt": np.nan})
    if p_true is not None:
        df["p_true"] = p_true
    return df


def true_i1_ceiling(p, n_subj):
    """sqrt(reliability) of the pooled accuracy of n_subj Bernoulli(p_x) observers."""
    var = p.var()
    return np.sqrt(var / (var + (p * (1 - p)).mean() / n_subj))


def test_ceiling_and_noise_corrected_correlation_recover_the_truth():
    err_ceil, err_rho = [], []
    for seed in range(20):
        humans, p, ids, cat = panel(seed)
        rng = np.random.default_rng(100 + seed)
        m = p + rng.normal(0, 0.6 * p.std(), p.size)          # a model with corr(m, p) ~ 0.86
        rho = np.corrcoef(m, p)[0, 1]
        model = model_table(ids, cat, rng.random(p.size) < 0.5, p_true=m)
        r = consistency_report(model, humans, n_boot=0, seed=seed)["i1"]
        err_ceil.append(r["ceiling"] - true_i1_ceiling(p, 8))
        err_rho.append(r["normalized"] - rho)
    err_ceil, err_rho = np.array(err_ceil), np.array(err_rho)
    # stated tolerance: bias below 0.02, every seed within 0.06 (ceiling) / 0.1 (rho)
    assert abs(err_ceil.mean()) < 0.02 and np.abs(err_ceil).max() < 0.06
    assert abs(err_rho.mean()) < 0.02 and np.abs(err_rho).max() < 0.1


def test_held_out_human_lands_at_the_ceiling():
    covered, centre = 0, []
    for seed in range(4):
        humans, p, ids, cat = panel(seed, n_subj=9)
        held = humans["subject"] == "h00"
        rep = consistency_report(humans[held], humans[~held], n_boot=200, seed=seed,
                                 model_reliability="human")
        for name in ("i1", "i1n", "o2_offdiag", "error_consistency"):
            lo, hi = rep[name]["ci"]
            covered += lo <= 1.0 <= hi
            centre.append(rep[name]["normalized"])
    assert covered >= 15                     # of 16 intervals (95% each)
    assert abs(np.mean(centre) - 1.0) < 0.1


def test_random_observer_lands_near_zero():
    humans, p, ids, cat = panel(3)
    rng = np.random.default_rng(7)
    model = model_table(ids, cat, rng.random(p.size) < 0.5)
    rep = consistency_report(model, humans, n_boot=300, seed=1)
    for name in ("i1", "i1n", "error_consistency"):
        lo, hi = rep[name]["ci"]
        assert abs(rep[name]["normalized"]) < 0.15
        assert lo < 0 < hi
        assert hi - lo < 1.0


def test_report_schema_and_seed():
    humans, p, ids, cat = panel(0)
    model = model_table(ids, cat, p > 0.5)
    a = consistency_report(model, humans, n_boot=50, seed=3)
    b = consistency_report(model, humans, n_boot=50, seed=3)
    np.testing.assert_equal(a, b)                       # NaN bounds (no valid interval) compare equal
    assert set(a) == {"o1_acc", "o1_dprime", "o2_offdiag", "o2_dprime", "i1", "i1n", "error_consistency"}
    for v in a.values():
        assert set(v) == {"value", "ceiling", "normalized", "ci", "status"}
        assert v["status"] in ("ok", "no_valid_interval")
        assert np.isfinite(v["ci"]).all() == (v["status"] == "ok")
        assert all(isinstance(x, float) for x in [v["value"], v["ceiling"], v["normalized"], *v["ci"]])
        assert v["ci"][0] <= v["ci"][1] or v["status"] != "ok"
    assert a["i1"]["normalized"] == pytest.approx(a["i1"]["value"] / a["i1"]["ceiling"])


def test_chunking_does_not_change_draws(monkeypatch):
    humans, p, ids, cat = panel(1, n_items=160)
    model = model_table(ids, cat, p > 0.4)
    a = consistency_details(model, humans, n_boot=40, seed=2)
    monkeypatch.setattr(C, "CHUNK_ELEMENTS", 2000)
    b = consistency_details(model, humans, n_boot=40, seed=2)
    pd.testing.assert_frame_equal(a, b)


def test_gram_path_equals_vector_path(monkeypatch):
    humans, p, ids, cat = panel(2, n_items=200, conditions=("x", "y"))
    model = model_table(ids, cat, p > 0.5, p_true=p, condition=humans["condition"].iloc[:200].to_numpy())
    for est in (1, 2, 3):
        a = consistency_details(model, humans, n_boot=30, seed=5, estimator=est)
        monkeypatch.setattr(C, "USE_GRAM", False)
        b = consistency_details(model, humans, n_boot=30, seed=5, estimator=est)
        monkeypatch.setattr(C, "USE_GRAM", True)
        pd.testing.assert_frame_equal(a, b, atol=1e-9)


def test_missing_cells_and_trial_splits():
    humans, p, ids, cat = panel(4, n_items=240)
    full = human_ceilings(humans).set_index("metric")
    rng = np.random.default_rng(0)
    sparse = humans[rng.random(len(humans)) > 0.1]                 # 10% of trials missing
    miss = human_ceilings(sparse).set_index("metric")
    trials = human_ceilings(humans, split="trials").set_index("metric")
    for name in ("i1", "i1n", "error_consistency"):
        assert miss.loc[name, "ceiling"] == pytest.approx(full.loc[name, "ceiling"], abs=0.06)
        assert trials.loc[name, "ceiling"] == pytest.approx(full.loc[name, "ceiling"], abs=0.06)
    model = model_table(ids, cat, p > 0.5)
    rep = consistency_report(model, humans, n_boot=20, split="trials")
    assert np.isfinite(rep["i1"]["ci"]).all()


def afc_panel(seed, n_items=160, n_subj=28):
    """2AFC: observer s sees item x once, against distractor (t + 1 + (s + x) mod (T - 1)) mod T."""
    rng = np.random.default_rng(seed)
    T = len(CATS)
    p = expit(rng.normal(1.0, 1.0, n_items))
    t = np.arange(n_items) % T
    ids = np.array([f"s{i:04d}" for i in range(n_items)])
    j = (t[None] + 1 + (np.arange(n_subj)[:, None] + np.arange(n_items)[None]) % (T - 1)) % T
    correct = rng.random((n_subj, n_items)) < p
    cat, dis = np.asarray(CATS)[t], np.asarray(CATS)[j]
    df = pd.DataFrame({
        "experiment": "afc", "subject": np.repeat([f"h{k:02d}" for k in range(n_subj)], n_items),
        "session": 1, "trial": np.tile(np.arange(1, n_items + 1), n_subj),
        "stimulus_id": np.tile(ids, n_subj), "condition": "x", "category": np.tile(cat, n_subj),
        "response": np.where(correct, cat[None], dis).ravel(), "correct": correct.ravel(),
        "rt": 0.5, "distractor": dis.ravel()})
    return df, p, ids, t


def test_two_afc_metrics():
    humans, p, ids, t = afc_panel(5)
    T = len(CATS)
    # a model that knows each item's difficulty: P(correct) = p_x against every distractor
    x = np.repeat(np.arange(len(ids)), T - 1)
    j = (t[x] + 1 + np.tile(np.arange(T - 1), len(ids))) % T
    model = pd.DataFrame({
        "experiment": "afc", "subject": "model", "session": 1, "trial": np.arange(1, x.size + 1),
        "stimulus_id": ids[x], "condition": "x", "category": np.asarray(CATS)[t[x]],
        "response": np.asarray(CATS)[t[x]], "correct": True, "rt": np.nan,
        "distractor": np.asarray(CATS)[j], "p_true": p[x]})
    ceil = human_ceilings(humans).set_index("metric")
    assert {"i2", "i2n"} <= set(ceil.index)
    assert 0.2 < ceil.loc["i2", "reliability"] < 1
    rep = consistency_report(model, humans, n_boot=0)
    assert rep["i1"]["normalized"] == pytest.approx(1.0, abs=0.15)
    assert rep["i2"]["normalized"] > 0.5


def test_missing_model_stimuli_are_named():
    humans, p, ids, cat = panel(0, n_items=40)
    model = model_table(ids[2:], cat[2:], np.ones(38))
    with pytest.raises(TrialTableError, match="lacks 2 of the 40 .*s0000 \\(x\\), s0001 \\(x\\)"):
        consistency_report(model, humans, n_boot=0)
    bad = model_table(ids, cat, np.ones(40), condition="y")
    with pytest.raises(TrialTableError, match="condition 'y'.*condition\\(s\\) x"):
        consistency_report(bad, humans, n_boot=0)
    # a model without conditions pairs by stimulus id
    nocond = model_table(ids, cat, p > 0.5).assign(condition=np.nan)
    a = consistency_report(nocond, humans, n_boot=0)["i1"]
    b = consistency_report(model_table(ids, cat, p > 0.5), humans, n_boot=0)["i1"]
    assert a["normalized"] == b["normalized"] and np.isfinite(a["normalized"])


def test_undefined_is_nan_not_a_score():
    humans, p, ids, cat = panel(0, n_items=40)
    perfect = model_table(ids, cat, np.ones(40))            # constant i1 vector
    rep = consistency_report(perfect, humans, n_boot=0)
    assert np.isnan(rep["i1"]["value"]) and np.isnan(rep["i1"]["normalized"])
    assert np.isfinite(rep["i1"]["ceiling"])


def test_aggregate():
    rows = [T.row("a", "i1", "m", .2, ceiling=.8, normalized=.25, normalized_ci=(.15, .35), n=10),
            T.row("b", "i1", "m", .4, ceiling=.9, normalized=.45, normalized_ci=(.35, .55), n=20),
            T.row("b", "i2", "m", .1, ceiling=.5, normalized=.2, normalized_ci=(0., .4), n=20)]
    agg = scoring.aggregate(T.metric_table(rows)).set_index("metric")
    assert set(agg["dataset"]) == {"aggregate"}
    assert agg.loc["i1", "normalized"] == pytest.approx(0.35)
    assert agg.loc["i1", "value"] == pytest.approx(0.3) and agg.loc["i1", "ceiling"] == pytest.approx(0.85)
    assert agg.loc["i1", "n"] == 30 and agg.loc["i2", "n"] == 20          # trials of the data sets
    half = 0.1 * np.sqrt(2) / 2                               # each SE = 0.2 / (2 z)
    assert [agg.loc["i1", "normalized_ci_low"], agg.loc["i1", "normalized_ci_high"]] == pytest.approx(
        [0.35 - half, 0.35 + half])
    assert np.isnan(agg.loc["i1", "value_ci_low"])             # no data set gave an interval of the value


def test_aggregate_withholds_an_interval_that_would_bound_another_number():
    """Where one data set's normalised score has no valid interval, the mean over data sets has
    none either: an interval of the other data sets' mean would not bound the printed mean."""
    rows = [T.row("a", "o2_dprime", "m", .2, ceiling=.8, normalized=.25, normalized_ci=(.15, .35), n=10),
            T.row("b", "o2_dprime", "m", .4, ceiling=.9, normalized=.45, n=20, status="no_valid_interval")]
    agg = scoring.aggregate(T.metric_table(rows)).set_index("metric")
    assert agg.loc["o2_dprime", "normalized"] == pytest.approx(0.35)
    assert np.isnan(agg.loc["o2_dprime", "normalized_ci_low"])
    assert agg.loc["o2_dprime", "status"] == "no_valid_interval"


def test_console_shows_ceiling_interval_normalised_interval_and_thresholds():
    rows = [T.row("edge", "accuracy", "m", .4, n=160),
            T.row("edge", "error_consistency", "m", .1, value_ci=(.05, .15), ceiling=.32, ceiling_ci=(.18, .46),
                  normalized=.31, normalized_ci=(.13, .52), n=160),
            T.row("edge", "error_consistency", T.HUMANS, .32, value_ci=(.18, .46), n=1600),
            T.row("edge", "o2_dprime", "m", .37, ceiling=.81, normalized=.46, n=160, status="no_valid_interval"),
            T.row("uniform-noise", "accuracy", "m", .5, n=1280),
            T.row("uniform-noise", "threshold", "m", .21, value_ci=(.18, .24), n=1280),
            T.row("uniform-noise", "threshold", T.HUMANS, .33, value_ci=(.30, .36), n=4000)]
    table = T.metric_table(rows)
    text = scoring.format_table(table, "m", {"edge": ["error_consistency", "o2_dprime"]})
    ec = next(line for line in text.splitlines() if line.startswith("error_consistency"))
    assert "0.320 [0.18, 0.46]" in ec and "0.310 [0.13, 0.52]" in ec and "0.100 [0.05, 0.15]" in ec
    o2 = next(line for line in text.splitlines() if line.startswith("o2_dprime"))
    assert o2.endswith("(no valid interval)") and "0.460" in o2
    # without a headline (psychobench-score), the threshold of a parametric set is shown
    default = scoring.format_table(table, "m")
    th = next(line for line in default.splitlines() if line.startswith("threshold"))
    assert "0.210 [0.18, 0.24]" in th and "0.330" in th
    assert "error_consistency" in default and "o2_dprime" not in default
