"""The project's psychometric fitter against an independent scipy maximum-likelihood fit.

On the real pooled human data of every model-vs-human parametric set with at least 4 levels on
the fitting scale (contrast, high-pass, low-pass, phase-scrambling, eidolonI/II/III,
uniform-noise; colour, power-equalisation and false-colour have 2 levels, rotation 3 distances
from upright), with the pipeline's settings (guess 1/16, criterion halfway between guess and 1,
lapse in [0, 0.06], each set's level transform), the two thresholds must agree within the
bootstrap SE of the project's threshold (200 seeded draws of :func:`bootstrap_threshold`,
resampling trials within level).  The reference (``tests/psychometric_reference.py``) shares no
code with the fitter.  The tolerance is shown to be tight enough: a fitter without the lapse term
or with the wrong guess rate fails it, and perturbed data move both fits alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from psychobench.consistency.psychometric import bootstrap_threshold, fit_psychometric
from psychobench.experiments import mvh

from psychometric_reference import reference_fit

GUESS = 1.0 / 16
CRITERION = GUESS + (1 - GUESS) / 2
N_BOOT = 200
SETS = ("contrast", "high-pass", "low-pass", "phase-scrambling", "eidolonI", "eidolonII",
        "eidolonIII", "uniform-noise")


def counts(trials: pd.DataFrame, ds: str):
    """Pooled counts per level on the set's fitting scale (non-finite levels dropped), computed
    here with pandas from the set's condition -> level scheme."""
    sch = mvh.scheme(ds)
    level_of = {str(c): float(v) for c, v in sch.levels(trials["condition"].unique()).items()}
    x = trials["condition"].astype(str).map(level_of).astype(float).to_numpy()
    if sch.transform is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            x = {"log10": np.log10, "log2": np.log2}[sch.transform](x)
    g = (pd.DataFrame({"x": x, "c": trials["correct"].astype(float).to_numpy()})
         .groupby("x")["c"].agg(["sum", "count"]))
    g = g[np.isfinite(g.index.to_numpy(float))]
    return g.index.to_numpy(float), g["sum"].to_numpy(float), g["count"].to_numpy(float)


def kinds_for(ds: str) -> tuple[str, ...]:
    # log_weibull rises with level: only where accuracy rises with the level (harder = lower)
    return ("logistic", "gaussian") + (("log_weibull",) if mvh.scheme(ds).harder == "lower" else ())


def compare(x, k, n, kind, *, lapse_bounds=(0.0, 0.06), guess=GUESS):
    """(project fit, its bootstrap SE, reference fit); the project fit may use other settings
    (to show that the check catches a wrong fitter)."""
    f = fit_psychometric(x, k, n, kind=kind, guess=guess, lapse_bounds=lapse_bounds)
    draws = bootstrap_threshold(f, CRITERION, n_boot=N_BOOT, seed=0)["draws"]
    fin = draws[np.isfinite(draws)]
    se = float(np.std(fin, ddof=1)) if fin.size > 1 else float("nan")
    ref = reference_fit(x, k, n, kind=kind, guess=GUESS, lapse_bounds=(0.0, 0.06), keep=6)
    return f, se, ref


@pytest.fixture(scope="module")
def table(humans):
    rows = []
    curve = mvh.human_curve_table({ds: humans[ds] for ds in SETS}).set_index("dataset")
    for ds in SETS:
        x, k, n = counts(humans[ds], ds)
        assert x.size >= 4, ds
        for kind in kinds_for(ds):
            f, se, ref = compare(x, k, n, kind)
            rows.append({"set": ds, "kind": kind, "levels": x.size, "status": f.threshold_status(CRITERION),
                         "project": f.threshold(CRITERION), "scipy": ref.threshold(CRITERION), "se": se,
                         "nll_project": f.nll, "nll_scipy": ref.nll, "lapse": f.lapse,
                         "pipeline": curve.loc[ds, "threshold"] if kind == "logistic" else np.nan})
    out = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 5):
        print("\n" + out.to_string(index=False))
    return out


def test_sets_with_four_levels(humans):
    """Every parametric set with >= 4 levels on its fitting scale is in SETS, and no other."""
    many = {ds for ds in mvh.DATASETS if mvh.scheme(ds).parametric and counts(humans[ds], ds)[0].size >= 4}
    assert many == set(SETS)


def test_thresholds_agree_within_bootstrap_se(table, humans):
    assert len(table) == 2 * len(SETS) + 2                     # + log_weibull on contrast, high-pass
    for r in table.itertuples():
        if r.status == "at_chance":
            # no threshold in the data: the easier end level is not above the guess rate (here
            # by scipy's exact binomial test), and the reference agrees nothing is to be reported
            x, k, n = counts(humans[r.set], r.set)
            easy = int(np.argmax(k / n))
            assert stats.binomtest(int(k[easy]), int(n[easy]), GUESS, alternative="greater").pvalue >= 0.05
            continue
        if r.status == "not_reached":
            assert np.isnan(r.project) and np.isnan(r.scipy), (r.set, r.kind)
            continue
        assert r.status == "ok", (r.set, r.kind, r.status)
        assert np.isfinite(r.project) and np.isfinite(r.scipy) and np.isfinite(r.se) and r.se > 0
        assert abs(r.project - r.scipy) <= r.se, (r.set, r.kind, r.project, r.scipy, r.se)
        # the same maximum: neither likelihood is noticeably better than the other
        assert abs(r.nll_project - r.nll_scipy) < 1e-3, (r.set, r.kind)
    lg = table[table["kind"] == "logistic"]
    np.testing.assert_allclose(lg["pipeline"], lg["project"], rtol=0, atol=1e-12)   # what reports use


def test_check_catches_a_wrong_fitter(humans):
    """The SE tolerance is tight: a fit without the lapse term misses it on most sets, a fit with
    a two-alternative guess rate on every set."""
    miss_lapse = miss_guess = 0
    for ds in SETS:
        x, k, n = counts(humans[ds], ds)
        f0, se, ref = compare(x, k, n, "logistic", lapse_bounds=(0.0, 0.0))
        miss_lapse += abs(f0.threshold(CRITERION) - ref.threshold(CRITERION)) > se
        fg = fit_psychometric(x, k, n, guess=0.5)
        t = fg.threshold(CRITERION)
        miss_guess += not np.isfinite(t) or abs(t - ref.threshold(CRITERION)) > se
    assert miss_lapse >= 6 and miss_guess == len(SETS)


def test_perturbed_data_move_both_fits(humans):
    """Shifting the levels shifts both thresholds by the shift; halving the correct answers at the
    level nearest the threshold moves both by many SE, and they agree again."""
    x, k, n = counts(humans["contrast"], "contrast")
    f, se, ref = compare(x, k, n, "logistic")
    t = f.threshold(CRITERION)
    fs, _, rs = compare(x + 0.5, k, n, "logistic")
    assert fs.threshold(CRITERION) == pytest.approx(t + 0.5, abs=1e-6)
    assert rs.threshold(CRITERION) == pytest.approx(ref.threshold(CRITERION) + 0.5, abs=1e-6)
    j = int(np.argmin(np.abs(x - t)))
    k2 = k.copy()
    k2[j] = np.floor(k[j] / 2)
    fp, sep, rp = compare(x, k2, n, "logistic")
    tp, trp = fp.threshold(CRITERION), rp.threshold(CRITERION)
    assert abs(tp - t) > 3 * se and abs(trp - ref.threshold(CRITERION)) > 3 * se
    assert abs(tp - trp) <= sep
