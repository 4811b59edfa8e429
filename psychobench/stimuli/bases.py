"""Base image sets for generated stimuli.

A base is named by a string:

- ``imagenet-samples-16class``: the 69 ImageNet photographs of the registry (category from the
  WNID in the file name);
- ``skimage``: scikit-image's bundled photographs that fall in the 16 categories (chelsea = cat,
  clock = clock, the latter grey);
- ``foolbox``: foolbox's bundled ImageNet validation images in the 16 categories (if installed);
- a folder laid out as ImageNet (``n01234567/`` subfolders) or by category (``cat/``, ``dog/``);
- a model-vs-human release (``NAME.tar.gz`` as downloaded, or a folder holding
  ``dnn/session-1/*.png``), used as it is (224 px, no resizing; category and source id from the
  file names).

Raw photographs go through the stimulus-creation pipeline (:func:`images.resize_crop`).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np

from psychobench.data.categories import CATEGORIES, CATEGORY_INDICES

from .images import IMAGE_EXTENSIONS, StimulusError, decode_image, list_images, resize_crop

DEFAULT_BASE = "imagenet-samples-16class"


@cache
def wnid_to_index() -> dict[str, int]:
    """WNID -> ImageNet-1k index for the classes of the 16 categories (ImageNet index order is
    the sorted WNID order; facts, as shipped in ``imagenet16_wnids.json``)."""
    text = resources.files("psychobench.stimuli").joinpath("imagenet16_wnids.json").read_text()
    return json.loads(text)


@cache
def index_to_category() -> dict[int, str]:
    return {i: c for c, ix in CATEGORY_INDICES.items() for i in ix}


def category_of_wnid(wnid: str) -> str | None:
    i = wnid_to_index().get(wnid)
    return None if i is None else index_to_category()[i]


@dataclass(frozen=True)
class BaseImage:
    """One base image, already through the creation pipeline.

    ``source_id``: the last tokens of generated image names (``n02690373_airliner``);
    ``image``: uint8 (224, 224[, 3]); ``origin``: file it came from (for messages);
    ``sha256``: of the source file's bytes.
    """

    source_id: str
    category: str
    image: np.ndarray
    origin: str
    sha256: str


@dataclass(frozen=True)
class BaseSet:
    name: str
    images: tuple[BaseImage, ...]

    def key(self) -> str:
        """Content hash of the base set (source ids, categories, file checksums)."""
        h = hashlib.sha256()
        for b in self.images:
            h.update(f"{b.source_id}\t{b.category}\t{b.sha256}\n".encode())
        return h.hexdigest()


def _raw(data: bytes, origin: str, source_id: str, category: str, crop: bool) -> BaseImage:
    img = decode_image(data, origin)
    if crop:
        try:
            img = resize_crop(img)
        except StimulusError as e:
            raise StimulusError(f"{origin}: {e}") from None
    return BaseImage(source_id, category, img, origin, hashlib.sha256(data).hexdigest())


def _clean_id(s: str) -> str:
    return s.replace(" ", "-").replace("/", "-")


def load_base(base: str | Path = DEFAULT_BASE, *, limit: int | None = None) -> BaseSet:
    """Load a base image set (see module docstring); ``limit`` keeps the first n per category."""
    spec = str(base)
    if spec == DEFAULT_BASE:
        out = _imagenet_samples()
    elif spec == "skimage":
        out = _skimage()
    elif spec == "foolbox":
        out = _foolbox()
    else:
        p = Path(spec).expanduser()
        if not p.exists():
            raise StimulusError(f"{p}: base image set not found (a folder, a release .tar.gz, or one "
                                f"of {DEFAULT_BASE!r}, 'skimage', 'foolbox')")
        if p.is_file() and p.name.endswith((".tar.gz", ".tgz", ".tar")):
            out = _release_tar(p)
        elif (p / "dnn").is_dir() or list(p.glob("*/dnn/session-*")) or list(p.glob("datasets/*/dnn")):
            out = _release_dir(p)
        else:
            out = _folder(p)
        spec = str(p.resolve())
    if not out:
        raise StimulusError(f"{spec}: no base images in the 16 categories")
    out.sort(key=lambda b: (b.category, b.source_id))
    if limit is not None:
        seen: dict[str, int] = {}
        keep = []
        for b in out:
            seen[b.category] = seen.get(b.category, 0) + 1
            if seen[b.category] <= limit:
                keep.append(b)
        out = keep
    ids = [b.source_id for b in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise StimulusError(f"{spec}: two base images share the source id {dup!r}")
    return BaseSet(spec, tuple(out))


def _imagenet_samples() -> list[BaseImage]:
    from psychobench.data.registry import fetch_dataset

    root = fetch_dataset(DEFAULT_BASE, progress=False)
    out = []
    for f in sorted(root.rglob("*.JPEG")):
        cat = category_of_wnid(f.name.split("_")[0])
        if cat is not None:
            out.append(_raw(f.read_bytes(), str(f), _clean_id(f.stem), cat, True))
    return out


#: scikit-image bundled photographs in the 16 categories: (loader name, category).
SKIMAGE_IMAGES = (("chelsea", "cat"), ("clock", "clock"))


def _skimage() -> list[BaseImage]:
    import skimage.data

    out = []
    for name, cat in SKIMAGE_IMAGES:
        img = np.asarray(getattr(skimage.data, name)())
        data = img.tobytes()
        out.append(BaseImage(f"skimage-{name}", cat, resize_crop(img), f"skimage.data.{name}",
                             hashlib.sha256(data).hexdigest()))
    return out


def _foolbox() -> list[BaseImage]:
    try:
        import foolbox
    except ImportError:
        raise StimulusError("base 'foolbox': the foolbox package is not installed") from None
    folder = Path(foolbox.__file__).parent / "data"
    out = []
    for f in sorted(folder.glob("imagenet_*")):
        parts = f.stem.split("_")           # imagenet_NN_LABEL
        if len(parts) == 3 and parts[2].isdigit():
            cat = index_to_category().get(int(parts[2]))
            if cat is not None:
                out.append(_raw(f.read_bytes(), str(f), f"foolbox-{f.stem}", cat, True))
    return out


def _folder(root: Path) -> list[BaseImage]:
    out = []
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not subdirs:
        raise StimulusError(f"{root}: expected WNID or category subfolders (n01234567/, cat/, ...)")
    for d in subdirs:
        if d.name in CATEGORIES:
            cat = d.name
        elif d.name.startswith("n") and d.name[1:].isdigit():
            cat = category_of_wnid(d.name)
            if cat is None:
                continue                     # an ImageNet class outside the 16 categories
        else:
            raise StimulusError(f"{d}: folder name is neither a WNID nor one of the 16 categories")
        for f in list_images(d):
            out.append(_raw(f.read_bytes(), str(f), _clean_id(f.stem), cat, True))
    return out


def _release_item(name: str, data: bytes, origin: str) -> BaseImage:
    tokens = PurePosixPath(name).stem.split("_")
    if len(tokens) < 7 or tokens[4] not in CATEGORIES:
        raise StimulusError(f"{origin}: not a model-vs-human image name (NNNN_EXP_dnn_COND_CAT_K_ID)")
    img = _raw(data, origin, "_".join(tokens[6:]), tokens[4], False)
    if img.image.shape[:2] != (224, 224):
        raise StimulusError(f"{origin}: wrong size {img.image.shape[1]}x{img.image.shape[0]}; "
                            "model-vs-human images are 224x224")
    return img


def _release_tar(path: Path) -> list[BaseImage]:
    out = []
    try:
        with tarfile.open(path) as tar:
            for m in tar:
                p = PurePosixPath(m.name)
                if m.isfile() and "dnn" in p.parts and p.suffix.lower() in IMAGE_EXTENSIONS \
                        and not p.name.startswith("."):
                    out.append(_release_item(p.name, tar.extractfile(m).read(), f"{path}:{m.name}"))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise StimulusError(f"{path}: unreadable release archive ({e})") from None
    return out


def _release_dir(root: Path) -> list[BaseImage]:
    files = sorted(f for f in root.rglob("*") if f.is_file() and "dnn" in f.parts
                   and f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith("."))
    return [_release_item(f.name, f.read_bytes(), str(f)) for f in files]
