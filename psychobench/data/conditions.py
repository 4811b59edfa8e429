"""Canonical condition strings.

model-vs-human reads its CSVs with pandas and turns the ``condition`` column into strings with
``astype(str)``, so numeric columns change form: ``0.10`` -> ``0.1``, ``3`` -> ``3.0`` in a float
column, ``true`` -> ``True``.  Its condition lists and exclusions use that parsed form, and so does
psychobench's trial table.  Every entry point also accepts the raw CSV strings.

The parsed form of a value depends on the type pandas infers for the whole column (an ``int``
column keeps ``3``, a ``float`` column writes ``3.0``).  An experiment pins the type of its column
(:class:`psychobench.experiments.base.ConditionScheme`), so that a subset of its conditions (a
model run on a few of them) gets the same strings; without one it is inferred from the column as
pandas would.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from psychobench.data.schema import show

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
            raise ValueError(f"condition {show(raw)} is not an integer")
        return str(int(s))
    if kind == "float":
        f = _as_float(s)
        if f is None:
            raise ValueError(f"condition {show(raw)} is not a number")
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return str(f)
    if kind == "bool":
        if s.lower() not in _BOOL:
            raise ValueError(f"condition {show(raw)} is not true/false")
        return "True" if s.lower() in _TRUE else "False"
    return s


def canonical_conditions(values: pd.Series, kind: str | None = None) -> pd.Series:
    """Canonical strings for a column of raw condition values (missing values stay missing);
    ``kind`` as :func:`format_condition` (default: inferred from the column).

    Vectorised over unique values; raises ``ValueError`` naming the first bad value.
    """
    s = pd.Series(values, copy=False)
    present = s.notna()
    raw = s[present].astype(str)
    uniq = pd.unique(raw)
    kind = kind or infer_kind(uniq)
    mapping = {u: format_condition(u, kind) for u in uniq}
    if present.all():
        return raw.map(mapping).astype("str")
    out = pd.Series(np.nan, index=s.index, dtype="str")
    out[present] = raw.map(mapping)
    return out
