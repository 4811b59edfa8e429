"""The Python API (``import psychobench as pb``): read_trials, score and run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import psychobench as pb


def test_read_trials_of_every_source(tmp_path, resnet50):
    from psychobench.data import trials

    edge = resnet50["edge"]
    trials.write_mvh_csv(edge, tmp_path / "one" / "edge_resnet50_session-1.csv")
    a = pb.read_trials(tmp_path / "one" / "edge_resnet50_session-1.csv")          # one CSV
    b = pb.read_trials(tmp_path / "one")                                            # a folder of them
    edge.to_parquet(tmp_path / "t.parquet")
    c = pb.read_trials(tmp_path / "t.parquet")                                      # a trial table
    edge[["experiment", "subject", "session", "trial", "stimulus_id", "condition", "category", "response",
          "correct", "rt"]].to_csv(tmp_path / "t.csv", index=False)
    d = pb.read_trials(tmp_path / "t.csv")                                          # as CSV
    for t in (a, b, c, d):
        assert len(t) == 160 and set(t["experiment"]) == {"edge"}
        assert t["correct"].tolist() == edge["correct"].tolist()
    assert d["condition"].tolist() == edge["condition"].tolist()


def test_score_returns_the_metric_table(humans, resnet50):
    from psychobench.consistency import table as T

    model = pd.concat([resnet50["edge"], resnet50["silhouette"]], ignore_index=True)
    hum = pd.concat([humans["edge"], humans["silhouette"]], ignore_index=True)
    t = pb.score(model, hum, n_boot=50)
    assert list(t.columns[: len(T.COLUMNS)]) == list(T.COLUMNS)
    assert set(t["dataset"]) == {"edge", "silhouette", "aggregate"}
    i1 = t[(t["dataset"] == "edge") & (t["metric"] == "i1") & (t["observer"] == "resnet50")].iloc[0]
    assert 0 < i1["ceiling"] < 1 and i1["normalized"] == pytest.approx(i1["value"] / i1["ceiling"])
    assert i1["n"] == 160
    with pytest.raises(Exception, match="2 observers"):
        pb.score(pd.concat([model, model.assign(subject="other")]), hum, ceilings=False)
    with pytest.raises(Exception, match="no human trials of experiment 'edge'"):
        pb.score(model, humans["contrast"], ceilings=False)


@pytest.mark.timeout(600)
@pytest.mark.slow
def test_run_returns_the_run_folder(tmp_path, mirror, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = pb.run("stimuli=edge", "model=untrained", f"results_dir={tmp_path / 'results'}", "metrics.n_boot=20",
                 "trainer.progress_bar=false", "trainer.num_workers=0")
    assert run.parent == tmp_path / "results" / "runs"
    s = json.loads((run / "summary.json").read_text())
    assert s["model"] == "tf_efficientnet_lite0-untrained" and s["n_trials"] == 160
    assert (run / "metrics.csv").is_file() and (run / "config.yaml").is_file()
