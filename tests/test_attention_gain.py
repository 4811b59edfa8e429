"""Feature-similarity attention gain: tuning, gains and detection statistics with known answers,
and the multi-object grids."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from psychobench.experiments.layers import category_tuning, detection_scores, gain


def test_tuning_is_the_standardised_category_mean():
    # unit 0 prefers "b", unit 1 is untuned, unit 2 prefers "a"
    x = np.array([[0.0, 1.0, 3.0], [0.0, 1.0, 3.0], [2.0, 1.0, 1.0], [2.0, 1.0, 1.0]])
    f, cats = category_tuning(x, np.array(["a", "a", "b", "b"]))
    assert cats == ["a", "b"]
    np.testing.assert_allclose(f, [[-1, 1], [0, 0], [1, -1]])
    np.testing.assert_allclose(gain(f[:, 1], 0.5), [1.5, 1.0, 0.5])
    np.testing.assert_allclose(gain(f[:, 1], 2.0), [3.0, 1.0, 0.0])          # floored at 0


def test_detection_dprime_with_the_log_linear_correction():
    present = np.array([[1, 0]] * 10 + [[0, 1]] * 10, bool)
    decisions = present.copy()
    decisions[:4, 0] = False                  # category 0: 6 of 10 hits, no false alarm
    decisions[10:, 0] = False
    s = detection_scores(decisions, present, n_boot=200)
    d0 = norm.ppf(6.5 / 11) - norm.ppf(0.5 / 11)
    d1 = norm.ppf(10.5 / 11) - norm.ppf(0.5 / 11)
    v, lo, hi = s["detection_dprime"]
    assert v == pytest.approx((d0 + d1) / 2) and lo <= v <= hi
    assert s["detection_accuracy"][0] == pytest.approx(1 - 4 / 40)
    chance = detection_scores(np.zeros_like(present), present, n_boot=50)["detection_dprime"][0]
    assert chance == pytest.approx(norm.ppf(0.5 / 11) - norm.ppf(0.5 / 11))  # never says yes: d' 0


def test_grids_tile_distinct_categories(tmp_path, monkeypatch):
    from PIL import Image

    from psychobench.stimuli.grids import make_grids
    from psychobench.stimuli.render import make_placed_objects

    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    singles = make_placed_objects(n_per_object=2, objects=["mug", "barrel", "bicycle", "teddy", "dumbbell"])
    g = make_grids(singles, n_grids=6, seed=1)
    m = g.manifest
    assert len(m) == 6
    for present, first in zip(m["present"], m["category"]):
        cats = present.split("|")
        assert len(cats) == 4 and len(set(cats)) == 4 and cats[0] == first
    img = np.asarray(Image.open(g.root / m["path"].iloc[0]))
    assert img.shape == (224, 224, 3)
    assert make_grids(singles, n_grids=6, seed=1).root == g.root           # cached by content
    with pytest.raises(Exception, match="distinct"):
        make_grids(make_placed_objects(n_per_object=2, objects=["mug", "barrel"]), n_grids=2)


def test_attention_table_and_figure():
    import pandas as pd

    from psychobench.report import analyses, plots

    rows = [{"run": "r", "model": "net", "observer": "net", "dataset": "attention_gain", "metric": m,
             "layer": layer, "beta": b, "value": 1.0 + 0.1 * b * i, "value_ci_low": 0.8, "value_ci_high": 1.6}
            for i, layer in enumerate(("blocks.1", "blocks.4")) for b in (0.0, 1.0)
            for m in ("detection_dprime", "detection_accuracy")]

    class Data:
        metrics = pd.DataFrame(rows)

    t = analyses.attention_gain_table(Data())
    assert len(t) == 8 and sorted(t["depth"].unique()) == [0.0, 1.0]
    assert t[(t.layer == "blocks.4") & (t.beta == 1.0) & (t.metric == "detection_dprime")]["value"].item() == 1.1
    assert len(plots.attention_gain(t).axes) == 1
