"""A scientist's own experiment from a folder, with no code:
``psychobench stimuli=folder stimuli.path=DIR [stimuli.name=NAME]``.

``DIR`` holds

* ``stimuli/``: images in category subfolders (``stimuli/<category>/<file>``), or any layout
  with a ``stimuli/manifest.csv`` giving ``file`` (or ``path``, relative to ``stimuli/``) and
  ``category`` per image, and optionally ``stimulus_id``, ``condition``, ``level``, ``texture``
  and other columns;
* optionally ``humans/``: model-vs-human CSVs of any data-set name
  (``subj,session,trial,rt,object_response,category,condition,imagename``), or trial tables as
  CSV or parquet.  All of them belong to this experiment.

Stimulus ids follow model-vs-human's image-name rule applied to the file name (names ending in
an ImageNet id keep their last two ``_`` fields, others the last one), so that the human CSVs'
``imagename`` column pairs with the files; plain file names work too.  The categories of the
stimuli are the answer space; with the 16 model-vs-human categories (or some of them) ImageNet
networks answer through the 16-class rule, any other labels need a readout that answers them
(``model/readout=identity``).  Everything is checked before any network runs: a human trial on
an unknown stimulus, with another category, or with an answer outside the answer space is an
error naming file, line and column; stimuli no human saw are listed (an error at item level).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from psychobench.consistency import scoring
from psychobench.data.answers import answer_space
from psychobench.data.io import sha256_file
from psychobench.data.schema import TrialTableError
from psychobench.data.trials import (locate_row, read_mvh_csvs, read_trial_table, stimulus_ids,
                                     validate_trials, is_mvh_csv)
from psychobench.experiments.base import ScoreSettings, cached, inferred_scheme
from psychobench.experiments.vision import ImageExperiment, as_scored

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".gif")


class FolderError(TrialTableError):
    """A folder experiment's files are inconsistent; the message names file, row and column."""


def _read_stimuli(root: Path, name: str, hash_files: bool = True) -> pd.DataFrame:
    """The stimulus manifest of ``root`` (``DIR/stimuli``), without the condition where the
    folder does not give one."""
    if not root.is_dir():
        raise FolderError(f"{root}: no stimuli folder (a folder experiment holds stimuli/ and, "
                          "optionally, humans/)")
    mpath = root / "manifest.csv"
    if mpath.is_file():
        m = pd.read_csv(mpath, dtype=str, keep_default_na=False)
        col = "file" if "file" in m.columns else "path" if "path" in m.columns else None
        if col is None or "category" not in m.columns:
            raise FolderError(f"{mpath}: line 1: a stimulus manifest needs the columns 'file' (or 'path') "
                              f"and 'category'; it has {list(m.columns)}")
        for c in (col, "category"):
            empty = (m[c].str.strip() == "").to_numpy()
            if empty.any():
                raise FolderError(f"{mpath}: line {int(empty.argmax()) + 2}, column {c!r}: empty value")
        rel = m[col].str.replace("\\", "/", regex=False)
        missing = ~rel.map(lambda r: (root / r).is_file())
        if missing.any():
            i = int(missing.to_numpy().argmax())
            raise FolderError(f"{mpath}: line {i + 2}, column {col!r}: no file {root / rel.iloc[i]}")
        man = m.drop(columns=[col]).assign(path=rel)
    else:
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
        if not files:
            raise FolderError(f"{root}: no images (put them in category subfolders, "
                              "stimuli/<category>/<file>, or list them in stimuli/manifest.csv)")
        flat = [f for f in files if f.parent == root]
        if flat:
            raise FolderError(f"{flat[0]}: an image outside a category subfolder; without a "
                              "stimuli/manifest.csv every image lies in stimuli/<category>/")
        rel = pd.Series([f.relative_to(root).as_posix() for f in files], dtype=str)
        man = pd.DataFrame({"path": rel, "category": [f.relative_to(root).parts[0] for f in files]})
    names = man["path"].str.rsplit("/", n=1).str[-1]
    if "stimulus_id" not in man.columns or (man["stimulus_id"] == "").all():
        man["stimulus_id"] = stimulus_ids(names).to_numpy()
    man["imagename"] = names.to_numpy() if "imagename" not in man.columns else man["imagename"]
    dup = man["stimulus_id"].duplicated(keep=False)
    if dup.any():
        a, b = man.loc[dup, "path"].iloc[:2]
        raise FolderError(f"{root}: {a} and {b} have the same stimulus id {man.loc[dup, 'stimulus_id'].iloc[0]!r} "
                          "(model-vs-human's image-name rule); give a manifest with a stimulus_id column")
    if hash_files:
        man["sha256"] = [sha256_file(root / r) for r in man["path"]]
    man["params"] = json.dumps({"source": name})
    return man


def _read_humans(root: Path, name: str, kind: str | None) -> tuple[pd.DataFrame, list[Path]] | tuple[None, list]:
    """The human trials of ``DIR/humans`` as one trial table of experiment ``name``, and the
    model-vs-human CSVs it was read from (in row order, for error messages)."""
    if not root.is_dir():
        return None, []
    files = sorted(p for p in root.rglob("*") if p.suffix in (".csv", ".parquet") and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise FolderError(f"{root}: no human files (model-vs-human CSVs or trial tables)")
    mvh = [f for f in files if f.suffix == ".csv" and is_mvh_csv(f)]
    parts = []
    if mvh:
        parts.append(read_mvh_csvs(mvh, name, categories=None, kinds={name: kind} if kind else None))
    for f in files:
        if f in mvh:
            continue
        t = read_trial_table(f)
        names = pd.unique(t["experiment"].astype(str))
        if len(names) > 1:
            raise FolderError(f"{f}: trials of several experiments {list(names)[:5]}; a folder experiment "
                              "holds one")
        parts.append(t.assign(experiment=name))
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return validate_trials(table, str(root)), mvh


@dataclass
class FolderExperiment(ImageExperiment):
    """An image experiment read from a folder (see the module docstring).  ``levels``:
    ``{condition: level}`` for a condition-level comparison (default: a ``level`` column of the
    manifest, or the conditions themselves where they are numbers)."""

    path: str | os.PathLike | None = None
    excluded: tuple[str, ...] = ()
    levels: dict | None = None

    def __post_init__(self):
        self.path = Path(self.path).expanduser()
        if not self.path.is_dir():
            raise FolderError(f"stimuli.path={self.path}: not a folder")
        self.source = self._stimulus_set
        super().__post_init__()

    @property
    def root(self) -> Path:
        return Path(self.path)

    @cached
    def _manifest_and_humans(self):
        from psychobench.data.conditions import canonical_conditions

        man = _read_stimuli(self.root / "stimuli", self.name)
        humans, files = _read_humans(self.root / "humans", self.name, None)
        if "condition" not in man.columns or (man["condition"] == "").all():
            man["condition"] = _conditions_from_humans(man, humans)
        conds = man["condition"].astype(str)
        scheme = inferred_scheme(pd.unique(pd.concat([conds, humans["condition"].astype(str)])
                                           if humans is not None else conds), self._levels(man))
        man["condition"] = canonical_conditions(conds, scheme.kind).to_numpy()
        if humans is not None and scheme.kind != "str":       # parse the humans' column the same way
            humans, files = _read_humans(self.root / "humans", self.name, scheme.kind)
        self.conditions = scheme
        return man, humans, files

    def _levels(self, man: pd.DataFrame) -> dict | None:
        if self.levels:
            return {str(k): float(v) for k, v in self.levels.items()}
        if "level" in man.columns and "condition" in man.columns:
            lv = pd.to_numeric(man["level"], errors="coerce")
            if lv.notna().all():
                return dict(zip(man["condition"].astype(str), lv))
        return None

    def _stimulus_set(self):
        from psychobench.stimuli.manifest import StimulusSet, validate_manifest

        man = self._manifest_and_humans()[0]
        cols = ["stimulus_id", "path", "condition", "category", "params", "sha256"]
        man = man[cols + [c for c in man.columns if c not in cols]]
        validate_manifest(man, str(self.root / "stimuli"))
        return StimulusSet(name=self.name, root=self.root / "stimuli", manifest=man)

    def humans(self) -> pd.DataFrame | None:
        return self._manifest_and_humans()[1]

    def identity(self) -> dict:
        """The stimuli's content key (in the image experiment's identity) and the content of the
        human files, so that an edited folder is never answered from the run memo."""
        root = self.root / "humans"
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        humans = [(p.relative_to(root).as_posix(), sha256_file(p)) for p in files]
        return {**super().identity(), "humans": humans, "excluded": list(self.excluded),
                "levels": self.levels}

    def validate(self) -> None:
        man, humans, files = self._manifest_and_humans()
        self.stimuli()
        if humans is None:
            return
        where = (lambda i: locate_row(files, i)) if files else (lambda i: f"{self.root / 'humans'}: trial {i}")
        ids = humans["stimulus_id"].astype(str)
        known = pd.Index(man["stimulus_id"].astype(str))
        pos = known.get_indexer(ids)
        if (pos < 0).any():
            i = int(np.argmax(pos < 0))
            raise FolderError(f"{where(i)}, column 'imagename': stimulus {ids.iloc[i]!r} is not among the "
                              f"{len(man)} stimuli in {self.root / 'stimuli'}")
        for col in ("category", "condition"):
            want = man[col].astype(str).to_numpy()[pos]
            bad = want != humans[col].astype(str).to_numpy()
            if bad.any():
                i = int(bad.argmax())
                raise FolderError(f"{where(i)}, column {col!r}: stimulus {ids.iloc[i]!r} has {col} "
                                  f"{humans[col].iloc[i]!r} here but {want[i]!r} in the stimuli")
        bad = ~humans["response"].astype(str).map(self.answers.allows).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            raise FolderError(f"{where(i)}, column 'object_response': answer {humans['response'].iloc[i]!r} "
                              f"is not one of the experiment's categories {list(self.answers.labels)} (or 'na')")
        unseen = sorted(set(known) - set(ids))
        if unseen:
            msg = (f"{self.name}: {len(unseen)} of {len(known)} stimuli no human saw: "
                   + ", ".join(unseen[:10]) + (" ..." if len(unseen) > 10 else ""))
            if self.comparison == "item":
                raise FolderError(msg + "; an item-level comparison needs human trials on every stimulus "
                                  "(remove them, or set stimuli.comparison=none)")
            log.warning(msg)

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        humans = self.humans()
        if humans is None or self.comparison == "none":
            return super().score(trials, settings)
        if self.comparison == "item":
            return scoring.item_level(as_scored(trials), humans, dataset=self.name, excluded=frozenset(self.excluded),
                                      with_shape_bias=self.with_shape_bias, consistency=settings.consistency,
                                      n_splits=settings.n_splits, n_boot=settings.n_boot, seed=settings.seed,
                                      split=settings.split)
        conds = pd.unique(pd.concat([trials["condition"], humans["condition"]]).astype(str))
        return scoring.condition_level(trials, humans, dataset=self.name, levels=self.conditions.levels(conds),
                                       transform=self.conditions.transform, guess=self.answers.chance,
                                       n_boot=settings.n_boot, seed=settings.seed)


def _conditions_from_humans(man: pd.DataFrame, humans: pd.DataFrame | None) -> np.ndarray:
    """Each stimulus's condition from the human trials on it (one condition each), "0" where
    no human saw it or there are no human trials."""
    if humans is None:
        return np.full(len(man), "0", dtype=object)
    per = humans.groupby(humans["stimulus_id"].astype(str))["condition"].agg(lambda c: sorted(set(c.astype(str))))
    several = per[per.map(len) > 1]
    if len(several):
        sid = several.index[0]
        raise FolderError(f"stimulus {sid!r} was seen in conditions {several.iloc[0]}; give stimuli/manifest.csv "
                          "with a condition column (one row per stimulus and condition)")
    cond = per.map(lambda c: c[0])
    return man["stimulus_id"].astype(str).map(cond).fillna("0").to_numpy(dtype=object)


def from_folder(path: str | os.PathLike, name: str | None = None, comparison: str | None = None,
                answers=None, excluded=(), levels: dict | None = None) -> FolderExperiment:
    """Hydra factory of ``conf/stimuli/folder.yaml``: the experiment in folder ``path``, named
    ``name`` (default: the folder's name), compared at ``comparison`` level (default: ``item``
    when the folder holds human trials, else ``none``).  ``answers``: the answer space (default:
    the categories of the stimuli); ``excluded``: conditions left out of the benchmark means;
    ``levels``: ``{condition: numeric level}`` for a condition-level comparison."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise FolderError(f"stimuli.path={p}: not a folder")
    name = name or p.resolve().name
    man = _read_stimuli(p / "stimuli", name, hash_files=False)
    comparison = comparison or ("item" if (p / "humans").is_dir() else "none")
    space = answer_space(list(answers) if answers is not None else sorted(set(man["category"].astype(str))))
    return FolderExperiment(name=name, comparison=comparison, answers=space, path=p,
                            excluded=tuple(str(c) for c in excluded), levels=dict(levels) if levels else None)
