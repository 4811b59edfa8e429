"""Networks vs control observers: the comparison table and its contrast on a small synthetic
metric table with known answers, the figure, and the sweep preset ``experiment=controls``."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from psychobench.report import analyses

matplotlib.use("Agg")

Z = analyses.Z95
CONF = Path(__file__).resolve().parents[1] / "conf"


def _row(run, model, ds, metric, norm, half):
    """A model's whole-set metric row: normalized ``norm`` with a 95% interval of half-width
    ``half`` (NaN: no interval)."""
    return {"run": run, "model": model, "dataset": ds, "condition": "", "metric": metric, "observer": model,
            "value": norm * 0.9, "value_ci_low": np.nan, "value_ci_high": np.nan, "ceiling": 0.9,
            "ceiling_ci_low": 0.85, "ceiling_ci_high": 0.95, "normalized": norm,
            "normalized_ci_low": norm - half, "normalized_ci_high": norm + half, "n": 160.0, "status": "ok"}


@pytest.fixture()
def data(tmp_path):
    rows = [
        # net: an old run on d1 (superseded), then a run on d1 + d2, and one on d3 (only it has d3)
        _row("r0", "net", "d1", "o1_acc", 0.10, 0.1),
        _row("r1", "net", "d1", "o1_acc", 0.80, 0.1), _row("r1", "net", "d2", "o1_acc", 0.60, 0.2),
        _row("r1", "net", "d1", "i1n", 0.30, 0.1), _row("r1", "net", "d2", "i1n", 0.10, np.nan),
        _row("r2", "net", "d3", "o1_acc", 0.99, 0.1),
        _row("r3", "rand", "d1", "o1_acc", 0.40, 0.1), _row("r3", "rand", "d2", "o1_acc", 0.20, 0.1),
        _row("r3", "rand", "d1", "i1n", 0.20, 0.1), _row("r3", "rand", "d2", "i1n", 0.00, 0.1),
        _row("r4", "pix", "d1", "o1_acc", 0.30, 0.2), _row("r4", "pix", "d2", "o1_acc", 0.10, 0.2),
        _row("r4", "pix", "d1", "i1n", 0.10, 0.1), _row("r4", "pix", "d2", "i1n", 0.10, 0.1),
        # a human reference row and a per-condition row: neither is a model's whole-set score
        {**_row("r1", "net", "d1", "o1_acc", 0.5, 0.1), "observer": "humans"},
        {**_row("r1", "net", "d1", "o1_acc", 0.5, 0.1), "condition": "c1"},
    ]
    metrics = pd.DataFrame(rows)
    runs = pd.DataFrame({"run": ["r0", "r1", "r2", "r3", "r4"], "model": ["net", "net", "net", "rand", "pix"]})
    summaries = {"r0": {"observer": {"family": "network", "readout": "auto", "fitted": False}},
                 "r1": {"observer": {"family": "network", "readout": "auto", "fitted": False}},
                 "r2": {"observer": {"family": "network", "readout": "auto", "fitted": False}},
                 "r3": {"observer": {"family": "random", "readout": "logistic", "fitted": True}},
                 "r4": {"observer": {"family": "control", "readout": "logistic", "fitted": True}}}
    return analyses.Runs(tmp_path, runs, metrics, summaries)


def _get(t, obs, ds, metric):
    r = t[(t["observer"] == obs) & (t["dataset"] == ds) & (t["metric"] == metric)]
    assert len(r) == 1, (obs, ds, metric)
    return r.iloc[0]


def test_controls_table_known_answers(data):
    t = analyses.controls_table(data, metrics=["o1_acc", "i1n"])
    assert list(t.columns) == analyses.CONTROL_COLUMNS
    # the latest run's row per (observer, data set); people and per-condition rows left out
    assert _get(t, "net", "d1", "o1_acc")["normalized"] == pytest.approx(0.80)
    assert set(t["observer"]) == {"net", "rand", "pix"}
    assert dict(zip(t["observer"], t["kind"], strict=True)) == {"net": "network", "rand": "control", "pix": "control"}
    assert _get(t, "pix", "d1", "i1n")["readout"] == "logistic (fitted)"
    assert _get(t, "net", "d1", "i1n")["readout"] == "fixed ImageNet mapping"
    assert _get(t, "net", "d1", "o1_acc")["level"] == "object" and _get(t, "net", "d1", "i1n")["level"] == "image"
    # pooled: over d1 and d2 only (d3 is the network's alone), the unweighted mean, with the
    # interval mean +/- 1.96 sqrt(SE1^2 + SE2^2) / 2, SE = half-width / 1.96
    p = _get(t, "net", "pooled", "o1_acc")
    assert p["sets"] == "d1,d2"
    assert p["normalized"] == pytest.approx(0.70)
    half = np.sqrt(0.1 ** 2 + 0.2 ** 2) / 2
    assert p["normalized_ci_low"] == pytest.approx(0.70 - half)
    assert p["normalized_ci_high"] == pytest.approx(0.70 + half)
    r = _get(t, "rand", "pooled", "i1n")
    assert r["normalized"] == pytest.approx(0.10)
    assert r["normalized_ci_high"] - r["normalized_ci_low"] == pytest.approx(2 * np.sqrt(2) * 0.1 / 2)
    # a set without an interval: the pooled value stands, its interval is left out and said so
    q = _get(t, "net", "pooled", "i1n")
    assert q["normalized"] == pytest.approx(0.20)
    assert np.isnan(q["normalized_ci_low"]) and np.isnan(q["normalized_ci_high"])
    assert q["status"] == "no_valid_interval"
    # networks first, then random-weight twins, then the other controls
    first = t[(t["dataset"] == "d1") & (t["metric"] == "o1_acc")]
    assert list(first["observer"]) == ["net", "rand", "pix"]   # network, random twin, control


def test_controls_contrast_known_answers(data):
    t = analyses.controls_table(data, metrics=["o1_acc", "i1n"])
    c = analyses.controls_contrast(t)
    r = c[(c["dataset"] == "pooled") & (c["metric"] == "o1_acc")].iloc[0]
    # network 0.70 (half-width sqrt(0.05)/2); controls: rand 0.30, pix 0.20 -> mean 0.25
    assert r["network_mean"] == pytest.approx(0.70)
    assert r["control_mean"] == pytest.approx(0.25)
    assert r["difference"] == pytest.approx(0.45)
    se_net = np.sqrt(0.1 ** 2 + 0.2 ** 2) / 2 / Z
    se_rand, se_pix = np.sqrt(2) * 0.1 / 2 / Z, np.sqrt(2) * 0.2 / 2 / Z
    se_ctrl = np.sqrt(se_rand ** 2 + se_pix ** 2) / 2
    assert r["difference_ci_high"] - r["difference_ci_low"] == pytest.approx(2 * Z * np.hypot(se_net, se_ctrl))
    assert (r["n_networks"], r["n_controls"]) == (1, 2)
    assert r["best_network"] == pytest.approx(0.70) and r["best_control"] == pytest.approx(0.30)
    # a group mean over an observer without an interval has none either
    q = c[(c["dataset"] == "pooled") & (c["metric"] == "i1n")].iloc[0]
    assert q["difference"] == pytest.approx(0.20 - 0.10)
    assert np.isnan(q["difference_ci_low"])


def test_controls_table_empty_without_the_metrics(data):
    t = analyses.controls_table(data, metrics=["shape_bias"])
    assert t.empty and list(t.columns) == analyses.CONTROL_COLUMNS


def test_controls_figure_builds(data):
    from psychobench.report import plots

    t = analyses.controls_table(data, metrics=["o1_acc", "i1n"])
    fig = plots.controls_figure(t)
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 2
    for ax in axes:
        bars = [p for p in ax.patches if p.get_height() != 0]
        assert len(bars) == 3                                   # one bar per observer
        labels = [x.get_text() for x in ax.get_xticklabels()]
        assert labels == ["net", "rand", "pix"]                  # networks left, controls right
    heights = sorted(round(p.get_height(), 6) for p in axes[0].patches)
    assert heights == sorted([0.7, 0.3, 0.2])
    assert "d1, d2" in fig._suptitle.get_text()
    plots.plt.close(fig)
    with pytest.raises(ValueError, match="no rows for dataset 'nope'"):
        plots.controls_figure(t, dataset="nope")


def test_short_observer_names():
    from psychobench.report.plots import short_observer_name

    assert short_observer_name("tf_efficientnet_lite0") == "Lite0"
    assert short_observer_name("tf_efficientnet_lite2-random+logistic") == "Lite2 random"
    assert short_observer_name("v1+logistic") == "V1"
    assert short_observer_name("pixels+logistic") == "pixels"


def test_controls_preset_sweeps_the_eight_observers():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=controls"], return_hydra_config=True)
    models = cfg.hydra.sweeper.params.model.split(",")
    assert models == ["tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2",
                      "random_tf_efficientnet_lite0", "random_tf_efficientnet_lite1",
                      "random_tf_efficientnet_lite2", "pixels", "v1"]
    assert all((CONF / "model" / f"{m}.yaml").is_file() for m in models)
    assert set(cfg.experiments) == {"cue_conflict", "edge", "silhouette"}
