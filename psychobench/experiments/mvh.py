"""The 17 model-vs-human experiments (Geirhos et al. 2021): what is true of each.

Per experiment: how its condition column parses, the numeric level of each condition and what
it measures, the scale on which psychometric functions are fitted, which way is harder, and the
conditions left out of the benchmark means (model-vs-human's ``plot.py`` ``EXCLUDE_CONDITIONS``:
the unmanipulated condition and those where humans are below 20% correct).  For the 12
parametric experiments the parse type and the levels come from the manipulation that made the
stimuli (:mod:`psychobench.stimuli.levels`), so each fact is stated once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psychobench.errors import UnknownNameError
from psychobench.data import registry
from psychobench.experiments.base import ConditionScheme
from psychobench.stimuli.levels import get_set, numeric_level, parse_level


@dataclass(frozen=True)
class _Parametric:
    parameter: str
    unit: str
    transform: str | None
    harder: str


#: The parametric experiments: what their level measures, its unit, the fitting scale and which
#: way is harder ("higher": accuracy falls as the level rises).
_PARAMETRIC: dict[str, _Parametric] = {
    "colour": _Parametric("colour (1 = colour, 0 = greyscale)", "binary", None, "lower"),
    "contrast": _Parametric("contrast c", "fraction", "log10", "lower"),
    "high-pass": _Parametric("high-pass filter sd (inf = unfiltered)", "px", "log10", "lower"),
    "low-pass": _Parametric("low-pass filter sd", "px", None, "higher"),
    "phase-scrambling": _Parametric("phase noise width", "deg", None, "higher"),
    "power-equalisation": _Parametric("power equalised (1) or original (0)", "binary", None, "higher"),
    "false-colour": _Parametric("false colour (1) or original (0)", "binary", None, "higher"),
    "rotation": _Parametric("angular distance from upright, min(a, 360 - a)", "deg", None, "higher"),
    "eidolonI": _Parametric("eidolon reach (coherence 1.0)", "px", "log2", "higher"),
    "eidolonII": _Parametric("eidolon reach (coherence 0.3)", "px", "log2", "higher"),
    "eidolonIII": _Parametric("eidolon reach (coherence 0.0)", "px", "log2", "higher"),
    "uniform-noise": _Parametric("uniform noise width w", "grey level", None, "higher"),
}

#: model-vs-human's EXCLUDE_CONDITIONS (canonical condition strings).
_EXCLUDED: dict[str, frozenset[str]] = {
    "colour": frozenset({"cr"}),
    "contrast": frozenset({"c100", "c03", "c01"}),
    "high-pass": frozenset({"inf", "0.55", "0.45", "0.4"}),
    "low-pass": frozenset({"0", "15", "40"}),
    "phase-scrambling": frozenset({"0", "150", "180"}),
    "power-equalisation": frozenset({"0"}),
    "false-colour": frozenset({"True"}),
    "rotation": frozenset({"0"}),
    "eidolonI": frozenset({"1-10-10", "64-10-10", "128-10-10"}),
    "eidolonII": frozenset({"1-3-10", "32-3-10", "64-3-10", "128-3-10"}),
    "eidolonIII": frozenset({"1-0-10", "16-0-10", "32-0-10", "64-0-10", "128-0-10"}),
    "uniform-noise": frozenset({"0.0", "0.6", "0.9"}),
}

#: The experiments with one condition ("0") and a texture cue per image.
_SHAPE_BIAS = frozenset({"cue-conflict"})
DATASETS: tuple[str, ...] = registry.MVH_DATASETS


class _ManipulationLevel:
    """Condition -> level through the manipulation's own parameters (picklable)."""

    def __init__(self, name: str, distance_from_upright: bool = False):
        self.name, self.distance = name, distance_from_upright

    def __call__(self, condition: str) -> float:
        spec = get_set(self.name)
        try:
            level = numeric_level(spec, parse_level(spec, condition)[2])
        except ValueError as e:
            raise ValueError(f"{self.name}: cannot read a level from condition {condition!r} ({e})") from None
        if self.distance:
            a = level % 360.0
            return min(a, 360.0 - a)
        return level

    def __repr__(self) -> str:
        return f"level of {self.name}"


def manipulation_level(name: str) -> _ManipulationLevel:
    """Condition -> level of manipulation ``name`` through its own parameters."""
    return _ManipulationLevel(name)


def canonical_name(name: str) -> str:
    """A model-vs-human data-set name from either spelling (``uniform_noise`` -> ``uniform-noise``)."""
    if name in DATASETS:
        return name
    alt = name.replace("_", "-")
    for ds in DATASETS:
        if ds.lower() == alt.lower():
            return ds
    raise UnknownNameError(f"unknown model-vs-human data set {name!r}; known: {', '.join(DATASETS)}")


def scheme(name: str) -> ConditionScheme:
    """The condition scheme of model-vs-human experiment ``name`` (either spelling)."""
    name = canonical_name(name)
    if name in _PARAMETRIC:
        f = _PARAMETRIC[name]
        return ConditionScheme(kind=get_set(name).kind,
                               level_of=_ManipulationLevel(name, distance_from_upright=name == "rotation"),
                               parameter=f.parameter, unit=f.unit, transform=f.transform, harder=f.harder,
                               excluded=_EXCLUDED.get(name, frozenset()))
    return ConditionScheme(kind="int", parameter="condition", excluded=frozenset())


def has_shape_bias(name: str) -> bool:
    """Whether the experiment's images carry a second (texture) cue."""
    return canonical_name(name) in _SHAPE_BIAS


def kinds(names: Sequence[str] = DATASETS) -> dict[str, str]:
    """Parse types of the condition columns of the named experiments."""
    return {canonical_name(n): scheme(n).kind for n in names}


def load_humans(names: Sequence[str] = DATASETS) -> dict:
    """The human trial tables of the named experiments, parsed in one pass."""
    from psychobench.data.trials import load_all_humans

    names = [canonical_name(n) for n in names]
    return load_all_humans(names, kinds(names))


def human_curve_table(humans: dict, *, kind: str = "logistic", criterion: float | None = None):
    """Pooled-human psychometric fits of the parametric experiments among ``humans`` (``{name:
    trial table}``), one row per experiment: parameter, transform, harder direction, number of
    levels, alpha, beta, lapse, threshold (on the transformed scale) and its status.  Guess
    1/16; criterion default halfway between guess and 1."""
    import numpy as np
    import pandas as pd

    from psychobench.consistency.psychometric import fit_psychometric, level_counts, transform_levels

    rows = []
    for ds, h in humans.items():
        sch = scheme(ds)
        if not sch.parametric:
            continue
        cnt = level_counts(h, sch.levels(h["condition"].unique()))
        guess = 1.0 / 16
        crit = guess + (1 - guess) / 2 if criterion is None else criterion
        x = transform_levels(cnt["level"].to_numpy(), sch.transform)
        f = fit_psychometric(x, cnt["n_correct"].to_numpy(float), cnt["n_trials"].to_numpy(float),
                             kind=kind, guess=guess)
        rows.append({"dataset": ds, "parameter": sch.parameter, "unit": sch.unit, "transform": sch.transform,
                     "harder": sch.harder, "n_levels": int(np.isfinite(x).sum()), "alpha": f.alpha,
                     "beta": f.beta, "lapse": f.lapse, "criterion": crit,
                     "threshold": f.threshold(crit), "status": f.threshold_status(crit)})
    return pd.DataFrame(rows)
