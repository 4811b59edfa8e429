"""``psychobench-ceilings [--out FILE] [--format md|csv|json]``

The human noise ceilings of the 17 model-vs-human data sets: for each, the split-half
(Spearman-Brown) ceilings of the object-level (O1, O2) and image-level (I1, i1n) metrics and the
mean error consistency over human pairs, computed from the registered human trials.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd

from psychobench.cli.common import add_format, add_resampling, command, parser

METRICS = ("o1_acc", "o1_dprime", "o2_offdiag", "o2_dprime", "i1", "i1n", "error_consistency")


def build_parser() -> argparse.ArgumentParser:
    p = parser("psychobench-ceilings", __doc__.split("\n\n")[1])
    p.add_argument("--out", help="write the table to FILE (default: standard output)")
    add_format(p, choices=("md", "text", "csv", "json"), default="md")
    add_resampling(p, n_boot=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=("subjects", "trials"), default="subjects")
    p.add_argument("--all-conditions", action="store_true",
                   help="use every condition (default: leave out the conditions model-vs-human "
                        "excludes from its benchmark means)")
    p.add_argument("--datasets", nargs="*", help="a subset of the 17 data sets")
    return p


def ceiling_table(humans: dict[str, pd.DataFrame], *, n_splits: int = 10, n_boot: int = 0,
                  seed: int = 0, split: str = "subjects", all_conditions: bool = False) -> pd.DataFrame:
    """One row per data set: subjects, stimuli, and per metric the ceiling (``METRIC``), the
    split-half reliability r_SB (``METRIC_rsb``) and, with ``n_boot``, the ceiling's 95% CI
    (``METRIC_ci_low``/``METRIC_ci_high``, NaN where none is valid) and the interval's status
    (``METRIC_interval``: ``ok`` or ``no_valid_interval``; see
    :mod:`psychobench.consistency.intervals`)."""
    from psychobench.consistency.scores import human_ceilings
    from psychobench.experiments import mvh

    rows = []
    for ds, h in humans.items():
        conds = None
        excluded = mvh.scheme(ds).excluded
        if not all_conditions and excluded:
            present = h["condition"].astype(str).unique()
            kept = [c for c in present if c not in excluded]
            conds = kept if len(kept) < len(present) else None
        t = human_ceilings(h, n_splits=n_splits, n_boot=n_boot, seed=seed, split=split,
                           conditions=conds).set_index("metric")
        row = {"dataset": ds, "subjects": t.attrs["n_subjects"], "stimuli": t.attrs["n_stimuli"]}
        for m in METRICS:
            row[m] = t.loc[m, "ceiling"]
            if m != "error_consistency":
                row[f"{m}_rsb"] = t.loc[m, "reliability"]
            if n_boot:
                row[f"{m}_ci_low"] = t.loc[m, "ceiling_ci_low"]
                row[f"{m}_ci_high"] = t.loc[m, "ceiling_ci_high"]
                row[f"{m}_interval"] = t.loc[m, "ceiling_interval"]
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(tab: pd.DataFrame) -> str:
    head = ["data set", "subj.", "stimuli", "O1 acc", "O1 d'", "O2 conf.", "O2 d'", "I1", "i1n",
            "err. cons."]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def fmt(v):
        return "n/a" if not np.isfinite(v) else f"{v:.3f}"

    def cell(d, m):
        if f"{m}_interval" not in d:
            return fmt(d[m])
        if d[f"{m}_interval"] != "ok":
            return f"{fmt(d[m])} (no valid interval)"
        return f"{fmt(d[m])} [{fmt(d[f'{m}_ci_low'])}, {fmt(d[f'{m}_ci_high'])}]"

    for r in tab.to_dict("records"):
        lines.append("| " + " | ".join([r["dataset"], str(r["subjects"]), str(r["stimuli"])]
                                       + [cell(r, m) for m in METRICS]) + " |")
    mean = tab[list(METRICS)].mean()
    lines.append("| **mean** | | | " + " | ".join(fmt(mean[m]) for m in METRICS) + " |")
    if f"{METRICS[0]}_interval" in tab.columns:
        lines += ["", "95% intervals of the ceilings (crossed bootstrap of stimuli and observers, "
                  "psychobench.consistency.intervals); \"no valid interval\": the design gives none "
                  "(too many resampled panels where the metric is undefined)."]
    return "\n".join(lines) + "\n"


@command("psychobench-ceilings")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from psychobench.experiments import mvh

    names = [mvh.canonical_name(n) for n in (args.datasets or mvh.DATASETS)]
    humans = mvh.load_humans(names)
    t0 = time.perf_counter()
    tab = ceiling_table({ds: humans[ds] for ds in names}, n_splits=args.n_splits, n_boot=args.n_boot,
                        seed=args.seed, split=args.split, all_conditions=args.all_conditions)
    seconds = time.perf_counter() - t0
    if args.format in ("md", "text"):
        text = to_markdown(tab)
    elif args.format == "csv":
        text = tab.to_csv(index=False, float_format="%.6g")
    else:
        text = json.dumps({"n_splits": args.n_splits, "n_boot": args.n_boot, "seed": args.seed,
                           "split": args.split, "all_conditions": args.all_conditions,
                           "seconds": seconds,
                           "datasets": json.loads(tab.to_json(orient="records"))}, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
