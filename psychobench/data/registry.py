"""The registry of data sets psychobench downloads: upstream URLs and pinned sha256.

Data-set level facts (base URL, licence, what to cite) are written here; the per-file facts
(relative path, size, sha256) are in ``registry_files.tsv`` beside this module, generated once by
``scripts/make_registry.py`` from the upstream files' checksums.  A data set is fetched into
``CACHE/data/<name>/<relpath>`` through :func:`psychobench.data.download.fetch`.

Release tarballs of model-vs-human (``kind="release"``) carry no pinned hash: the first download
records it, later downloads must match (trust on first use).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

from psychobench.errors import UnknownNameError
from psychobench.data import archive, download
from psychobench.data.io import atomic_write_text, cache_dir, sha256_file

GH = "https://raw.githubusercontent.com"
MVH_HUMANS = f"{GH}/bethgelab/model-vs-human/79ed7cd1d9ac3a114e71b6638f0a98bdd627316c/raw-data"
MVH_SWAG = f"{GH}/bethgelab/model-vs-human/93ee6766db71bc99de23a16cf5216acff181b470/raw-data"
TVS = f"{GH}/rgeirhos/texture-vs-shape/ccd0c01d42c0a8a834e90ec141e7f24fa915dc23/stimuli"
GHD_ROOT = f"{GH}/rgeirhos/generalisation-humans-DNNs/0b88343536ec21acc2d635c0e325f827111e149a"
GHD = f"{GHD_ROOT}/raw-data/humans"
RELEASE = "https://github.com/bethgelab/model-vs-human/releases/download/v0.1"

#: The data files the original manipulation code reads (power equalisation, false colour).
MANIPULATION_TABLES = "tables/geirhos2018-manipulations"

#: The 17 model-vs-human data sets, in model-vs-human's order.
MVH_DATASETS: tuple[str, ...] = (
    "colour", "contrast", "high-pass", "low-pass", "phase-scrambling", "power-equalisation",
    "false-colour", "rotation", "eidolonI", "eidolonII", "eidolonIII", "uniform-noise",
    "sketch", "stylized", "edge", "silhouette", "cue-conflict",
)
#: The 12 parametric ones (their stimuli are manipulations of ImageNet photographs).
PARAMETRIC_DATASETS: tuple[str, ...] = MVH_DATASETS[:12]

CITE_MVH = ("Geirhos et al. (2021) Partial success in closing the gap between human and machine "
            "vision. NeurIPS 34")
CITE_TVS = ("Geirhos et al. (2019) ImageNet-trained CNNs are biased towards texture; increasing "
            "shape bias improves accuracy and robustness. ICLR")


@dataclass(frozen=True)
class DatasetSpec:
    """One registered data set.

    ``kind``: ``"files"`` (a list of pinned files under ``base_url``) or ``"release"`` (one
    archive, unpacked).  ``suffix`` restricts which files under ``base_url`` belong to it.
    """

    name: str
    base_url: str
    description: str
    licence: str
    cite: str
    kind: str = "files"
    suffix: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def _specs() -> dict[str, DatasetSpec]:
    out: dict[str, DatasetSpec] = {}

    def add(spec: DatasetSpec) -> None:
        out[spec.name] = spec

    for ds in MVH_DATASETS:
        add(DatasetSpec(f"humans/{ds}", f"{MVH_HUMANS}/{ds}/",
                        f"model-vs-human human trials, {ds} (4-10 observers)", "MIT", CITE_MVH,
                        tags=("humans", "model-vs-human")))
    add(DatasetSpec("reference/resnet50", f"{MVH_SWAG}/",
                    "model-vs-human's torchvision ResNet-50 answers on all 17 data sets", "MIT",
                    CITE_MVH, suffix="_resnet50_session-1.csv", tags=("model-outputs",)))
    for ds, folder in (("cue-conflict", "style-transfer-preprocessed-512"), ("edge", "edges"),
                       ("silhouette", "filled-silhouettes")):
        add(DatasetSpec(f"stimuli/{ds}", f"{TVS}/{folder}/",
                        f"texture-vs-shape {ds} stimuli (224x224 PNG, category folders)",
                        "CC-BY-4.0", CITE_TVS, tags=("stimuli",)))
    for ds in MVH_DATASETS[:14]:
        add(DatasetSpec(f"release/{ds}", f"{RELEASE}/{ds}.tar.gz",
                        f"model-vs-human release v0.1 stimuli of {ds} "
                        f"(datasets/{ds}/dnn/session-1/*.png)", "ImageNet terms / MIT (sketch)",
                        CITE_MVH, kind="release", tags=("stimuli", "release")))
    add(DatasetSpec("imagenet-samples-16class",
                    f"{GH}/EliSchwartz/imagenet-sample-images/bc69043e2862758a1906c6a24a792bb28c6bb2ff/",
                    "ImageNet photographs (one per class) in the 16 categories: base images",
                    "ImageNet terms: non-commercial research and education only",
                    "Deng et al. (2009) ImageNet. CVPR", tags=("base-images",)))
    add(DatasetSpec("humans/geirhos2018", f"{GHD}/",
                    "Geirhos et al. 2018 human trials, 11 experiments (images differ by subject)",
                    "CC-BY-4.0", "Geirhos et al. (2018) Generalisation in humans and deep neural "
                    "networks. NeurIPS 31", tags=("humans",)))
    add(DatasetSpec(MANIPULATION_TABLES, f"{GHD_ROOT}/code/",
                    "Geirhos et al. 2018 manipulation tables: mean_power_spectrum_grey.npy (224x224 "
                    "mean amplitude spectrum that power equalisation imposes) and x_gamma_function.npy "
                    "(256x1 measured monitor table of false colour)",
                    "CC-BY-4.0", "Geirhos et al. (2018) Generalisation in humans and deep neural "
                    "networks. NeurIPS 31", tags=("tables",)))
    add(DatasetSpec("audio/saddler2024",
                    f"{GH}/msaddler/phaselocknet/98b287b49407c72bced4ae75cb0049c320875814/",
                    "Saddler & McDermott 2024 human data (word recognition in noise, localisation)",
                    "MIT", "Saddler & McDermott (2024) Models optimized for real-world tasks reveal "
                    "the task-dependent necessity of precise temporal coding in hearing. Nat Commun",
                    tags=("humans", "audio")))
    add(DatasetSpec("audio/english-ccc",
                    f"{GH}/nfurlow/SLaM_DeepSpeech/9d327c29cfda1dbdcb81b2b91131e60a33a40e1a/"
                    "SLaM_DeepSpeech/temp/EnglishCCC_v1.2/",
                    "English Consistent Confusion Corpus v1.2 (responses, maskers)", "CC-BY-4.0",
                    "Marxer et al. (2016) The impact of the Lombard effect on audio and visual "
                    "speech recognition systems / English CCC. Speech Commun",
                    tags=("humans", "audio")))
    add(DatasetSpec("audio/saddler2021-pitch",
                    f"{GH}/msaddler/pitchnet/8e26034be177deff7447ade7f782a4a9581c2188/",
                    "Saddler et al. 2021 pitch psychophysics assets", "MIT",
                    "Saddler, Gonzalez & McDermott (2021) Deep neural network models reveal "
                    "interplay of peripheral coding and stimulus statistics in pitch perception. "
                    "Nat Commun", tags=("humans", "audio")))
    return out


DATASETS: dict[str, DatasetSpec] = _specs()


@dataclass(frozen=True)
class FileEntry:
    relpath: str
    size: int
    sha256: str


@cache
def files_of() -> dict[str, tuple[FileEntry, ...]]:
    """Pinned files of every ``kind="files"`` data set, from ``registry_files.tsv``."""
    table: dict[str, list[FileEntry]] = {}
    text = resources.files("psychobench.data").joinpath("registry_files.tsv").read_text()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, rel, size, digest = line.split("\t")
        table.setdefault(name, []).append(FileEntry(rel, int(size), digest))
    return {k: tuple(v) for k, v in table.items()}


def get(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownNameError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def dataset_dir(name: str) -> Path:
    return cache_dir() / "data" / name


def _complete_marker(root: Path) -> Path:
    return root / ".complete"


def _hash_all(paths: list[Path]) -> list[str | None]:
    """sha256 of each existing file (None where absent), hashed on threads (hashlib releases the
    GIL: about 0.2 s for the 140 MB of texture-vs-shape images on 2 cores)."""
    def one(p: Path) -> str | None:
        try:
            return sha256_file(p)
        except FileNotFoundError:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, paths))


def fetch_dataset(name: str, *, progress: bool = True, verify: bool = True,
                  only: str | None = None) -> Path:
    """Make data set ``name`` available in the cache and return its folder.

    Files: every pinned file is checked against its sha256 each time (no size or date shortcut:
    an edit in place is caught); a missing file is downloaded, a changed one warned about and
    downloaded again.  ``only``: a prefix of relative paths to restrict the fetch to (e.g.
    ``"data/human/"``).  Releases: the archive is downloaded (its hash recorded once it opened
    fully) and unpacked safely; the unpacked files are checked against the digests recorded when
    they were unpacked.  (``verify`` is accepted for compatibility: checking is always on.)
    """
    spec = get(name)
    root = dataset_dir(name)
    if spec.kind == "release":
        return _fetch_release(spec, root, progress)
    entries = [e for e in files_of().get(name, ()) if only is None or e.relpath.startswith(only)]
    if not entries:
        raise UnknownNameError(f"data set {name!r} has no registered files" + (f" under {only!r}" if only else ""))
    digests = _hash_all([root / e.relpath for e in entries])
    todo = [e for e, d in zip(entries, digests, strict=True) if d != e.sha256]
    for e, d in zip(entries, digests, strict=True):
        if d is not None and d != e.sha256:
            download.discard_changed(root / e.relpath, "checksum does not match the pinned one")

    def one(e: FileEntry) -> Path:
        return download.fetch(spec.base_url + e.relpath, e.sha256, dest=root / e.relpath,
                              progress=False)

    if todo:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(tqdm(pool.map(one, todo), total=len(todo), desc=f"fetch {name}",
                      disable=not progress or len(todo) < 2, leave=False))
    return root


def _fetch_release(spec: DatasetSpec, root: Path, progress: bool) -> Path:
    """The unpacked release archive; its files are checked against the digests recorded when it
    was unpacked (``.complete``: the archive's hash and every member's), and unpacked again on a
    mismatch."""
    import json

    tarball = download.fetch(spec.base_url, None, progress=progress, validate=archive.verify)
    digest = download.known_hashes().get(spec.base_url)
    marker = _complete_marker(root)
    try:
        record = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        record = {}
    if record.get("archive") == digest and record.get("files"):
        rels = sorted(record["files"])
        now = _hash_all([root / r for r in rels])
        if now == [record["files"][r] for r in rels]:
            return root
        download.discard_changed(marker, f"unpacked files of {spec.name} changed on disk (unpacking again)")
    archive.extract(tarball, root)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    hashes = _hash_all([root / r for r in files])
    atomic_write_text(marker, json.dumps({"archive": digest, "files": dict(zip(files, hashes))}, indent=0) + "\n")
    return root


def verify_dataset(name: str) -> list[str]:
    """Re-hash every cached file of ``name``; return the relative paths that do not match."""
    spec = get(name)
    root = dataset_dir(name)
    if spec.kind == "release":
        url = spec.base_url
        tar = download.default_dest(url)
        want = download.known_hashes().get(url)
        return [] if tar.is_file() and sha256_file(tar) == want else [url]
    bad = []
    for e in files_of().get(name, ()):
        p = root / e.relpath
        if not p.is_file() or sha256_file(p) != e.sha256:
            bad.append(e.relpath)
    return bad


def local_override(name: str) -> Path | None:
    """A user folder standing in for a data set: ``$PSYCHOBENCH_DATA_<NAME>`` (``/``, ``-`` -> ``_``)."""
    key = "PSYCHOBENCH_DATA_" + name.upper().replace("/", "_").replace("-", "_")
    v = os.environ.get(key)
    return Path(v) if v else None
