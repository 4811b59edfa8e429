"""Layer decoding: known answers on planted features, the placed-object stimuli, and the
experiment through the real pipeline on a small set."""

from __future__ import annotations

import numpy as np
import pytest

from psychobench.consistency.decoding import decode


def _planted(seed=0, n_obj=6, per=30, d=40):
    rng = np.random.default_rng(seed)
    obj = np.repeat([f"o{i}" for i in range(n_obj)], per)
    cat = obj.copy()
    scale = rng.uniform(0.3, 0.8, len(obj))
    noise = rng.standard_normal((len(obj), d))
    code = rng.standard_normal((n_obj, d)) * 3
    with_cat = noise + code[np.repeat(np.arange(n_obj), per)]
    with_scale = noise.copy()
    with_scale[:, 0] += 50 * (scale - scale.mean())            # scale planted linearly in unit 0 (SNR ~ 50)
    return cat, obj, scale, noise, with_cat, with_scale


def test_a_planted_variable_is_decoded_where_it_is_and_not_from_noise():
    cat, obj, scale, noise, with_cat, with_scale = _planted()
    here = decode(with_scale, cat, obj, {"scale": scale}, n_boot=300).set_index("metric")
    none = decode(noise, cat, obj, {"scale": scale}, n_boot=300).set_index("metric")
    assert here.loc["r2_scale", "value"] > 0.9
    assert here.loc["r2_scale", "value_ci_low"] > 0.8
    assert none.loc["r2_scale", "value"] < 0.05 and none.loc["r2_scale", "value_ci_low"] < 0.05
    # category: decodable from the category code, at chance (1/6) from noise
    good = decode(with_cat, cat, obj, {"scale": scale}, n_boot=300).set_index("metric")
    assert good.loc["category_accuracy", "value"] > 0.95
    acc = none.loc["category_accuracy"]
    assert abs(acc["value"] - 1 / 6) < 0.1 and acc["value_ci_low"] < 1 / 6 < acc["value_ci_high"] + 0.05


def test_decoding_refuses_nan_features():
    cat, obj, scale, noise, _, _ = _planted(per=10)
    noise[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        decode(noise, cat, obj, {"scale": scale}, n_boot=10)


def test_placed_objects_carry_their_variables(tmp_path, monkeypatch):
    from PIL import Image

    from psychobench.stimuli.render import PLACED_RANGES, make_placed_objects

    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    s = make_placed_objects(n_per_object=3, objects=["mug", "barrel"])
    m = s.manifest
    assert len(m) == 6 and set(m["object"]) == {"mug", "barrel"}
    for k, (lo, hi) in PLACED_RANGES.items():
        assert m[k].astype(float).between(lo, hi).all()
    img = np.asarray(Image.open(s.root / m["path"].iloc[0]))
    assert img.shape == (224, 224, 3) and img.std() > 10          # a textured background, not flat
    again = make_placed_objects(n_per_object=3, objects=["mug", "barrel"])
    assert again.root == s.root and (again.manifest["sha256"] == m["sha256"]).all()      # cached by content
    fresh = make_placed_objects(tmp_path / "elsewhere", n_per_object=3, objects=["mug", "barrel"])
    assert (fresh.manifest["sha256"].to_numpy() == m["sha256"].to_numpy()).all()         # seeded: same pixels


@pytest.mark.slow
def test_layer_decoding_experiment_runs_through_the_pipeline(tmp_path):
    """A small set through the app: one row per layer and metric, later stages decode the
    category better than the first for the trained network."""
    import json
    import os
    import subprocess
    import sys

    import pandas as pd

    run = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.main", "experiment=layer_decoding",
                          "stimuli.source.n_per_object=12", "stimuli.n_boot=200", "stimuli.layers=[blocks.1,pre_logits]",
                          f"results_dir={tmp_path}", f"hydra.run.dir={run}", "trainer.progress_bar=false"],
                         capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 0, res.stderr[-2000:]
    t = pd.read_csv(run / "metrics.csv")
    assert set(t["layer"]) == {"blocks.1", "pre_logits"}
    acc = t[t["metric"] == "category_accuracy"].set_index("layer")["value"]
    assert acc["pre_logits"] > acc["blocks.1"] and acc["pre_logits"] > 0.5
    assert json.loads((run / "summary.json").read_text())["model"] == "tf_efficientnet_lite0"


def test_layer_decoding_table_and_figure():
    """Depth runs 0..1 in each run's layer order; random twins are marked; the figure draws
    one panel per decoded variable."""
    import pandas as pd

    from psychobench.report import analyses, plots

    rows = []
    for model, run in (("net", "r1"), ("net-random+logistic", "r2")):
        for i, layer in enumerate(("blocks.0", "blocks.3", "pre_logits")):
            for metric in ("category_accuracy", "r2_scale"):
                rows.append({"run": run, "model": model, "observer": model, "dataset": "layer_decoding",
                             "metric": metric, "layer": layer, "value": 0.2 * i, "value_ci_low": 0.1 * i,
                             "value_ci_high": 0.3 * i})
    rows.append({"run": "r1", "model": "net", "observer": "net", "dataset": "edge", "metric": "o1_acc",
                 "layer": None, "value": 0.5, "value_ci_low": 0.4, "value_ci_high": 0.6})

    class Data:
        metrics = pd.DataFrame(rows)

    t = analyses.layer_decoding_table(Data())
    assert set(t["metric"]) == {"category_accuracy", "r2_scale"}
    assert t.groupby("run")["depth"].agg(["min", "max"]).values.tolist() == [[0.0, 1.0], [0.0, 1.0]]
    assert t.set_index("run")["trained"].groupby(level=0).first().to_dict() == {"r1": True, "r2": False}
    fig = plots.layer_decoding(t)
    assert len(fig.axes) == 2
