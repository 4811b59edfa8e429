"""Networks vs control observers (Rajalingham et al. 2018; Kell & McDermott 2019, Fig. 2a).

Reads the runs under ``--results`` (optionally running the sweep first) and writes to ``--out``:

* ``controls_table.csv``: every observer's ceiling-normalised consistency with people per data
  set and pooled (the mean over the data sets every observer has), with 95% intervals
  (:func:`psychobench.report.analyses.controls_table`);
* ``controls_contrast.csv``: networks minus controls per data set and metric
  (:func:`psychobench.report.analyses.controls_contrast`);
* ``controls.md``: both as markdown tables (the README's numbers);
* ``controls.png``: the figure, pooled over data sets; ``controls_<set>.png``: one per set.

Run the sweep and write everything (``--run``; answers and features are cached by content, so
a rerun only scores)::

    python scripts/controls.py --run --fitted-networks --results results --out results/controls

``--run`` is ``psychobench -m experiment=controls results_dir=DIR`` (the three bundled networks
with their fixed ImageNet mapping, their random-weight twins, pixels and V1; cue-conflict, edge
and silhouette); ``--fitted-networks`` adds the three networks read out by the same fitted
logistic readout as the controls (``psychobench -m experiment=controls
model=tf_efficientnet_lite0,tf_efficientnet_lite1,tf_efficientnet_lite2 model/readout=logistic``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

NETWORKS = "tf_efficientnet_lite0,tf_efficientnet_lite1,tf_efficientnet_lite2"


def run_sweeps(results: Path, fitted_networks: bool, extra: list[str]) -> None:
    base = [sys.executable, "-m", "psychobench.cli.main", "-m", "experiment=controls", f"results_dir={results}",
            "trainer.progress_bar=false", *extra]
    sweeps = [base]
    if fitted_networks:
        sweeps.append([*base, f"model={NETWORKS}", "model/readout=logistic"])
    for cmd in sweeps:
        print("+", " ".join(cmd[1:]), flush=True)
        res = subprocess.run(cmd, env=os.environ.copy())
        if res.returncode != 0:
            raise SystemExit(f"controls: the sweep failed (exit status {res.returncode}): {' '.join(cmd[1:])}")


def _cell(r) -> str:
    v, lo, hi = r["normalized"], r["normalized_ci_low"], r["normalized_ci_high"]
    if v != v:
        return f"- ({r['status']})"
    return f"{v:.2f} [{lo:.2f}, {hi:.2f}]" if lo == lo and hi == hi else f"{v:.2f}"


def _markdown(df, columns) -> str:
    # a small hand-written formatter: pandas' to_markdown needs the optional tabulate package
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in df[columns].itertuples(index=False)]
    return "\n".join(lines)


def write_markdown(table, contrast) -> str:
    from psychobench.report.plots import CONTROL_TITLES

    out = []
    for ds in dict.fromkeys(table["dataset"]):
        t = table[table["dataset"] == ds]
        wide = t.assign(cell=t.apply(_cell, axis=1)).pivot_table(
            index=["kind", "observer", "readout"], columns="metric", values="cell", aggfunc="first")
        metrics = [m for m in dict.fromkeys(t["metric"])]
        wide = wide.reindex(columns=metrics).reset_index()
        wide["kind"] = wide["kind"].astype(str)
        wide["_k"] = (wide["kind"] != "network").astype(int)
        wide = wide.sort_values(["_k", "readout", "observer"]).rename(
            columns={m: CONTROL_TITLES.get(m, m) for m in metrics})
        head = f"{ds} (mean over {t['sets'].iloc[0].replace(',', ', ')})" if ds == "pooled" else ds
        out += [f"**{head}**: ceiling-normalised consistency [95% interval]", "",
                _markdown(wide, ["kind", "observer", "readout", *[CONTROL_TITLES.get(m, m) for m in metrics]]), ""]
    if len(contrast):
        c = contrast.copy()
        c["networks - controls [95%]"] = [f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]" for d, lo, hi in
                                          zip(c["difference"], c["difference_ci_low"], c["difference_ci_high"],
                                              strict=True)]
        for k in ("network_mean", "control_mean", "best_network", "best_control"):
            c[k] = c[k].map(lambda v: f"{v:.2f}")
        out += ["**networks vs controls** (group means of the normalised values)", "",
                _markdown(c, ["dataset", "metric", "level", "networks", "network_mean", "control_mean",
                              "networks - controls [95%]", "best_network", "best_control"]), ""]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default="results", help="results folder holding the runs (default: results)")
    ap.add_argument("--out", default=None, help="output folder (default: RESULTS/controls)")
    ap.add_argument("--run", action="store_true", help="run the sweep first (psychobench -m experiment=controls)")
    ap.add_argument("--fitted-networks", action="store_true",
                    help="with --run: also the three networks with the fitted logistic readout")
    ap.add_argument("--models", nargs="*", default=None, help="shell patterns of the run models to include")
    ap.add_argument("overrides", nargs="*", help="further Hydra overrides for --run (e.g. metrics.n_boot=200)")
    a = ap.parse_args(argv)
    results = Path(a.results).resolve()
    out = Path(a.out) if a.out else results / "controls"
    if a.run:
        run_sweeps(results, a.fitted_networks, a.overrides)

    import matplotlib

    matplotlib.use("Agg")
    from psychobench.report import analyses, plots

    data = analyses.load(results, models=a.models)
    table = analyses.controls_table(data)
    if table.empty:
        raise SystemExit(f"controls: no run under {results} has {', '.join(analyses.CONTROL_METRICS)}")
    contrast = analyses.controls_contrast(table)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "controls_table.csv", index=False)
    contrast.to_csv(out / "controls_contrast.csv", index=False)
    (out / "controls.md").write_text(write_markdown(table, contrast) + "\n")
    for ds in dict.fromkeys(table["dataset"]):
        fig = plots.controls_figure(table, dataset=ds, show_sets=(ds == analyses.POOLED))
        fig.savefig(out / ("controls.png" if ds == analyses.POOLED else f"controls_{ds}.png"), dpi=130)
    print(f"wrote {out}/controls_table.csv, controls_contrast.csv, controls.md, controls*.png")
    print((out / "controls.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
