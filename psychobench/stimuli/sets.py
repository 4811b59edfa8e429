"""Stimulus sets used as they were published (downloaded, never regenerated).

The texture-vs-shape stimuli of Geirhos et al. (2019) are the images the cue-conflict, edge and
silhouette observers saw: 224x224 PNGs in category folders.  Their checksums are pinned in the
registry, so the manifest takes them from there instead of hashing again.
"""

from __future__ import annotations

import json

import pandas as pd

from psychobench.data import registry
from psychobench.data.trials import texture_of
from psychobench.stimuli.manifest import (MANIFEST_NAME, StimulusSet, read_manifest,
                                          write_manifest)

#: The published texture-vs-shape sets, and whether their images carry a second (texture) cue,
#: named after the texture's category (``bird3-clock3.png``: a bird shape in clock texture).
TEXTURE_CUE: dict[str, bool] = {"cue-conflict": True, "edge": False, "silhouette": False}
TEXTURE_SHAPE = tuple(TEXTURE_CUE)


def texture_shape(dataset: str = "cue-conflict") -> StimulusSet:
    """The published texture-vs-shape stimuli of ``dataset`` (cue-conflict, edge, silhouette)."""
    if dataset not in TEXTURE_SHAPE:
        raise KeyError(f"unknown texture-vs-shape set {dataset!r}; known: {TEXTURE_SHAPE}")
    name = f"stimuli/{dataset}"
    root = registry.fetch_dataset(name)
    if (root / MANIFEST_NAME).is_file():
        return read_manifest(root, name=dataset)
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
    write_manifest(man, root)
    return read_manifest(root, name=dataset)

