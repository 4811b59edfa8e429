"""Hydra multirun sweeps end to end, with real networks on the edge and silhouette images:
every combination runs, a repeated sweep does no forward pass, a killed sweep resumes with
what is missing and trusts nothing half-written, the same config gives identical tables, and
the joblib and submitit (local) launchers run the same jobs.

Heavy (about 1100 network forward passes on 2 CPU cores: a few minutes); every subprocess
uses a cache folder of this module's own, so the forward-pass counts are exact.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from psychobench.results import store

pytestmark = [pytest.mark.timeout(1200), pytest.mark.slow]
MODELS = {"tf_efficientnet_lite0": "tf_efficientnet_lite0",
          "untrained": "tf_efficientnet_lite0-untrained"}
BATCH = 16
PASSES = 160 // BATCH            # forward calls for one 160-image set


@pytest.fixture(scope="module")
def work(tmp_path_factory, mirror):
    w = tmp_path_factory.mktemp("sweep")
    env = {**os.environ, "PSYCHOBENCH_CACHE": str(w / "cache")}
    return w, env


def cmd(w, *args):
    return [sys.executable, "-m", "psychobench.cli.main", *args, "trainer.progress_bar=false",
            f"trainer.batch_size={BATCH}", "metrics.n_boot=50", f"results_dir={w}"]


def sweep(work, name, *args):
    w, env = work
    res = subprocess.run(cmd(w, "-m", *args, f"hydra.sweep.dir={w / name}"), cwd=w, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return jobs(w / name)


def jobs(folder: Path) -> dict:
    """{(model, sets): (run folder, summary)} of the finished jobs of a sweep (one job per
    model and sets)."""
    out = {}
    for f in store.run_folders(folder):
        s = json.loads((f / "summary.json").read_text())
        out[(s["model"], ",".join(s["datasets"]))] = (f, s)
    return out


def _memo(w: Path) -> set:
    """Names of the finished entries of the run memo."""
    return {p.name for p in (w / "cache" / "runs").glob("*/*")
            if p.is_dir() and not p.name.startswith(".")}


def same_tables(a: Path, b: Path):
    pd.testing.assert_frame_equal(pd.read_parquet(a / "trials.parquet"),
                                  pd.read_parquet(b / "trials.parquet"))
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()


@pytest.fixture(scope="module")
def first(work):
    t = time.perf_counter()
    j = sweep(work, "first", f"model={','.join(MODELS)}", "stimuli=edge,silhouette")
    return j, time.perf_counter() - t


def test_every_combination_runs(first):
    j, _ = first
    assert set(j) == {(m, s) for m in MODELS.values() for s in ("edge", "silhouette")}
    for (model, s), (folder, summary) in j.items():
        assert summary["forward_passes"] == PASSES, (model, s)
        assert summary["n_trials"] == 160
        assert (folder / f"responses/{s}/{s}_{model.replace('_', '-')}_session-1.csv").is_file()
        assert {"o1_acc", "i1", "error_consistency"} <= set(summary["datasets"][s]["consistency"])
    # the pretrained network beats its untrained twin on both sets
    for s in ("edge", "silhouette"):
        assert j[("tf_efficientnet_lite0", s)][1]["datasets"][s]["accuracy"] > \
            j[("tf_efficientnet_lite0-untrained", s)][1]["datasets"][s]["accuracy"] + 0.1


def test_repeated_sweep_does_no_forward_pass(work, first):
    j1, t_first = first
    t = time.perf_counter()
    j2 = sweep(work, "repeat", f"model={','.join(MODELS)}", "stimuli=edge,silhouette")
    t_repeat = time.perf_counter() - t
    assert set(j2) == set(j1)
    for key, (folder, summary) in j2.items():
        assert summary["forward_passes"] == 0, key
        same_tables(j1[key][0], folder)
    assert t_repeat < t_first / 2          # bench_sweep.py measures the ratio itself


def test_same_config_same_tables_without_any_cache(work, first):
    w, env = work
    run = w / "fresh"
    res = subprocess.run(cmd(w, "model=untrained", "stimuli=edge", "cache_answers=false",
                             f"hydra.run.dir={run}"), cwd=w, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-4000:]
    assert json.loads((run / "summary.json").read_text())["forward_passes"] == PASSES
    same_tables(first[0][("tf_efficientnet_lite0-untrained", "edge")][0], run)


def test_killed_sweep_resumes_with_what_is_missing(work):
    w, env = work
    args = ["-m", "model=untrained", "model.seed=21,22", "stimuli=edge"]
    killed = w / "killed"
    proc = subprocess.Popen(cmd(w, *args, f"hydra.sweep.dir={killed}"), cwd=w, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not list(killed.glob("0_*/summary.json")):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = store.run_folders(killed)
    assert [f.name for f in finished] == ["0_tf_efficientnet_lite0-untrained"]
    memo_before = _memo(w)
    sweep(work, "resumed", *args[1:])
    passes = [json.loads((f / "summary.json").read_text())["forward_passes"]
              for f in store.run_folders(w / "resumed")]
    assert passes == [0, PASSES]                        # job 0 recalled, job 1 recomputed
    # the killed job left nothing that was trusted: the memo gained exactly the resumed job
    memo_after = _memo(w)
    assert len(memo_after - memo_before) == 1
    assert not list((w / "cache" / "answers").rglob("*.part"))


def test_joblib_launcher(work, first):
    w, _ = work
    j = sweep(work, "joblib", "launcher=joblib", "hydra.launcher.n_jobs=2",
              f"model={','.join(MODELS)}", "model.seed=31", "stimuli=edge")
    cfg = (w / "joblib" / "multirun.yaml").read_text()
    assert "hydra_joblib_launcher.joblib_launcher.JoblibLauncher" in cfg
    assert set(j) == {(m, "edge") for m in MODELS.values()}
    # pretrained answers come from the answer cache; the new untrained seed is computed
    assert j[("tf_efficientnet_lite0", "edge")][1]["forward_passes"] == 0
    assert j[("tf_efficientnet_lite0-untrained", "edge")][1]["forward_passes"] == PASSES
    same_tables(first[0][("tf_efficientnet_lite0", "edge")][0],
                j[("tf_efficientnet_lite0", "edge")][0])


def test_submitit_local_launcher(work):
    w, _ = work
    j = sweep(work, "submitit", "launcher=submitit_local", "model=untrained", "model.seed=41",
              "stimuli=edge")
    assert "hydra_submitit_launcher.submitit_launcher.LocalLauncher" in \
        (w / "submitit" / "multirun.yaml").read_text()
    assert list((w / "submitit" / ".submitit").iterdir())          # submitit's job folders
    ((model, _), (folder, summary)), = j.items()
    assert model == "tf_efficientnet_lite0-untrained" and summary["forward_passes"] == PASSES


def test_results_table_across_sweeps(work, first):
    w, _ = work
    table = store.collect(w)
    assert (w / store.TABLE).is_file()
    info = store.runs(w)
    assert set(info["run"]) == set(table["run"])
    # every finished job of this module is listed once; the killed job is not
    assert not info["run"].str.startswith("killed/1_").any()
    assert info["run"].str.startswith("first/").sum() == 4
