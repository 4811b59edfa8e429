"""Scorers: trial tables in, metric table out (:mod:`psychobench.consistency.table`).

Each scorer takes an observer's trial table of one experiment, the human data it is compared
with and the experiment's facts as plain arguments (the conditions left out of the benchmark
means, the numeric level of each condition, ...), so that nothing here asks which experiment it
is.  Three levels of comparison:

* :func:`item_level`: the same stimuli as the humans saw; model-vs-human's benchmark metrics
  (with the human-to-human reference), object- and image-level consistency against split-half
  noise ceilings with bootstrap intervals, accuracy per condition, shape bias;
* :func:`condition_level`: other stimuli of the same conditions (regenerated or rendered);
  accuracy per condition and psychometric thresholds of model, pooled humans and each human;
* :func:`descriptive`: no human data; accuracy (per condition) and shape bias.

:func:`aggregate` adds the means over data sets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from psychobench.consistency import benchmark
from psychobench.consistency import table as T

Z95 = 1.959963984540054
CONSISTENCY_METRICS = ("o1_acc", "o1_dprime", "o2_offdiag", "o2_dprime", "i1", "i1n", "i2", "i2n",
                       "error_consistency")
#: Metrics whose mean over data sets is reported (unitless rates and correlations).
AGGREGATED = tuple(dict.fromkeys(benchmark.METRICS + CONSISTENCY_METRICS))
CONDITION_LEVEL_NOTE = ("condition-level comparison: the network saw other images than people "
                        "(regenerated or rendered stimuli); only accuracy per condition is compared")


def _accuracy_rows(trials: pd.DataFrame, dataset: str, observer: str, per_condition: bool = True,
                   intervals: Mapping | None = None) -> list[dict]:
    """Accuracy of the whole set and per condition; ``intervals``: ``{"accuracy@<condition>":
    Interval}`` (default: Wilson score intervals over the trials)."""
    from psychobench.consistency.intervals import wilson

    correct = trials["correct"].to_numpy(dtype=float)
    k, n = correct.sum(), len(correct)
    rows = [T.row(dataset, "accuracy", observer, k / n if n else np.nan, n=n,
                  value_ci=wilson(k, n) if n and intervals is None else None)]
    if per_condition:
        codes, conds = pd.factorize(trials["condition"])          # trials without a condition: -1, left out
        ok = codes >= 0
        n = np.bincount(codes[ok], minlength=len(conds))
        k = np.bincount(codes[ok], weights=correct[ok], minlength=len(conds))
        for j, c in enumerate(conds):
            iv = (intervals or {}).get(f"accuracy@{c}")
            ci = (iv.low, iv.high) if iv is not None else wilson(k[j], n[j])
            rows.append(T.row(dataset, "accuracy", observer, k[j] / n[j], condition=c, n=n[j], value_ci=ci))
    return rows


def _one_observer(trials: pd.DataFrame, what: str = "model") -> str:
    subjects = pd.unique(trials["subject"].astype(str))
    if len(subjects) != 1:
        raise ValueError(f"{what} trial table holds {len(subjects)} observers ({', '.join(subjects[:5])}); "
                         "score one at a time")
    return str(subjects[0])


def item_level(model: pd.DataFrame, humans: pd.DataFrame, *, dataset: str,
               excluded: frozenset[str] = frozenset(), with_shape_bias: bool = False,
               consistency: bool = True, n_splits: int = 10, n_boot: int = 1000, seed: int = 0,
               split: str = "subjects") -> pd.DataFrame:
    """Every item-level score of one model on one experiment (see the module docstring).

    model, humans: trial tables of the experiment (the model's holds one observer); trials pair
    by (stimulus_id, condition).  ``excluded``: conditions left out of the benchmark means and of
    the consistency scores.  ``with_shape_bias``: the experiment has a texture cue per image.
    ``consistency``: noise ceilings (``n_splits`` split halves of ``split``).  Every number has a
    95% interval of itself (``n_boot`` > 0): Wilson intervals for the model's own proportions,
    the crossed bootstrap of :mod:`psychobench.consistency.intervals` (``n_boot`` draws per set,
    seeded with ``seed``) for everything that involves the humans.
    """
    from psychobench.consistency.scores import consistency_details

    observer = _one_observer(model)
    used = [c for c in pd.unique(humans["condition"].dropna().astype(str)) if c not in excluded]
    n_m_used = int((model["condition"].isin(used) | model["condition"].isna()).sum())
    n_h_used = int(humans["condition"].isin(used).sum())
    ours = benchmark.dataset_metrics(model, humans, dataset, excluded=excluded, with_shape_bias=with_shape_bias)
    ref = benchmark.human_reference(humans, dataset, excluded=excluded, with_shape_bias=with_shape_bias)
    ivs = {"model": {}, "humans": {}}
    if n_boot > 0:
        ivs = benchmark.dataset_intervals(model, humans, dataset, excluded=excluded,
                                          with_shape_bias=with_shape_bias, n_boot=n_boot, seed=seed)
    rows: list[dict] = []
    details = None
    if consistency:
        details = consistency_details(model, humans, n_splits=n_splits, n_boot=n_boot, seed=seed,
                                      split=split, conditions=used).set_index("metric")
    for who, name, values, n_all, n_used in (("model", observer, ours, len(model), n_m_used),
                                            ("humans", T.HUMANS, ref, len(humans), n_h_used)):
        for metric, v in values.items():
            if metric == "error_consistency" and details is not None:
                continue                                   # one row, with its ceiling, below
            iv = ivs[who].get(metric)
            rows.append(T.row(dataset, metric, name, v, n=n_all if metric == "shape_bias" else n_used,
                              value_ci=None if iv is None else (iv.low, iv.high),
                              status=_interval_status(v, [iv] if n_boot > 0 else [])))
    if details is not None:
        for metric, d in details.iterrows():
            if metric == "error_consistency":
                # the consistency engine and model-vs-human's benchmark compute the same mean kappa
                v = ours["error_consistency"]
                if math.isfinite(v) and not math.isclose(v, d["value"], rel_tol=1e-9, abs_tol=1e-12):
                    raise AssertionError(f"{dataset}: error consistency {v} (benchmark) != {d['value']} (ceiling engine)")
                # the humans' reference: the mean kappa over human pairs, the ceiling
                rows.append(T.row(dataset, metric, T.HUMANS, ref["error_consistency"], n=n_h_used,
                                  value_ci=(d["ceiling_ci_low"], d["ceiling_ci_high"]),
                                  status=_status_of(ref["error_consistency"],
                                                    d["ceiling_interval"] if n_boot > 0 else "ok")))
            rows.append(_consistency_row(dataset, metric, observer, d, n_m_used, n_boot > 0))
    rows += _accuracy_rows(model, dataset, observer, intervals=ivs["model"] if n_boot > 0 else None)
    rows += _accuracy_rows(humans, dataset, T.HUMANS, intervals=ivs["humans"] if n_boot > 0 else None)
    return T.metric_table(rows, f"{dataset}/{observer}")


def _status_of(value, interval_status: str) -> str | None:
    """A row's status from its value and its interval's status (None: ``ok`` or ``undefined``
    by :func:`table.row`'s rule)."""
    if not math.isfinite(value):
        return None
    return None if interval_status in ("ok", "no_interval") else "no_valid_interval"


def _interval_status(value, intervals) -> str | None:
    for iv in intervals:
        if iv is None or not iv.ok:
            return _status_of(value, "no_valid_interval" if iv is None else iv.status)
    return None


def _consistency_row(dataset: str, metric: str, observer: str, d: Mapping, n: int,
                     with_intervals: bool = True) -> dict:
    value, ceiling = d["value"], d["ceiling"]
    status = None
    if math.isfinite(value) and not math.isfinite(ceiling):
        status = "no_ceiling"
    elif math.isfinite(value) and with_intervals:
        wanted = [d["value_interval"], d["ceiling_interval"]]
        if math.isfinite(d["normalized"]):
            wanted.append(d["normalized_interval"])
        if any(w != "ok" for w in wanted):
            status = "no_valid_interval"
    return T.row(dataset, metric, observer, value,
                 value_ci=(d["value_ci_low"], d["value_ci_high"]), ceiling=ceiling,
                 ceiling_ci=(d["ceiling_ci_low"], d["ceiling_ci_high"]), normalized=d["normalized"],
                 normalized_ci=(d["normalized_ci_low"], d["normalized_ci_high"]), n=n, status=status)


def condition_level(model: pd.DataFrame, humans: pd.DataFrame, *, dataset: str,
                    levels: Mapping[str, float], transform: str | None = None, guess: float | None = None,
                    criterion: float | None = None, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Accuracy per condition and psychometric thresholds (:func:`compare_curves`) of one model
    beside the humans' on the same conditions (other stimuli).

    ``levels``: condition -> numeric level; ``transform``: fitting scale; ``guess``: chance of
    the humans' task (default 1 / their number of categories); ``criterion``: default halfway
    between guess and 1.  Rows: ``accuracy`` (per condition and whole set) of model and humans;
    ``threshold`` of the model, the pooled humans and each human (observer = subject id), with
    intervals; ``threshold_delta`` (model - humans) with its paired interval; ``threshold_z`` of
    the model among the single humans, and of the humans (mean |z| of each human against the
    others: the z a human reaches).
    """
    from psychobench.consistency.psychometric import compare_curves

    observer = _one_observer(model)
    res = compare_curves(model, humans, levels, transform=transform, n_boot=n_boot, seed=seed,
                         guess=guess, criterion=criterion)
    n_m, n_h = len(model), len(humans)

    def status(s, v):
        return s if s != "ok" or not math.isfinite(v) else None

    rows = [
        T.row(dataset, "threshold", observer, res["model_threshold"], value_ci=res["model_ci"], n=n_m,
              status=status(res["model_status"], res["model_threshold"])),
        T.row(dataset, "threshold", T.HUMANS, res["human_threshold"], value_ci=res["human_ci"], n=n_h,
              status=status(res["human_status"], res["human_threshold"])),
        T.row(dataset, "threshold_delta", observer, res["delta"], value_ci=res["delta_ci"], n=n_m,
              status=None if math.isfinite(res["delta"]) else "not_reached"),
        T.row(dataset, "threshold_z", observer, res["z"], n=n_m,
              status=None if math.isfinite(res["z"]) else "not_reached"),
        T.row(dataset, "threshold_z", T.HUMANS, res["human_loo_abs_z"], n=n_h),
    ]
    per_subject = humans.groupby(humans["subject"].astype(str)).size()
    for subj, t in res["subject_thresholds"].items():
        rows.append(T.row(dataset, "threshold", subj, t, n=per_subject.get(subj),
                          status=None if math.isfinite(t) else "not_reached"))
    rows += _accuracy_rows(model, dataset, observer)
    rows += _accuracy_rows(humans, dataset, T.HUMANS)
    return T.metric_table(rows, f"{dataset}/{observer}")


def descriptive(model: pd.DataFrame, *, dataset: str, with_shape_bias: bool = False) -> pd.DataFrame:
    """Accuracy (whole set and per condition) and, with ``with_shape_bias``, the shape bias,
    each with its Wilson score interval over the trials."""
    from psychobench.consistency.intervals import wilson

    observer = _one_observer(model)
    rows = _accuracy_rows(model, dataset, observer)
    if with_shape_bias:
        k, t = benchmark.shape_counts(model)
        rows.append(T.row(dataset, "shape_bias", observer, benchmark.shape_bias(model), n=len(model),
                          value_ci=wilson(k, k + t) if k + t else None))
    return T.metric_table(rows, f"{dataset}/{observer}")


def aggregate(table: pd.DataFrame, metrics: Sequence[str] = AGGREGATED) -> pd.DataFrame:
    """Means over data sets (dataset ``aggregate``) of the whole-set rows of ``metrics``, per
    observer, over the data sets where the value is finite (model-vs-human's unweighted mean).

    ``ceiling`` and ``normalized`` are means in the same way.  Intervals treat the data sets'
    bootstrap draws as independent: each data set's interval half-width gives a standard error
    ``(high - low) / (2 * 1.96)``, the mean's is ``sqrt(sum SE^2) / k``, and the interval is the
    mean +/- 1.96 SE (normal approximation).  Where a data set with a finite value has no valid
    interval (e.g. O2 d' normalised scores, whose intervals are withheld), the mean has none either
    (status ``no_valid_interval``): an interval over the other data sets would bound another
    number.  ``n`` sums the data sets' trials.
    """
    t = T.validate(table)
    coords = T.coordinates(t)
    keep = (t["condition"] == "") & (t["dataset"] != T.AGGREGATE) & t["metric"].isin(list(metrics))
    if coords:
        keep &= t[coords].isna().all(axis=1)
    t = t[keep]
    rows = []
    for (metric, observer), g in t.groupby(["metric", "observer"], sort=False):
        out, withheld = {}, {}
        for what in ("value", "ceiling", "normalized"):
            v = g[what].to_numpy(float)
            fin = np.isfinite(v)
            out[what] = float(v[fin].mean()) if fin.any() else np.nan
            lo, hi = g[f"{what}_ci_low"].to_numpy(float), g[f"{what}_ci_high"].to_numpy(float)
            ok = fin & np.isfinite(lo) & np.isfinite(hi)
            if fin.any() and (ok == fin).all():
                se = (hi[ok] - lo[ok]) / (2 * Z95)
                s = float(np.sqrt((se ** 2).sum()) / ok.sum())
                out[f"{what}_ci"] = (out[what] - Z95 * s, out[what] + Z95 * s)
            else:
                out[f"{what}_ci"] = None
                withheld[what] = bool(ok.any())          # some data sets have one, others not
        n = g["n"].to_numpy(float)
        status = "no_ceiling" if (g["status"] == "no_ceiling").all() and math.isfinite(out["value"]) else None
        if status is None and (any(withheld.values()) or (g["status"] == "no_valid_interval").any()):
            status = "no_valid_interval"
        rows.append(T.row(T.AGGREGATE, metric, observer, out["value"], value_ci=out["value_ci"],
                          ceiling=out["ceiling"], ceiling_ci=out["ceiling_ci"],
                          normalized=out["normalized"], normalized_ci=out["normalized_ci"],
                          n=float(np.nansum(n)) if np.isfinite(n).any() else None, status=status))
    return T.metric_table(rows, "aggregate")


def _where(coords, values) -> str:
    """An analysis coordinate as the console labels it: a layer as its module path, a number
    with its name (``blocks.2,beta=0.5``, ``k=3``); missing coordinates left out."""
    out = []
    for c, v in zip(coords, values):
        if isinstance(v, str):
            out.append(v)
        elif v is not None and v == v:
            out.append(f"{c}={float(v):g}")
    return ",".join(out)


def _fmt(v, spec: str = ".3f") -> str:
    return "-" if v is None or not math.isfinite(v) else format(v, spec)


def _interval(lo, hi) -> str:
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    return f"[{lo:.2f}, {hi:.2f}]"


#: what the console shows per data set when the experiment names no headline metrics
#: (``psychobench-score``): model-vs-human's benchmark metrics and the threshold, where present
DEFAULT_HEADLINE = ("ood_accuracy", "accuracy_difference", "observed_consistency", "error_consistency",
                    "threshold")


def format_table(table: pd.DataFrame, model: str, headline: Mapping[str, Sequence[str]] | None = None) -> str:
    """The console view of a run's metric table: the aggregate benchmark metrics (model beside
    the human-to-human reference, with the ceiling and the ceiling-normalised value where the
    metric has one), then per data set its accuracy and headline metrics (``headline``: data set
    -> metrics; default :data:`DEFAULT_HEADLINE`, those present).  Every interval is the 95%
    bootstrap (or Wilson, for proportions) interval of the number it follows; where the design
    gives no valid interval the row's status says so instead."""
    t = T.validate(table)
    coords = T.coordinates(t)
    at = t[t[coords].notna().any(axis=1)] if coords else t.iloc[:0]      # rows of an analysis coordinate
    t = t[t[coords].isna().all(axis=1)] if coords else t
    whole = t[t["condition"] == ""]
    idx = {(r.dataset, r.metric, r.observer): r for r in whole.itertuples(index=False)}
    per_condition = t[t["condition"] != ""]
    if headline is None:
        present = whole.groupby("dataset")["metric"].agg(set).to_dict()
        headline = {ds: [m for m in DEFAULT_HEADLINE if m in ms] for ds, ms in present.items()}
    wm = max(24, len(model) + 2)                  # the model's name in full (fitted readouts: arch@layer+readout)
    shown = per_condition[np.array([m in (headline or {}).get(d, ()) for d, m in
                                    zip(per_condition["dataset"], per_condition["metric"])], dtype=bool)]
    labels = [*t["dataset"], *(f"{d}@{c}" for d, c in zip(shown["dataset"], shown["condition"]))]
    if coords:
        labels += [f"{d}@{_where(coords, vals)}" for d, *vals in at[["dataset", *coords]].itertuples(index=False)]
    wd = min(48, max([22, *(len(x) + 2 for x in labels)]))
    head = (f"{'metric':<22}{'data set':<{wd}}{model:>{wm}}{'humans':>8}{'ceiling [95% CI]':>24}"
            f"  {'normalized [95% CI]'}")
    lines = [head]

    def with_ci(v, lo, hi) -> str:
        return f"{_fmt(v)} {_interval(lo, hi)}".strip()

    def line(ds: str, metric: str) -> str | None:
        m, h = idx.get((ds, metric, model)), idx.get((ds, metric, T.HUMANS))
        if m is None and h is None:
            return None
        v = with_ci(m.value, m.value_ci_low, m.value_ci_high) if m else "-"
        ceil = norm = ""
        if m is not None and math.isfinite(m.ceiling):
            ceil = with_ci(m.ceiling, m.ceiling_ci_low, m.ceiling_ci_high)
            norm = with_ci(m.normalized, m.normalized_ci_low, m.normalized_ci_high)
        status = f"  ({m.status.replace('_', ' ')})" if m is not None and m.status != "ok" else ""
        return (f"{metric[:21]:<22}{ds[:wd - 1]:<{wd}}{v:>{wm}}{_fmt(h.value if h else None):>8}"
                f"{ceil or '-':>24}  {norm}{status}").rstrip()

    for metric in AGGREGATED:
        out = line(T.AGGREGATE, metric)
        if out:
            lines.append(out)
    for ds in dict.fromkeys(t["dataset"]):
        if ds == T.AGGREGATE:
            continue
        for metric in ["accuracy", *((headline or {}).get(ds, ()))]:
            out = line(ds, metric)
            if out:
                lines.append(out)
            elif metric != "accuracy":             # a headline given per condition
                rows = per_condition[(per_condition["dataset"] == ds) & (per_condition["metric"] == metric)]
                for c in dict.fromkeys(rows["condition"]):
                    idx.update({(f"{ds}@{c}", metric, r.observer): r
                                for r in rows[rows["condition"] == c].itertuples(index=False)})
                    out = line(f"{ds}@{c}", metric)
                    if out:
                        lines.append(out)
    for ds in dict.fromkeys(at["dataset"]):            # per layer (or other coordinate) of an analysis
        rows = at[at["dataset"] == ds]
        wanted = list((headline or {}).get(ds, ())) or list(dict.fromkeys(rows["metric"]))
        for key, g in rows.groupby(coords, sort=False, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            where = _where(coords, key)
            for r in g[g["metric"].isin(wanted)].itertuples(index=False):
                idx[(f"{ds}@{where}", r.metric, r.observer)] = r
            for metric in wanted:
                out = line(f"{ds}@{where}", metric)
                if out:
                    lines.append(out)
    return "\n".join(dict.fromkeys(lines))
