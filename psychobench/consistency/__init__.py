"""Consistency: trial tables (model, humans) -> metrics with noise ceilings and bootstrap CIs.

Pure numpy / pandas / scipy / statsmodels; no network code.  Entry points:
:func:`consistency_report`, :func:`aggregate_reports`, :func:`human_ceilings`
(``report``), :func:`fit_psychometric`, :func:`compare_curves` (``psychometric``) and
:func:`compare_observers` (``stats``).
"""

from psychobench.consistency.psychometric import compare_curves, fit_psychometric
from psychobench.consistency.scores import (
    aggregate_reports,
    consistency_details,
    consistency_report,
    human_ceilings,
)
from psychobench.consistency.stats import compare_observers

__all__ = ["consistency_report", "consistency_details", "aggregate_reports", "human_ceilings",
           "fit_psychometric", "compare_curves", "compare_observers"]
