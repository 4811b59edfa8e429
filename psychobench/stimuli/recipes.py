"""Stimulus-set recipes: small YAML files under the repository's ``stimuli/`` folder.

A recipe pins what makes a set: the manipulation, its conditions (raw CSV strings, in the
experiment's order), extra parameters, and the expected checksums of the result for named base
sets and seeds::

    name: uniform-noise
    manipulation: uniform-noise
    conditions: ["0.00", "0.03", ...]
    params: {}                       # overrides of the set's fixed parameters
    expected:
      - {base: imagenet-samples-16class, seed: 0, quantise: truncate, n: 552,
         pixel_key: <sha256 of decoded pixels>, content_key: <StimulusSet.content_key()>}

Without a recipe file (e.g. an installed package outside the repository) the built-in levels of
:mod:`.levels` are used and nothing is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .images import StimulusError
from .levels import get_set, parse_level


@dataclass(frozen=True)
class Recipe:
    name: str
    manipulation: str
    conditions: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    expected: tuple[dict[str, Any], ...] = ()
    source: str = "<built-in>"

    def generation_dict(self) -> dict[str, Any]:
        """What determines the pixels (not the expected checksums)."""
        return {"name": self.name, "manipulation": get_set(self.manipulation).name,
                "conditions": [parse_level(self.manipulation, c)[0] for c in self.conditions],
                "params": self.params}

    def with_conditions(self, conditions: list[str]) -> Recipe:
        return replace(self, conditions=tuple(conditions), expected=())

    def expected_for(self, base: str, seed: int, quantise: str) -> dict[str, Any] | None:
        for e in self.expected:
            if e.get("base") == base and int(e.get("seed", -1)) == int(seed) \
                    and e.get("quantise", "truncate") == quantise:
                return e
        return None


def recipes_dir() -> Path | None:
    """The repository's ``stimuli/`` folder, found above the package (a source checkout)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        d = parent / "stimuli"
        if d.is_dir() and (parent / "pyproject.toml").is_file():
            return d
    return None


def builtin(name: str) -> Recipe:
    spec = get_set(name)
    return Recipe(spec.name, spec.name, spec.levels)


def load_recipe(ref: str | Path) -> Recipe:
    """A recipe by file path, by set name (``stimuli/<name with _>.yaml``), else built in."""
    p = Path(ref)
    if not p.is_file():
        d = recipes_dir()
        cand = d / f"{str(ref).replace('-', '_')}.yaml" if d is not None else None
        if cand is None or not cand.is_file():
            return builtin(str(ref))
        p = cand
    try:
        d = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise StimulusError(f"{p}: unreadable recipe ({e})") from None
    if not isinstance(d, dict) or "manipulation" not in d:
        raise StimulusError(f"{p}: a recipe needs at least 'manipulation'")
    spec = get_set(d["manipulation"])
    conds = tuple(str(c) for c in d.get("conditions") or spec.levels)
    for c in conds:
        parse_level(spec, c)
    return Recipe(d.get("name", spec.name), spec.name, conds, dict(d.get("params") or {}),
                  tuple(d.get("expected") or ()), str(p))
