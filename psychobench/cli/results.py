"""``psychobench-results``: list, filter and compare the runs under a results folder.

::

    psychobench-results list                                  # one line per finished run
    psychobench-results table --dataset edge --metric 'o1*' --model 'tf_*'
    psychobench-results table --where "normalized > 0.5" --format csv
    psychobench-results compare --value normalized --dataset aggregate   # like-for-like means
    psychobench-results compare --by run --run 'multirun/2025-*/0_*' --run 'runs/*'
    psychobench-results aggregate                             # (re)write results.parquet

Only run folders holding ``summary.json`` count.  ``table`` and ``compare`` read the
aggregated table (``DIR/results.parquet``), refreshed first from the run folders.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from psychobench.cli.common import add_format, command, parser
from psychobench.results import store


def _filters(p: argparse.ArgumentParser) -> None:
    for name in ("run", "model", "dataset", "metric", "observer"):
        p.add_argument(f"--{name}", action="append",
                       help=f"keep rows whose {name} matches this shell pattern (repeatable)")
    p.add_argument("--where", help="SQL condition over the table (DuckDB), "
                                   "e.g. \"normalized > 0.5 AND dataset = 'edge'\"")


def _print(df: pd.DataFrame, fmt: str, index: bool = False) -> None:
    if fmt == "csv":
        sys.stdout.write(df.to_csv(index=index))
    elif fmt == "json":
        sys.stdout.write((df.reset_index() if index else df).to_json(
            orient="records", indent=1, date_format="iso") + "\n")
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None,
                               "display.width", 200, "display.float_format", "{:.4g}".format):
            print(df.to_string(index=index) if len(df) else "(no rows)")


@command("psychobench-results")
def main(argv=None) -> int:
    ap = parser("psychobench-results", __doc__.split("\n")[0])
    dir_help = "results folder (the runs' results_dir; default ./results); before or after the command"
    ap.add_argument("--dir", type=Path, default=Path("results"), help=dir_help)
    fmt = argparse.ArgumentParser(add_help=False)
    add_format(fmt)
    # --dir after the command too; SUPPRESS keeps the sub-parser from resetting a --dir given before it
    fmt.add_argument("--dir", type=Path, default=argparse.SUPPRESS, help=dir_help)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_list = sub.add_parser("list", parents=[fmt], help="one row per finished run")
    p_list.add_argument("--model", action="append", help="shell pattern (repeatable)")
    p_table = sub.add_parser("table", parents=[fmt], help="tidy metric rows, filtered")
    _filters(p_table)
    p_cmp = sub.add_parser("compare", parents=[fmt], help="metrics side by side: models or runs as columns")
    _filters(p_cmp)
    p_cmp.add_argument("--by", choices=["model", "run"], default="model",
                       help="columns: each model's latest run, or each run")
    p_cmp.add_argument("--value", default="value",
                       choices=["value", "value_ci_low", "value_ci_high", "ceiling", "ceiling_ci_low",
                                "ceiling_ci_high", "normalized", "normalized_ci_low", "normalized_ci_high", "n"])
    sub.add_parser("aggregate", parents=[fmt], help="(re)write DIR/results.parquet and print its path")
    args = ap.parse_args(argv)

    if not args.dir.is_dir():
        ap.error(f"no results folder {args.dir}")
    if args.cmd == "list":
        df = store.runs(args.dir)
        if args.model:
            df = df[store.match_patterns(df["model"], args.model).to_numpy()]
        _print(df.drop(columns=["summary_mtime_ns"]), args.format)
        return 0
    table = store.collect(args.dir)
    if args.cmd == "aggregate":
        print(f"{args.dir / store.TABLE}: {len(table)} rows from {table['run'].nunique()} runs")
        return 0
    like_for_like = args.cmd == "compare" and args.by == "model"
    try:
        # compare --by model recomputes the aggregate from the data sets themselves: filter the
        # data sets after comparing (an aggregate-only filter then means "over every data set")
        sel = store.select(table, run=args.run, model=args.model,
                           dataset=None if like_for_like else args.dataset,
                           metric=args.metric, observer=args.observer, where=args.where)
    except Exception as e:                      # DuckDB's errors name the problem
        import duckdb

        if args.where and isinstance(e, duckdb.Error):
            ap.error(f"--where {args.where!r}: {e}")
        raise
    if args.cmd == "table":
        cols = ["run", "model", "dataset", "condition", "metric", "observer", "value", "value_ci_low",
                "value_ci_high", "ceiling", "normalized", "normalized_ci_low", "normalized_ci_high", "status"]
        _print(sel[cols + [c for c in sel.columns if c not in store.RUN_COLUMNS + cols]]
               if args.format == "text" else sel, args.format)
        return 0
    if like_for_like and args.dataset:
        named = store.match_patterns(sel["dataset"], args.dataset) & (sel["dataset"] != "aggregate")
        if named.any():
            sel = sel[named.to_numpy() | (sel["dataset"] == "aggregate").to_numpy()]
    wide = store.compare(sel, by=args.by, value=args.value)
    attrs = dict(wide.attrs)
    if like_for_like and args.dataset:
        wide = wide[store.match_patterns(pd.Series(wide.index.get_level_values("dataset")), args.dataset).to_numpy()]
    _print(wide, args.format, index=True)
    if args.format == "text" and like_for_like and attrs.get("aggregate_over") is not None:
        over = ", ".join(attrs["aggregate_over"]) or "none"
        print(f"\naggregate: the mean over the data sets every model has ({over}); of several runs "
              "of one model on one data set, the latest counts")
        for m, ds in attrs.get("not_in_aggregate", {}).items():
            print(f"  {m}: also ran {', '.join(ds)} (shown above, not in its aggregate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
