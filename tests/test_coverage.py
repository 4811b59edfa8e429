"""A small version of scripts/coverage.py: the 95% intervals of the ceiling and of the
normalised score cover the population value on synthetic panels with a known truth."""

from __future__ import annotations

import numpy as np
import pytest

from psychobench.consistency import intervals as I
from psychobench.consistency.scores import consistency_details
from psychobench.consistency.synthetic import Design, Population

N_PANELS = 40


@pytest.fixture(scope="module")
def coverage():
    pop = Population(Design(6, 320, accuracy=(0.8,)))
    truth = pop.truth(n_panels=400).set_index("metric")
    hits = {}
    for i in range(N_PANELS):
        stim, humans = pop.panel(np.random.default_rng([3, i]))
        model, h = pop.trial_tables(stim, humans)
        d = consistency_details(model, h, n_boot=100, seed=i).set_index("metric")
        for metric in ("i1", "i1n", "o2_offdiag", "error_consistency"):
            for q in ("ceiling", "normalized"):
                lo, hi = d.loc[metric, f"{q}_ci_low"], d.loc[metric, f"{q}_ci_high"]
                assert d.loc[metric, f"{q}_interval"] == "ok", (metric, q, i)
                assert lo <= d.loc[metric, q] <= hi, (metric, q, i)
                hits.setdefault((metric, q), []).append(lo <= truth.loc[metric, q] <= hi)
    return {k: np.mean(v) for k, v in hits.items()}


def test_intervals_cover_the_truth(coverage):
    # P(at most 33 of 40 covered) is 0.005 at a true coverage of 95%, and 0.5 at 82%
    for key, c in coverage.items():
        assert c >= 34 / N_PANELS, (key, c)
    # and over all 8 intervals (320 panels x intervals) close to 95%
    assert 0.90 <= np.mean(list(coverage.values())) <= 0.995


def test_crossed_variance_components():
    # grand mean of an observers x stimuli array with known components: V = A + B + E
    rng = np.random.default_rng(0)
    S, N, B = 12, 200, 400
    a, b = rng.normal(0, 1.0, S), rng.normal(0, 2.0, N)
    y = a[:, None] + b[None, :] + rng.normal(0, 3.0, (S, N))
    truth = 1.0 / S + 4.0 / N + 9.0 / (S * N)
    draws = {}
    for key in ("stimuli", "observers", "both"):
        si = rng.integers(0, S, (B, S)) if key != "stimuli" else np.tile(np.arange(S), (B, 1))
        xi = rng.integers(0, N, (B, N)) if key != "observers" else np.tile(np.arange(N), (B, 1))
        draws[key] = np.array([y[si[k]][:, xi[k]].mean() for k in range(B)])
    iv = I.crossed(y.mean(), draws["stimuli"], draws["observers"], draws["both"])
    assert iv.ok and iv.low < y.mean() < iv.high
    assert iv.se ** 2 == pytest.approx(truth, rel=0.3)


def test_crossed_says_when_there_is_no_valid_interval():
    d = np.r_[np.full(10, np.nan), np.linspace(0, 1, 90)]
    assert I.crossed(0.5, d, d, d).status == "no_valid_interval"
    assert I.crossed(np.nan, d, d, d).status == "undefined"
    assert np.isnan(I.crossed(0.5, d, d, d).low)
