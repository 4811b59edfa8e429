"""``psychobench-score RESPONSES_DIR [--humans DIR] [--model NAME] [--format text|csv|json]``

Scores one model's trial files against human trials: model-vs-human CSVs (any number of data
sets; ``<dataset>_<model>_session-1.csv``, in data-set subfolders or not) against the registered
model-vs-human human trials, or against a folder of human files of any data-set name
(``--humans``: model-vs-human CSVs ``<dataset>_subject-NN_session_1.csv`` or trial tables).
Prints the metric table's headline (text), the whole table (csv) or the summary view (json).
"""

from __future__ import annotations

import argparse
import sys

from psychobench.cli.common import add_format, add_resampling, command, parser
from psychobench.data.schema import TrialTableError


def build_parser() -> argparse.ArgumentParser:
    p = parser("psychobench-score", __doc__.split("\n\n")[1])
    p.add_argument("responses", help="folder with the model's CSVs (searched recursively)")
    p.add_argument("--humans", help="folder of human files (default: registered model-vs-human data)")
    p.add_argument("--model", help="which model, where the folder holds several")
    add_format(p, json_alias=True)
    p.add_argument("--open-answers", action="store_true",
                   help="the experiment's answers are free (open-set recognisers): do not check them "
                        "against the answer space")
    p.add_argument("--no-consistency", action="store_true",
                   help="skip noise ceilings and bootstrap intervals (faster)")
    add_resampling(p, n_boot=1000)
    p.add_argument("--seed", type=int, default=0)
    return p


def score_folder(responses: str, humans_dir: str | None = None, model: str | None = None,
                 consistency: bool = True, n_splits: int = 10, n_boot: int = 1000,
                 seed: int = 0, open_answers: bool = False):
    """``(model name, metric table)`` of the model's files in ``responses``."""
    import pandas as pd

    from psychobench import api
    from psychobench.data import trials
    from psychobench.experiments import mvh

    humans = api.read_trials(humans_dir) if humans_dir else None
    known = sorted(pd.unique(humans["experiment"].astype(str))) if humans is not None else ()
    name, tables, where = trials.load_model_trials(responses, model, known=known, kinds=mvh.kinds(),
                                                   categories=None, locate=True)
    if humans is None:
        unknown = [ds for ds in tables if ds not in mvh.DATASETS]
        if unknown:
            raise TrialTableError(f"{responses}: no registered human data for {unknown}; give --humans DIR")
        humans = mvh.load_humans(list(tables))
    else:
        missing = sorted(set(tables) - set(known))
        if missing and len(tables) == 1 and len(known) == 1:
            # one experiment scored against one folder of human files: the folder is that
            # experiment's human data, as DIR/humans is for a folder experiment, whatever its files' names
            humans = humans.assign(experiment=next(iter(tables)))
        elif missing:
            raise TrialTableError(f"{humans_dir}: no human data for {missing} (found {list(known)})")
    return name, api.score(tables, humans, ceilings=consistency, n_boot=n_boot, seed=seed, n_splits=n_splits,
                           answers="open" if open_answers else None, where=where)


@command("psychobench-score")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    name, table = score_folder(args.responses, args.humans, args.model, not args.no_consistency,
                               args.n_splits, args.n_boot, args.seed, args.open_answers)
    from psychobench.consistency import table as T
    from psychobench.consistency.scoring import format_table

    if args.format == "json":
        from psychobench.data.io import dumps_strict

        print(dumps_strict({"model": name, **T.summary_view(table, name)}))
    elif args.format == "csv":
        sys.stdout.write(table.to_csv(index=False))
    else:
        print(format_table(table, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
