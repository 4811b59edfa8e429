"""Confidence intervals for statistics of a crossed (observers x stimuli) panel.

Every observer saw every stimulus.  A statistic of such a panel (a split-half ceiling, a
noise-corrected consistency, a mean kappa) varies with the stimuli drawn, with the observers
drawn and with their trial-by-trial noise (the observer x stimulus interaction).  Its variance
is estimated from three sets of bootstrap draws: stimuli resampled (within condition), observers
resampled, and both (the same draws crossed).  For the grand mean of an observers x stimuli
array with observer, stimulus and interaction variance components ``A``, ``B``, ``E`` (as shares
of the mean's variance), the three bootstrap variances are ``B + E``, ``A + E`` and
``A + B + 3E``: the crossed bootstrap counts the interaction three times (Owen 2007, "The
pigeonhole bootstrap", Ann. Appl. Stat.).  So

    ``V = 2 V_stimuli + 2 V_observers - V_both  (= A + B + E)``

is the variance of the statistic, and the 95% interval is ``theta +/- 1.96 sqrt(V)`` on a scale
where the statistic is close to normal (Fisher's z for correlations), mapped back.

What was wrong with the percentile interval of the crossed draws (the earlier method): a
resampled panel is a different design, and the percentiles took its distribution for the
estimate's.  (1) An observer drawn twice adds no information, so split halves of a resampled
panel hold fewer distinct people and its Spearman-Brown reliability was that of a smaller panel;
now every draw projects the reliability to the real panel size (:func:`metrics.split_half_to`).
(2) A stimulus drawn twice repeats its trials, so the trial noise of a category's counts
doubles and every object-level ceiling of a draw is lower than the panel's; the spread of the
draws is right, their centre is not, so the interval is centred at the estimate (3) instead of
being read off the draws' percentiles.  The earlier method put the point estimate of the 17
model-vs-human sets above its own ceiling interval in up to 15 of 17 sets; the simulation in
``scripts/coverage.py`` checks the method here against a known truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
#: Below this share of finite draws in any of the three sets the variance is not estimated
#: (the statistic is undefined in too many resampled panels: no valid interval).
MIN_FINITE = 0.95


@dataclass(frozen=True)
class Interval:
    """A 95% interval on the statistic's own scale, its standard error on the working scale,
    and why there is none (``status``: ``ok``, ``undefined``, ``no_valid_interval``,
    ``no_interval``)."""

    low: float
    high: float
    se: float
    status: str = "ok"

    @property
    def ok(self) -> bool:
        return self.status == "ok"


NONE = Interval(np.nan, np.nan, np.nan, "no_interval")


def _identity(x):
    return np.asarray(x, float)


def _fisher(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.arctanh(np.asarray(x, float))


def _log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(x, float))


#: Working scales: ``fisher`` (z = atanh r) for correlations, ``log`` for positive quantities
#: near zero (a squared accuracy difference), the identity for everything else.
TRANSFORMS = {"identity": (_identity, _identity), "fisher": (_fisher, np.tanh), "log": (_log, np.exp)}


def wilson(k, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``k / n`` (arrays; NaN where n = 0).
    statsmodels' ``proportion_confint(method="wilson")`` gives the same numbers one array at a
    time (a test checks it); this is its vectorised form."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z * z / n
        mid = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


#: The interquartile range of a normal distribution in standard deviations (2 z_0.75).
IQR_NORMAL = 1.3489795003921634


def _var(draws) -> tuple[float, float]:
    """Robust variance of the finite ``draws`` ((IQR / 1.349)^2, the variance of the normal
    distribution with the draws' interquartile range) and the share of finite draws.

    On the working scale the draws are close to normal in their body, but a ratio (a normalised
    score) of a resampled panel whose ceiling is near zero lands far out; the sample variance is
    dominated by those few draws (it can make ``V`` negative), the interquartile range is not."""
    d = np.asarray(draws, float)
    fin = np.isfinite(d)
    share = float(fin.mean()) if d.size else 0.0
    if fin.sum() < 4:
        return np.nan, share
    q25, q75 = np.percentile(d[fin], [25, 75])
    return float(((q75 - q25) / IQR_NORMAL) ** 2), share


def crossed(theta, stimuli, observers, both, *, transform: str = "identity") -> Interval:
    """The interval of ``theta`` from its bootstrap draws with stimuli resampled, observers
    resampled and both (module docstring).  ``observers`` and ``both`` may be None for a
    statistic of stimuli alone (then ``V = V_stimuli``).

    ``status``: ``undefined`` where ``theta`` is not finite; ``no_valid_interval`` where fewer
    than :data:`MIN_FINITE` of the draws of a set are finite, or ``V`` is not positive.  Each
    variance is the robust one of :func:`_var`; ``V`` is kept at or above ``max(V_stimuli,
    V_observers)``, its least possible value."""
    fwd, back = TRANSFORMS[transform]
    t0 = float(fwd(theta))
    if not np.isfinite(t0):
        return Interval(np.nan, np.nan, np.nan, "undefined")
    vs, fs = _var(fwd(stimuli))
    if observers is None:
        var, shares = vs, [fs]
    else:
        vo, fo = _var(fwd(observers))
        vb, fb = _var(fwd(both))
        # A, B, E >= 0, so V = V_stimuli + A = V_observers + B is at least either: the
        # estimate is kept there when sampling noise in the three variances pushes it below
        var, shares = max(2.0 * vs + 2.0 * vo - vb, vs, vo), [fs, fo, fb]
    if min(shares) < MIN_FINITE or not (np.isfinite(var) and var > 0):
        return Interval(np.nan, np.nan, np.nan, "no_valid_interval")
    se = float(np.sqrt(var))
    return Interval(float(back(t0 - Z95 * se)), float(back(t0 + Z95 * se)), se)


def percentile(draws, level: float = 0.95) -> Interval:
    """The percentile interval of bootstrap ``draws`` (non-finite draws ignored); the earlier
    method, kept for comparison (see the module docstring)."""
    d = np.asarray(draws, float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return Interval(np.nan, np.nan, np.nan, "no_valid_interval")
    lo, hi = np.percentile(d, [50 * (1 - level), 100 - 50 * (1 - level)])
    return Interval(float(lo), float(hi), float(d.std(ddof=1)))
