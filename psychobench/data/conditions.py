"""Canonical condition strings.

model-vs-human reads its CSVs with pandas and turns the ``condition`` column into strings with
``astype(str)``, so numeric columns change form: ``0.10`` -> ``0.1``, ``3`` -> ``3.0`` in a float
column, ``true`` -> ``True``.  Its condition lists and exclusions use that parsed form, and so does
psychobench's trial table.  Every entry point also accepts the raw CSV strings.

The parsed form of a value depends on the type pandas infers for the whole column (an ``int``
column keeps ``3``, a ``float`` column writes ``3.0``).  For the model-vs-human data sets the type
is pinned here, so a subset of a data set (a model run on a few conditions) gets the same strings;
for other data it is inferred from the column as pandas would.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Column type of ``condition`` as pandas parses the model-vs-human human CSVs.
CONDITION_KIND: dict[str, str] = {
    "colour": "str", "contrast": "str", "high-pass": "float", "low-pass": "int",
    "phase-scrambling": "int", "power-equalisation": "str", "false-colour": "bool",
    "rotation": "int", "eidolonI": "str", "eidolonII": "str", "eidolonIII": "str",
    "uniform-noise": "float", "sketch": "int", "stylized": "int", "edge": "int",
    "silhouette": "int", "cue-conflict": "int",
}

#: Conditions left out of the benchmark means (model-vs-human ``plot.py`` EXCLUDE_CONDITIONS:
#: the unmanipulated condition, and those where humans are below 20% correct), parsed form.
EXCLUDED_CONDITIONS: dict[str, frozenset[str]] = {
    "colour": frozenset({"cr"}),
    "contrast": frozenset({"c100", "c03", "c01"}),
    "high-pass": frozenset({"inf", "0.55", "0.45", "0.4"}),
    "low-pass": frozenset({"0", "15", "40"}),
    "phase-scrambling": frozenset({"0", "150", "180"}),
    "power-equalisation": frozenset({"0"}),
    "false-colour": frozenset({"True"}),
    "rotation": frozenset({"0"}),
    "eidolonI": frozenset({"1-10-10", "64-10-10", "128-10-10"}),
    "eidolonII": frozenset({"1-3-10", "32-3-10", "64-3-10", "128-3-10"}),
    "eidolonIII": frozenset({"1-0-10", "16-0-10", "32-0-10", "64-0-10", "128-0-10"}),
    "uniform-noise": frozenset({"0.0", "0.6", "0.9"}),
}

_TRUE = {"true"}
_BOOL = {"true", "false"}


def _as_float(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def _is_int(s: str) -> bool:
    s = s.strip()
    if s[:1] in "+-":
        s = s[1:]
    return s.isdigit()


def infer_kind(values) -> str:
    """The type pandas would give a column of these raw strings: int, float, bool or str."""
    vals = [str(v).strip() for v in values]
    if not vals:
        return "str"
    if all(_is_int(v) for v in vals):
        return "int"
    if all(_as_float(v) is not None for v in vals):
        return "float"
    if all(v.lower() in _BOOL for v in vals):
        return "bool"
    return "str"


def format_condition(raw: str, kind: str) -> str:
    """One raw value in the parsed form of a column of type ``kind``."""
    s = str(raw).strip()
    if kind == "int":
        if not _is_int(s):
            raise ValueError(f"condition {raw!r} is not an integer")
        return str(int(s))
    if kind == "float":
        f = _as_float(s)
        if f is None:
            raise ValueError(f"condition {raw!r} is not a number")
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return str(f)
    if kind == "bool":
        if s.lower() not in _BOOL:
            raise ValueError(f"condition {raw!r} is not true/false")
        return "True" if s.lower() in _TRUE else "False"
    return s


def canonical_conditions(values: pd.Series, dataset: str | None = None) -> pd.Series:
    """Canonical strings for a column of raw condition values (missing values stay missing).

    Vectorised over unique values; raises ``ValueError`` naming the first bad value.
    """
    s = pd.Series(values, copy=False)
    present = s.notna()
    raw = s[present].astype(str)
    uniq = pd.unique(raw)
    kind = CONDITION_KIND.get(dataset or "") or infer_kind(uniq)
    mapping = {u: format_condition(u, kind) for u in uniq}
    if present.all():
        return raw.map(mapping).astype("str")
    out = pd.Series(np.nan, index=s.index, dtype="str")
    out[present] = raw.map(mapping)
    return out


def canonical_condition(raw: str, dataset: str | None = None) -> str:
    """Canonical form of one condition as a user types it (raw CSV or parsed form)."""
    kind = CONDITION_KIND.get(dataset or "")
    if kind is None:
        kind = infer_kind([raw])
    return format_condition(raw, kind)


def used_condition_mask(dataset: str, conditions: pd.Series | np.ndarray) -> np.ndarray:
    """Boolean mask of trials whose condition enters the benchmark means."""
    excl = EXCLUDED_CONDITIONS.get(dataset, frozenset())
    return ~pd.Series(conditions).isin(excl).to_numpy()
