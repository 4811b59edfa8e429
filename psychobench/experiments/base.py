"""What every experiment is: stimuli, human data, a condition scheme, an answer space, the level
at which it compares models with people, and a scorer that writes the metric table.

An :class:`Experiment` knows everything true of one experiment, so that no code elsewhere asks
``if dataset == ...``.  The results pipeline brings it together with an observer:

1. :meth:`Experiment.validate` checks the human data against the stimuli before any network
   runs (a human trial on an unknown stimulus or category is an error naming file, row and
   column);
2. :meth:`Experiment.stimuli` materialises the stimuli (files + manifest, or waveforms);
3. the observer answers them; :meth:`Experiment.trials` makes its trial table;
4. :meth:`Experiment.score` returns the metric table (:mod:`psychobench.consistency.table`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from psychobench.errors import SettingError
from psychobench.data.answers import AnswerSpace, answer_space
from psychobench.data.conditions import format_condition, infer_kind

COMPARISONS = ("item", "condition", "none")


@dataclass(frozen=True)
class ConditionScheme:
    """How an experiment's conditions are read.

    ``kind``: how the condition column parses (``int``, ``float``, ``bool``, ``str``; the
    canonical strings follow model-vs-human's pandas parse, :mod:`psychobench.data.conditions`);
    ``level_of``: canonical condition -> numeric level (None: the conditions are not levels of
    one parameter); ``parameter`` and ``unit`` name that level; ``transform``: the scale
    psychometric functions are fitted on (None, ``log10``, ``log2``); ``harder``: whether
    accuracy falls as the level rises (``higher``) or as it falls (``lower``); ``excluded``: the
    conditions left out of the benchmark means (canonical strings).
    """

    kind: str = "str"
    level_of: Callable[[str], float] | None = None
    parameter: str = "condition"
    unit: str = ""
    transform: str | None = None
    harder: str = "higher"
    excluded: frozenset[str] = frozenset()

    @property
    def parametric(self) -> bool:
        return self.level_of is not None

    def canonical(self, raw) -> str:
        return format_condition(raw, self.kind)

    def used(self, conditions: Iterable[str]) -> list[str]:
        """The conditions that enter the benchmark means, in the order given."""
        return [c for c in dict.fromkeys(map(str, conditions)) if c not in self.excluded]

    def levels(self, conditions: Iterable[str]) -> dict[str, float]:
        """``{condition: numeric level}``; raises ``ValueError`` naming a condition without one."""
        if self.level_of is None:
            raise ValueError(f"conditions measured as {self.parameter!r} have no numeric levels")
        return {c: float(self.level_of(c)) for c in dict.fromkeys(map(str, conditions))}

    def identity(self) -> dict:
        return {"kind": self.kind, "parameter": self.parameter, "unit": self.unit,
                "transform": self.transform, "harder": self.harder,
                "excluded": sorted(self.excluded)}


def numeric_level(condition: str) -> float:
    """The level of a condition that is itself a number (``"0.35"`` -> 0.35)."""
    return float(condition)


def inferred_scheme(conditions: Iterable[str], levels: Mapping[str, float] | None = None) -> ConditionScheme:
    """A scheme for conditions of unknown meaning: their parse kind inferred as pandas would;
    numeric conditions (or a given ``{condition: level}``) are levels."""
    conds = [str(c) for c in conditions]
    kind = infer_kind(conds)
    if levels:
        table = {str(k): float(v) for k, v in levels.items()}
        return ConditionScheme(kind=kind, level_of=table.__getitem__, parameter="level")
    if kind in ("int", "float") and len(set(conds)) > 1:
        return ConditionScheme(kind=kind, level_of=numeric_level, parameter="level")
    return ConditionScheme(kind=kind)


@dataclass(frozen=True)
class ScoreSettings:
    """How scores are computed (``metrics.*`` of the config): ``consistency`` switches noise
    ceilings and bootstrap intervals on; ``n_splits`` split halves, ``n_boot`` bootstrap draws,
    ``split`` (``subjects`` or ``trials``), ``seed``."""

    consistency: bool = True
    n_splits: int = 10
    n_boot: int = 1000
    split: str = "subjects"
    seed: int = 0

    def __post_init__(self):
        if int(self.n_splits) < 1:
            raise SettingError(f"metrics.n_splits must be >= 1, got {self.n_splits}")
        if int(self.n_boot) < 0:
            raise SettingError(f"metrics.n_boot must be >= 0, got {self.n_boot}")
        if self.split not in ("subjects", "trials"):
            raise SettingError(f"metrics.split must be 'subjects' or 'trials', got {self.split!r}")

    @classmethod
    def of(cls, metrics: Mapping[str, Any] | None = None, seed: int = 0) -> ScoreSettings:
        m = dict(metrics or {})

        def integer(key: str, value) -> int:
            try:
                if isinstance(value, bool) or float(value) != int(float(value)):
                    raise ValueError
                return int(float(value))
            except (TypeError, ValueError):
                raise SettingError(f"{key} must be an integer, got {value!r}") from None

        consistency = m.get("consistency", True)
        if not isinstance(consistency, bool):
            raise SettingError(f"metrics.consistency must be true or false, got {consistency!r}")
        return cls(consistency=consistency, n_splits=integer("metrics.n_splits", m.get("n_splits", 10)),
                   n_boot=integer("metrics.n_boot", m.get("n_boot", 1000)), split=str(m.get("split", "subjects")),
                   seed=integer("seed", seed))

    def identity(self) -> dict:
        return {"consistency": self.consistency, "n_splits": int(self.n_splits),
                "n_boot": int(self.n_boot), "split": self.split, "seed": int(self.seed)}


@dataclass
class Experiment:
    """The base of every experiment (see the module docstring).  Subclasses set
    :attr:`modality` and implement :meth:`stimuli`, :meth:`humans` and :meth:`score`.

    ``fitting``: what an observer with a fitted readout learns from on this experiment when
    the readout brings no fitting stimuli of its own: ``{name: stimulus source}`` (zero-argument
    callables, configs or ``conf/stimuli`` names), or None for cross-validation within the
    experiment's own stimuli; ``fitting_note`` says why (shown in the run's summary)."""

    modality: ClassVar[str] = "image"

    name: str
    comparison: str = "item"
    answers: AnswerSpace | str | list | None = "imagenet16"
    conditions: ConditionScheme | None = None
    headline: tuple[str, ...] = ()
    notes: dict = field(default_factory=dict)
    fitting: dict | None = None
    fitting_note: str = ""

    def __post_init__(self):
        if self.comparison not in COMPARISONS:
            raise ValueError(f"{self.name}: comparison must be one of {COMPARISONS}, got "
                             f"{self.comparison!r}")
        self.answers = answer_space(self.answers)
        if self.conditions is None:
            self.conditions = ConditionScheme()
        self.headline = tuple(self.headline)
        self.notes = dict(self.notes)

    # -- to implement -----------------------------------------------------------------------
    def stimuli(self):
        """The materialised stimuli: a :class:`~psychobench.stimuli.manifest.StimulusSet`
        (files + manifest) or a :class:`~psychobench.stimuli.waveforms.WaveformSet`."""
        raise NotImplementedError

    def humans(self) -> pd.DataFrame | None:
        """The human data the experiment compares with (a trial table where the published
        data are per trial), or None."""
        return None

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        """The metric table of one observer's trial table; ``chance``: the observer's guess rate
        in this experiment (1 / labels for a closed set, 0 for free answers; default the answer
        space's)."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------
    def validate(self) -> None:
        """Check the human data against the stimuli before any network runs (default: load
        both, which validates each on its own)."""
        self.humans()

    def trials(self, answers: pd.DataFrame, subject: str) -> pd.DataFrame:
        """The observer's trial table: the stimulus manifest joined with its answers (one
        trial per stimulus, in manifest order)."""
        from psychobench.data.trials import build_trial_table

        return build_trial_table(self.name, subject, self.stimuli().manifest, answers)

    def identity(self) -> dict:
        """What of the experiment changes a score (keys the run memo beside the config)."""
        return {"name": self.name, "comparison": self.comparison,
                "answers": self.answers.identity(), "conditions": self.conditions.identity()}


def cached(method):
    """Cache a zero-argument method's result on the instance (stimuli and human data are
    loaded once per experiment object)."""
    attr = f"_cached_{method.__name__}"

    @functools.wraps(method)
    def wrapper(self):
        if attr not in self.__dict__:
            self.__dict__[attr] = method(self)
        return self.__dict__[attr]

    return wrapper
