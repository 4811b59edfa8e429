"""Scoring trial tables against human data: the one code path behind run summaries and
``psychobench-score``, so both give the same numbers for the same trials."""

from __future__ import annotations

import math

import pandas as pd

from psychobench.consistency import benchmark
from psychobench.consistency.psychometric import LEVEL_INFO, compare_curves, level_map
from psychobench.consistency.scores import aggregate_reports, consistency_report
from psychobench.data.conditions import EXCLUDED_CONDITIONS


def _opt(cfg, key, default):
    if cfg is None:
        return default
    v = cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)
    return default if v is None else v


def used_conditions(dataset: str, table: pd.DataFrame) -> list[str]:
    """The conditions of ``table`` that enter the benchmark means (exclusions removed)."""
    excluded = EXCLUDED_CONDITIONS.get(dataset, frozenset())
    return [c for c in table["condition"].dropna().unique().tolist() if c not in excluded]


def score_model_tables(models: dict[str, pd.DataFrame], humans: dict[str, pd.DataFrame],
                       metrics_cfg=None, seed: int = 0) -> dict:
    """Benchmark metrics and, unless disabled, consistency against the noise ceiling.

    Returns ``{"datasets": {ds: {metric: value, "consistency": {...}}}, "aggregate": {metric:
    value, "consistency": {...}}, "human_reference": {metric: value}}``.  ``metrics_cfg``: the
    run's ``metrics`` node or a dict (consistency, n_splits, n_boot, split).  Consistency uses
    the same conditions as the benchmark means.
    """
    scores = benchmark.score(models, humans)
    ref = benchmark.score_humans({ds: humans[ds] for ds in models})
    out = {"datasets": scores["datasets"], "aggregate": scores["aggregate"],
           "human_reference": ref["aggregate"]}
    if _opt(metrics_cfg, "consistency", True):
        reports = {}
        for ds, model in models.items():
            reports[ds] = consistency_report(
                model, humans[ds], n_splits=int(_opt(metrics_cfg, "n_splits", 10)),
                n_boot=int(_opt(metrics_cfg, "n_boot", 1000)), seed=seed,
                split=str(_opt(metrics_cfg, "split", "subjects")),
                conditions=used_conditions(ds, humans[ds]))
            out["datasets"][ds]["consistency"] = reports[ds]
        out["aggregate"]["consistency"] = aggregate_reports(reports)
    return out


CONDITION_LEVEL_NOTE = ("condition-level comparison: the network saw other images than people "
                        "(regenerated or rendered stimuli); only accuracy per condition is compared")


def condition_comparison(model: pd.DataFrame, humans: pd.DataFrame, dataset: str,
                         n_boot: int = 1000, seed: int = 0) -> dict:
    """Psychometric comparison of a model on regenerated stimuli with the humans' curve.

    Thresholds (criterion halfway between chance 1/16 and 1) on the data set's level scale
    (:data:`psychobench.consistency.psychometric.LEVEL_INFO`), with bootstrap intervals, the
    model-minus-human difference and its z-score against the per-subject human thresholds.
    """
    conds = pd.unique(pd.concat([model["condition"], humans["condition"]]).dropna())
    param, unit, transform, harder = LEVEL_INFO[dataset]
    res = compare_curves(model, humans, level_map(dataset, conds), transform=transform,
                         n_boot=n_boot, seed=seed, guess=1.0 / 16)
    counts = res.pop("counts", None)
    acc = model.groupby("condition")["correct"].mean()
    hacc = humans.groupby("condition")["correct"].mean()
    res.update({"note": CONDITION_LEVEL_NOTE, "parameter": param, "unit": unit,
                "harder": harder,
                "accuracy": {"model": {c: float(acc[c]) for c in acc.index},
                             "humans": {c: float(hacc[c]) for c in hacc.index}}})
    if isinstance(counts, pd.DataFrame):
        res["counts"] = counts.to_dict(orient="records")
    return {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in res.items()}


def metrics_table(summary: dict) -> pd.DataFrame:
    """Tidy metric rows of a summary: dataset, metric, observer, value, ceiling, normalized,
    ci_low, ci_high (the last four empty where a metric has no ceiling)."""
    rows = []
    model = summary.get("model")

    def add(ds, metric, observer, value):
        if isinstance(value, dict):
            ci = value.get("ci") or [None, None]
            rows.append(dict(dataset=ds, metric=metric, observer=observer,
                             value=value.get("value"), ceiling=value.get("ceiling"),
                             normalized=value.get("normalized"), ci_low=ci[0], ci_high=ci[1]))
        elif value is not None:
            rows.append(dict(dataset=ds, metric=metric, observer=observer, value=value))

    for ds, vals in summary.get("datasets", {}).items():
        for metric, v in vals.items():
            if metric == "consistency":
                for cm, cv in v.items():
                    add(ds, cm, model, cv)
            else:
                add(ds, metric, model, v)
    for metric, v in summary.get("aggregate", {}).items():
        if metric == "consistency":
            for cm, cv in v.items():
                add("aggregate", cm, model, cv)
        else:
            add("aggregate", metric, model, v)
    for metric, v in summary.get("human_reference", {}).items():
        add("aggregate", metric, "humans", v)
    for ds, acc in summary.get("accuracy", {}).items():
        add(ds, "accuracy", model, acc)
    for ds, c in summary.get("condition_level", {}).items():
        add(ds, "threshold", model, {"value": c.get("model_threshold"), "ci": c.get("model_ci")})
        add(ds, "threshold", "humans", {"value": c.get("human_threshold"), "ci": c.get("human_ci")})
        add(ds, "threshold_delta", model, {"value": c.get("delta"), "ci": c.get("delta_ci")})
        add(ds, "threshold_z", model, c.get("z"))
    cols = ["dataset", "metric", "observer", "value", "ceiling", "normalized", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols)


def format_scores(summary: dict) -> str:
    """A short text table of the model's aggregate scores beside the human-to-human values."""
    agg, ref = summary.get("aggregate", {}), summary.get("human_reference", {})
    lines = [f"{'metric':<22}{summary.get('model', 'model'):>24}{'humans':>10}"]
    for m in benchmark.METRICS:
        v, h = agg.get(m), ref.get(m)
        if v is None and h is None:
            continue
        fv = "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"
        fh = "-" if h is None or (isinstance(h, float) and math.isnan(h)) else f"{h:.3f}"
        lines.append(f"{m:<22}{fv:>24}{fh:>10}")
    for ds, acc in summary.get("accuracy", {}).items():
        lines.append(f"{'accuracy ' + ds:<22}{acc:>24.3f}")
    return "\n".join(lines)
