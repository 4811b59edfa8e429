"""The default experiment end to end, through the mirror, with real weights and real data:
tf_efficientnet_lite0 on the 1600 cue-conflict, edge and silhouette images."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from psychobench.data.categories import CATEGORIES

from tests.summary_values import value

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def run_cli(args, cwd, env=None):
    res = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, mirror):
    work = tmp_path_factory.mktemp("e2e")
    first = run_cli(["psychobench.cli.main", f"hydra.run.dir={work}/run1",
                     "trainer.progress_bar=false"], cwd=work)
    second = run_cli(["psychobench.cli.main", f"hydra.run.dir={work}/run2",
                      "trainer.progress_bar=false"], cwd=work)
    return work, first, second


def test_run_folder_and_summary(default_run):
    work, first, _ = default_run
    run = work / "run1"
    for f in ("config.yaml", "trials.parquet", "metrics.csv", "summary.json"):
        assert (run / f).is_file(), f
    s = json.loads((run / "summary.json").read_text())
    assert s["model"] == "tf_efficientnet_lite0"
    assert s["n_trials"] == 1600 and s["forward_passes"] == 50     # 1600 images / batch 32
    assert set(s["datasets"]) == {"cue-conflict", "edge", "silhouette"}
    assert set(s["aggregate"]) >= {"ood_accuracy", "accuracy_difference", "observed_consistency",
                                   "error_consistency", "shape_bias"}
    assert 0 < value(s["aggregate"]["shape_bias"]) < 1
    assert "ood_accuracy" in first.stdout and "humans" in first.stdout   # printed table
    assert "normalized [95% CI]" in first.stdout
    trials = pd.read_parquet(run / "trials.parquet")
    assert len(trials) == 1600
    assert not trials.duplicated(["experiment", "stimulus_id"]).any()   # ids unique per set


def test_accuracy_above_chance(default_run):
    work, _, _ = default_run
    t = pd.read_parquet(work / "run1" / "trials.parquet")
    acc = t.groupby("experiment")["correct"].mean()
    chance = 1 / 16
    assert acc["silhouette"] > 4 * chance and acc["edge"] > 3 * chance
    cc = t[t["experiment"] == "cue-conflict"]
    either = ((cc["response"] == cc["category"]) | (cc["response"] == cc["texture"])).mean()
    assert either > 4 * (2 * chance)          # answers follow shape or texture, not chance


def test_lightning_probabilities_equal_bare_forward_pass(default_run):
    from psychobench.data.answers import IMAGENET16
    from psychobench.lightning.data import load_image
    from psychobench.models.readouts import ImageNetReadout
    from psychobench.models.vision import create
    from psychobench.stimuli.sets import texture_shape

    work, _, _ = default_run
    t = pd.read_parquet(work / "run1" / "trials.parquet")
    stim = texture_shape("edge")
    net, rule = create("tf_efficientnet_lite0"), ImageNetReadout().bind(IMAGENET16, 1000)
    pick = stim.manifest.iloc[::8]                       # 20 of the 160 edge images
    x = torch.stack([load_image(stim.root / p, net.preprocessing) for p in pick["path"]])
    with torch.no_grad():
        bare = rule.scores(net.module(x)).numpy()
    rows = t[t["experiment"] == "edge"].set_index("stimulus_id").loc[pick["stimulus_id"]]
    lit = rows[[f"p_{c}" for c in CATEGORIES]].to_numpy()
    np.testing.assert_allclose(lit, bare, atol=2e-6, rtol=1e-4)
    assert (rows["response"].to_numpy() == np.asarray(CATEGORIES)[bare.argmax(1)]).all()


def test_score_cli_reproduces_summary(default_run):
    work, _, _ = default_run
    run = work / "run1"
    res = run_cli(["psychobench.cli.score", str(run / "responses"), "--json"], cwd=work)
    scored = json.loads(res.stdout)
    summary = json.loads((run / "summary.json").read_text())
    assert scored["model"] == summary["model"]
    assert set(scored["datasets"]) == set(summary["datasets"])
    assert scored["datasets"] == summary["datasets"]      # every value, consistency included
    assert scored["aggregate"] == summary["aggregate"]


def test_consistency_blocks(default_run):
    work, _, _ = default_run
    s = json.loads((work / "run1" / "summary.json").read_text())
    for block in [s["datasets"][ds]["consistency"] for ds in s["datasets"]] + [s["aggregate"]["consistency"]]:
        assert {"o1_acc", "o2_offdiag", "i1", "i1n", "error_consistency"} <= set(block)
        for metric, v in block.items():
            assert set(v) >= {"value", "value_ci", "ceiling", "ceiling_ci", "normalized", "normalized_ci"}, metric
            for what in ("value", "ceiling", "normalized"):
                lo, hi = v[f"{what}_ci"]
                if lo is not None and hi is not None:
                    assert lo <= hi, (metric, what)
    ec = s["aggregate"]["consistency"]["error_consistency"]
    assert ec["value"] == pytest.approx(value(s["aggregate"]["error_consistency"]), rel=1e-9)
    for ds in s["datasets"]:
        e = s["datasets"][ds]["consistency"]["error_consistency"]
        assert 0 < e["ceiling"] < 1
        assert e["normalized"] == pytest.approx(e["value"] / e["ceiling"], rel=1e-9)


def test_metric_table_is_the_one_score_table(default_run):
    """metrics.csv is a valid metric table, unique on its key, and summary.json is its view."""
    from psychobench.consistency import table as T

    work, _, _ = default_run
    m = T.read(work / "run1" / "metrics.csv")
    assert not m.duplicated(["dataset", "condition", "metric", "observer"]).any()
    assert (m["status"] == "ok").sum() > 0 and not ((m["status"] == "ok") & m["value"].isna()).any()
    s = json.loads((work / "run1" / "summary.json").read_text())
    view = T.summary_view(m, s["model"])
    assert view["datasets"] == s["datasets"] and view["aggregate"] == s["aggregate"]
    assert value(s["datasets"]["edge"]["by_condition"]["accuracy"]["0"]) == pytest.approx(value(s["datasets"]["edge"]["accuracy"]))
    ec = m[(m["dataset"] == "edge") & (m["metric"] == "error_consistency")]
    assert sorted(ec["observer"]) == ["humans", s["model"]]    # one row each: the model's with its ceiling
    assert np.isfinite(ec.loc[ec["observer"] == s["model"], "ceiling"]).all()
    assert m.pivot_table(index=["dataset", "condition"], columns=["metric", "observer"], values="value").shape[0] > 0


def test_repeated_run_does_no_forward_pass(default_run):
    work, _, _ = default_run
    s2 = json.loads((work / "run2" / "summary.json").read_text())
    assert s2["forward_passes"] == 0
    a = pd.read_parquet(work / "run1" / "trials.parquet")
    b = pd.read_parquet(work / "run2" / "trials.parquet")
    pd.testing.assert_frame_equal(a, b)
