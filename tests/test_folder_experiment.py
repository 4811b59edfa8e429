"""A scientist's own experiment from a folder, with no code: the built-in edge experiment copied
into a folder under another name gives every value the built-in one gives; human files of any
data-set name score through ``psychobench-score --humans`` and the Python API; bad folders are
refused before any network runs, with the file, line and column named."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def run_app(cwd: Path, run: Path, *overrides: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "psychobench.cli.main", *overrides, "trainer.progress_bar=false",
                           f"hydra.run.dir={run}"], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def edge_folder(tmp_path_factory, mirror):
    """``DIR = my-drawings/``: the edge images in category subfolders and the ten observers'
    model-vs-human CSVs renamed to another data set."""
    from psychobench.data import registry
    from psychobench.stimuli.sets import texture_shape

    root = tmp_path_factory.mktemp("folder") / "my-drawings"
    stim = texture_shape("edge")
    for rel in stim.manifest["path"]:
        dst = root / "stimuli" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(stim.root / rel, dst)
    hum = registry.fetch_dataset("humans/edge", progress=False)
    (root / "humans").mkdir()
    for f in sorted(hum.glob("*.csv")):
        shutil.copy(f, root / "humans" / f.name.replace("edge_", "drawings_"))
    return root


@pytest.fixture(scope="module")
def both_runs(edge_folder, tmp_path_factory):
    work = tmp_path_factory.mktemp("runs")
    env = {"PSYCHOBENCH_CACHE": str(work / "cache")}
    args = ["metrics.n_boot=100", "seed=3"]
    a = run_app(work, work / "builtin", "stimuli=edge", *args, env=env)
    assert a.returncode == 0, a.stderr[-3000:]
    b = run_app(work, work / "folder", "stimuli=folder", f"stimuli.path={edge_folder}", *args, env=env)
    assert b.returncode == 0, b.stderr[-3000:]
    return work


def test_folder_copy_of_edge_gives_every_value_of_the_builtin(both_runs):
    from psychobench.consistency import table as T

    a = T.read(both_runs / "builtin" / "metrics.csv")
    b = T.read(both_runs / "folder" / "metrics.csv")
    assert set(b["dataset"]) == {"my-drawings", "aggregate"}          # the folder's name
    b = b.assign(dataset=b["dataset"].replace({"my-drawings": "edge"}))
    key = ["dataset", "condition", "metric", "observer"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    assert len(a) >= 30
    pd.testing.assert_frame_equal(a[key], b[key])
    np.testing.assert_array_equal(a["status"], b["status"])
    for c in T.NUMERIC:
        np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=0, atol=0,
                                   equal_nan=True, err_msg=c)
    s = json.loads((both_runs / "folder" / "summary.json").read_text())
    assert s["forward_passes"] == 0                   # the same images: answers from the cache


def test_psychobench_score_with_humans_of_any_data_set_name(both_runs, edge_folder):
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.score", str(both_runs / "folder" / "responses"),
                          "--humans", str(edge_folder / "humans"), "--format", "json", "--n-boot", "100",
                          "--seed", "3"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    scored = json.loads(res.stdout)
    summary = json.loads((both_runs / "folder" / "summary.json").read_text())
    assert set(scored["datasets"]) == {"my-drawings"} == set(summary["datasets"])
    # the folder's humans are named "drawings_subject-NN", the run's responses "my-drawings_...": a
    # humans folder is the human data of the one experiment scored, whatever its files' names
    assert scored["datasets"]["my-drawings"] == summary["datasets"]["my-drawings"]


def test_python_api_reads_and_scores_a_folder(both_runs, edge_folder):
    import psychobench as pb

    humans = pb.read_trials(edge_folder / "humans").assign(experiment="my-drawings")
    model = pb.read_trials(both_runs / "folder" / "responses")
    assert set(model["experiment"]) == {"my-drawings"} and len(model) == 160
    table = pb.score(model, humans, n_boot=100, seed=3)
    run = pd.read_csv(both_runs / "folder" / "metrics.csv", keep_default_na=False)
    ours = table.set_index(["dataset", "metric", "observer", "condition"])["value"]
    theirs = run.set_index(["dataset", "metric", "observer", "condition"])["value"].replace("", np.nan).astype(float)
    common = ours.index.intersection(theirs.index)
    assert len(common) == len(theirs)
    np.testing.assert_allclose(ours.loc[common].to_numpy(float), theirs.loc[common].to_numpy(float), equal_nan=True)
    assert not pb.score(model, humans, ceilings=False)["ceiling"].notna().any()


def _copy(edge_folder: Path, dst: Path) -> Path:
    shutil.copytree(edge_folder, dst)
    return dst


def _fails_before_any_network(tmp_path, folder, *overrides):
    tmp_path.mkdir(parents=True, exist_ok=True)
    run = tmp_path / "run"
    res = run_app(tmp_path, run, "stimuli=folder", f"stimuli.path={folder}", *overrides,
                  env={"PSYCHOBENCH_CACHE": str(tmp_path / "cache")})
    assert res.returncode != 0
    assert not (run / "summary.json").exists() and not (run / "trials.parquet").exists()
    assert not list((tmp_path / "cache").rglob("answers/*/*.parquet"))        # no network ran
    return res.stderr


def test_unknown_stimulus_and_category_are_named_before_any_network(edge_folder, tmp_path):
    bad = _copy(edge_folder, tmp_path / "bad-stimulus")
    f = bad / "humans" / "drawings_subject-03_session_1.csv"
    lines = f.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[-1], "0005_edg_s03_0_cat_00_unicorn7.png")
    f.write_text("\n".join(lines) + "\n")
    err = _fails_before_any_network(tmp_path / "a", bad)
    assert f"{f}: line 6, column 'imagename'" in err and "unicorn7.png" in err

    bad = _copy(edge_folder, tmp_path / "bad-category")
    f = bad / "humans" / "drawings_subject-02_session_1.csv"
    lines = f.read_text().splitlines()
    parts = lines[3].split(",")
    parts[5] = "knife" if parts[5] != "knife" else "oven"
    lines[3] = ",".join(parts)
    f.write_text("\n".join(lines) + "\n")
    err = _fails_before_any_network(tmp_path / "b", bad)
    assert f"{f}: line 4, column 'category'" in err


def test_stimuli_no_human_saw_are_listed(edge_folder, tmp_path):
    extra = _copy(edge_folder, tmp_path / "extra")
    src = next((extra / "stimuli" / "bear").glob("*.png"))
    shutil.copy(src, extra / "stimuli" / "bear" / "bear-extra.png")
    err = _fails_before_any_network(tmp_path / "a", extra)
    assert "1 of 161 stimuli no human saw: bear-extra.png" in err and "stimuli.comparison=none" in err


def test_other_categories_need_a_readout_that_answers_them(tmp_path, edge_folder):
    odd = tmp_path / "fruit"
    for cat in ("apple", "pear"):
        (odd / "stimuli" / cat).mkdir(parents=True)
        for k in range(2):
            shutil.copy(next((edge_folder / "stimuli" / "cat").glob("*.png")), odd / "stimuli" / cat / f"{cat}{k}.png")
    err = _fails_before_any_network(tmp_path / "a", odd)
    assert "are not ImageNet classes" in err and "model/readout=identity" in err


def test_manifest_layout_with_conditions(tmp_path, edge_folder):
    """Any layout with stimuli/manifest.csv (file, category, condition); no humans: accuracy."""
    from psychobench.experiments.folder import from_folder

    d = tmp_path / "flat"
    (d / "stimuli" / "all").mkdir(parents=True)
    rows = []
    for i, cat in enumerate(("cat", "dog", "car", "cat")):
        src = next((edge_folder / "stimuli" / cat).glob("*.png"))
        name = f"img{i}.png"
        shutil.copy(src, d / "stimuli" / "all" / name)
        rows.append({"file": f"all/{name}", "category": cat, "condition": "0.5" if i % 2 else "1.0"})
    pd.DataFrame(rows).to_csv(d / "stimuli" / "manifest.csv", index=False)
    exp = from_folder(d)
    assert exp.name == "flat" and exp.comparison == "none" and exp.answers.labels == ("car", "cat", "dog")
    s = exp.stimuli()
    assert s.manifest["condition"].tolist() == ["1.0", "0.5", "1.0", "0.5"]
    assert exp.conditions.parametric and exp.conditions.levels(["0.5"]) == {"0.5": 0.5}
    pd.DataFrame(rows[:1]).drop(columns="category").to_csv(d / "stimuli" / "manifest.csv", index=False)
    from psychobench.experiments.folder import FolderError
    with pytest.raises(FolderError, match="needs the columns 'file' .* and 'category'"):
        from_folder(d)
