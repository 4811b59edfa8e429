"""Multi-object arrays built from single-object stimuli (the cluttered displays of feature-based
attention experiments; Lindsay & Miller 2018 used 2 x 2 grids of ImageNet images).

Each grid tiles ``rows x cols`` images of distinct categories, each shrunk to its cell; the
manifest's ``present`` lists the categories in the grid (``|``-joined, row-major) and
``sources`` the source stimuli.  ``category`` is the top-left cell's (a manifest needs one).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from .images import StimulusError, encode_png
from .manifest import StimulusSet, output_folder, read_manifest, staging, write_manifest
from psychobench.data.io import sha256_bytes

GRID_VERSION = "1"


def make_grids(source: StimulusSet, *, n_grids: int = 90, rows: int = 2, cols: int = 2, size: int = 224,
               seed: int = 0) -> StimulusSet:
    """``n_grids`` grids of ``rows x cols`` cells, each cell one image of ``source`` of a
    category no other cell of the grid has (categories drawn uniformly, then an image of each;
    seeded).  Cached by content (the source's content key and these settings)."""
    from PIL import Image

    m = source.manifest
    cats = sorted(m["category"].astype(str).unique())
    k = rows * cols
    if len(cats) < k:
        raise StimulusError(f"{source.name}: {len(cats)} categories, a {rows}x{cols} grid needs {k} distinct ones")
    if n_grids < 1:
        raise StimulusError(f"n_grids must be >= 1, got {n_grids}")
    key = hashlib.sha256(json.dumps({"source": source.content_key(), "n": n_grids, "rows": rows, "cols": cols,
                                     "size": size, "seed": seed, "version": GRID_VERSION}).encode()).hexdigest()
    final, done = output_folder("grids", key, None)
    if done is not None:
        return done
    rng = np.random.default_rng([seed, 2018])
    by_cat = {c: np.flatnonzero(m["category"].astype(str).to_numpy() == c) for c in cats}
    ch, cw = size // rows, size // cols
    with staging(final) as tmp:
        (tmp / "images").mkdir()
        out = []
        for g in range(n_grids):
            chosen = [cats[i] for i in rng.choice(len(cats), k, replace=False)]
            picks = [int(rng.choice(by_cat[c])) for c in chosen]
            canvas = np.zeros((size, size, 3), np.uint8)
            for cell, i in enumerate(picks):
                r, c = divmod(cell, cols)
                img = Image.open(source.root / m["path"].iloc[i]).convert("RGB").resize((cw, ch), Image.BILINEAR)
                canvas[r * ch:(r + 1) * ch, c * cw:(c + 1) * cw] = np.asarray(img)
            sid = f"grid_{g:04d}"
            data = encode_png(canvas)
            (tmp / "images" / f"{sid}.png").write_bytes(data)
            out.append({"stimulus_id": sid, "path": f"images/{sid}.png", "condition": "grid",
                        "category": chosen[0], "present": "|".join(chosen),
                        "sources": "|".join(str(m["stimulus_id"].iloc[i]) for i in picks),
                        "params": json.dumps({"rows": rows, "cols": cols, "seed": seed}), "sha256": sha256_bytes(data),
                        "imagename": f"{sid}.png"})
        write_manifest(pd.DataFrame(out), tmp)
    return read_manifest(final, name="grids")
