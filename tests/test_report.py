"""The report: analyses with known answers, and ``psychobench-report`` end to end, its HTML
opened in headless Chromium.

The runs here need no network: a "model" is one human observer's answers (model-vs-human's
cue-conflict and contrast data), written as a run folder exactly as a vision run writes it and
scored by the project's scoring code, so that every expected value can be computed directly
from that observer's trials.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychobench.consistency import agreement, benchmark
from psychobench.report import analyses

pytestmark = pytest.mark.timeout(600)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def fake_run(folder: Path, model: str, tables: dict[str, pd.DataFrame]) -> Path:
    """A run folder (trials.parquet, metrics.csv, summary.json last) of ``tables`` as one model,
    scored by the project's own scorer against the registered human data."""
    import psychobench as pb
    from psychobench.consistency import table as T
    from psychobench.experiments import mvh
    from psychobench.results.run_folder import RunFolder

    folder.mkdir(parents=True)
    tables = {ds: t.assign(subject=model) for ds, t in tables.items()}
    humans = pd.concat(mvh.load_humans(list(tables)).values(), ignore_index=True)
    metrics = pb.score(pd.concat(tables.values(), ignore_index=True), humans, n_splits=4, n_boot=20)
    run = RunFolder(folder)
    run.write_config("seed: 0\nmetrics:\n  n_splits: 4\n  split: subjects\n")
    run.write_trials(tables, model)
    run.write_metrics(metrics)
    run.write_summary({"model": model, **T.summary_view(metrics, model), "n_trials": sum(map(len, tables.values())),
                       "forward_passes": 0})
    return folder


@pytest.fixture(scope="module")
def human(humans):
    return {ds: humans[ds] for ds in ("cue-conflict", "contrast")}


@pytest.fixture(scope="module")
def results(tmp_path_factory, human):
    root = tmp_path_factory.mktemp("report") / "results"
    for i, subj in enumerate(["subject-01", "subject-02"]):
        fake_run(root / "multirun" / "s" / f"{i}_{subj}", f"obs-{subj}",
                 {ds: h[h["subject"] == subj].drop(columns="condition_raw", errors="ignore")
                  for ds, h in human.items()})
    return root


def test_psychometric_points_are_the_observers_accuracies(results, human):
    data = analyses.load(results)
    pts = analyses.psychometric_points(data)
    assert set(pts["dataset"]) == {"contrast"}                  # cue-conflict has no levels
    h = human["contrast"]
    one = pts[pts["observer"] == "obs-subject-01"].set_index("level")
    direct = h[h["subject"] == "subject-01"].groupby("condition")["correct"].mean()
    for cond, acc in direct.items():
        assert one.loc[float(cond[1:]) / 100, "accuracy"] == pytest.approx(acc)
    pooled = pts[pts["observer"] == "humans"].set_index("level")
    for cond, acc in h.groupby("condition")["correct"].mean().items():
        assert pooled.loc[float(cond[1:]) / 100, "accuracy"] == pytest.approx(acc)
    assert (pts["ci_low"] <= pts["accuracy"]).all() and (pts["accuracy"] <= pts["ci_high"]).all()
    np.testing.assert_allclose(pts["x"], np.log10(pts["level"]))         # contrast: log10 axis
    curves = analyses.psychometric_curves(pts)
    assert set(curves["observer"]) == {"obs-subject-01", "obs-subject-02", "humans"}
    assert curves.groupby("observer")["p"].apply(lambda p: p.iloc[-1] > p.iloc[0]).all()


def test_wilson_interval_known_value():
    lo, hi = analyses.wilson(np.array([8]), np.array([10]))
    assert lo[0] == pytest.approx(0.4902, abs=1e-4) and hi[0] == pytest.approx(0.9433, abs=1e-4)


def test_shape_bias_per_category_matches_the_benchmark(results, human):
    data = analyses.load(results)
    sb = analyses.shape_bias_by_category(data)
    h = human["cue-conflict"]
    for subj in ("subject-01", "subject-02"):
        g = sb[sb["observer"] == f"obs-{subj}"]
        assert len(g) == 16
        overall = g["shape_hits"].sum() / (g["shape_hits"].sum() + g["texture_hits"].sum())
        assert overall == pytest.approx(benchmark.shape_bias(h[h["subject"] == subj]))
    hum = sb[sb["observer"] == "humans"]
    assert hum["shape_hits"].sum() / (hum["shape_hits"].sum() + hum["texture_hits"].sum()) \
        == pytest.approx(benchmark.shape_bias(h))


def test_error_consistency_matrix(results, human):
    data = analyses.load(results)
    m = analyses.error_consistency_matrix(data, "cue-conflict")
    k = m.pivot(index="a", columns="b", values="kappa")
    assert k.loc["obs-subject-01", "subject-01"] == pytest.approx(1.0)   # same answers
    np.testing.assert_allclose(k.to_numpy(), k.to_numpy().T, equal_nan=True)
    h = human["cue-conflict"].sort_values("stimulus_id")
    a = h[h["subject"] == "subject-01"]["correct"].to_numpy(bool)
    b = h[h["subject"] == "subject-03"]["correct"].to_numpy(bool)
    assert k.loc["obs-subject-01", "subject-03"] == pytest.approx(
        float(agreement.error_consistency(a, b)))
    assert m[m["kind_a"] == "model"]["a"].nunique() == 2 and m["a"].nunique() == 12


def test_leaderboard_and_ceilings(results):
    data = analyses.load(results)
    board = analyses.leaderboard(data)
    m = data.metrics
    m = m[m["ceiling"].notna() & (m["dataset"] != "aggregate") & np.isfinite(m["normalized"])
          & (m["observer"] == m["model"])]
    expect = m.groupby("model")["normalized"].mean().sort_values(ascending=False)
    assert board["model"].tolist() == expect.index.tolist()
    np.testing.assert_allclose(board["mean_normalized"], expect.to_numpy())
    # both observers have every cell, so the like-for-like mean is each one's whole mean
    assert (board["n_scores"] == board["n_own"]).all() and (board["n_own"] == board["n_all"]).all()
    assert (board["missing"] == "").all()
    ceil = analyses.ceiling_table(data)
    assert set(ceil["dataset"]) == {"cue-conflict", "contrast"}
    ok = ceil.dropna(subset=["ceiling_ci_low", "ceiling_ci_high"])
    assert len(ok) > 0 and (ok["ceiling_ci_low"] <= ok["ceiling_ci_high"]).all()


def _render(html: Path, tmp: Path) -> str:
    """The DOM of ``html`` after loading in headless Chromium, with a probe that records how
    many images loaded with a non-zero size."""
    probe = ("<script>window.addEventListener('load',()=>{const i=[...document.images];"
             "document.body.setAttribute('data-images',i.length);document.body.setAttribute("
             "'data-loaded',i.filter(x=>x.complete&&x.naturalWidth>0).length);});</script>")
    page = tmp / "probe.html"
    page.write_text(html.read_text().replace("</body>", probe + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
             "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed")
def test_report_cli_renders_in_chromium(results, tmp_path):
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.report", "--dir", str(results),
                          "--out", str(out)], capture_output=True,
                         text=True, timeout=500)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    nb = json.loads((out / "report.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code)
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    pngs = sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))
    # leaderboard, benchmark bars, consistency vs accuracy, ceiling bars, psychometric, accuracy and
    # error consistency per condition, shape bias, error consistency x 2 data sets, confusion matrices
    assert pngs == 10
    html = (out / "report.html").read_text()
    assert "not available" not in html
    dom = _render(out / "report.html", tmp_path)
    n = re.search(r'data-images="(\d+)"', dom)
    loaded = re.search(r'data-loaded="(\d+)"', dom)
    assert n and loaded, "the page did not finish loading"
    assert int(n[1]) == 10 and int(loaded[1]) == 10
    assert "Leaderboard" in dom and "Shape bias per category" in dom and "Glossary" in dom
    assert "Every model has all" in dom                                   # the same cells for both
    assert "Hearing" not in dom                                           # no hearing run


def test_report_says_what_is_missing(tmp_path):
    """Runs without consistency blocks, trials or parametric sets still give a report."""
    from psychobench.consistency import table as T
    from psychobench.results.run_folder import RunFolder

    run = RunFolder(tmp_path / "results" / "runs" / "r1")
    run.write_metrics(T.metric_table([T.row("edge", "ood_accuracy", "net", 0.4, n=160)]))
    run.write_summary({"model": "net", "datasets": {"edge": {}}, "n_trials": 160, "forward_passes": 5})
    from psychobench.cli.report import build

    ipynb, html = build(tmp_path / "results", tmp_path / "out")
    # leaderboard, consistency vs accuracy, ceilings, psychometric, per condition, shape bias,
    # error consistency, confusion matrices
    assert html.read_text().count("not available for these runs") == 8
    assert "Hearing" not in html.read_text()
    nb = json.loads(ipynb.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the one figure: the benchmark bar of the model's OOD accuracy
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1


def test_psychometric_points_from_a_condition_level_comparison(tmp_path, human):
    """A regenerated parametric set is compared at the condition level: its points come from
    the run's per-condition accuracy rows (the scorer's), humans included."""
    from psychobench.consistency import scoring
    from psychobench.consistency import table as T
    from psychobench.experiments import mvh
    from psychobench.results.run_folder import RunFolder

    h = human["contrast"]
    model = h[h["subject"] == "subject-03"].assign(subject="regen-net")
    sch = mvh.scheme("contrast")
    table = scoring.condition_level(model, h, dataset="contrast", levels=sch.levels(h["condition"].unique()),
                                    transform=sch.transform, guess=1 / 16, n_boot=20, seed=0)
    run = RunFolder(tmp_path / "results" / "runs" / "regen")
    run.write_config("seed: 0\n")
    run.write_metrics(table)
    run.write_summary({"model": "regen-net", **T.summary_view(table, "regen-net")})
    pts = analyses.psychometric_points(analyses.load(tmp_path / "results"))
    assert set(pts["observer"]) == {"regen-net", "humans"}
    got = pts[pts["observer"] == "regen-net"].set_index("level")["accuracy"]
    for cond, acc in model.groupby("condition")["correct"].mean().items():
        assert got[float(cond[1:]) / 100] == pytest.approx(acc)
    hum = pts[pts["observer"] == "humans"].set_index("level")["accuracy"]
    for cond, acc in h.groupby("condition")["correct"].mean().items():
        assert hum[float(cond[1:]) / 100] == pytest.approx(acc)


# ---------------------------------------------------------------- hearing runs

def _app(folder: Path, *overrides: str) -> dict:
    res = subprocess.run([sys.executable, "-m", "psychobench.cli.main", *overrides, f"hydra.run.dir={folder}"],
                         cwd=folder.parent, capture_output=True, text=True, timeout=800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def hearing(tmp_path_factory, mirror):
    """Two real hearing runs from small presets: words in noise (the untrained word network,
    which needs no training) and pitch (CREPE)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    root = tmp_path_factory.mktemp("hearing") / "results"
    root.mkdir()
    win = _app(root / "win", "experiment=words_in_noise", "model=wordnet_untrained",
               "stimuli.n_per_cell=8", "stimuli.n_clean=16", "stimuli.backgrounds=[1,3]",
               "stimuli.n_splits=20", "stimuli.n_boot=50")
    pitch = _app(root / "pitch", "experiment=pitch", "stimuli.spectra=[low]", "stimuli.n_per_level=4",
                 "stimuli.deltas_pct=[0.5,4,32]", "stimuli.n_boot=20")
    return root, win, pitch


@pytest.mark.slow
def test_hearing_analyses_are_the_runs_numbers(hearing):
    from psychobench.consistency import table as T

    root, win, pitch = hearing
    data = analyses.load(root)
    assert analyses.runs_with_metric(data, "srt_db") == [("win", "words_in_noise")]
    assert sorted(data.runs["sets"]) == ["pitch_f0dl", "words_in_noise"]   # the experiment: runs kept apart
    pts = analyses.words_in_noise_points(data)
    t = pd.read_parquet(root / "win" / "trials.parquet")
    model = pts[pts["kind"] == "model"].set_index(["background", "snr_db"])
    noisy = t[t["background"] >= 0].groupby(["background", "snr_db"])["correct"].mean()
    np.testing.assert_allclose(model.loc[noisy.index, "accuracy"], noisy.to_numpy())
    clean = t.loc[t["background"] < 0, "correct"].mean()
    assert set(model.index.get_level_values(0)) == {1, 3}
    for bg in (1, 3):
        assert model.loc[(bg, np.inf), "accuracy"] == pytest.approx(clean)   # shared clean cell
    m = T.read(root / "win" / "metrics.csv")
    hc = m[(m["metric"] == "accuracy") & (m["observer"] == "humans")].set_index("condition")["value"]
    hum = pts[pts["kind"] == "humans"]
    name = {0: "scene", 1: "babble8", 2: "music", 3: "ssn", 4: "modulated"}
    hum_cells = {f"{name[b]}_snr{s:+g}": a for b, s, a in zip(hum["background"], hum["snr_db"], hum["accuracy"])
                 if np.isfinite(s)}
    np.testing.assert_allclose([hum_cells[c] for c in hc.index], hc.to_numpy())
    assert (hum["ci_low"] <= hum["accuracy"]).all() and (hum["accuracy"] <= hum["ci_high"]).all()
    assert set(hum["background"]) == {0, 1, 2, 3, 4} and (hum["n"] == 44).all()
    curves = analyses.words_in_noise_curves(data)
    assert set(map(tuple, curves[["kind", "background"]].drop_duplicates().to_numpy())) == {
        ("model", 1), ("model", 3), ("humans", 1), ("humans", 3)}
    assert curves["snr_db"].min() == -9.0 and curves["snr_db"].max() == 3.0
    assert curves["p"].between(0, 1).all()
    head = analyses.audio_headlines(data).set_index(["experiment", "metric"])
    r2 = head.loc[("words_in_noise", "r2_cell_means")]
    w = win["datasets"]["words_in_noise"]["consistency"]["r2_cell_means"]
    if w["value"] is None:                          # a chance-level network: r undefined
        assert np.isnan(r2["value"])
    else:
        assert r2["value"] == pytest.approx(w["value"])
    assert r2["ceiling"] == pytest.approx(w["ceiling"])
    r = pitch["datasets"]["pitch_f0dl"]["r_log_thresholds"]
    r = r["value"] if isinstance(r, dict) else r
    assert head.loc[("pitch_f0dl", "r_log_thresholds"), "value"] == pytest.approx(
        r if r is not None else np.nan, nan_ok=True)
    th = analyses.pitch_thresholds(data)
    assert len(th) == 12 and set(th["spectrum"]) == {"low"} and set(th["phase"]) == {"sine", "random"}
    pm = T.read(root / "pitch" / "metrics.csv")
    pm = pm[(pm["metric"] == "f0dl_percent") & (pm["observer"] == "crepe")].set_index("condition")
    np.testing.assert_allclose(th.set_index("condition")["threshold_percent"].loc[pm.index], pm["value"])


@pytest.mark.slow
def test_report_shows_hearing_runs(hearing, tmp_path):
    root, _, _ = hearing
    from psychobench.cli.report import build

    ipynb, html = build(root, tmp_path / "out")
    nb = json.loads(ipynb.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2   # words in noise, pitch
    text = html.read_text()
    assert "Hearing: words in noise" in text and "r2_cell_means" in text
    assert "Hearing: pitch" in text and "Glossary" in text
