"""Parametric stimulus sets: names, condition strings and the parameters behind them.

Facts from the model-vs-human raw data and stimulus names (Geirhos et al. 2021) (model-vs-human raw-data CSVs and
GHD yaml files).  A condition is written two ways: ``raw`` as in the human CSV and in image
names (``0.10``, ``3``, ``true``) and ``canonical`` as model-vs-human parses the CSV with pandas
and ``astype(str)`` (``0.1``, ``3.0``, ``True``); the trial table stores the canonical form.
Both are accepted on input.  Levels beyond the experiments' are accepted too (``contrast c07``,
``low-pass 2.5``); their canonical form follows the set's column type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from psychobench.data.conditions import format_condition


class LevelError(ValueError):
    """An unknown manipulation or a condition string that cannot be read."""


@dataclass(frozen=True)
class SetSpec:
    """One parametric model-vs-human set.

    ``code``: experiment token of the image names (``nse``); ``tag``: the 5th name token;
    ``levels``: the raw condition strings of the human experiment, in the experiments' order;
    ``kind``: how the condition column parses (``int``, ``float``, ``bool``, ``str``);
    ``colour``: needs RGB base images; ``stack_rgb``: the original saved 3 equal channels.
    """

    name: str
    code: str
    tag: str
    levels: tuple[str, ...]
    kind: str
    colour: bool = False
    stack_rgb: bool = False
    humans: str | None = None
    fixed: dict[str, Any] = field(default_factory=dict)


def _eid(c: int) -> tuple[str, ...]:
    return tuple(f"{r}-{c}-10" for r in (1, 2, 4, 8, 16, 32, 64, 128))


SETS: dict[str, SetSpec] = {s.name: s for s in (
    SetSpec("colour", "cl", "40", ("cr", "bw"), "str", colour=True),
    SetSpec("contrast", "cop", "10", ("c100", "c50", "c30", "c15", "c10", "c05", "c03", "c01"), "str"),
    SetSpec("high-pass", "hp", "10", ("inf", "3", "1.5", "1", "0.7", "0.55", "0.45", "0.4"), "float",
            stack_rgb=True, fixed={"bg": 0.4423}),
    SetSpec("low-pass", "lp", "10", ("0", "1", "3", "5", "7", "10", "15", "40"), "int",
            stack_rgb=True, fixed={"bg": 0.4423}),
    SetSpec("phase-scrambling", "ps", "10", ("0", "30", "60", "90", "120", "150", "180"), "int",
            stack_rgb=True),
    SetSpec("power-equalisation", "pow", "35", ("0", "pow"), "str", stack_rgb=True),
    SetSpec("false-colour", "fc", "35", ("true", "false"), "bool", colour=True, stack_rgb=True),
    SetSpec("rotation", "rot", "20", ("0", "90", "180", "270"), "int", stack_rgb=True),
    SetSpec("eidolonI", "eid", "10", _eid(10), "str", fixed={"grain": 10.0}),
    SetSpec("eidolonII", "eid", "10", _eid(3), "str", fixed={"grain": 10.0}),
    SetSpec("eidolonIII", "eid", "10", _eid(0), "str", fixed={"grain": 10.0}),
    SetSpec("uniform-noise", "nse", "10",
            ("0.00", "0.03", "0.05", "0.10", "0.20", "0.35", "0.60", "0.90"), "float",
            fixed={"contrast": 0.3}),
    SetSpec("salt-and-pepper", "sap", "10",
            ("0", "0.1", "0.2", "0.35", "0.5", "0.65", "0.8", "0.95"), "float",
            fixed={"contrast": 0.3}),
)}
for _s in SETS.values():
    if _s.name != "salt-and-pepper":
        object.__setattr__(_s, "humans", _s.name)

#: Alternative spellings accepted on input -> set name.
ALIASES = {"color": "colour", "noise": "uniform-noise", "uniform_noise": "uniform-noise",
           "lowpass": "low-pass", "highpass": "high-pass", "phase-noise": "phase-scrambling",
           "phase": "phase-scrambling", "power": "power-equalisation", "false-color": "false-colour",
           "eidolon-i": "eidolonI", "eidolon-ii": "eidolonII", "eidolon-iii": "eidolonIII",
           "salt_and_pepper": "salt-and-pepper"}


def get_set(name: str) -> SetSpec:
    key = name if name in SETS else ALIASES.get(name.lower(), name.replace("_", "-"))
    if key not in SETS:
        raise LevelError(f"unknown manipulation {name!r}; known: {sorted(SETS)}")
    return SETS[key]


def _num(s: str, name: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise LevelError(f"{name}: condition {s!r} is not a number") from None


def canonical(spec: SetSpec, raw: str) -> str:
    """Canonical (pandas-parsed) form of a raw condition string of ``spec``'s column.

    Delegates to :func:`psychobench.data.conditions.format_condition`; a level that does not fit
    the column type (``2.5`` in the integer column of low-pass) is written as a float.
    """
    try:
        return format_condition(raw, spec.kind)
    except ValueError:
        return str(float(_num(raw, spec.name)))


def parse_level(spec: SetSpec | str, cond: str) -> tuple[str, str, dict[str, Any]]:
    """Condition string (raw or canonical) -> (raw, canonical, parameters).

    Parameters by set: colour ``mode``; contrast ``c`` (c05 -> 0.05); high/low-pass ``sigma`` (px);
    phase ``width_deg``; power ``equalise``; false colour ``false_colour``; rotation ``angle``
    (deg, counter-clockwise); eidolon ``reach``, ``coherence``, ``grain``; uniform noise ``width``;
    salt-and-pepper ``p``.  Plus the set's fixed parameters.
    """
    spec = get_set(spec) if isinstance(spec, str) else spec
    cond = str(cond).strip()
    raw = next((r for r in spec.levels if r == cond or canonical(spec, r) == cond), None)
    raw = raw if raw is not None else cond
    n = spec.name
    if n == "colour":
        if raw not in ("cr", "bw"):
            raise LevelError(f"colour: condition must be 'cr' or 'bw'; got {cond!r}")
        p = {"mode": raw}
    elif n == "contrast":
        if not (raw[:1] == "c" and raw[1:].isdigit()):
            raise LevelError(f"contrast: condition must look like c05 (percent); got {cond!r}")
        p = {"c": int(raw[1:]) / 100}
        if p["c"] > 1:
            raise LevelError(f"contrast: {cond!r} is above 100%")
    elif n in ("high-pass", "low-pass"):
        v = _num(raw, n)
        if v < 0 or (n == "high-pass" and v == 0) or math.isnan(v) or (n == "low-pass" and math.isinf(v)):
            raise LevelError(f"{n}: bad filter SD {cond!r}")
        p = {"sigma": v}
    elif n == "phase-scrambling":
        p = {"width_deg": _num(raw, n)}
    elif n == "power-equalisation":
        if raw not in ("0", "pow"):
            raise LevelError(f"power-equalisation: condition must be '0' or 'pow'; got {cond!r}")
        p = {"equalise": raw == "pow"}
    elif n == "false-colour":
        if raw.lower() not in ("true", "false"):
            raise LevelError(f"false-colour: condition must be true/false; got {cond!r}")
        raw = raw.lower()
        p = {"false_colour": raw == "false"}
    elif n == "rotation":
        v = _num(raw, n)
        if not v.is_integer() or int(v) % 90:
            raise LevelError(f"rotation: angle must be a multiple of 90; got {cond!r}")
        p = {"angle": int(v) % 360}
    elif n.startswith("eidolon"):
        parts = raw.split("-")
        if len(parts) != 3:
            raise LevelError(f"{n}: condition must be REACH-COHERENCEx10-GRAIN, e.g. 8-3-10; got {cond!r}")
        r, c, g = (_num(x, n) for x in parts)
        p = {"reach": r, "coherence": c / 10, "grain": g}
    elif n == "uniform-noise":
        p = {"width": _num(raw, n)}
        if p["width"] < 0:
            raise LevelError(f"{n}: noise width must be >= 0; got {cond!r}")
    elif n == "salt-and-pepper":
        p = {"p": _num(raw, n)}
        if not 0 <= p["p"] <= 1:
            raise LevelError(f"{n}: probability must be in [0, 1]; got {cond!r}")
    else:  # pragma: no cover
        raise LevelError(n)
    params = {**spec.fixed, **p}
    if n.startswith("eidolon"):
        params["grain"] = p["grain"]
    return raw, canonical(spec, raw), params


def numeric_level(spec: SetSpec, params: dict[str, Any]) -> float:
    """One number per condition for psychometric curves (NaN where the set has none)."""
    n = spec.name
    key = {"contrast": "c", "high-pass": "sigma", "low-pass": "sigma", "phase-scrambling": "width_deg",
           "rotation": "angle", "uniform-noise": "width", "salt-and-pepper": "p"}.get(n)
    if key is not None:
        return float(params[key])
    if n.startswith("eidolon"):
        return float(params["reach"])
    if n == "colour":
        return 1.0 if params["mode"] == "cr" else 0.0
    if n == "false-colour":
        return 1.0 if params["false_colour"] else 0.0
    if n == "power-equalisation":
        return 1.0 if params["equalise"] else 0.0
    return float("nan")
