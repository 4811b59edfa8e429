"""The report's benchmark figures and like-for-like aggregates: analyses with known answers on
small metric and trial tables, the glossary against every metric code the scorers can write,
and the hearing section shown only where hearing runs exist."""

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychobench.consistency import agreement
from psychobench.consistency import table as T
from psychobench.report import analyses, plots

pytestmark = pytest.mark.timeout(600)
PACKAGE = Path(analyses.__file__).resolve().parents[1]


def write_run(root: Path, name: str, model: str, rows: list[dict] | pd.DataFrame, *, config: str = "seed: 0\n",
              trials: dict | None = None, headline: dict | None = None) -> Path:
    from psychobench.results.run_folder import RunFolder

    run = RunFolder(root / "runs" / name)
    run.write_config(config)
    if trials:
        run.write_trials({ds: t.assign(subject=model) for ds, t in trials.items()}, model)
    table = rows if isinstance(rows, pd.DataFrame) else T.metric_table(rows)
    run.write_metrics(table)
    run.write_summary({"model": model, **T.summary_view(table, model), **({"headline": headline} if headline else {}),
                       "n_trials": 10, "forward_passes": 0})
    return run.path


def cell(ds, metric, model, norm, ceiling=0.8):
    value = norm * ceiling if np.isfinite(norm) else np.nan
    return T.row(ds, metric, model, value, ceiling=ceiling, ceiling_ci=(ceiling - 0.1, ceiling + 0.05),
                 normalized=norm, n=100)


# ---------------------------------------------------------------- like for like

def test_like_for_like_means_cover_only_the_shared_cells():
    cells = pd.DataFrame({"model": ["a", "a", "a", "b", "b", "b"],
                          "dataset": ["x", "x", "y", "x", "x", "y"],
                          "metric": ["i1", "o1_acc", "i1", "i1", "o1_acc", "i1"],
                          "value": [0.2, 0.4, 0.9, 0.6, 0.8, np.nan]})
    per, common = analyses.like_for_like(cells, ["dataset", "metric"])
    assert sorted(common) == [("x", "i1"), ("x", "o1_acc")]
    per = per.set_index("model")
    assert per.loc["a", "mean"] == pytest.approx(0.3)          # not (0.2 + 0.4 + 0.9) / 3
    assert per.loc["b", "mean"] == pytest.approx(0.7)
    assert per.loc["a", "n_own"] == 3 and per.loc["b", "n_own"] == 2 and (per["n_all"] == 3).all()
    assert per.loc["b", "missing"] == "y/i1" and per.loc["a", "missing"] == ""


def test_like_for_like_without_a_shared_cell_gives_no_mean():
    cells = pd.DataFrame({"model": ["a", "b"], "dataset": ["x", "y"], "value": [0.5, 0.6]})
    per, common = analyses.like_for_like(cells, ["dataset"])
    assert common == [] and per["mean"].isna().all()
    note = analyses.coverage_note(per)
    assert note.startswith("None of the 2 (data set, metric) cells is shared") and "a lacks 1: y." in note


def test_leaderboard_is_like_for_like_and_names_the_gap(tmp_path):
    root = tmp_path / "results"
    write_run(root, "r1", "net-a", [cell("edge", "i1", "net-a", 0.5), cell("edge", "o1_acc", "net-a", 0.7),
                                    cell("silhouette", "i1", "net-a", 0.9)])
    write_run(root, "r2", "net-b", [cell("edge", "i1", "net-b", 0.4), cell("edge", "o1_acc", "net-b", 0.4),
                                    cell("silhouette", "i1", "net-b", np.nan)])
    board = analyses.leaderboard(analyses.load(root)).set_index("model")
    # over the two cells both have: a = (0.5 + 0.7) / 2, b = (0.4 + 0.4) / 2; a's own mean
    # over its three cells (0.7) never enters
    assert board.loc["net-a", "mean_normalized"] == pytest.approx(0.6)
    assert board.loc["net-b", "mean_normalized"] == pytest.approx(0.4)
    assert (board["n_scores"] == 2).all() and board.loc["net-b", "n_own"] == 2 and (board["n_all"] == 3).all()
    assert board.loc["net-b", "missing"] == "silhouette/i1" and board.loc["net-a", "missing"] == ""
    assert board.loc["net-a", "rank"] == 1 and board.loc["net-b", "rank"] == 2
    assert board.loc["net-a", "i1"] == pytest.approx(0.5) and board.loc["net-a", "o1_acc"] == pytest.approx(0.7)
    note = analyses.coverage_note(board.reset_index())
    assert "only the 2 of 3" in note and "net-b lacks 1: silhouette/i1" in note


def test_leaderboard_reads_whole_model_rows_not_layer_rows(tmp_path):
    root = tmp_path / "results"
    layer = cell("edge", "i1", "net-a", 0.1)
    layer["layer"] = "blocks.3"
    write_run(root, "r1", "net-a", [cell("edge", "i1", "net-a", 0.5), layer])
    board = analyses.leaderboard(analyses.load(root))
    assert board["mean_normalized"].tolist() == [pytest.approx(0.5)] and board["n_scores"].tolist() == [1]


def test_benchmark_table_averages_the_sets_every_model_has(tmp_path):
    root = tmp_path / "results"

    def rows(model, ds, ood, ec):
        return [T.row(ds, "ood_accuracy", model, ood, n=160), T.row(ds, "error_consistency", model, ec, n=160)]

    humans = rows(T.HUMANS, "edge", 0.9, 0.4) + rows(T.HUMANS, "silhouette", 0.7, 0.5)
    write_run(root, "r1", "net-a", rows("net-a", "edge", 0.3, 0.1) + rows("net-a", "silhouette", 0.5, 0.3) + humans)
    write_run(root, "r2", "net-b", rows("net-b", "edge", 0.6, 0.2) + humans
              + [T.row("cue-conflict", "shape_bias", "net-b", 0.25, n=1280),
                 T.row("cue-conflict", "shape_bias", T.HUMANS, 0.96, n=12800)])
    b = analyses.benchmark_table(analyses.load(root))
    ood = b[b["metric"] == "ood_accuracy"].set_index("observer")
    assert (ood["sets"] == "edge").all() and (ood["n_sets"] == 1).all()
    assert ood.loc["net-a", "value"] == pytest.approx(0.3)        # silhouette left out: b has none
    assert ood.loc["humans", "value"] == pytest.approx(0.9) and ood.loc["humans", "kind"] == "humans"
    assert ood.loc["net-b", "missing"] == "silhouette"
    sb = b[b["metric"] == "shape_bias"].set_index("observer")
    assert sb.loc["net-b", "value"] == pytest.approx(0.25) and sb.loc["humans", "value"] == pytest.approx(0.96)
    sc = analyses.consistency_vs_accuracy(analyses.load(root)).set_index(["dataset", "observer"])
    assert sc.loc[("silhouette", "net-a"), "error_consistency"] == pytest.approx(0.3)
    assert sc.loc[("edge", "humans"), "ood_accuracy"] == pytest.approx(0.9)
    assert len(sc) == 5


# ---------------------------------------------------------------- confusion

def test_confusion_table_from_known_trials():
    t = pd.DataFrame({"category": ["cat", "cat", "cat", "cat", "dog", "dog"],
                      "response": ["cat", "cat", "dog", "na", "dog", "cat"]})
    c = analyses.confusion_table(t, ["cat", "dog"]).set_index(["category", "response"])
    assert c.loc[("cat", "cat"), "count"] == 2 and c.loc[("cat", "dog"), "count"] == 1
    assert c.loc[("cat", analyses.OTHER_RESPONSE), "count"] == 1
    assert c.loc[("cat", "cat"), "rate"] == pytest.approx(0.5)
    assert c.loc[("dog", "cat"), "rate"] == pytest.approx(0.5) and c.loc[("dog", "other"), "count"] == 0
    with pytest.raises(ValueError, match="'bird'"):
        analyses.confusion_table(pd.DataFrame({"category": ["bird"], "response": ["cat"]}), ["cat", "dog"])


# ---------------------------------------------------------------- per condition (real human data)

@pytest.fixture(scope="module")
def contrast_run(tmp_path_factory, humans):
    """One person of model-vs-human's contrast experiment as the "model", scored item by item."""
    import psychobench as pb

    h = humans["contrast"]
    root = tmp_path_factory.mktemp("cond") / "results"
    me = h[h["subject"] == "subject-01"].drop(columns="condition_raw", errors="ignore")
    metrics = pb.score(me.assign(subject="obs-1"), h, n_splits=2, n_boot=0)
    write_run(root, "r1", "obs-1", metrics, trials={"contrast": me})
    return root, h


def test_error_consistency_per_condition(contrast_run):
    root, h = contrast_run
    data = analyses.load(root)
    cc = analyses.condition_curves(data)
    assert set(cc["observer"]) == {"obs-1", "humans"} and cc["item_level"].all()
    subjects = sorted(h["subject"].unique())
    for cond, g in h.groupby("condition"):
        w = g.pivot(index="stimulus_id", columns="subject", values="correct").astype(bool)
        me = w["subject-01"].to_numpy()
        mine = np.nanmean([agreement.error_consistency(me, w[s].to_numpy()) for s in subjects])
        pairs = np.nanmean([agreement.error_consistency(w[a].to_numpy(), w[b].to_numpy())
                            for a in subjects for b in subjects if a != b])
        got = cc[cc["condition"] == cond].set_index("observer")
        assert got.loc["obs-1", "error_consistency"] == pytest.approx(mine, nan_ok=True)
        assert got.loc["humans", "error_consistency"] == pytest.approx(pairs, nan_ok=True)
        assert got.loc["obs-1", "accuracy"] == pytest.approx(me.mean())
    conf = analyses.confusion_matrices(data)
    assert set(conf["observer"]) == {"obs-1", "humans"}
    assert conf[conf["observer"] == "humans"]["count"].sum() == len(h)
    rows = conf[conf["observer"] == "obs-1"].groupby("category")["rate"].sum()
    np.testing.assert_allclose(rows.to_numpy(), 1.0)


# ---------------------------------------------------------------- glossary

def _emitted_codes() -> tuple[set, list]:
    """Metric codes the package writes with ``T.row``: literal codes, f-strings and names bound
    by a ``for`` over a literal tuple are expanded here; other names must be listed in
    ``KNOWN`` (the constant they take their values from); anything else is reported."""
    from psychobench.consistency import benchmark, hearing, scoring
    from psychobench.experiments import layers, stages

    known = {("stages.py", "metric"): set(stages.STAGE_METRICS), ("stages.py", "change"): set(stages.STAGE_METRICS),
             ("scoring.py", "metric"): set(scoring.AGGREGATED) | set(benchmark.METRICS),
             ("hearing.py", "k"): set(hearing.CCC_RATES), ("hearing.py", "metric"): set(hearing.CONDITION_R_METRICS) | set(hearing.CONDITION_METRICS), ("layers.py", "metric"): set(layers.METRICS) | set(layers.ATTENTION_METRICS)}
    codes, unknown = set(), []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}

        def loops(node):
            while node in parents:
                node = parents[node]
                if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name) \
                        and isinstance(node.iter, (ast.Tuple, ast.List)):
                    yield node.target.id, [e.value for e in node.iter.elts if isinstance(e, ast.Constant)]

        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "row"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "T" and len(node.args) >= 2):
                continue
            arg = node.args[1]
            if isinstance(arg, ast.Constant):
                codes.add(arg.value)
            elif isinstance(arg, ast.JoinedStr) and len(arg.values) == 2 and isinstance(arg.values[1], ast.FormattedValue):
                var = arg.values[1].value.id
                vals = dict(loops(node)).get(var)
                if vals is None:
                    unknown.append(f"{path.name}:{node.lineno}")
                else:
                    codes |= {arg.values[0].value + v for v in vals}
            elif isinstance(arg, ast.Name):
                vals = dict(loops(node)).get(arg.id)
                if vals is not None:
                    codes |= set(vals)
                elif (path.name, arg.id) in known:
                    codes |= known[(path.name, arg.id)]
                else:
                    unknown.append(f"{path.name}:{node.lineno} ({arg.id})")
            else:
                unknown.append(f"{path.name}:{node.lineno}")
    return codes, unknown


def test_every_metric_code_has_a_glossary_entry():
    codes, unknown = _emitted_codes()
    assert not unknown, f"metric codes the glossary test cannot read: {unknown}"
    assert {"o1_acc", "i1n", "r2_cell_means", "fit_lapse", "dominant", "f0dl_percent", "fa_rate"} <= codes
    assert codes - set(T.GLOSSARY) == set()
    assert all(isinstance(v, str) and len(v) > 10 for v in T.GLOSSARY.values())
    g = analyses.glossary()
    assert g["metric"].tolist() == list(T.GLOSSARY) and g["meaning"].notna().all()


def test_a_scored_run_holds_only_glossary_codes(contrast_run):
    root, _ = contrast_run
    data = analyses.load(root)
    assert set(data.metrics["metric"]) <= set(T.GLOSSARY)
    g = analyses.glossary(data).set_index("metric")
    assert g.loc["error_consistency", "in these runs"] == "yes" and g.loc["srt_db", "in these runs"] == ""


# ---------------------------------------------------------------- hearing only with hearing runs

def _pitch_run(root: Path) -> None:
    """A pitch run's folder: the composed ``experiment=pitch`` config, the listeners' real
    thresholds and a model with twice theirs (so r of the log thresholds is 1)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from psychobench.results.pipeline import experiments_of

    with initialize_config_dir(str(PACKAGE.parent / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=pitch"])
    exp = experiments_of(cfg)["pitch_f0dl"]
    cond = exp.conditions_table().iloc[:6]
    rows = []
    for c, h in zip(cond["condition"], cond["human_f0dl_percent"], strict=True):
        rows += [T.row("pitch_f0dl", "f0dl_percent", "crepe", 2 * h, condition=c, n=54),
                 T.row("pitch_f0dl", "f0dl_percent", T.HUMANS, h, condition=c)]
    rows += [T.row("pitch_f0dl", "r_log_thresholds", "crepe", 1.0, n=6),
             T.row("pitch_f0dl", "n_thresholds_reached", "crepe", 6, n=6)]
    write_run(root, "pitch", "crepe", rows, config=OmegaConf.to_yaml(cfg),
              headline={"pitch_f0dl": ["r_log_thresholds", "n_thresholds_reached"]})


def _pitch_shift_run(root: Path) -> None:
    """A frequency-shift run's folder: the composed ``experiment=pitch_shift`` config, the
    listeners' real pitch shifts, de Boer's rule, and a model 1 point above the listeners."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from psychobench.consistency.hearing import DEBOER
    from psychobench.results.pipeline import experiments_of

    with initialize_config_dir(str(PACKAGE.parent / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=pitch_shift"])
    cond = experiments_of(cfg)["pitch_shift"].conditions_table()
    rows = []
    for r in cond.itertuples(index=False):
        h = r.human_pitch_shift_percent
        rows += [T.row("pitch_shift", "pitch_shift_percent", "pitchnet", h + 1, condition=r.condition,
                       value_ci=(h + 0.5, h + 1.5), n=12),
                 T.row("pitch_shift", "pitch_shift_percent", T.HUMANS, h, condition=r.condition),
                 T.row("pitch_shift", "pitch_shift_percent", DEBOER, r.shift_percent / r.centre_harmonic,
                       condition=r.condition)]
    rows.append(T.row("pitch_shift", "r_pitch_shift", "pitchnet", 1.0, value_ci=(0.9, 1.0), n=len(cond)))
    write_run(root, "pshift", "pitchnet", rows, config=OmegaConf.to_yaml(cfg), headline={"pitch_shift": ["r_pitch_shift"]})


def test_pitch_shift_figure_from_a_run(tmp_path, mirror):
    _pitch_shift_run(tmp_path)
    t = analyses.pitch_shifts(analyses.load(tmp_path))
    assert sorted(t["kind"].unique()) == ["baseline", "humans", "model"] and len(t) == 3 * 36
    by = t.pivot_table(index="condition", columns="kind", values="value")
    np.testing.assert_allclose(by["model"], by["humans"] + 1)
    base = t[t["kind"] == "baseline"]
    np.testing.assert_allclose(base["value"], base["shift_percent"] / base["centre_harmonic"])
    fig = plots.pitch_shifts(t)
    assert len(fig.axes) == 3 and [a.get_title() for a in fig.axes][0] == "centre harmonic 5"
    labels = fig.axes[-1].get_legend_handles_labels()[1]
    assert set(labels) == {"humans", "pitchnet", "de Boer: shift / harmonic"}


def _planted_pitch_runs(root: Path) -> None:
    """Mistuned-harmonic, alternating-phase and transposed-tone run folders, scored by the real
    scoring functions from planted trials (composed presets' configs)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from psychobench.consistency import hearing as H
    from psychobench.results.pipeline import experiments_of

    def preset(name):
        with initialize_config_dir(str(PACKAGE.parent / "conf"), version_base="1.3"):
            cfg = compose("config", overrides=[f"experiment={name}"])
        (ds, exp), = experiments_of(cfg).items()
        return cfg, ds, exp

    rng = np.random.default_rng(0)
    cfg, ds, exp = preset("mistuned_harmonics")
    t = exp.conditions_table().loc[lambda d: d.index.repeat(4)].reset_index(drop=True)
    t["f0_true"] = t["f0_1_est"] = t["f0_hz"]
    t["f0_2_est"] = t["f0_hz"] * (1 + (0.3 / t["harmonic"]) * t["mistuning_percent"] / 100 * rng.uniform(0.9, 1.1, len(t)))
    t["subject"], t["stimulus_id"] = "pitchnet", [f"m{i}" for i in range(len(t))]
    write_run(root, "mist", "pitchnet", H.mistuned_table(t, exp.conditions_table(), dataset=ds, n_boot=50),
              config=OmegaConf.to_yaml(cfg), headline={ds: ["r_mistuned_shift"]})
    cfg, ds, exp = preset("alt_phase")
    t = exp.conditions_table().loc[lambda d: d.index.repeat(4)].reset_index(drop=True)
    t["f0_true"] = t["f0_hz"]
    t["f0_2_est"] = t["f0_hz"] * np.where(rng.random(len(t)) < 0.7, 1.0, 2.0)
    t["subject"], t["stimulus_id"] = "pitchnet", [f"a{i}" for i in range(len(t))]
    write_run(root, "alt", "pitchnet", H.alt_phase_table(t, exp.conditions_table(), dataset=ds, n_boot=50),
              config=OmegaConf.to_yaml(cfg), headline={ds: ["r_alt_phase"]})
    cfg, ds, exp = preset("transposed_tones")
    rows = []
    for r in exp.conditions_table().itertuples(index=False):
        ok = r.carrier_hz != 6350
        rows += [T.row(ds, "f0dl_percent", "pitchnet", 1.5 * r.human_f0dl_percent if ok else None, condition=r.condition,
                       value_ci=(r.human_f0dl_percent, 2 * r.human_f0dl_percent) if ok else None, n=110,
                       status=None if ok else "at_chance"),
                 T.row(ds, "f0dl_percent", T.HUMANS, r.human_f0dl_percent, condition=r.condition)]
    rows += [T.row(ds, "r_log_thresholds", "pitchnet", 1.0, n=10), T.row(ds, "n_thresholds_reached", "pitchnet", 10, n=15)]
    write_run(root, "tt", "pitchnet", rows, config=OmegaConf.to_yaml(cfg),
              headline={ds: ["r_log_thresholds", "n_thresholds_reached"]})


def test_mistuned_alt_phase_and_transposed_figures_from_runs(tmp_path, mirror):
    from psychobench.consistency.hearing import EQUAL_WEIGHTS, RESOLVABILITY_RULE

    _planted_pitch_runs(tmp_path)
    data = analyses.load(tmp_path)
    w = analyses.harmonic_weights(data)
    assert set(w["kind"]) == {"model", "humans", "baseline"} and len(w) == 3 * 18
    mine = w[w["kind"] == "model"]
    np.testing.assert_allclose(mine["value"], 0.3 / mine["harmonic"], rtol=0.12)       # the planted weights
    assert (w.loc[w["observer"] == EQUAL_WEIGHTS, "value"] == 1 / 12).all()
    fig = plots.harmonic_weights(w)
    assert [a.get_title() for a in fig.axes] == ["F0 100 Hz", "F0 200 Hz", "F0 400 Hz"]
    assert set(fig.axes[-1].get_legend_handles_labels()[1]) == {"humans", "pitchnet", "equal weights (1/12)"}
    a = analyses.alt_phase_points(data)
    assert len(a) == 3 * 27 and set(a.loc[a["kind"] == "baseline", "observer"]) == {RESOLVABILITY_RULE}
    assert a.loc[a["kind"] == "model", "value"].between(-100, 100).all()
    fig = plots.alt_phase(a)
    assert fig.axes[0].get_title() == "LOW band, 125-625 Hz" and fig.axes[0].get_xscale() == "log"
    tt = analyses.transposed_thresholds(data)
    assert len(tt) == 2 * 15 and set(tt.loc[tt["kind"] == "model", "status"]) == {"ok", "at_chance"}
    fig = plots.transposed_thresholds(tt)
    titles = [a.get_title() for a in fig.axes]
    assert titles[0] == "pure tones" and "no model threshold in 5 conditions" in titles[2]
    # the Bernstein & Oxenham figure ignores the transposed-tone limens (no spectral region)
    assert len(analyses.pitch_thresholds(data)) == 0


@pytest.mark.slow
def test_report_shows_hearing_only_with_hearing_runs(tmp_path, mirror):
    from psychobench.cli.report import build

    vision = tmp_path / "vision"
    write_run(vision, "r1", "net-a", [cell("edge", "i1", "net-a", 0.5), T.row("edge", "ood_accuracy", "net-a", 0.4)])
    assert not analyses.has_hearing(analyses.load(vision))
    ipynb, html = build(vision, tmp_path / "out1")
    text = html.read_text()
    assert "Hearing" not in text and "Glossary" in text and "r2_cell_means" in text   # glossary lists all codes
    both = tmp_path / "both"
    write_run(both, "r1", "net-a", [cell("edge", "i1", "net-a", 0.5)])
    _pitch_run(both)
    _pitch_shift_run(both)
    _planted_pitch_runs(both)
    data = analyses.load(both)
    assert analyses.has_hearing(data)
    th = analyses.pitch_thresholds(data)
    np.testing.assert_allclose(th["threshold_percent"], 2 * th["human_f0dl_percent"])
    ipynb, html = build(both, tmp_path / "out2")
    text = html.read_text()
    assert "Hearing: comparisons with listeners" in text and "Hearing: pitch" in text
    assert "Hearing: frequency-shifted complexes" in text
    for section in ("mistuned harmonics", "alternating phase", "transposed tones"):
        assert f"Hearing: {section}" in text, section
    assert "Hearing: words in noise" not in text                     # no words-in-noise run
    nb = json.loads(ipynb.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]


def test_every_figure_function_returns_its_figure():
    """Each plotting function annotated to return a Figure has a return statement (a function
    that draws but returns None shows as "None" in the report)."""
    import ast

    from psychobench.report import plots

    tree = ast.parse(open(plots.__file__).read())
    for f in tree.body:
        if isinstance(f, ast.FunctionDef) and isinstance(f.returns, ast.Attribute) and f.returns.attr == "Figure":
            assert any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(f)), f.name
