"""``psychobench-stimuli``: make stimulus sets and apply manipulations to folders.

    psychobench-stimuli list
    psychobench-stimuli make NAME [--base DIR] [--out DIR] [--seed S] [--conditions C ...]
    psychobench-stimuli apply MANIPULATION LEVEL IN_DIR OUT_DIR [--seed S]

``make`` materialises a stimulus set (a parametric model-vs-human set from base images,
``viewpoints`` or ``cue-conflict-synth``) and prints its folder.  ``apply`` applies one
manipulation, named as the model-vs-human data set it makes (``colour``, ``contrast``,
``uniform-noise``, ``low-pass``, ...), at one level written as in the human CSVs (``contrast c05``,
``colour bw``, ``uniform-noise 0.35``) to every image of IN_DIR as it is (no resizing) and writes
8-bit PNGs of the same names into OUT_DIR.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from psychobench.cli.common import command, parser


def _apply(args) -> int:
    from psychobench.stimuli import manipulations as M
    from psychobench.stimuli.generate import iter_levels, ordered_map
    from psychobench.stimuli.images import StimulusError, decode_image, encode_png, list_images, \
        write_bytes_atomic
    from psychobench.stimuli.levels import get_set, parse_level

    spec = get_set(args.manipulation)
    raw, canon, params = parse_level(spec, args.level)
    src, dst = Path(args.in_dir), Path(args.out_dir)
    if not src.is_dir():
        raise StimulusError(f"{src}: input folder not found")
    files = list_images(src)
    if not files:
        raise StimulusError(f"{src}: no image files")
    if dst.resolve() == src.resolve():
        raise StimulusError(f"{dst}: output folder must differ from the input folder")
    names = [f.stem + ".png" for f in files]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise StimulusError(f"{src}: two input images would both be written as {dup}")
    imgs = [decode_image(f) for f in files]           # every input checked before any output
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, (f, im) in enumerate(zip(files, imgs)):
        if spec.colour and im.ndim != 3:
            raise StimulusError(f"{f}: greyscale image, but {spec.name} needs colour (RGB) images")
        if spec.even_sides and (im.shape[0] % 2 or im.shape[1] % 2):
            raise StimulusError(f"{f}: wrong size {im.shape[1]}x{im.shape[0]}; {spec.name} needs even sides")
        if spec.square and im.shape[0] != im.shape[1]:
            raise StimulusError(f"{f}: wrong size {im.shape[1]}x{im.shape[0]}; {spec.name} needs square images")
        groups[im.shape[:2]].append(i)
    if spec.mean_spectrum and args.spectrum is None:
        from psychobench.stimuli.tables import SPECTRUM_SHAPE
        for f, im in zip(files, imgs):
            if im.shape[:2] != SPECTRUM_SHAPE:
                raise StimulusError(f"{f}: wrong size {im.shape[1]}x{im.shape[0]}; the mean spectrum of "
                                    "the human stimuli is 224x224 (--spectrum base: the images' own "
                                    "mean; --spectrum FILE: another)")
    gamma = np.load(args.gamma_table) if args.gamma_table else None
    spectrum = np.load(args.spectrum) if args.spectrum not in (None, "base") else None
    dst.mkdir(parents=True, exist_ok=True)
    for shape, idx in groups.items():
        x = np.stack([np.repeat(imgs[i][..., None], 3, 2) if imgs[i].ndim == 2 else imgs[i]
                      for i in idx]) / 255.0
        if spec.grey_input:
            x = M.grey(x)
        # default (None): the human stimuli's mean spectrum; "base": these images' own mean
        amp = M.mean_amplitude_spectrum(x) if spec.mean_spectrum and args.spectrum == "base" else spectrum
        batches = iter_levels(spec, [(raw, canon, params)], x, [files[i].stem for i in idx], args.seed,
                              mean_amplitude=amp, gamma=gamma, quantise=args.quantise,
                              workers=args.workers)

        def write(job, idx=idx):
            _, s, u8 = job
            for i, img in zip(idx[s:s + len(u8)], u8):
                write_bytes_atomic(dst / names[i], encode_png(img, stack_rgb=spec.stack_rgb))
        for _ in ordered_map(write, batches, args.workers):
            pass
    print(f"{len(files)} images -> {dst} ({spec.name} {raw}, condition {canon})")
    return 0


def _make(args) -> int:
    name = args.name
    if name in ("viewpoints", "viewpoint"):
        from psychobench.stimuli.render import make_viewpoints
        s = make_viewpoints(out=args.out, seed=args.seed, objects=args.objects)
    elif name in ("cue-conflict-synth", "cue_conflict_synth"):
        from psychobench.stimuli.cueconflict import make_cue_conflict
        s = make_cue_conflict(out=args.out, seed=args.seed, base=args.base, method=args.texture_method,
                              per_shape=args.per_shape, limit=args.limit)
    else:
        from psychobench.stimuli.bases import DEFAULT_BASE
        from psychobench.stimuli.generate import make_set
        s = make_set(name, args.base or DEFAULT_BASE, seed=args.seed, out=args.out,
                     conditions=args.conditions, limit=args.limit, quantise=args.quantise,
                     progress=not args.quiet, on_grey=args.on_grey, workers=args.workers)
    print(f"{s.name}: {len(s.manifest)} stimuli in {s.root}")
    return 0


def _list(args) -> int:
    from psychobench.stimuli.levels import SETS
    for spec in SETS.values():
        print(f"{spec.name:20s} {' '.join(spec.levels)}")
    print(f"{'viewpoints':20s} (3D renderings, pybullet)")
    print(f"{'cue-conflict-synth':20s} (shape of one category, texture of another)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = parser("psychobench-stimuli", __doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the stimulus sets and their conditions").set_defaults(func=_list)
    m = sub.add_parser("make", help="materialise a stimulus set")
    m.add_argument("name")
    m.add_argument("--base", default=None, help="base images: imagenet-samples-16class (default), "
                   "skimage, foolbox, a folder (WNID or category subfolders) or a release .tar.gz")
    m.add_argument("--out", default=None, help="write here instead of the cache")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--conditions", nargs="+", default=None, help="subset or new levels")
    m.add_argument("--limit", type=int, default=None,
                   help="base images (cue-conflict-synth: silhouettes) per category")
    m.add_argument("--quantise", choices=("truncate", "round"), default="truncate")
    m.add_argument("--on-grey", choices=("error", "skip"), default=None,
                   help="grey base images in colour sets")
    m.add_argument("--quiet", action="store_true")
    m.add_argument("--workers", type=int, default=None,
                   help="threads (default: the usable cores, at most 8; output does not depend on it)")
    m.add_argument("--objects", nargs="+", default=None, help="viewpoints: objects to render")
    m.add_argument("--texture-method", choices=("quilting", "portilla-simoncelli"), default="quilting",
                   help="cue-conflict-synth: texture synthesis")
    m.add_argument("--per-shape", type=int, default=8, help="cue-conflict-synth: textures per silhouette")
    m.set_defaults(func=_make)
    a = sub.add_parser("apply", help="apply one manipulation to every image of a folder")
    a.add_argument("manipulation")
    a.add_argument("level")
    a.add_argument("in_dir")
    a.add_argument("out_dir")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--quantise", choices=("truncate", "round"), default="truncate")
    a.add_argument("--gamma-table", default=None,
                   help="false colour: 256-entry monitor table (.npy; default: the experiment's "
                        "measured table)")
    a.add_argument("--spectrum", default=None,
                   help="power equalisation: target amplitude spectrum (.npy), or 'base' for the "
                        "input images' own mean (default: the 224x224 mean spectrum of the human "
                        "stimuli)")
    a.add_argument("--workers", type=int, default=None,
                   help="threads (default: the usable cores, at most 8; output does not depend on it)")
    a.set_defaults(func=_apply)
    return p


@command("psychobench-stimuli")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
