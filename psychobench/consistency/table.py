"""The metric table: the one table between every scorer and everything that reads scores.

One row per (dataset, condition, metric, observer) and the analysis coordinates a metric needs
(a network ``layer``, a gain ``beta``, ...).  Columns:

==================== ===================================================================
dataset              experiment / data-set name, or ``aggregate`` for means over data sets
condition            condition string; empty on whole-set rows
metric               metric code (see :data:`GLOSSARY`)
observer             who is scored: the model's name, or ``humans`` (the human reference)
value                the statistic itself
value_ci_low/high    95% interval of ``value``
ceiling              the human noise ceiling of the metric (where it has one)
ceiling_ci_low/high  95% interval of ``ceiling``
normalized           ``value`` relative to ``ceiling`` (see the metric's definition)
normalized_ci_low/…  95% interval of ``normalized``
n                    trials (or items, for metrics defined over items) behind ``value``
status               ``ok``, or why a number is missing or not to be read as a score
==================== ===================================================================

Every interval is named for what it bounds.  A missing number is NaN and its row says why in
``status`` (``undefined``, ``not_reached``, ``no_ceiling``, ``no_valid_interval``, ...): no NaN
passes as a score with status ``ok``.  :func:`summary_view` derives ``summary.json`` from the
table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psychobench.errors import PsychobenchError

KEY: tuple[str, ...] = ("dataset", "condition", "metric", "observer")
NUMERIC: tuple[str, ...] = ("value", "value_ci_low", "value_ci_high", "ceiling", "ceiling_ci_low",
                            "ceiling_ci_high", "normalized", "normalized_ci_low",
                            "normalized_ci_high", "n")
COLUMNS: tuple[str, ...] = KEY + NUMERIC + ("status",)
AGGREGATE = "aggregate"
HUMANS = "humans"
_STATUS = re.compile(r"^[a-z][a-z0-9_]*$")

#: What each metric code means (shown in reports and ``psychobench-score``).
GLOSSARY: dict[str, str] = {
    "accuracy": "proportion of trials answered correctly",
    "ood_accuracy": "accuracy pooled over the conditions that enter the benchmark means "
                    "(model-vs-human's OOD accuracy)",
    "accuracy_difference": "squared difference of model and human accuracy per condition, "
                           "mean over conditions then humans (model-vs-human)",
    "observed_consistency": "fraction of trials on which model and human are both right or both "
                            "wrong, mean over conditions then humans (Geirhos et al. 2020)",
    "error_consistency": "Cohen's kappa of model and human correctness per condition, mean over "
                         "conditions then humans; ceiling: the mean over human pairs (Geirhos et "
                         "al. 2020)",
    "shape_bias": "shape decisions / (shape + texture decisions) on cue-conflict images "
                  "(Geirhos et al. 2019)",
    "o1_acc": "object level: per-category accuracy, correlated with the humans' over categories "
              "(Rajalingham et al. 2018)",
    "o1_dprime": "object level: one-vs-rest d' per category, correlated over categories",
    "o2_offdiag": "object level: off-diagonal of the row-normalised confusion matrix, correlated",
    "o2_dprime": "object level: pairwise d' (say a when a vs say a when b), correlated",
    "i1": "image level: per-stimulus accuracy, correlated with the humans' over stimuli",
    "i1n": "image level: per-stimulus accuracy minus the mean of its category and condition, "
           "correlated (object-level signal removed)",
    "i2": "image level (2AFC): image-by-distractor d', correlated",
    "i2n": "image level (2AFC): i2 minus its (object, distractor) mean, correlated",
    "threshold": "level at which the fitted psychometric function reaches its criterion",
    "threshold_delta": "model threshold minus the pooled humans' threshold",
    "threshold_z": "model threshold as a z-score among the single humans' thresholds",
    # hearing: words in noise (Saddler & McDermott 2024)
    "r2_cell_means": "words in noise: squared Pearson r of model and listener word accuracy over "
                     "the (background, SNR) cells; ceiling: the listener mean's split-half reliability",
    "r_cell_means": "words in noise: Pearson r of model and listener accuracy over the cells",
    "r_background_pattern": "words in noise: r of model and listener cell accuracies after removing "
                            "each side's mean per SNR (which backgrounds are harder)",
    "r2_snr_only": "words in noise, listeners: r^2 of their cell means with their own per-SNR means "
                   "(what SNR alone explains; the trivial baseline for r2_cell_means)",
    "clean_accuracy": "words in noise: word accuracy on the clean (no background) trials",
    "srt_db": "speech reception threshold: SNR (dB) at which the fitted curve reaches 50% words correct",
    "srt_delta_db": "model SRT minus the pooled listeners' SRT (dB)",
    "srt_z": "model SRT as a z-score among the single listeners' SRTs",
    "fit_alpha": "psychometric fit: location (dB) of the logistic",
    "fit_beta": "psychometric fit: slope of the logistic",
    "fit_lapse": "psychometric fit: lapse rate (bounded to [0, 0.06])",
    "fit_guess": "psychometric fit: guess rate (fixed)",
    # hearing: English consistent confusion corpus (per-token rates)
    "correct": "English CCC: share of tokens the model answers with the target word",
    "in_answers": "English CCC: share of tokens whose model answer is among the listeners' answers",
    "dominant": "English CCC: share of tokens whose model answer is the listeners' dominant confusion",
    "logprob": "English CCC: mean log probability of the model's answer under the listeners' "
               "(smoothed) answer distribution",
    # hearing: pitch (Bernstein & Oxenham 2005)
    "f0dl_percent": "F0 difference limen (%) at 70.7% correct, two intervals",
    "f0_estimate_ratio": "median estimated / true F0 (observers that report F0 estimates)",
    "r_log_thresholds": "Pearson r of model and listener log F0 difference limens over the conditions where the "
                        "model reached a threshold (interval: trial bootstrap of the model, listeners fixed)",
    "n_thresholds_reached": "conditions in which the model reached a threshold (status ok: top difference above "
                            "chance, fit crossing 70.7% inside the range; interval: trial bootstrap)",
    # hearing: pitch of frequency-shifted complexes (Moore & Moore 2003)
    "pitch_shift_percent": "pitch shift (% of F0) of a complex whose components are all shifted up by the same Hz: "
                           "median over items of estimated / true F0 - 1",
    "r_pitch_shift": "Pearson r of model and listener pitch shifts over the frequency-shift conditions",
    "pitch_shift_slope": "slope of pitch shift on component shift (both % of F0) per centre harmonic; de Boer's "
                         "rule predicts 1 / centre harmonic",
    # hearing: mistuned harmonics (Moore, Glasberg & Peters 1985)
    "mistuned_shift_percent": "pitch shift (% of F0) of a 12-harmonic complex when one harmonic is mistuned up: "
                              "median over items of the F0 estimate of the mistuned over the tuned complex - 1",
    "r_mistuned_shift": "Pearson r of model and listener pitch shifts over the mistuned-harmonic conditions",
    "harmonic_weight": "weight of one harmonic in the pitch: slope through 0 of pitch shift on its mistuning "
                       "(both %) up to 3 %; equal weighting of 12 harmonics predicts 1/12",
    # hearing: alternating-phase complexes (Shackleton & Carlyon 1994)
    "alt_phase_2f0_minus_f0": "alternating-phase complexes: % of pitch estimates at 2 F0 minus % at F0 (each "
                              "within half an octave); -100 = always F0 (resolved), +100 = always 2 F0",
    "alt_phase_neither_percent": "alternating-phase complexes: % of the model's F0 estimates within half an "
                                 "octave of neither F0 nor 2 F0",
    "r_alt_phase": "Pearson r of model and listener 2F0-minus-F0 percentages over the band x F0 conditions",
    # hearing: speech detection
    "dprime": "speech detection: z(hit rate) - z(false-alarm rate), rates log-linear corrected",
    "hit_rate": "speech detection: share of speech trials answered 'speech' ((k + 0.5) / (n + 1))",
    "fa_rate": "speech detection: share of noise-only trials answered 'speech' ((k + 0.5) / (n + 1))",
    "category_accuracy": "layer decoding: cross-validated accuracy of a logistic readout of the object's "
                         "category from one layer's features (coordinate layer; chance 1 / objects)",
    "r2_x_position": "layer decoding: r² of the object's horizontal position, ridge regression from one layer",
    "r2_y_position": "layer decoding: r² of the object's vertical position, ridge regression from one layer",
    "r2_scale": "layer decoding: r² of the object's size in the image, ridge regression from one layer",
    "r2_rotation_in_plane": "layer decoding: r² of the in-plane rotation (camera roll), ridge regression",
    "r2_rotation_in_depth": "layer decoding: r² of the in-depth rotation (camera azimuth), ridge regression",
    "detection_dprime": "attention gain: d' of detecting the attended category in multi-object grids, mean over "
                        "categories (coordinates layer, beta; beta 0 = no attention)",
    "detection_accuracy": "attention gain: share of correct present/absent decisions over grids and categories",
    "word_accuracy": "shared stages: word accuracy of the dual-task network on talkers it never heard "
                     "(coordinate k: stages shared with the talker task; chance 1/64)",
    "talker_accuracy": "shared stages: talker identification accuracy on words the talker never said in "
                       "training (coordinate k; chance 1/80)",
    "word_accuracy_change": "shared stages: word accuracy at k minus at k = 0 (interval paired over test tokens)",
    "talker_accuracy_change": "shared stages: talker accuracy at k minus at k = 0 (interval paired over test tokens)",
    "largest_shared_k": "shared stages: the largest k whose accuracy on both tasks is not below the 95% interval "
                        "of the unshared networks (k = 0)",
}


class MetricTableError(PsychobenchError, ValueError):
    """A metric table breaks its schema; the message names the row and column."""


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _pair(ci) -> tuple[float, float]:
    if ci is None:
        return (np.nan, np.nan)
    lo, hi = ci
    return (float(lo) if _finite(lo) else np.nan, float(hi) if _finite(hi) else np.nan)


def row(dataset: str, metric: str, observer: str, value, *, condition: str = "",
        value_ci=None, ceiling=None, ceiling_ci=None, normalized=None, normalized_ci=None,
        n=None, status: str | None = None, **coords) -> dict[str, Any]:
    """One metric row as a dict.  ``status`` defaults to ``ok`` where ``value`` is finite and
    ``undefined`` otherwise; intervals are ``(low, high)`` pairs or None."""
    v = float(value) if _finite(value) else np.nan
    out = {"dataset": str(dataset), "condition": "" if condition is None else str(condition),
           "metric": str(metric), "observer": str(observer), "value": v}
    out["value_ci_low"], out["value_ci_high"] = _pair(value_ci)
    out["ceiling"] = float(ceiling) if _finite(ceiling) else np.nan
    out["ceiling_ci_low"], out["ceiling_ci_high"] = _pair(ceiling_ci)
    out["normalized"] = float(normalized) if _finite(normalized) else np.nan
    out["normalized_ci_low"], out["normalized_ci_high"] = _pair(normalized_ci)
    out["n"] = float(n) if _finite(n) else np.nan
    out["status"] = status or ("ok" if _finite(v) else "undefined")
    out.update(coords)
    return out


def coordinates(table: pd.DataFrame) -> list[str]:
    """The analysis coordinates of a table: its columns beyond :data:`COLUMNS`."""
    return [c for c in table.columns if c not in COLUMNS]


def _strings(col, name: str, c: str, allow_empty: bool = False) -> np.ndarray:
    v = np.asarray(col, dtype=object)
    bad = np.fromiter((x is None or (isinstance(x, float) and x != x) or (not allow_empty and x == "")
                       for x in v), bool, len(v))
    if bad.any():
        what = "missing (whole-set rows hold '')" if allow_empty else "empty"
        raise MetricTableError(f"{name}: row {int(np.argmax(bad))}, column {c!r}: {what}")
    return v.astype(str).astype(object)


def validate(table: pd.DataFrame, source: str = "<metric table>") -> pd.DataFrame:
    """Check a metric table (columns, types, status, uniqueness); return it in column order
    (:data:`COLUMNS`, then its coordinates).  Array work, once per table."""
    if not isinstance(table, pd.DataFrame):
        raise MetricTableError(f"{source}: expected a DataFrame, got {type(table).__name__}")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise MetricTableError(f"{source}: missing column(s) {missing}")
    cols: dict[str, np.ndarray] = {}
    for c in ("dataset", "metric", "observer", "status"):
        cols[c] = _strings(table[c], source, c)
    cols["condition"] = _strings(table["condition"], source, "condition", allow_empty=True)
    for c in NUMERIC:
        try:
            cols[c] = np.asarray(table[c], dtype=float)
        except (TypeError, ValueError) as e:
            raise MetricTableError(f"{source}: column {c!r} is not numeric ({e})") from None
    for st in set(cols["status"]):
        if not _STATUS.match(st):
            i = int(np.argmax(cols["status"] == st))
            raise MetricTableError(f"{source}: row {i}, column 'status': {st!r} is not a status name "
                                   "(ok, not_reached, ...)")
    nan_ok = (cols["status"] == "ok") & ~np.isfinite(cols["value"])
    if nan_ok.any():
        i = int(np.argmax(nan_ok))
        raise MetricTableError(f"{source}: row {i} ({cols['dataset'][i]}/{cols['metric'][i]}/"
                               f"{cols['observer'][i]}): value is NaN but status is 'ok'")
    for what in ("value", "ceiling", "normalized"):
        lo, hi = cols[f"{what}_ci_low"], cols[f"{what}_ci_high"]
        with np.errstate(invalid="ignore"):
            flipped = lo > hi
        if flipped.any():
            i = int(np.argmax(flipped))
            raise MetricTableError(f"{source}: row {i}, columns '{what}_ci_low/high': low > high")
    coords = coordinates(table)
    for c in coords:
        cols[c] = table[c].to_numpy()
    keys = list(zip(*(cols[c] for c in list(KEY) + coords)))
    if len(set(keys)) != len(keys):
        seen: dict = {}
        for i, k in enumerate(keys):
            if k in seen:
                raise MetricTableError(f"{source}: row {i}: {dict(zip(list(KEY) + coords, k))} appears "
                                       "more than once")
            seen[k] = i
    out = pd.DataFrame({c: cols[c] for c in list(COLUMNS) + coords})
    for c in ("dataset", "condition", "metric", "observer", "status"):
        out[c] = out[c].astype(str)
    return out


def metric_table(rows: Iterable[Mapping[str, Any]] | pd.DataFrame, source: str = "<metric table>") -> pd.DataFrame:
    """A validated metric table from row dicts (:func:`row`) or a DataFrame."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if df.empty:
        df = pd.DataFrame({c: pd.Series(dtype=float if c in NUMERIC else str) for c in COLUMNS})
    return validate(df, source)


def concat(tables: Sequence[pd.DataFrame], source: str = "<metric table>") -> pd.DataFrame:
    """Several metric tables as one (coordinates missing in a part are empty there)."""
    parts = [t for t in tables if t is not None and len(t)]
    if not parts:
        return metric_table([], source)
    return validate(pd.concat(parts, ignore_index=True), source)


def read(path: str | Path) -> pd.DataFrame:
    """A metric table from its CSV (``metrics.csv``), validated; conditions stay strings."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise MetricTableError(f"{path}: cannot read a metric table ({e})") from None
    for c in NUMERIC:
        if c in raw.columns:
            raw[c] = pd.to_numeric(raw[c].replace("", np.nan), errors="coerce")
    for c in coordinates(raw):
        num = pd.to_numeric(raw[c].replace("", np.nan), errors="coerce")
        if num.notna().sum() == (raw[c] != "").sum():
            raw[c] = num
    return validate(raw, str(path))


def write(table: pd.DataFrame, path: str | Path) -> Path:
    """Validate and write a metric table as CSV, atomically."""
    from psychobench.data.io import atomic_write_frame

    return atomic_write_frame(validate(table, str(path)), path)


# ---------------------------------------------------------------------------------- summary view

def _num(v) -> float | None:
    return float(v) if _finite(v) else None


def _ci(r, what: str) -> list[float | None]:
    return [_num(r[f"{what}_ci_low"]), _num(r[f"{what}_ci_high"])]


def _has_ci(r, what: str) -> bool:
    return _finite(r[f"{what}_ci_low"]) or _finite(r[f"{what}_ci_high"])


def entry(r) -> Any:
    """The summary form of one row: a consistency block ``{value, value_ci, ceiling,
    ceiling_ci, normalized, normalized_ci}`` where the metric has a ceiling, ``{value,
    value_ci, status}`` where it has an interval or a non-ok status, else the plain value."""
    if _finite(r["ceiling"]) or _has_ci(r, "ceiling"):
        out = {"value": _num(r["value"]), "value_ci": _ci(r, "value"),
               "ceiling": _num(r["ceiling"]), "ceiling_ci": _ci(r, "ceiling"),
               "normalized": _num(r["normalized"]), "normalized_ci": _ci(r, "normalized")}
        if r["status"] != "ok":
            out["status"] = r["status"]
        return out
    if _has_ci(r, "value") or r["status"] != "ok":
        return {"value": _num(r["value"]), "value_ci": _ci(r, "value"), "status": r["status"]}
    return _num(r["value"])


def _block(rows: pd.DataFrame) -> dict:
    out: dict[str, Any] = {}
    for r in rows.to_dict("records"):
        e = entry(r)
        if r["condition"]:
            out.setdefault("by_condition", {}).setdefault(r["metric"], {})[r["condition"]] = e
        elif isinstance(e, dict) and "ceiling" in e:
            out.setdefault("consistency", {})[r["metric"]] = e
            out[r["metric"]] = e["value"]
        else:
            out[r["metric"]] = e
    return out


def summary_view(table: pd.DataFrame, model: str) -> dict:
    """``summary.json``'s score part, derived from the metric table: ``datasets.<set>`` holds
    the model's whole-set metrics (``<metric>``: the value, or ``{value, value_ci, status}`` where
    it has an interval; metrics with a ceiling also as ``consistency.<metric>``, the full block
    of :func:`entry`; ``by_condition.<metric>.<condition>`` per condition) and ``humans`` (the
    human reference on that set); ``aggregate`` the model's means over data sets;
    ``human_reference`` the humans'.  Rows with analysis coordinates are left to the table."""
    t = validate(table)
    coords = coordinates(t)
    if coords:
        t = t[t[coords].isna().all(axis=1)]
    out: dict[str, Any] = {"datasets": {}, "aggregate": {}, "human_reference": {}}
    for ds in dict.fromkeys(t["dataset"]):
        d = t[t["dataset"] == ds]
        mine, theirs = d[d["observer"] == model], d[d["observer"] == HUMANS]
        if ds == AGGREGATE:
            out["aggregate"] = _block(mine)
            out["human_reference"] = _block(theirs)
            continue
        block = _block(mine)
        if len(theirs):
            block["humans"] = _block(theirs)
        out["datasets"][ds] = block
    return out
