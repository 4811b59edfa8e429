"""A parametric set regenerated from base images, run through the app and compared with the
human psychometric curve at the level of conditions (the images differ from the humans')."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(900)


def test_uniform_noise_condition_level_run(tmp_path, mirror):
    run = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, "-m", "psychobench.cli.main", "stimuli=uniform_noise",
         "stimuli.source.limit=1", "metrics.n_boot=200", "trainer.progress_bar=false",
         f"hydra.run.dir={run}"],
        cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 0, res.stderr[-3000:]
    s = json.loads((run / "summary.json").read_text())
    assert s["datasets"] == {}                       # no item-level comparison: images differ
    cl = s["condition_level"]["uniform-noise"]
    assert "condition-level" in cl["note"]
    assert cl["harder"] == "higher" and cl["unit"] == "grey level"
    # 16 base images (one per category) x 8 noise widths
    assert s["n_trials"] == 128
    assert set(cl["accuracy"]["model"]) == set(cl["accuracy"]["humans"]) == {
        "0.0", "0.03", "0.05", "0.1", "0.2", "0.35", "0.6", "0.9"}
    acc = cl["accuracy"]["model"]
    assert acc["0.0"] > acc["0.9"]                   # noise makes the network worse
    h = cl["accuracy"]["humans"]
    assert h["0.0"] > 0.7 and h["0.9"] < 0.2         # the real human curve (grey, contrast 0.3)
    assert cl["human_status"] == "ok" and cl["human_threshold"] == pytest.approx(0.265, abs=0.05)
    assert len(cl["subject_thresholds"]) == 4
    assert cl["model_status"] in {"ok", "not_reached"}
    if cl["model_status"] == "ok":
        assert cl["delta"] == pytest.approx(cl["model_threshold"] - cl["human_threshold"])
