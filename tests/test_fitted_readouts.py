"""Fitted readouts with known answers: separable features are read out perfectly, random labels
at chance, and cross-validation never lets a stimulus (or another condition of it) into the
readout that answers it."""

import numpy as np
import pytest

from psychobench.models.base import ObserverError
from psychobench.models.fitting import (FitData, LeakError, LogisticReadout, ProbabilitiesReadout, check_disjoint,
                                        grouped_splits)
from psychobench.models.readouts import as_readout


def clusters(n_per: int, labels, d: int = 20, sep: float = 8.0, seed: int = 0):
    """Gaussian clusters far apart (unit noise, centres ``sep`` apart): linearly separable."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(labels), d))
    centres *= sep / np.linalg.norm(centres, axis=1, keepdims=True)
    y = np.repeat(np.asarray(labels), n_per)
    X = centres[np.repeat(np.arange(len(labels)), n_per)] + rng.normal(size=(len(y), d))
    return X, y


LABELS = ("a", "b", "c", "d")


def test_separable_features_are_read_out_perfectly_by_cross_validation():
    X, y = clusters(25, LABELS)
    fit = LogisticReadout(folds=5).fit_predict(FitData(X, y, np.arange(len(y))), LABELS)
    assert np.mean(fit.response == y) == 1.0
    assert fit.scores.shape == (len(y), 4) and np.allclose(fit.scores.sum(1), 1.0)
    assert sorted(set(fit.fold)) == [0, 1, 2, 3, 4]
    assert fit.info["mode"] == "cross-validation" and len(fit.info["per_fold"]) == 5


def test_separable_features_with_a_separate_fitting_set():
    X, y = clusters(30, LABELS, seed=1)
    fit_idx, test_idx = np.arange(0, len(y), 2), np.arange(1, len(y), 2)
    train = FitData(X[fit_idx], y[fit_idx], fit_idx)
    test = FitData(X[test_idx], y[test_idx], test_idx)
    for readout in (LogisticReadout(), ProbabilitiesReadout()):
        fit = readout.fit_predict(test, LABELS, train)
        assert np.mean(fit.response == y[test_idx]) == 1.0
        assert (fit.fold == -1).all() and fit.info["mode"] == "fitting stimuli"


def test_random_labels_are_read_out_at_chance():
    rng = np.random.default_rng(3)
    n, k = 600, 4
    X = rng.normal(size=(n, 50))
    y = np.asarray(LABELS)[rng.integers(0, k, n)]
    fit = LogisticReadout(folds=5).fit_predict(FitData(X, y, np.arange(n)), LABELS, seed=0)
    acc = np.mean(fit.response == y)
    se = np.sqrt(0.25 * 0.75 / n)
    assert abs(acc - 1 / k) < 3.5 * se, acc                         # within the binomial spread of chance


def _conditions_of_random_groups(n_groups=120, n_cond=4, d=200, seed=5):
    """Each group (a source image) is one random feature vector, seen in ``n_cond`` conditions
    with a little noise, and a random label: the features identify the group, and say nothing
    about the label of any other group."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_groups, d))
    labels = np.asarray(LABELS)[rng.integers(0, 4, n_groups)]
    g = np.repeat(np.arange(n_groups), n_cond)
    X = base[g] + 0.05 * rng.normal(size=(len(g), d))
    return X, labels[g], g


def test_cross_validation_lets_no_condition_of_a_test_stimulus_into_fitting():
    X, y, g = _conditions_of_random_groups()
    readout = LogisticReadout(C=10.0, folds=5)                       # weak penalty: it memorises what it sees
    grouped = readout.fit_predict(FitData(X, y, g), LABELS)
    acc = np.mean(grouped.response == y)
    assert abs(acc - 0.25) < 0.1, acc                                # nothing of a test group was fitted on
    for grp in np.unique(g):                                         # all conditions answered by one fold
        assert len(set(grouped.fold[g == grp])) == 1
    # the same data with every condition its own group: the other conditions of a test stimulus
    # are then fitted on, and the readout "recognises" them: the leak this guards against
    leaky = readout.fit_predict(FitData(X, y, np.arange(len(y))), LABELS)
    assert np.mean(leaky.response == y) > 0.9


def test_every_split_is_checked_for_leaks(monkeypatch):
    g = np.array(["s1", "s1", "s2", "s2", "s3", "s3"])
    with pytest.raises(LeakError, match="s1"):
        check_disjoint(g, np.array([0, 2, 4]), np.array([1, 3, 5]))

    import sklearn.model_selection as ms

    class Leaky:                                                     # a splitter that ignores the groups
        def __init__(self, n_splits, shuffle, random_state):
            self.inner = ms.StratifiedKFold(n_splits, shuffle=shuffle, random_state=random_state)

        def split(self, X, y, groups):
            return self.inner.split(X, y)

    monkeypatch.setattr(ms, "StratifiedGroupKFold", Leaky)
    X, y, g = _conditions_of_random_groups(n_groups=40)
    with pytest.raises(LeakError):
        grouped_splits(y, g.astype(str), 5, 0)


def test_probabilities_is_brainscores_classifier():
    """Brain-Score's ProbabilitiesClassifier: StandardScaler fitted on the fitting features,
    then LogisticRegression(C=1e-3, newton-cg, multinomial); the same numbers here."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = clusters(20, LABELS, sep=1.5, seed=7)
    tr, te = np.arange(0, 80, 2), np.arange(1, 80, 2)
    fit = ProbabilitiesReadout().fit_predict(FitData(X[te], y[te], te), LABELS, FitData(X[tr], y[tr], tr))
    scaler = StandardScaler().fit(X[tr])
    ref = LogisticRegression(C=1e-3, solver="newton-cg").fit(scaler.transform(X[tr]), y[tr])
    want = ref.predict_proba(scaler.transform(X[te]))
    assert list(ref.classes_) == list(LABELS)
    np.testing.assert_allclose(fit.scores, want, rtol=1e-6, atol=1e-9)


def test_probabilities_needs_fitting_stimuli_and_labels_must_be_answers():
    X, y = clusters(10, LABELS)
    with pytest.raises(ObserverError, match="only on given fitting stimuli"):
        ProbabilitiesReadout().fit_predict(FitData(X, y, np.arange(len(y))), LABELS)
    with pytest.raises(ObserverError, match="outside the answer space"):
        LogisticReadout().fit_predict(FitData(X, y, np.arange(len(y))), LABELS[:3])


def test_a_label_never_fitted_scores_zero():
    X, y = clusters(20, LABELS[:3], seed=2)
    tr = np.arange(0, 60, 2)
    fit = LogisticReadout(C=1.0).fit_predict(FitData(X, y, np.arange(60)), LABELS, FitData(X[tr], y[tr], tr))
    assert (fit.scores[:, 3] == 0).all() and np.allclose(fit.scores.sum(1), 1)


def test_nested_cross_validation_chooses_c_inside_the_fitting_folds():
    X, y = clusters(30, LABELS, sep=2.0, seed=4)
    fit = LogisticReadout(folds=3, inner_folds=3).fit_predict(FitData(X, y, np.arange(len(y))), LABELS)
    for f in fit.info["per_fold"]:
        assert f["C"] in LogisticReadout().Cs and f["n_fit"] + f["n_test"] == len(y)


def test_readouts_by_name_and_bad_settings():
    assert as_readout("logistic").fitted and as_readout("probabilities").fitted
    assert not as_readout("imagenet16").fitted
    with pytest.raises(ObserverError, match="C must be > 0"):
        LogisticReadout(C=0)
    with pytest.raises(ObserverError, match="folds"):
        LogisticReadout(folds=1)
    with pytest.raises(ObserverError, match="non-finite"):
        FitData(np.array([[np.inf, 0.0]]), ["a"], [0])
