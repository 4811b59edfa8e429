"""Vision experiments: images (a stimulus set) and, where there are any, the humans' trials.

:class:`ImageExperiment` is any image experiment; :class:`ModelVsHuman` is one that compares
with the human trials of a model-vs-human data set, whose facts it takes from
:mod:`psychobench.experiments.mvh`:

* ``comparison: item``: the stimuli are the images people saw (the published cue-conflict,
  edge and silhouette images, a user's folder): every item-level score;
* ``comparison: condition``: other images of the same conditions (regenerated manipulations,
  rendered objects): accuracy per condition and psychometric thresholds;
* ``comparison: none``: no human data; accuracy (per condition) and shape bias.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from psychobench.consistency import scoring
from psychobench.consistency import table as T
from psychobench.data.schema import TrialTableError
from psychobench.experiments import mvh
from psychobench.experiments.base import ConditionScheme, Experiment, ScoreSettings, cached, inferred_scheme


@dataclass
class ImageExperiment(Experiment):
    """An image experiment.  ``source``: a zero-argument callable returning the stimulus set
    (a Hydra ``_partial_`` factory, so that building the experiment generates nothing)."""

    source: Callable | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.source is None:
            raise ValueError(f"{self.name}: an image experiment needs its stimuli (source)")

    @cached
    def stimuli(self):
        from psychobench.stimuli.manifest import StimulusSet

        s = self.source()
        if not isinstance(s, StimulusSet):
            raise TypeError(f"{self.name}: the stimulus source returned {type(s).__name__}, not a StimulusSet")
        if s.name != self.name:
            s = StimulusSet(name=self.name, root=s.root, manifest=s.manifest)
        bad = ~s.manifest["category"].astype(str).map(self.answers.allows)
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise TrialTableError(
                f"{s.root / 'manifest.csv'}: row {i + 2}, column 'category': "
                f"{s.manifest['category'].iloc[i]!r} is not an answer of {self.name} "
                f"({self.answers.name or 'its labels'})")
        return s

    @property
    def with_shape_bias(self) -> bool:
        """Whether the stimuli carry a texture cue per image (a ``texture`` column)."""
        return "texture" in self.stimuli().manifest.columns

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        return scoring.descriptive(trials, dataset=self.name, with_shape_bias=self.with_shape_bias)

    def identity(self) -> dict:
        key = self.stimuli().content_key()          # first: a folder learns its conditions here
        return {**super().identity(), "stimuli": key}


@dataclass
class ModelVsHuman(ImageExperiment):
    """An image experiment compared with the human trials of the model-vs-human data set
    ``humans_from`` (default: its own name), at the level of ``comparison``."""

    humans_from: str | None = None

    def __post_init__(self):
        self.humans_from = mvh.canonical_name(self.humans_from or self.name)
        if self.conditions is None:
            self.conditions = mvh.scheme(self.humans_from)
        if not self.headline:
            self.headline = ("ood_accuracy", "accuracy_difference", "observed_consistency",
                             "error_consistency") if self.comparison == "item" else ("threshold",)
        super().__post_init__()
        if self.comparison == "condition" and not self.conditions.parametric:
            raise ValueError(f"{self.name}: a condition-level comparison needs numeric levels, and "
                             f"{self.humans_from} has none")
        if self.comparison == "condition":
            self.notes.setdefault("comparison", scoring.CONDITION_LEVEL_NOTE)

    @cached
    def humans(self) -> pd.DataFrame:
        from psychobench.data.trials import load_human_trials

        return load_human_trials(self.humans_from, kind=self.conditions.kind)

    def validate(self) -> None:
        h = self.humans()
        if self.comparison == "item":
            check_item_pairing(self.name, self.stimuli().manifest, h, "model-vs-human human trials "
                               f"of {self.humans_from}")

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        h = self.humans()
        if self.comparison == "item":
            return scoring.item_level(as_scored(trials), h, dataset=self.name, excluded=self.conditions.excluded,
                                      with_shape_bias=self.with_shape_bias, consistency=settings.consistency,
                                      n_splits=settings.n_splits, n_boot=settings.n_boot, seed=settings.seed,
                                      split=settings.split)
        if self.comparison == "condition":
            conds = pd.unique(pd.concat([trials["condition"], h["condition"]]).dropna().astype(str))
            table = scoring.condition_level(trials, h, dataset=self.name, levels=self.conditions.levels(conds),
                                            transform=self.conditions.transform,
                                            guess=1.0 / h["category"].nunique(),
                                            n_boot=settings.n_boot, seed=settings.seed)
            extra = scoring.descriptive(trials, dataset=self.name, with_shape_bias=self.with_shape_bias)
            extra = extra[extra["metric"] == "shape_bias"]
            return T.concat([table, extra])
        return super().score(trials, settings)

    def identity(self) -> dict:
        return {**super().identity(), "humans": self.humans_from}


def as_scored(trials: pd.DataFrame) -> pd.DataFrame:
    """The columns item-level scores are computed from: what a model-vs-human CSV holds (so
    that ``psychobench-score`` on a run's ``responses/`` reproduces its scores exactly), and the
    texture cue where the stimuli record one.  Graded I1 from ``p_true`` stays available through
    :func:`psychobench.consistency.scores.consistency_details` on the full trial table."""
    from psychobench.data.schema import CORE_COLUMNS

    keep = list(CORE_COLUMNS) + [c for c in ("imagename", "texture") if c in trials.columns]
    return trials[keep]


def check_item_pairing(name: str, manifest: pd.DataFrame, humans: pd.DataFrame, source: str) -> None:
    """Before any network runs: every human trial must be on a stimulus of the set, with the
    set's category.  Raises naming the first bad trial (subject and trial number)."""
    man = manifest.drop_duplicates("stimulus_id").set_index("stimulus_id")
    ids = humans["stimulus_id"].astype(str)
    unknown = ~ids.isin(man.index)

    def where(i: int) -> str:
        return f"{source}: subject {humans['subject'].iloc[i]!r}, trial {humans['trial'].iloc[i]}"

    if unknown.any():
        i = int(unknown.to_numpy().argmax())
        raise TrialTableError(f"{where(i)}, column 'imagename': stimulus {ids.iloc[i]!r} is not among the "
                              f"{len(man)} stimuli of {name}")
    cat = man["category"].astype(str).reindex(ids).to_numpy()
    bad = cat != humans["category"].astype(str).to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise TrialTableError(f"{where(i)}, column 'category': stimulus {ids.iloc[i]!r} is "
                              f"{humans['category'].iloc[i]!r} there but {cat[i]!r} in the stimuli of {name}")


def generated_scheme(name: str) -> ConditionScheme:
    """The condition scheme of a generated parametric set without human data (its parse type
    and levels from the manipulation), e.g. salt-and-pepper noise."""
    from psychobench.stimuli.levels import get_set

    spec = get_set(name)
    return ConditionScheme(kind=spec.kind, level_of=mvh.manipulation_level(spec.name), parameter=spec.name)


__all__ = ["ImageExperiment", "ModelVsHuman", "as_scored", "check_item_pairing", "generated_scheme", "inferred_scheme"]
