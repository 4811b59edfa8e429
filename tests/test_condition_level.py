"""A parametric set regenerated from base images, run through the app and compared with the
human psychometric curve at the level of conditions (the images differ from the humans')."""

import json
import os
import subprocess
import sys

import pytest

from tests.summary_values import values

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def test_uniform_noise_condition_level_run(tmp_path, mirror):
    run = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, "-m", "psychobench.cli.main", "stimuli=uniform_noise",
         "stimuli.source.limit=1", "metrics.n_boot=200", "trainer.progress_bar=false",
         f"hydra.run.dir={run}"],
        cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 0, res.stderr[-3000:]
    s = json.loads((run / "summary.json").read_text())
    d = s["datasets"]["uniform-noise"]
    assert "consistency" not in d                    # no item-level comparison: images differ
    assert "condition-level" in s["notes"]["uniform-noise"]["comparison"]
    # 16 base images (one per category) x 8 noise widths
    assert s["n_trials"] == 128
    conds = {"0.0", "0.03", "0.05", "0.1", "0.2", "0.35", "0.6", "0.9"}
    acc, h = values(d["by_condition"]["accuracy"]), values(d["humans"]["by_condition"]["accuracy"])
    assert set(acc) == set(h) == conds
    assert acc["0.0"] > acc["0.9"]                   # noise makes the network worse
    assert h["0.0"] > 0.7 and h["0.9"] < 0.2         # the real human curve (grey, contrast 0.3)
    ht = d["humans"]["threshold"]
    assert ht["status"] == "ok" and ht["value"] == pytest.approx(0.265, abs=0.05)
    assert ht["value_ci"][0] <= ht["value"] <= ht["value_ci"][1]
    from psychobench.consistency import table as T
    m = T.read(run / "metrics.csv")
    subj = m[(m["metric"] == "threshold") & m["observer"].str.startswith("subject-")]
    assert len(subj) == 4                            # one threshold per human
    mt = d["threshold"]
    assert mt["status"] in {"ok", "not_reached"}
    if mt["status"] == "ok":
        assert d["threshold_delta"]["value"] == pytest.approx(mt["value"] - ht["value"])
