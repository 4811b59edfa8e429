"""Consistency: trial tables (model, humans) -> the metric table, with noise ceilings and
bootstrap intervals.

Pure numpy / pandas / scipy / statsmodels; no network code.  Entry points: the scorers of
:mod:`~psychobench.consistency.scoring` (item level, condition level, descriptive, aggregate) and
:mod:`~psychobench.consistency.hearing`, the metric table (:mod:`~psychobench.consistency.table`),
:func:`consistency_details` and :func:`human_ceilings` (``scores``), :func:`fit_psychometric` and
:func:`compare_curves` (``psychometric``), :func:`compare_observers` (``stats``).  Submodules load
on first use (scipy and statsmodels are slow to import).
"""

_LAZY = {"compare_curves": "psychometric", "fit_psychometric": "psychometric",
         "consistency_details": "scores", "human_ceilings": "scores", "compare_observers": "stats"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"psychobench.consistency.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'psychobench.consistency' has no attribute {name!r}")
