"""Generated stimulus sets through the app: viewpoints (accuracy per view) and synthesised
cue conflicts (shape bias beyond the published images); small grids to stay fast."""

import json
import os
import subprocess
import sys

import pytest

from tests.summary_values import value, values

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def run_app(tmp_path, *overrides):
    run = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.main", *overrides,
                          "trainer.progress_bar=false", f"hydra.run.dir={run}"],
                         cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((run / "summary.json").read_text())


def test_viewpoints_accuracy_by_view(tmp_path):
    s = run_app(tmp_path, "stimuli=viewpoints", "stimuli.source.azimuths=[0,180]",
                "stimuli.source.elevations=[15,75]", "stimuli.source.rolls=[0,180]")
    acc = values(s["datasets"]["viewpoints"]["by_condition"]["accuracy"])
    assert s["n_trials"] == 9 * 2 * 2 * 2 and len(acc) == 8
    assert acc["az000_el15_roll000"] >= 0.75                   # the canonical view
    assert acc["az000_el15_roll000"] > acc["az180_el75_roll180"]  # an odd view is harder


def test_synthesised_cue_conflicts_give_a_shape_bias(tmp_path):
    s = run_app(tmp_path, "stimuli=cue_conflict_synth", "stimuli.source.limit=1",
                "stimuli.source.per_shape=2")
    assert s["n_trials"] == 16 * 2
    sb = value(s["datasets"]["cue-conflict-synth"]["shape_bias"])
    assert sb is not None and 0.0 <= sb <= 1.0   # shape and texture both drive answers


def test_rendered_in_plane_rotation_beside_the_human_rotation_data(tmp_path):
    s = run_app(tmp_path, "stimuli=viewpoints_rotation", "stimuli.source.azimuths=[0]")
    assert s["n_trials"] == 9 * 4
    d = s["datasets"]["viewpoints-rotation"]
    assert "condition-level" in s["notes"]["viewpoints-rotation"]["comparison"]
    model, humans = values(d["by_condition"]["accuracy"]), values(d["humans"]["by_condition"]["accuracy"])
    assert set(model) == set(humans) == {"0", "90", "180", "270"}
    assert humans["0"] > 0.85 and model["0"] >= 0.75
    assert "threshold" in d and "threshold" in d["humans"]
