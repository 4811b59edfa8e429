"""An independent psychometric fit for cross-checking ``psychobench.consistency.psychometric``.

Written from the model's definition only (Wichmann & Hill 2001): ``psi(x) = guess + (1 - guess -
lapse) F(beta (x - alpha))`` with a fixed guess rate and the lapse rate bounded, fitted by binomial
maximum likelihood with ``scipy.optimize.minimize`` (L-BFGS-B with the analytic gradient, from the
best points of a coarse start grid).  The threshold is the root of ``psi(x) = criterion`` found by
``scipy.optimize.brentq`` inside the tested range, not a closed form.  Nothing here imports the
project's fitter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from scipy.special import xlog1py, xlogy

LN10_20 = np.log(10.0) / 20.0


def sigmoid(kind: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F(z) and dF/dz of the core sigmoid, z = beta (x - alpha)."""
    z = np.asarray(z, float)
    if kind == "logistic":
        e = np.exp(-np.abs(z))                          # stable on both sides
        f = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return f, f * (1.0 - f)
    if kind == "gaussian":
        return stats.norm.cdf(z), stats.norm.pdf(z)
    if kind == "log_weibull":                           # 1 - exp(-10^(z / 20)), z in dB
        s = np.power(10.0, np.clip(z / 20.0, -300, 300))
        return -np.expm1(-s), np.exp(-s) * s * LN10_20
    raise ValueError(kind)


@dataclass
class ReferenceFit:
    kind: str
    alpha: float
    beta: float
    lapse: float
    nll: float
    guess: float
    x: np.ndarray

    def psi(self, x):
        f, _ = sigmoid(self.kind, self.beta * (np.asarray(x, float) - self.alpha))
        return self.guess + (1.0 - self.guess - self.lapse) * f

    def threshold(self, criterion: float) -> float:
        """The level in the tested range where psi = criterion (NaN if it is not crossed there)."""
        lo, hi = float(self.x.min()), float(self.x.max())
        g = lambda v: float(self.psi(v)) - criterion  # noqa: E731
        if np.sign(g(lo)) == np.sign(g(hi)):
            return float("nan")
        return optimize.brentq(g, lo, hi, xtol=1e-12, rtol=1e-12)


def binomial_nll(kind, theta, x, k, n, guess):
    """NLL of the counts (without the binomial constant, which does not depend on the parameters)
    and its gradient in (alpha, beta, lapse)."""
    a, b, lam = theta
    f, df = sigmoid(kind, b * (x - a))
    p = np.clip(guess + (1.0 - guess - lam) * f, 1e-15, 1 - 1e-15)
    nll = -float(np.sum(xlogy(k, p) + xlog1py(n - k, -p)))
    w = -(k / p - (n - k) / (1.0 - p))                  # d nll / d p
    amp = 1.0 - guess - lam
    grad = np.array([np.sum(w * amp * df * -b), np.sum(w * amp * df * (x - a)), np.sum(w * -f)])
    return nll, grad


def reference_fit(x, k, n, *, kind="logistic", guess=0.5, lapse_bounds=(0.0, 0.06),
                  keep: int = 12) -> ReferenceFit:
    """Maximum-likelihood fit of (alpha, beta, lapse); levels that are not finite are left out."""
    x, k, n = (np.asarray(v, float) for v in (x, k, n))
    ok = np.isfinite(x) & (n > 0)
    x, k, n = x[ok], k[ok], n[ok]
    span = float(x.max() - x.min())
    alphas = np.quantile(x, np.linspace(-0.2, 1.2, 15).clip(0, 1)) + np.linspace(-0.2, 0.2, 15) * span
    mags = np.array([0.3, 1, 3, 10, 30, 100]) / span
    if kind == "log_weibull":
        mags = mags * 20                                # rises only; dB steps
        betas = mags
    else:
        betas = np.r_[-mags, mags]
    lapses = np.linspace(*lapse_bounds, 3)
    starts = np.array([(a, b, lam) for a in alphas for b in betas for lam in lapses])
    vals = np.array([binomial_nll(kind, s, x, k, n, guess)[0] for s in starts])
    beta_bounds = (1e-9, None) if kind == "log_weibull" else (None, None)
    best = None
    for s in starts[np.argsort(vals)[:keep]]:
        r = optimize.minimize(lambda t: binomial_nll(kind, t, x, k, n, guess), s, method="L-BFGS-B",
                              jac=True, bounds=[(None, None), beta_bounds, tuple(lapse_bounds)],
                              options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
        if best is None or r.fun < best.fun:
            best = r
    a, b, lam = best.x
    return ReferenceFit(kind, float(a), float(b), float(lam), float(best.fun), float(guess), x)
