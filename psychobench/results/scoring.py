"""Scoring trial tables against human data: the one code path behind run summaries and
``psychobench-score``, so both give the same numbers for the same trials."""

from __future__ import annotations

import math

import pandas as pd

from psychobench.consistency import benchmark


def score_model_tables(models: dict[str, pd.DataFrame], humans: dict[str, pd.DataFrame],
                       metrics_cfg=None, seed: int = 0) -> dict:
    """``{"datasets": {ds: {metric: value}}, "aggregate": {...}, "human_reference": {...}}``.

    ``metrics_cfg``: the run's ``metrics`` node (or a dict), for options of later metrics.
    """
    scores = benchmark.score(models, humans)
    ref = benchmark.score_humans({ds: humans[ds] for ds in models})
    return {"datasets": scores["datasets"], "aggregate": scores["aggregate"],
            "human_reference": ref["aggregate"]}


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
