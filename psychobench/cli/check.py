"""``psychobench-check``: regression check of a fast benchmark subset against a stored baseline.

::

    psychobench-check --baseline conf/baselines/bundled.json            # rerun and compare
    psychobench-check --baseline conf/baselines/bundled.json --write    # (re)write the baseline
    psychobench-check --baseline B.json --from results/multirun/X       # compare existing runs

The baseline JSON names the benchmark (an ``experiment`` preset, the ``models`` and extra
Hydra ``overrides``) and holds every number of every model's metric table: ``metrics[KEY] =
{"value": v, "tol": t}`` with ``KEY = model/dataset/metric/field`` (``dataset@condition`` on
per-condition rows; ``field`` one of the table's numeric columns: value, value_ci_low, ...,
normalized_ci_high, n; an ``OBSERVER:`` prefix on the metric marks rows of another observer
than the model, ``humans:`` the human-to-human reference) plus ``model/all/n_trials/value``.  The rerun ignores every cache
(``cache_answers=false``): answers come from real forward passes.  A metric regresses when
``|now - baseline| > tol``, when it is missing, or when exactly one of the two is undefined
(NaN/null).  Exit status 1 on any regression, 2 on a failed run.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from psychobench.cli.common import command, parser
from psychobench.consistency.table import NUMERIC as FIELDS
from psychobench.data.io import atomic_write_text

DEFAULT_BENCHMARK = {
    "experiment": "edge_silhouette",
    "models": ["tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2"],
    "overrides": ["metrics.n_boot=200", "seed=0"],
}
# Tolerances written into a new baseline.  Human-only quantities (ceilings, the human-to-human
# reference) depend on the human data and the seeded splits alone: they must not move.  Model
# quantities may move when a different CPU/BLAS flips a borderline answer: one answer of 160 is
# 0.00625 of accuracy; correlations and kappas move more; bootstrap interval ends the most.
TOL_EXACT = 1e-9
TOL_ACCURACY = 0.01
TOL_SCORE = 0.03
TOL_CI = 0.05
ACCURACY_METRICS = {"accuracy", "ood_accuracy", "accuracy_difference", "observed_consistency"}


def tolerance(key: str) -> float:
    """Default tolerance of a metric key (see the constants above): numbers of other observers
    than the model (the humans, single subjects), ceilings and their intervals, and trial
    counts are exact."""
    _, _, metric, field = key.split("/")
    if metric == "n_trials" or field == "n":
        return 0.0
    if ":" in metric or field.startswith("ceiling"):
        return TOL_EXACT
    if "_ci_" in field:
        return TOL_CI
    if metric in ACCURACY_METRICS:
        return TOL_ACCURACY
    return TOL_SCORE


def _num(v):
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def metrics_of_runs(root: str | os.PathLike) -> dict[str, float | None]:
    """Every metric of the trusted run folders under ``root`` as ``{KEY: value}`` (None for an
    undefined value).  Raises if two runs share a model."""
    from psychobench.results.run_folder import RunFolder
    from psychobench.results.store import run_folders

    out: dict[str, float | None] = {}
    seen: dict[str, Path] = {}
    for folder in run_folders(root):
        summary = json.loads((folder / "summary.json").read_text())
        model = summary.get("model")
        if model in seen:
            raise ValueError(f"two runs of {model} under {root}: {seen[model]} and {folder}")
        seen[model] = folder
        out[f"{model}/all/n_trials/value"] = _num(summary.get("n_trials"))
        table = RunFolder(folder).metrics()
        for row in table.to_dict("records"):
            metric = row["metric"] if row["observer"] == model else f"{row['observer']}:{row['metric']}"
            ds = row["dataset"] + (f"@{row['condition']}" if row["condition"] else "")
            for field in FIELDS:
                v = row[field]
                if field != "value" and _num(v) is None:
                    continue                    # a metric without a ceiling has no such field
                out[f"{model}/{ds}/{metric}/{field}"] = _num(v)
    return out


def compare(baseline: dict, now: dict[str, float | None], models=None) -> pd.DataFrame:
    """One row per baseline metric (of ``models`` if given) and per new metric: key, baseline,
    now, delta, tol, status (ok, REGRESSION, MISSING, new)."""
    rows = []
    base = baseline["metrics"]
    for key, entry in base.items():
        if models is not None and key.split("/")[0] not in models:
            continue
        b, tol = _num(entry.get("value")), float(entry.get("tol", 0.0))
        if key not in now:
            rows.append((key, b, None, None, tol, "MISSING"))
            continue
        n = _num(now[key])
        if b is None or n is None:
            status = "ok" if b is None and n is None else "REGRESSION"
            rows.append((key, b, n, None, tol, status))
            continue
        d = n - b
        rows.append((key, b, n, d, tol, "ok" if abs(d) <= tol else "REGRESSION"))
    for key, v in now.items():
        if key not in base and (models is None or key.split("/")[0] in models):
            rows.append((key, None, _num(v), None, None, "new"))
    return pd.DataFrame(rows, columns=["key", "baseline", "now", "delta", "tol", "status"])


def format_diff(diff: pd.DataFrame, source: str, *, verbose: bool = False) -> str:
    """The readable diff: failing (and with ``verbose`` all) rows, then a count line."""
    def f(v, fmt="{:.6g}"):
        return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)

    shown = diff if verbose else diff[diff["status"] != "ok"]
    width = max([len(k) for k in shown["key"]] + [6])
    lines = [f"regression check against {source}"]
    if len(shown):
        lines.append(f"  {'status':<11}{'metric':<{width}}  {'baseline':>12}{'now':>12}"
                     f"{'delta':>12}{'tol':>10}")
    for r in shown.itertuples(index=False):
        lines.append(f"  {r.status:<11}{r.key:<{width}}  {f(r.baseline):>12}{f(r.now):>12}"
                     f"{f(r.delta, '{:+.4g}'):>12}{f(r.tol, '{:.2g}'):>10}")
    counts = diff["status"].value_counts()
    lines.append(f"{len(diff)} metrics: {counts.get('ok', 0)} ok, "
                 f"{counts.get('REGRESSION', 0)} regressions, {counts.get('MISSING', 0)} missing, "
                 f"{counts.get('new', 0)} new")
    return "\n".join(lines)


def run_benchmark(bench: dict, out: Path, models=None) -> Path:
    """Run the benchmark sweep (every cache off) into ``out``; returns the sweep folder."""
    sweep = out / "sweep"
    models = list(models or bench["models"])
    cmd = [sys.executable, "-m", "psychobench.cli.main", "-m", f"experiment={bench['experiment']}",
           f"model={','.join(models)}", "cache_answers=false", "trainer.progress_bar=false",
           f"hydra.sweep.dir={sweep}", f"results_dir={out}", *bench.get("overrides", [])]
    print("running:", " ".join(cmd[1:]), flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"benchmark run failed (exit {res.returncode}):\n"
                           f"{res.stdout[-3000:]}\n{res.stderr[-5000:]}")
    return sweep


def make_baseline(bench: dict, now: dict[str, float | None]) -> dict:
    return {"description": "psychobench-check baseline: every metric of the benchmark below, "
                           "with a tolerance per metric (psychobench/cli/check.py)",
            **{k: bench[k] for k in ("experiment", "models", "overrides")},
            "metrics": {k: {"value": v, "tol": tolerance(k)} for k, v in sorted(now.items())}}


@command("psychobench-check")
def main(argv=None) -> int:
    ap = parser("psychobench-check", __doc__.split("\n")[0])
    ap.add_argument("--baseline", required=True, type=Path, help="baseline JSON")
    ap.add_argument("--write", action="store_true",
                    help="write the baseline from this run instead of comparing")
    ap.add_argument("--from", dest="from_dir", type=Path,
                    help="compare the run folders under this folder instead of rerunning")
    ap.add_argument("--models", help="comma-separated subset of the baseline's models")
    ap.add_argument("--out", type=Path, help="keep the rerun's run folders here")
    ap.add_argument("--verbose", "-v", action="store_true", help="list every metric")
    args = ap.parse_args(argv)

    if args.write:
        bench = dict(DEFAULT_BENCHMARK)
        if args.baseline.is_file():
            old = json.loads(args.baseline.read_text())
            bench.update({k: old[k] for k in ("experiment", "models", "overrides") if k in old})
    else:
        if not args.baseline.is_file():
            ap.error(f"no baseline file {args.baseline} (create one with --write)")
        try:
            bench = json.loads(args.baseline.read_text())
        except json.JSONDecodeError as e:
            ap.error(f"{args.baseline}: not valid JSON ({e})")
        if "metrics" not in bench:
            ap.error(f"{args.baseline}: no 'metrics' entry")
    models = args.models.split(",") if args.models else None
    if models and set(models) - set(bench["models"]):
        ap.error(f"--models {sorted(set(models) - set(bench['models']))} not in the baseline's "
                 f"models {bench['models']}")

    if args.from_dir is not None:
        root = args.from_dir
    else:
        out = args.out or Path(tempfile.mkdtemp(prefix="psychobench-check-"))
        try:
            root = run_benchmark(bench, out, models)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            return 2
    now = metrics_of_runs(root)
    if models:
        now = {k: v for k, v in now.items() if k.split("/")[0] in models}
    if not now:
        print(f"no finished run (summary.json) under {root}", file=sys.stderr)
        return 2

    if args.write:
        atomic_write_text(args.baseline, json.dumps(make_baseline(bench, now), indent=1) + "\n")
        print(f"wrote {args.baseline}: {len(now)} metrics of {sorted({k.split('/')[0] for k in now})}")
        return 0
    diff = compare(bench, now, models)
    print(format_diff(diff, str(args.baseline), verbose=args.verbose))
    return 1 if diff["status"].isin(["REGRESSION", "MISSING"]).any() else 0


if __name__ == "__main__":
    sys.exit(main())
