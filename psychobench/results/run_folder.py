"""The run folder: one class owns its layout and its atomic writes.

::

    config.yaml                                   the resolved configuration
    trials.parquet                                the observer's trial table over all experiments
    responses/<set>/<set>_<model>_session-1.csv   the same trials in model-vs-human's CSV format
    metrics.csv                                   the metric table (psychobench.consistency.table)
    summary.json                                  a view derived from the metric table, written last

Every file appears atomically and ``summary.json`` is written last, so a folder holding it is
complete; everything that reads runs trusts only such folders.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from psychobench.consistency import table as T
from psychobench.data.io import atomic_write_frame, atomic_write_text, write_json
from psychobench.data.trials import write_mvh_csv

CONFIG = "config.yaml"
TRIALS = "trials.parquet"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
RESPONSES = "responses"


def response_file_name(dataset: str, model: str) -> str:
    """model-vs-human's result file name (it writes ``_`` in model names as ``-``)."""
    return f"{dataset}_{model.replace('_', '-')}_session-1.csv"


class RunFolder:
    """A run folder (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # ------------------------------------------------------------------ writing
    def write_config(self, yaml_text: str) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(self.path / CONFIG, yaml_text)

    def write_trials(self, tables: dict[str, pd.DataFrame], model: str) -> None:
        """``trials.parquet`` (all experiments) and one model-vs-human CSV per experiment; nothing
        where no experiment has trials (analyses scored from features only)."""
        if not tables:
            return
        trials = pd.concat(tables.values(), ignore_index=True)
        atomic_write_frame(trials, self.path / TRIALS)
        for name, t in tables.items():
            write_mvh_csv(t, self.path / RESPONSES / name / response_file_name(name, model))

    def write_metrics(self, table: pd.DataFrame) -> Path:
        return T.write(table, self.path / METRICS)

    def write_summary(self, summary: dict) -> Path:
        """``summary.json``, last: its presence marks a complete run."""
        return write_json(self.path / SUMMARY, summary)

    # ------------------------------------------------------------------ reading
    @property
    def complete(self) -> bool:
        return (self.path / SUMMARY).is_file()

    def summary(self) -> dict:
        p = self.path / SUMMARY
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: not valid JSON ({e})") from e

    def metrics(self) -> pd.DataFrame:
        return T.read(self.path / METRICS)

    def trials(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / TRIALS)

    def config(self) -> dict:
        import yaml

        p = self.path / CONFIG
        return yaml.safe_load(p.read_text()) if p.is_file() else {}

    def runner_files(self) -> list[Path]:
        """The files a run wrote (relative paths): everything except Hydra's own records, the
        config, logs and unfinished (hidden) files."""
        out = []
        for p in sorted(self.path.rglob("*")):
            rel = p.relative_to(self.path)
            if not p.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            if rel.as_posix() == CONFIG or p.suffix == ".log":
                continue
            out.append(rel)
        return out
