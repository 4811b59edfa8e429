"""Stimulus sets used as they were published (downloaded, never regenerated).

The texture-vs-shape stimuli of Geirhos et al. (2019) are the images the cue-conflict, edge and
silhouette observers saw: 224x224 PNGs in category folders.  Their checksums are pinned in the
registry, so the manifest is built from there (in memory, every time) after the files were
checked against them.
"""

from __future__ import annotations

import json

import pandas as pd

from psychobench.errors import UnknownNameError
from psychobench.data import registry
from psychobench.data.trials import texture_of
from psychobench.stimuli.manifest import StimulusSet, validate_manifest

#: The published texture-vs-shape sets, and whether their images carry a second (texture) cue,
#: named after the texture's category (``bird3-clock3.png``: a bird shape in clock texture).
TEXTURE_CUE: dict[str, bool] = {"cue-conflict": True, "edge": False, "silhouette": False}
TEXTURE_SHAPE = tuple(TEXTURE_CUE)


def texture_shape(dataset: str = "cue-conflict") -> StimulusSet:
    """The published texture-vs-shape stimuli of ``dataset`` (cue-conflict, edge, silhouette)."""
    if dataset not in TEXTURE_SHAPE:
        raise UnknownNameError(f"unknown texture-vs-shape set {dataset!r}; known: {TEXTURE_SHAPE}")
    name = f"stimuli/{dataset}"
    root = registry.fetch_dataset(name)              # every file checked against its pinned sha256
    files = registry.files_of()[name]
    rel = pd.Series([e.relpath for e in files], dtype=str)
    category = rel.str.split("/").str[0]
    fname = rel.str.split("/").str[-1]
    if not fname.is_unique:
        raise ValueError(f"{name}: file names are not unique; stimulus ids would collide")
    condition = "0"  # single-condition experiments (model-vs-human writes condition 0)
    man = pd.DataFrame({
        "stimulus_id": fname,
        "path": rel,
        "condition": condition,
        "category": category,
        "params": json.dumps({"source": name}),
        "sha256": [e.sha256 for e in files],
        "imagename": fname,
    })
    if TEXTURE_CUE[dataset]:
        man["texture"] = texture_of(fname)
        bad = ~man["texture"].str.fullmatch(r"[a-z]+")
        if bad.any():
            raise ValueError(f"{name}: cannot read the texture category of {fname[bad].iloc[0]!r}")
        man["params"] = [json.dumps({"source": name, "shape": c, "texture": t})
                         for c, t in zip(man["category"], man["texture"])]
    validate_manifest(man, f"{name} (registry)")
    return StimulusSet(name=dataset, root=root, manifest=man)

