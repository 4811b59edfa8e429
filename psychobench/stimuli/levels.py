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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psychobench.errors import PsychobenchError
from psychobench.data.conditions import format_condition


class LevelError(PsychobenchError, ValueError):
    """An unknown manipulation or a condition string that cannot be read."""


def _num(s: str, name: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise LevelError(f"{name}: condition {s!r} is not a number") from None


# ----------------------------------------------------------------- parsing one manipulation's levels
# Each parser takes the raw condition string and returns the manipulation's parameters; each level
# function maps them to one number for psychometric curves.

def _colour(raw: str, name: str) -> dict:
    if raw not in ("cr", "bw"):
        raise LevelError(f"colour: condition must be 'cr' or 'bw'; got {raw!r}")
    return {"mode": raw}


def _contrast(raw: str, name: str) -> dict:
    if not (raw[:1] == "c" and raw[1:].isdigit()):
        raise LevelError(f"contrast: condition must look like c05 (percent); got {raw!r}")
    c = int(raw[1:]) / 100
    if c > 1:
        raise LevelError(f"contrast: {raw!r} is above 100%")
    return {"c": c}


def _filter_sd(raw: str, name: str, zero_ok: bool, inf_ok: bool) -> dict:
    v = _num(raw, name)
    if v < 0 or (v == 0 and not zero_ok) or math.isnan(v) or (math.isinf(v) and not inf_ok):
        raise LevelError(f"{name}: bad filter SD {raw!r}")
    return {"sigma": v}


def _number(key: str, lo: float = -math.inf, hi: float = math.inf, what: str = "value"):
    def parse(raw: str, name: str) -> dict:
        v = _num(raw, name)
        if not lo <= v <= hi:
            raise LevelError(f"{name}: {what} must be in [{lo:g}, {hi:g}]; got {raw!r}")
        return {key: v}
    return parse


def _power(raw: str, name: str) -> dict:
    if raw not in ("0", "pow"):
        raise LevelError(f"power-equalisation: condition must be '0' or 'pow'; got {raw!r}")
    return {"equalise": raw == "pow"}


def _false_colour(raw: str, name: str) -> dict:
    if raw.lower() not in ("true", "false"):
        raise LevelError(f"false-colour: condition must be true/false; got {raw!r}")
    return {"false_colour": raw.lower() == "false"}


def _rotation(raw: str, name: str) -> dict:
    v = _num(raw, name)
    if not v.is_integer() or int(v) % 90:
        raise LevelError(f"rotation: angle must be a multiple of 90; got {raw!r}")
    return {"angle": int(v) % 360}


def _eidolon(raw: str, name: str) -> dict:
    parts = raw.split("-")
    if len(parts) != 3:
        raise LevelError(f"{name}: condition must be REACH-COHERENCEx10-GRAIN, e.g. 8-3-10; got {raw!r}")
    r, c, g = (_num(x, name) for x in parts)
    return {"reach": r, "coherence": c / 10, "grain": g}


# ----------------------------------------------------------------- making one manipulation's images
# Each maker applies the manipulation to a batch x (N, H, W[, 3]) in [0, 1]: make(x, params, rngs,
# ctx), with ``rngs`` one Generator per image and ``ctx`` holding ``mean_amplitude`` (power
# equalisation's target spectrum) and ``gamma`` (false colour's monitor table); None stands for
# the experiments' own data tables (:mod:`psychobench.stimuli.tables`).

def _m():
    from psychobench.stimuli import manipulations
    return manipulations


def _make_power(x, p, rngs, ctx):
    M = _m()
    if not p["equalise"]:
        return np.clip(M.grey(x), 0, 1)
    # ctx "mean_amplitude" None: the mean spectrum of the human stimuli (the data table)
    return M.power_equalise(x, ctx.get("mean_amplitude"))


def _make_false_colour(x, p, rngs, ctx):
    M = _m()
    return M.false_colour(x, ctx.get("gamma")) if p["false_colour"] else M.as_batch(x, colour=True)


def _make_eidolon(x, p, rngs, ctx):
    from psychobench.stimuli.eidolon import eidolon
    return eidolon(x, p["reach"], p["coherence"], p["grain"], rngs)


_MAKE = {
    "colour": lambda x, p, r, c: _m().colour(x, p["mode"]),
    "contrast": lambda x, p, r, c: _m().contrast(x, p["c"]),
    "high-pass": lambda x, p, r, c: _m().high_pass(x, p["sigma"], p["bg"]),
    "low-pass": lambda x, p, r, c: _m().low_pass(x, p["sigma"], p["bg"], method="fast"),
    "phase": lambda x, p, r, c: _m().phase_noise(x, p["width_deg"], r),
    "rotation": lambda x, p, r, c: _m().rotate(x, p["angle"]),
    "uniform-noise": lambda x, p, r, c: _m().uniform_noise(x, p["width"], r, p["contrast"]),
    "salt-and-pepper": lambda x, p, r, c: _m().salt_and_pepper(x, p["p"], r, p["contrast"]),
}


def _key(key: str):
    return lambda params: float(params[key])


def _flag(key: str, on: str | bool = True):
    return lambda params: 1.0 if params[key] == on else 0.0


@dataclass(frozen=True)
class SetSpec:
    """One parametric stimulus set: what its condition strings mean and how its images are made.

    ``code``: experiment token of the image names (``nse``); ``tag``: the 5th name token;
    ``levels``: the raw condition strings of the human experiment, in the experiments' order;
    ``kind``: how the condition column parses (``int``, ``float``, ``bool``, ``str``);
    ``colour``: needs RGB base images; ``stack_rgb``: the original saved 3 equal channels;
    ``parse``: raw condition -> parameters; ``level``: parameters -> one number; ``make``: the
    manipulation itself (``make(x, params, rngs, ctx)``, see above);
    ``grey_input``: the manipulation starts from the luminance of the base image (all but colour,
    false colour and eidolons); ``mean_spectrum``: it imposes a mean amplitude spectrum
    (power equalisation); ``even_sides`` / ``square``: image size requirements.
    """

    name: str
    code: str
    tag: str
    levels: tuple[str, ...]
    kind: str
    parse: Callable[[str, str], dict] = field(repr=False, compare=False)
    level: Callable[[dict], float] = field(repr=False, compare=False)
    make: Callable = field(repr=False, compare=False)
    colour: bool = False
    stack_rgb: bool = False
    humans: str | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    grey_input: bool = True
    mean_spectrum: bool = False
    even_sides: bool = False
    square: bool = False


def _eid(c: int) -> tuple[str, ...]:
    return tuple(f"{r}-{c}-10" for r in (1, 2, 4, 8, 16, 32, 64, 128))


_EIDOLON = dict(parse=_eidolon, level=_key("reach"), make=_make_eidolon, fixed={"grain": 10.0}, grey_input=False,
                square=True)
SETS: dict[str, SetSpec] = {s.name: s for s in (
    SetSpec("colour", "cl", "40", ("cr", "bw"), "str", _colour, _flag("mode", "cr"), _MAKE["colour"], colour=True,
            humans="colour", grey_input=False),
    SetSpec("contrast", "cop", "10", ("c100", "c50", "c30", "c15", "c10", "c05", "c03", "c01"), "str",
            _contrast, _key("c"), _MAKE["contrast"], humans="contrast"),
    SetSpec("high-pass", "hp", "10", ("inf", "3", "1.5", "1", "0.7", "0.55", "0.45", "0.4"), "float",
            lambda r, n: _filter_sd(r, n, zero_ok=False, inf_ok=True), _key("sigma"), _MAKE["high-pass"],
            stack_rgb=True, fixed={"bg": 0.4423}, humans="high-pass"),
    SetSpec("low-pass", "lp", "10", ("0", "1", "3", "5", "7", "10", "15", "40"), "int",
            lambda r, n: _filter_sd(r, n, zero_ok=True, inf_ok=False), _key("sigma"), _MAKE["low-pass"],
            stack_rgb=True, fixed={"bg": 0.4423}, humans="low-pass"),
    SetSpec("phase-scrambling", "ps", "10", ("0", "30", "60", "90", "120", "150", "180"), "int",
            _number("width_deg"), _key("width_deg"), _MAKE["phase"], stack_rgb=True, humans="phase-scrambling", even_sides=True),
    SetSpec("power-equalisation", "pow", "35", ("0", "pow"), "str", _power, _flag("equalise"), _make_power,
            stack_rgb=True, humans="power-equalisation", mean_spectrum=True),
    SetSpec("false-colour", "fc", "35", ("true", "false"), "bool", _false_colour, _flag("false_colour"), _make_false_colour,
            colour=True, stack_rgb=True, humans="false-colour", grey_input=False),
    SetSpec("rotation", "rot", "20", ("0", "90", "180", "270"), "int", _rotation, _key("angle"), _MAKE["rotation"],
            stack_rgb=True, humans="rotation"),
    SetSpec("eidolonI", "eid", "10", _eid(10), "str", humans="eidolonI", **_EIDOLON),
    SetSpec("eidolonII", "eid", "10", _eid(3), "str", humans="eidolonII", **_EIDOLON),
    SetSpec("eidolonIII", "eid", "10", _eid(0), "str", humans="eidolonIII", **_EIDOLON),
    SetSpec("uniform-noise", "nse", "10",
            ("0.00", "0.03", "0.05", "0.10", "0.20", "0.35", "0.60", "0.90"), "float",
            _number("width", 0, math.inf, "the noise width"), _key("width"), _MAKE["uniform-noise"],
            fixed={"contrast": 0.3},
            humans="uniform-noise"),
    SetSpec("salt-and-pepper", "sap", "10",
            ("0", "0.1", "0.2", "0.35", "0.5", "0.65", "0.8", "0.95"), "float",
            _number("p", 0, 1, "the probability"), _key("p"), _MAKE["salt-and-pepper"], fixed={"contrast": 0.3}),
)}

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
    p = spec.parse(raw, spec.name)
    if spec.kind == "bool":
        raw = raw.lower()
    return raw, canonical(spec, raw), {**spec.fixed, **p}


def numeric_level(spec: SetSpec, params: dict[str, Any]) -> float:
    """One number per condition for psychometric curves."""
    return float(spec.level(params))
