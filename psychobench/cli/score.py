"""``psychobench-score RESPONSES_DIR [--humans DIR] [--model NAME] [--json]``

Scores one model's trial CSVs in model-vs-human's format (any number of the 17 data sets)
against human data: the registered model-vs-human human trials by default, or a folder of
human CSVs (``--humans``, laid out as ``<dataset>/*.csv`` or files named
``<dataset>_subject-NN_session_1.csv``).
"""

from __future__ import annotations

import argparse
import sys

from psychobench.data.schema import TrialTableError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="psychobench-score", description=__doc__.split("\n\n")[1])
    p.add_argument("responses", help="folder with the model's CSVs (searched recursively)")
    p.add_argument("--humans", help="folder of human CSVs (default: registered human data)")
    p.add_argument("--model", help="which model, where the folder holds several")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-consistency", action="store_true",
                   help="skip noise ceilings and bootstrap intervals (faster)")
    p.add_argument("--n-splits", type=int, default=10, help="split halves for the ceilings")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap draws for the 95%% CIs")
    p.add_argument("--seed", type=int, default=0)
    return p


def score_folder(responses: str, humans_dir: str | None = None, model: str | None = None,
                 consistency: bool = True, n_splits: int = 10, n_boot: int = 1000,
                 seed: int = 0) -> dict:
    from psychobench.data import trials
    from psychobench.results.scoring import score_model_tables

    name, tables = trials.load_model_trials(responses, model)
    if humans_dir:
        found = trials.discover_model_csvs(humans_dir)
        if "humans" not in found:
            raise TrialTableError(f"{humans_dir}: no human CSVs (<dataset>_subject-NN_session_1.csv)")
        paths = {ds: ps for ds, ps in found["humans"].items() if ds in tables}
        humans = {ds: trials.read_mvh_csvs(ps, ds) for ds, ps in paths.items()}
        missing = sorted(set(tables) - set(humans))
        if missing:
            raise TrialTableError(f"{humans_dir}: no human data for {missing}")
    else:
        humans = trials.load_all_humans(list(tables))
    opts = {"consistency": consistency, "n_splits": n_splits, "n_boot": n_boot}
    scores = score_model_tables(tables, humans, opts, seed=seed)
    return {"model": name, **scores}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = score_folder(args.responses, args.humans, args.model, not args.no_consistency,
                              args.n_splits, args.n_boot, args.seed)
    except (TrialTableError, KeyError, FileNotFoundError) as e:
        print(f"psychobench-score: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        from psychobench.data.io import dumps_strict

        print(dumps_strict(result))
    else:
        from psychobench.results.scoring import format_scores

        print(format_scores(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
