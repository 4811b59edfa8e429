"""Coverage of psychobench's 95% intervals on synthetic panels with a known truth.

For each design (observers x stimuli, the shapes of the 17 model-vs-human sets; see
:mod:`psychobench.consistency.synthetic`) the script computes the population values of every
consistency metric (value, ceiling, normalised score) by Monte Carlo, then draws ``--panels``
independent panels (fresh stimuli, model answers and observers), scores each with
:func:`psychobench.consistency.scores.consistency_details` exactly as a run does, and counts how
often each interval covers the truth.  A valid 95% interval covers 93-97% of the time over 2000
panels (the binomial standard error of a coverage of 95% is 0.49 percentage points).

::

    python scripts/coverage.py                                   # 2000 panels per shape
    python scripts/coverage.py --shapes 4x480 --panels 200 --interval percentile
    python scripts/coverage.py --out coverage/                   # per-panel CSVs + summary

Per panel the results are appended to ``OUT/panels_<shape>_<interval>.csv`` as they come (an
interrupted run resumes where it stopped); the summary table (markdown) goes to standard output
and ``OUT/coverage_<interval>.md``.  Intervals a panel does not give (status
``no_valid_interval`` etc.) are counted apart, not as misses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

QUANTITIES = ("value", "ceiling", "normalized")


def truth_of(pop, shape: str, out: Path, n_panels: int) -> pd.DataFrame:
    path = out / f"truth_{shape}.csv"
    if path.is_file():
        t = pd.read_csv(path)
        if int(t["n_panels"].iloc[0]) >= n_panels:
            return t
    t0 = time.perf_counter()
    t = pop.truth(n_panels=n_panels).assign(n_panels=n_panels)
    t.to_csv(path, index=False)
    print(f"{shape}: truth from {n_panels} panel pairs in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return t


def score_panel(pop, rng, interval: str, n_boot: int, seed: int) -> pd.DataFrame:
    from psychobench.consistency.scores import consistency_details

    stim, humans = pop.panel(rng)
    model, h = pop.trial_tables(stim, humans)
    d = consistency_details(model, h, interval=interval, n_boot=n_boot, seed=seed)
    return d


def summarise(panels: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    t = truth.set_index("metric")
    rows = []
    for metric, g in panels.groupby("metric", sort=False):
        row = {"metric": metric, "panels": len(g)}
        for q in QUANTITIES:
            lo, hi = g[f"{q}_ci_low"].to_numpy(float), g[f"{q}_ci_high"].to_numpy(float)
            have = np.isfinite(lo) & np.isfinite(hi)
            tv = float(t.loc[metric, q])
            cov = ((lo <= tv) & (tv <= hi))[have]
            row[f"{q}_truth"] = tv
            row[f"{q}_coverage"] = float(cov.mean()) if cov.size else np.nan
            row[f"{q}_below"] = float((hi[have] < tv).mean()) if cov.size else np.nan
            row[f"{q}_no_interval"] = int((~have).sum())
            row[f"{q}_width"] = float(np.median((hi - lo)[have])) if cov.size else np.nan
            est = g[q].to_numpy(float)
            row[f"{q}_bias"] = float(np.nanmean(est) - tv)
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame, interval: str) -> str:
    lines = [f"coverage of 95% intervals ({interval}); in parentheses: share of intervals wholly below the truth",
             "", "| shape | metric | panels | ceiling (truth) | ceiling coverage | normalised (truth) | "
             "normalised coverage | value coverage |", "|---|---|---|---|---|---|---|---|"]

    def cov(r, q):
        c = r[f"{q}_coverage"]
        s = "n/a" if not np.isfinite(c) else f"{100 * c:.1f}% ({100 * r[f'{q}_below']:.1f}%)"
        if r[f"{q}_no_interval"]:
            s += f", {r[f'{q}_no_interval']} without"
        return s

    for r in summary.to_dict("records"):
        lines.append(f"| {r['shape']} | {r['metric']} | {r['panels']} | {r['ceiling_truth']:.3f} | "
                     f"{cov(r, 'ceiling')} | {r['normalized_truth']:.3f} | {cov(r, 'normalized')} | "
                     f"{cov(r, 'value')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from psychobench.consistency.synthetic import REAL_SHAPES, Population

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", nargs="*", default=list(REAL_SHAPES), choices=list(REAL_SHAPES))
    ap.add_argument("--panels", type=int, default=2000)
    ap.add_argument("--truth-panels", type=int, default=4000)
    ap.add_argument("--interval", choices=("crossed", "percentile"), default="crossed",
                    help="crossed (psychobench's intervals) or percentile (the earlier method)")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap draws (per set)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("coverage"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    summaries = []
    timing = {}
    for shape in args.shapes:
        pop = Population(REAL_SHAPES[shape])
        truth = truth_of(pop, shape, args.out, args.truth_panels)
        path = args.out / f"panels_{shape}_{args.interval}.csv"
        done = pd.read_csv(path) if path.is_file() else pd.DataFrame()
        start = int(done["panel"].max()) + 1 if len(done) else 0
        t0 = time.perf_counter()
        for i in range(start, args.panels):
            rng = np.random.default_rng([args.seed, 1, i])
            d = score_panel(pop, rng, args.interval, args.n_boot, seed=i).assign(panel=i)
            d.to_csv(path, mode="a", header=not path.is_file(), index=False)
        n_new = args.panels - start
        if n_new > 0:
            timing[shape] = (time.perf_counter() - t0) / n_new
            print(f"{shape}: {n_new} panels, {timing[shape]:.2f} s each", file=sys.stderr)
        panels = pd.read_csv(path)
        panels = panels[panels["panel"] < args.panels]
        summaries.append(summarise(panels, truth).assign(shape=shape))
    summary = pd.concat(summaries, ignore_index=True)
    text = markdown(summary, args.interval)
    (args.out / f"coverage_{args.interval}.md").write_text(text)
    summary.to_csv(args.out / f"coverage_{args.interval}.csv", index=False)
    if timing:
        (args.out / f"seconds_per_panel_{args.interval}.json").write_text(json.dumps(timing, indent=1))
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
