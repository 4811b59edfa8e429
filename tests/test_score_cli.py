"""psychobench-score on model-vs-human result folders."""

import json
import shutil

import pytest

from psychobench.cli.score import main
from psychobench.data import registry, trials


@pytest.fixture(scope="module")
def resnet_dir(mirror):
    return registry.fetch_dataset("reference/resnet50", progress=False)


def test_json_output_matches_the_published_row(resnet_dir, capsys):
    assert main([str(resnet_dir), "--json", "--no-consistency"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "resnet50" and len(out["datasets"]) == 17
    # each aggregate metric is {value, value_ci, status} (its interval) or a plain value
    agg = {k: v["value"] if isinstance(v, dict) else v for k, v in out["aggregate"].items()}
    assert [round(agg[k], 3) for k in ("ood_accuracy", "accuracy_difference",
                                       "observed_consistency", "error_consistency",
                                       "shape_bias")] == [0.559, 0.087, 0.665, 0.208, 0.214]
    assert set(out["datasets"]["cue-conflict"]) >= {"ood_accuracy", "shape_bias"}


def test_subset_with_own_humans_folder_and_model_choice(resnet_dir, tmp_path, capsys):
    res = tmp_path / "res"
    for ds in ("edge", "silhouette"):
        (res / ds).mkdir(parents=True)
        shutil.copy(resnet_dir / ds / f"{ds}_resnet50_session-1.csv", res / ds)
        other = trials.read_mvh_csv(resnet_dir / ds / f"{ds}_resnet50_session-1.csv", ds)
        other["subject"] = "alexnet"
        trials.write_mvh_csv(other, res / ds / f"{ds}_alexnet_session-1.csv")
        hum = registry.fetch_dataset(f"humans/{ds}", progress=False)
        shutil.copytree(hum, tmp_path / "humans" / ds, ignore=shutil.ignore_patterns(".*"))
    assert main([str(res), "--json", "--no-consistency"]) == 2
    assert "several models" in capsys.readouterr().err
    assert main([str(res), "--model", "alexnet", "--humans", str(tmp_path / "humans"), "--json",
                 "--n-boot", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "alexnet" and set(out["datasets"]) == {"edge", "silhouette"}
    ec = out["datasets"]["edge"]["consistency"]["error_consistency"]
    assert ec["normalized_ci"][0] <= ec["normalized"] <= ec["normalized_ci"][1]


def test_mismatched_ids_fail_clearly(resnet_dir, tmp_path, capsys):
    t = trials.read_mvh_csv(resnet_dir / "edge" / "edge_resnet50_session-1.csv", "edge")
    t.loc[0, "imagename"] = "zebra99.png"
    t.loc[0, "stimulus_id"] = "zebra99.png"
    trials.write_mvh_csv(t, tmp_path / "edge" / "edge_resnet50_session-1.csv")
    assert main([str(tmp_path), "--no-consistency"]) == 2
    err = capsys.readouterr().err
    assert "zebra99.png" in err and "edge" in err
