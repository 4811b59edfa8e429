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
from psychobench.stimuli.manifest import StimulusSet, read_manifest, validate_manifest, write_manifest

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



#: Version of the layout :func:`imagenet_samples` writes (part of its cache folder's key).
IMAGENET_SAMPLES_VERSION = 1


def imagenet_samples(base: str = "imagenet-samples-16class") -> StimulusSet:
    """The ImageNet photographs of a base image set (default: the registry's 69 photographs in
    the 16 categories) as a stimulus set of single-cue natural images: each resized and
    centre-cropped to 224 px by the stimulus-creation pipeline
    (:func:`~psychobench.stimuli.images.resize_crop`), one condition (``0``), written once to
    a content-addressed folder of the user cache.  Cue-conflict's fitted readouts learn from
    them (with the edge and silhouette images), never from the conflict images."""
    import hashlib

    from psychobench.stimuli.bases import load_base
    from psychobench.stimuli.images import encode_png
    from psychobench.stimuli.manifest import output_folder, staging

    b = load_base(base)
    key = hashlib.sha256(f"{b.key()}|v{IMAGENET_SAMPLES_VERSION}".encode()).hexdigest()
    final, done = output_folder("imagenet-samples", key, None)
    if done is not None:
        return done
    with staging(final) as tmp:
        rows = []
        for img in b.images:
            data = encode_png(img.image)
            rel = f"{img.category}/{img.source_id}.png"
            (tmp / img.category).mkdir(exist_ok=True)
            (tmp / rel).write_bytes(data)
            rows.append({"stimulus_id": img.source_id, "path": rel, "condition": "0", "category": img.category,
                         "params": json.dumps({"source": b.name, "origin_sha256": img.sha256}),
                         "sha256": hashlib.sha256(data).hexdigest(), "source_id": img.source_id})
        write_manifest(pd.DataFrame(rows), tmp)
    return read_manifest(final, name="imagenet-samples")
