"""Trial-by-trial agreement between two observers: observed consistency and error consistency.

Error consistency is Cohen's kappa on correctness (Geirhos et al. 2020, NeurIPS):
``c_obs = mean(a == b)``, ``c_exp = p_a p_b + (1 - p_a)(1 - p_b)``,
``kappa = (c_obs - c_exp) / (1 - c_exp)``.  All functions are vectorised over leading axes:
``a`` and ``b`` are boolean arrays of shape ``(..., n_trials)``; results have shape ``(...)``.

Where ``c_exp == 1`` (both observers all-correct, or both all-wrong) kappa is undefined: we
return NaN so that callers exclude it.  model-vs-human returns 1 in that case; Brain-Score
divides by zero.
"""

from __future__ import annotations

import numpy as np


def agreement_counts(a: np.ndarray, b: np.ndarray, axis: int = -1):
    """Return ``(p_a, p_b, c_obs)`` along ``axis`` for boolean correctness arrays."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    p_a = a.mean(axis=axis)
    p_b = b.mean(axis=axis)
    c_obs = (a == b).mean(axis=axis)
    return p_a, p_b, c_obs


def kappa_from_rates(p_a, p_b, c_obs):
    """Cohen's kappa from accuracies and observed agreement; NaN where ``c_exp == 1``."""
    p_a, p_b, c_obs = (np.asarray(x, dtype=float) for x in (p_a, p_b, c_obs))
    c_exp = p_a * p_b + (1.0 - p_a) * (1.0 - p_b)
    denom = 1.0 - c_exp
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (c_obs - c_exp) / denom
    return np.where(np.isclose(denom, 0.0, atol=1e-12), np.nan, k)


def error_consistency(a: np.ndarray, b: np.ndarray, axis: int = -1):
    """Error consistency (kappa) of two correctness arrays along ``axis``."""
    return kappa_from_rates(*agreement_counts(a, b, axis=axis))


def observed_consistency(a: np.ndarray, b: np.ndarray, axis: int = -1):
    """Fraction of trials on which both observers are right or both wrong."""
    return agreement_counts(a, b, axis=axis)[2]


def kappa_bounds(p_a: float, p_b: float) -> tuple[float, float]:
    """Smallest and largest kappa reachable by two observers with accuracies ``p_a``, ``p_b``."""
    c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)
    lo = abs(p_a + p_b - 1)
    hi = 1 - abs(p_a - p_b)
    return (lo - c_exp) / (1 - c_exp), (hi - c_exp) / (1 - c_exp)
