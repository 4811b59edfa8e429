"""``psychobench-check``: the comparison with tolerances, the readable diff and exit status,
and one real rerun of a baseline model (tf_efficientnet_lite0 on edge + silhouette)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from psychobench.cli import check

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "conf" / "baselines" / "bundled.json"


def base(**metrics):
    return {"experiment": "x", "models": ["m"], "overrides": [],
            "metrics": {k: {"value": v, "tol": t} for k, (v, t) in metrics.items()}}


def test_compare_statuses():
    b = base(**{"m/edge/i1/value": (0.5, 0.03), "m/edge/i1/ceiling": (0.9, 1e-9),
                "m/edge/i1n/value": (None, 0.03), "m/edge/o1_acc/value": (0.2, 0.03),
                "m/edge/o2_dprime/value": (0.4, 0.03)})
    now = {"m/edge/i1/value": 0.52, "m/edge/i1/ceiling": 0.9 + 1e-6, "m/edge/i1n/value": None,
           "m/edge/o1_acc/value": None, "m/edge/new/value": 1.0}
    d = check.compare(b, now).set_index("key")
    assert d.loc["m/edge/i1/value", "status"] == "ok"                 # |0.02| <= 0.03
    assert d.loc["m/edge/i1/value", "delta"] == pytest.approx(0.02)
    assert d.loc["m/edge/i1/ceiling", "status"] == "REGRESSION"        # ceilings must not move
    assert d.loc["m/edge/i1n/value", "status"] == "ok"                 # undefined in both
    assert d.loc["m/edge/o1_acc/value", "status"] == "REGRESSION"      # became undefined
    assert d.loc["m/edge/o2_dprime/value", "status"] == "MISSING"
    assert d.loc["m/edge/new/value", "status"] == "new"
    text = check.format_diff(d.reset_index(), "b.json")
    assert "m/edge/i1/ceiling" in text and "m/edge/i1/value" not in text   # failures only
    assert text.splitlines()[-1] == "6 metrics: 2 ok, 2 regressions, 1 missing, 1 new"


def test_default_tolerances():
    assert check.tolerance("m/edge/i1/ceiling") == check.TOL_EXACT
    assert check.tolerance("m/aggregate/humans:ood_accuracy/value") == check.TOL_EXACT
    assert check.tolerance("m/edge/ood_accuracy/value") == check.TOL_ACCURACY
    assert check.tolerance("m/edge/i1/normalized") == check.TOL_SCORE
    assert check.tolerance("m/edge/i1/normalized_ci_low") == check.TOL_CI
    assert check.tolerance("m/edge/i1/value_ci_high") == check.TOL_CI
    assert check.tolerance("m/edge/i1/ceiling_ci_low") == check.TOL_EXACT      # the humans' alone
    assert check.tolerance("m/uniform-noise/subject-01:threshold/value") == check.TOL_EXACT
    assert check.tolerance("m/edge@0/accuracy/value") == check.TOL_ACCURACY
    assert check.tolerance("m/edge/i1/n") == 0.0
    assert check.tolerance("m/all/n_trials/value") == 0.0


def test_committed_baseline_covers_every_metric():
    b = json.loads(BASELINE.read_text())
    assert b["experiment"] == "edge_silhouette"
    assert b["models"] == ["tf_efficientnet_lite0", "tf_efficientnet_lite1",
                           "tf_efficientnet_lite2"]
    keys = b["metrics"]
    for m in b["models"]:
        assert keys[f"{m}/all/n_trials/value"]["value"] == 320
        for ds in ("edge", "silhouette", "aggregate"):
            for metric in ("ood_accuracy", "error_consistency", "o1_acc", "i1", "i1n"):
                assert f"{m}/{ds}/{metric}/value" in keys, (m, ds, metric)
            assert f"{m}/{ds}/i1/normalized" in keys and f"{m}/{ds}/i1/ceiling" in keys
    assert all(set(e) == {"value", "tol"} and e["tol"] >= 0 for e in keys.values())


def _cli(args, cwd):
    return subprocess.run([sys.executable, "-m", "psychobench.cli.check", *args], cwd=cwd,
                          capture_output=True, text=True, env=dict(os.environ), timeout=900)


@pytest.mark.timeout(900)
@pytest.mark.slow
def test_rerun_passes_and_perturbed_baseline_fails(tmp_path, mirror):
    """Rerun one baseline model for real: it matches the committed baseline; the same runs
    against a baseline with one perturbed metric exit 1 and name that metric."""
    out = tmp_path / "rerun"
    res = _cli(["--baseline", str(BASELINE), "--models", "tf_efficientnet_lite0",
                "--out", str(out)], tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    last = res.stdout.strip().splitlines()[-1]
    assert " 0 regressions, 0 missing" in last
    n_checked = int(last.split()[0])
    expected = sum(k.startswith("tf_efficientnet_lite0/")
                   for k in json.loads(BASELINE.read_text())["metrics"])
    assert n_checked == expected
    for f in (out / "sweep").glob("*/summary.json"):
        assert json.loads(f.read_text())["forward_passes"] == 10      # 320 images / 32: no cache

    bad = json.loads(BASELINE.read_text())
    key = "tf_efficientnet_lite0/edge/o1_acc/value"
    bad["metrics"][key]["value"] += 0.1
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    res = _cli(["--baseline", str(tmp_path / "bad.json"), "--models", "tf_efficientnet_lite0",
                "--from", str(out)], tmp_path)
    assert res.returncode == 1
    lines = [ln for ln in res.stdout.splitlines() if "REGRESSION" in ln]
    assert len(lines) == 1 and key in lines[0] and "-0.1" in lines[0]
    assert res.stdout.strip().splitlines()[-1].endswith("1 regressions, 0 missing, 0 new")
