"""model-vs-human's benchmark metrics: worked example E1 and parity with its published
ResNet-50 row and human row (worked example E1; model-vs-human numbers)."""

import numpy as np
import pandas as pd
import pytest

from psychobench.consistency import agreement, benchmark
from psychobench.data.schema import TrialTableError

M = np.array([1, 1, 0, 0, 1, 1, 0, 1, 1, 1], bool)
H = np.array([[1, 1, 1, 0, 0, 1, 0, 1, 1, 0],
              [1, 1, 1, 0, 1, 1, 0, 1, 0, 0],
              [1, 0, 1, 0, 0, 1, 1, 1, 1, 0]], bool)


def test_e1_kappa_values():
    k = agreement.error_consistency(M[None, :], H)
    np.testing.assert_allclose(k, [0.3478, 0.3478, -0.0870], atol=1e-3)
    assert k.mean() == pytest.approx(0.2029, abs=1e-3)
    pairs = [agreement.error_consistency(H[i], H[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    np.testing.assert_allclose(pairs, [0.5833, 0.5833, 0.1667], atol=1e-3)
    assert np.mean(pairs) == pytest.approx(0.4444, abs=1e-3)
    assert k.mean() / np.mean(pairs) == pytest.approx(0.4565, abs=1e-3)
    lo, hi = agreement.kappa_bounds(0.6, 0.7)
    assert (lo, hi) == (pytest.approx(-0.5217, abs=1e-3), pytest.approx(0.7826, abs=1e-3))


def test_e1_through_trial_tables():
    """The same numbers through the table-level code path (one condition, ids paired)."""
    ids = [f"x{i}" for i in range(10)]

    def table(subject, correct):
        return pd.DataFrame({"experiment": "e", "subject": subject, "session": 1,
                             "trial": np.arange(1, 11), "stimulus_id": ids, "condition": "0",
                             "category": "cat", "response": np.where(correct, "cat", "dog"),
                             "correct": correct, "rt": np.nan})

    humans = pd.concat([table(f"h{i}", H[i]) for i in range(3)], ignore_index=True)
    res = benchmark.dataset_metrics(table("m", M), humans, "e")
    assert res["error_consistency"] == pytest.approx(0.2029, abs=1e-3)
    assert res["observed_consistency"] == pytest.approx(np.mean([0.7, 0.7, 0.5]))
    ref = benchmark.human_reference(humans, "e")
    assert ref["error_consistency"] == pytest.approx(0.4444, abs=1e-3)


def test_kappa_undefined_is_nan_and_excluded():
    both_right = np.ones(5, bool)
    assert np.isnan(agreement.error_consistency(both_right, both_right))
    assert np.isnan(agreement.error_consistency(~both_right, ~both_right))
    # a pair with undefined kappa does not enter the mean
    a = np.array([[1, 1, 1, 1.0]])
    h = np.array([[1, 1, 1, 1.0], [1, 0, 1, 0.0]])
    out = benchmark.pairwise_metrics(a, h, np.zeros(4, int), np.array([True]))
    assert out["error_consistency"] == pytest.approx(0.0)


@pytest.fixture(scope="module")
def parity_table(humans, resnet50):
    """The metric table of model-vs-human's ResNet-50 outputs on the 17 data sets, through the
    Python API (the built-in experiments' exclusions), without ceilings."""
    import psychobench as pb

    return pb.score(pd.concat(resnet50.values(), ignore_index=True),
                    pd.concat(humans.values(), ignore_index=True), ceilings=False)


def _aggregate(table, observer):
    a = table[(table["dataset"] == "aggregate") & (table["observer"] == observer)]
    return a.set_index("metric")["value"]


def test_resnet50_parity(parity_table):
    res = _aggregate(parity_table, "resnet50")
    assert round(res["ood_accuracy"], 3) == 0.559
    assert round(res["accuracy_difference"], 3) == 0.087
    assert round(res["observed_consistency"], 3) == 0.665
    assert round(res["error_consistency"], 3) == 0.208
    assert round(res["shape_bias"], 3) == 0.214
    per_set = parity_table[(parity_table["metric"] == "ood_accuracy") & (parity_table["observer"] == "resnet50")
                           & (parity_table["dataset"] != "aggregate")]
    assert len(per_set) == 17


def test_human_reference_row(parity_table):
    ref = _aggregate(parity_table, "humans")
    assert round(ref["accuracy_difference"], 3) == 0.007
    assert round(ref["observed_consistency"], 3) == 0.809
    assert round(ref["error_consistency"], 3) == 0.431
    assert round(ref["ood_accuracy"], 3) == 0.723
    assert round(ref["shape_bias"], 3) == 0.959


def test_mismatched_stimulus_ids_are_an_error(humans, resnet50):
    model = resnet50["edge"].copy()
    model.loc[3, "stimulus_id"] = "not-an-image.png"
    with pytest.raises(TrialTableError, match="not-an-image.png"):
        benchmark.dataset_metrics(model, humans["edge"], "edge")
    with pytest.raises(TrialTableError, match="no model answer"):
        benchmark.dataset_metrics(resnet50["edge"].iloc[1:], humans["edge"], "edge")


def test_model_condition_must_agree_with_humans(humans, resnet50):
    model = resnet50["contrast"].copy()
    model.loc[0, "condition"] = "c01" if model.loc[0, "condition"] != "c01" else "c05"
    with pytest.raises(TrialTableError, match="condition"):
        benchmark.dataset_metrics(model, humans["contrast"], "contrast")


def test_human_reference_draws_are_cached_by_content_and_checked(tmp_path, monkeypatch):
    """The human reference's bootstrap draws do not depend on the model: a second model's
    intervals reuse them, identical to a fresh computation; a changed entry is warned about and
    recomputed; other human data miss the cache."""
    from psychobench.data.io import IntegrityWarning

    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(5)
    ids = [f"x{i}" for i in range(40)]

    def table(subject, correct):
        return pd.DataFrame({"experiment": "e", "subject": subject, "session": 1,
                             "trial": np.arange(1, 41), "stimulus_id": ids, "condition": np.repeat(["0", "1"], 20),
                             "category": "cat", "response": np.where(correct, "cat", "dog"),
                             "correct": correct, "rt": np.nan})

    humans = pd.concat([table(f"h{i}", rng.random(40) < 0.7) for i in range(4)], ignore_index=True)
    a = benchmark.dataset_intervals(table("m1", rng.random(40) < 0.6), humans, "e", n_boot=200)
    entries = list((tmp_path / "cache" / "human_draws").glob("*.npz"))
    assert len(entries) == 1
    m2 = table("m2", rng.random(40) < 0.5)
    b = benchmark.dataset_intervals(m2, humans, "e", n_boot=200)                  # from the cache
    assert {k: (v.low, v.high) for k, v in a["humans"].items()} == {k: (v.low, v.high) for k, v in b["humans"].items()}
    with open(entries[0], "r+b") as f:                                           # flip one byte
        f.seek(100)
        x = f.read(1)
        f.seek(100)
        f.write(bytes([x[0] ^ 0xFF]))
    with pytest.warns(IntegrityWarning, match="human bootstrap draws"):
        c = benchmark.dataset_intervals(m2, humans, "e", n_boot=200)
    assert {k: (v.low, v.high) for k, v in c["humans"].items()} == {k: (v.low, v.high) for k, v in b["humans"].items()}
    assert {k: (v.low, v.high) for k, v in c["model"].items()} == {k: (v.low, v.high) for k, v in b["model"].items()}
    other = humans.assign(correct=~humans["correct"], response=np.where(humans["correct"], "dog", "cat"))
    benchmark.dataset_intervals(m2, other, "e", n_boot=200)
    assert len(list((tmp_path / "cache" / "human_draws").glob("*.npz"))) == 2
