"""The results store on hand-made run folders: aggregation into one parquet table, filters,
comparisons, the ``psychobench-results`` CLI and the run memo (no network runs here)."""

import json
import os

import pandas as pd
import pytest
from omegaconf import OmegaConf

from psychobench.cli import results as results_cli
from psychobench.consistency import table as T
from psychobench.results import store


def make_run(folder, model, rows, *, seed=0, overrides=(), mtime=None, summary_extra=None):
    """A finished run folder as run_vision writes it: config, metrics.csv, summary.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".hydra").mkdir(exist_ok=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (folder / "config.yaml").write_text(f"model:\n  name: {model}\nseed: {seed}\n")
    T.write(T.metric_table(rows), folder / "metrics.csv")
    sets = sorted({r["dataset"] for r in rows if r["dataset"] != "aggregate"})
    summary = {"model": model, "datasets": {s: {} for s in sets}, "n_trials": 160 * len(sets),
               "forward_passes": 5, "seconds": 1.0, **(summary_extra or {})}
    (folder / "summary.json").write_text(json.dumps(summary))
    if mtime is not None:
        os.utime(folder / "summary.json", ns=(mtime, mtime))
    return folder


def rows(model, o1, i1, ds="edge"):
    return [T.row(ds, "ood_accuracy", model, 0.4),
            T.row(ds, "o1_acc", model, o1, ceiling=0.9, normalized=o1 / 0.9,
                  normalized_ci=(o1 / 0.9 - 0.1, o1 / 0.9 + 0.1)),
            T.row(ds, "i1", model, i1, ceiling=0.8, normalized=i1 / 0.8, normalized_ci=(i1 / 0.8 - 0.2, i1 / 0.8 + 0.2)),
            T.row(ds, "error_consistency", "humans", 0.3),
            T.row("aggregate", "o1_acc", model, o1, ceiling=0.9, normalized=o1 / 0.9),
            T.row("aggregate", "error_consistency", "humans", 0.3)]


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    t0 = 1_700_000_000_000_000_000
    make_run(root / "multirun" / "s1" / "0_a", "net-a", rows("net-a", 0.5, 0.2),
             overrides=["model=a"], mtime=t0)
    make_run(root / "multirun" / "s1" / "1_b", "net-b", rows("net-b", 0.6, 0.1),
             overrides=["model=b"], mtime=t0 + 1)
    make_run(root / "runs" / "late_a", "net-a", rows("net-a", 0.7, 0.3), seed=3, mtime=t0 + 2)
    killed = root / "multirun" / "s1" / "2_c"                 # killed job: no summary.json
    killed.mkdir(parents=True)
    T.write(T.metric_table([T.row("edge", "o1_acc", "net-c", 9.0, ceiling=1, normalized=9)]), killed / "metrics.csv")
    return root


def test_only_folders_with_a_summary_are_trusted(results):
    found = [p.relative_to(results).as_posix() for p in store.run_folders(results)]
    assert found == ["multirun/s1/0_a", "multirun/s1/1_b", "runs/late_a"]
    info = store.runs(results)
    assert info["run"].tolist() == found                     # oldest first
    assert info["model"].tolist() == ["net-a", "net-b", "net-a"]
    assert info["seed"].tolist() == [0, 0, 3]
    assert info["overrides"].tolist() == ["model=a", "model=b", ""]
    assert info["sets"].tolist() == ["edge"] * 3


def test_collect_writes_one_parquet_table(results):
    table = store.collect(results)
    assert (results / store.TABLE).is_file()
    assert len(table) == 3 * 6 and "net-c" not in set(table["model"])
    back = pd.read_parquet(results / store.TABLE)
    pd.testing.assert_frame_equal(back, table)
    r = table[(table["run"] == "runs/late_a") & (table["dataset"] == "edge")
              & (table["metric"] == "o1_acc")]
    assert r["value"].item() == pytest.approx(0.7) and r["normalized"].item() == pytest.approx(0.7 / 0.9)


def test_collect_rereads_only_changed_runs(results):
    store.collect(results)
    # a run whose summary changed is re-read; an unchanged one comes from the table
    make_run(results / "multirun" / "s1" / "1_b", "net-b", rows("net-b", 0.65, 0.1),
             mtime=1_700_000_000_000_000_009)
    (results / "multirun" / "s1" / "0_a" / "metrics.csv").write_text("garbage\n")  # not re-read
    table = store.collect(results)
    b = table[(table["model"] == "net-b") & (table["metric"] == "o1_acc") & (table["dataset"] == "edge")]
    assert b["value"].item() == pytest.approx(0.65)
    a = table[(table["run"] == "multirun/s1/0_a") & (table["metric"] == "o1_acc")
              & (table["dataset"] == "edge")]
    assert a["value"].item() == pytest.approx(0.5)
    # a deleted run leaves the table
    (results / "runs" / "late_a" / "summary.json").unlink()
    assert "runs/late_a" not in set(store.collect(results)["run"])


def test_select_patterns_and_sql(results):
    table = store.collect(results)
    sel = store.select(table, model=["net-*"], dataset=["edge"], metric=["o1*", "i1"])
    assert set(sel["metric"]) == {"o1_acc", "i1"} and len(sel) == 6
    sql = store.select(table, where="normalized > 0.6 AND dataset = 'edge'")
    expect = table[(table["normalized"] > 0.6) & (table["dataset"] == "edge")]
    assert sorted(sql["value"]) == sorted(expect["value"]) and len(sql) == 2


def test_compare_latest_run_per_model(results):
    table = store.collect(results)
    wide = store.compare(table, value="value")
    assert list(wide.columns) == ["net-b", "net-a", "humans", "delta"]
    assert wide.loc[("edge", "", "o1_acc"), "net-a"] == pytest.approx(0.7)     # the later run
    assert wide.loc[("edge", "", "o1_acc"), "delta"] == pytest.approx(0.7 - 0.6)
    assert wide.loc[("aggregate", "", "error_consistency"), "humans"] == pytest.approx(0.3)
    assert wide.loc[("aggregate", "", "o1_acc"), "net-a"] == pytest.approx(0.7)   # recomputed: edge only
    by_run = store.compare(table, by="run", value="normalized")
    assert list(by_run.columns[:3]) == ["multirun/s1/0_a", "multirun/s1/1_b", "runs/late_a"]


def test_compare_keeps_every_data_set_and_aggregates_like_for_like(tmp_path):
    """A 2x2 sweep (two models x edge, silhouette) run as four runs, plus one model's extra
    data set: every data set of every model stays, and the aggregate is the mean over the
    data sets both models have, never the latest run's own aggregate."""
    root, t0 = tmp_path / "results", 1_700_000_000_000_000_000
    k = 0
    for model, o1 in (("net-a", 0.5), ("net-b", 0.7)):
        for ds, shift in (("edge", 0.0), ("silhouette", 0.1)):
            make_run(root / "multirun" / "s" / f"{k}", model, rows(model, o1 + shift, 0.2, ds), mtime=t0 + k)
            k += 1
    make_run(root / "runs" / "extra", "net-b", rows("net-b", 0.2, 0.1, "cue-conflict"), mtime=t0 + k)
    wide = store.compare(store.collect(root), value="value")
    for ds, a, b in (("edge", 0.5, 0.7), ("silhouette", 0.6, 0.8)):
        assert wide.loc[(ds, "", "o1_acc"), "net-a"] == pytest.approx(a)
        assert wide.loc[(ds, "", "o1_acc"), "net-b"] == pytest.approx(b)
    assert wide.loc[("cue-conflict", "", "o1_acc"), "net-b"] == pytest.approx(0.2)
    assert pd.isna(wide.loc[("cue-conflict", "", "o1_acc"), "net-a"])        # the gap shows
    agg = wide.loc[("aggregate", "", "o1_acc")]
    assert agg["net-a"] == pytest.approx(0.55) and agg["net-b"] == pytest.approx(0.75)   # not 0.2
    assert wide.attrs["aggregate_over"] == ["edge", "silhouette"]
    assert wide.attrs["not_in_aggregate"] == {"net-b": ["cue-conflict"]}


def test_results_cli(results, capsys):
    assert results_cli.main(["--dir", str(results), "list"]) == 0
    out = capsys.readouterr().out
    assert "multirun/s1/0_a" in out and "2_c" not in out
    assert results_cli.main(["--dir", str(results), "table", "--metric", "i1", "--model",
                             "net-b", "--format", "csv"]) == 0
    df = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert df["value"].tolist() == [0.1] and df["run"].tolist() == ["multirun/s1/1_b"]
    assert results_cli.main(["--dir", str(results), "compare", "--dataset", "edge",
                             "--value", "normalized", "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    o1 = next(r for r in recs if r["metric"] == "o1_acc")
    assert o1["net-a"] == pytest.approx(0.7 / 0.9) and o1["net-b"] == pytest.approx(0.6 / 0.9)
    with pytest.raises(SystemExit):
        results_cli.main(["--dir", str(results), "table", "--where", "value >"])
    assert "--where" in capsys.readouterr().err


# ---------------------------------------------------------------- the run memo

def _cfg(**over):
    cfg = OmegaConf.create({"model": {"name": "m", "arch": "m", "weights_file": None, "seed": 0},
                            "stimuli": {"name": "edge"}, "seed": 0, "results_dir": "results",
                            "cache_answers": True,
                            "trainer": {"batch_size": 32, "progress_bar": True, "num_workers": 1}})
    for k, v in over.items():
        OmegaConf.update(cfg, k, v)
    return cfg


def test_job_key_follows_what_determines_results(tmp_path):
    base = store.job_key(_cfg())
    assert store.job_key(_cfg()) == base
    for volatile in ({"results_dir": "elsewhere"}, {"trainer.progress_bar": False},
                     {"trainer.num_workers": 4}):
        assert store.job_key(_cfg(**volatile)) == base, volatile
    for relevant in ({"seed": 1}, {"model.name": "n"}, {"stimuli.name": "silhouette"},
                     {"trainer.batch_size": 16}):
        assert store.job_key(_cfg(**relevant)) != base, relevant
    w = tmp_path / "w.pth"
    w.write_bytes(b"weights-1")
    k1 = store.job_key(_cfg(**{"model.weights_file": str(w)}))
    w.write_bytes(b"weights-2")
    os.utime(w, ns=(1, 1))
    assert store.job_key(_cfg(**{"model.weights_file": str(w)})) != k1   # content counts


def test_remember_and_recall(tmp_path, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    run = make_run(tmp_path / "run1", "net-a", rows("net-a", 0.5, 0.2))
    (run / "summary.json").unlink()                 # the app writes it after the runner
    (run / "responses" / "edge").mkdir(parents=True)
    (run / "responses" / "edge" / "edge_net-a_session-1.csv").write_text("subj\nnet-a\n")
    (run / "main.log").write_text("log")
    (run / ".metrics.csv.part").write_text("half")             # unfinished: never remembered
    summary = {"model": "net-a", "forward_passes": 5, "aggregate": {"i1": float("nan")}}
    assert store.recall("k" * 64, tmp_path / "run2") is None
    entry = store.remember("k" * 64, run, summary)
    assert sorted(p.relative_to(entry).as_posix() for p in entry.rglob("*") if p.is_file()) == [
        "digests.json", "metrics.csv", "responses/edge/edge_net-a_session-1.csv", "summary.json"]
    out = tmp_path / "run2"
    s = store.recall("k" * 64, out)
    assert s == {"model": "net-a", "forward_passes": 0, "aggregate": {"i1": None},
                 "timing": {"images": 0, "forward_seconds": 0.0}, "reused": "k" * 64}
    assert (out / "metrics.csv").read_bytes() == (run / "metrics.csv").read_bytes()
    assert (out / "responses/edge/edge_net-a_session-1.csv").read_text() == "subj\nnet-a\n"
    assert not (out / "summary.json").exists()       # not trusted until the app writes it
    assert not list(out.rglob("*.part")) and not list(entry.parent.glob(".*.part"))


def test_results_cli_compare_aggregate_says_what_it_averages(tmp_path, capsys):
    root, t0 = tmp_path / "results", 1_700_000_000_000_000_000
    make_run(root / "a_edge", "net-a", rows("net-a", 0.5, 0.2, "edge"), mtime=t0)
    make_run(root / "a_sil", "net-a", rows("net-a", 0.7, 0.2, "silhouette"), mtime=t0 + 1)
    make_run(root / "b_edge", "net-b", rows("net-b", 0.6, 0.2, "edge"), mtime=t0 + 2)
    assert results_cli.main(["--dir", str(root), "compare", "--dataset", "aggregate", "--metric", "o1_acc"]) == 0
    out = capsys.readouterr().out
    assert "every model has (edge)" in out and "net-a: also ran silhouette" in out
    assert results_cli.main(["--dir", str(root), "compare", "--dataset", "aggregate", "--metric", "o1_acc",
                             "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert [r["dataset"] for r in recs] == ["aggregate"]
    assert recs[0]["net-a"] == pytest.approx(0.5) and recs[0]["net-b"] == pytest.approx(0.6)


def test_compare_keeps_each_layer_of_an_analysis(tmp_path):
    root, t0 = tmp_path / "results", 1_700_000_000_000_000_000
    rows_ = [T.row("layer_decoding", "category_accuracy", "net", v, layer=layer)
             for layer, v in (("blocks.0", 0.6), ("blocks.6", 0.99))]
    make_run(root / "a", "net", rows_, mtime=t0)
    wide = store.compare(store.collect(root), value="value")
    assert wide.loc[("layer_decoding", "@layer=blocks.0", "category_accuracy"), "net"] == pytest.approx(0.6)
    assert wide.loc[("layer_decoding", "@layer=blocks.6", "category_accuracy"), "net"] == pytest.approx(0.99)
