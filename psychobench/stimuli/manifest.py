"""A stimulus set on disk: files under a root folder plus a manifest table.

Manifest columns (one row per stimulus file):

=========== ====================================================================
stimulus_id id, unique within the set; equals the trial table's ``stimulus_id``
path        file path relative to the set's root (POSIX separators)
condition   canonical condition string (see :mod:`psychobench.data.conditions`)
category    true category
params      JSON object (string) of the parameters that made the stimulus
sha256      hex digest of the file's bytes
=========== ====================================================================

Optional columns: ``imagename`` (the name the human experiment used), ``texture`` (cue-conflict),
``level`` (numeric stimulus level).  The manifest is written as ``manifest.csv`` beside the
files; it is written last and atomically, so a folder with a manifest is complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from psychobench.errors import PsychobenchError
from psychobench.data.io import IntegrityWarning, cache_dir, check_seal, publish, seal, sha256_file

MANIFEST_COLUMNS: tuple[str, ...] = ("stimulus_id", "path", "condition", "category", "params", "sha256")
MANIFEST_NAME = "manifest.csv"


class ManifestError(PsychobenchError, ValueError):
    """A manifest or the files it lists are inconsistent; the message names file and row."""


@dataclass(frozen=True)
class StimulusSet:
    """A named stimulus set: ``root`` folder and its manifest table."""

    name: str
    root: Path
    manifest: pd.DataFrame

    def paths(self) -> list[Path]:
        return [self.root / p for p in self.manifest["path"]]

    def take(self, start: int, stop: int) -> "StimulusSet":
        """Rows ``start:stop`` of the manifest, same root and name."""
        return StimulusSet(self.name, self.root, self.manifest.iloc[start:stop].reset_index(drop=True))

    def content_key(self) -> str:
        """Hash of the stimulus ids, file checksums, conditions and categories: everything of
        the set that a trial table records (answers cached under it stay valid)."""
        h = hashlib.sha256()
        m = self.manifest
        for row in zip(m["stimulus_id"], m["sha256"], m["condition"], m["category"]):
            h.update(("\t".join(map(str, row)) + "\n").encode())
        return h.hexdigest()


def validate_manifest(df: pd.DataFrame, source: str = "<manifest>") -> pd.DataFrame:
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise ManifestError(f"{source}: missing column(s) {missing}; need {list(MANIFEST_COLUMNS)}")
    for col in MANIFEST_COLUMNS:
        bad = df[col].isna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise ManifestError(f"{source}: row {row + 2}, column {col!r}: empty value")
    dup = df["stimulus_id"].duplicated()
    if dup.any():
        row = int(dup.to_numpy().argmax())
        raise ManifestError(
            f"{source}: row {row + 2}, column 'stimulus_id': duplicate id {df['stimulus_id'].iloc[row]!r}")
    return df


def write_manifest(df: pd.DataFrame, root: str | os.PathLike) -> Path:
    """Validate and write ``root/manifest.csv`` atomically (temp file + rename)."""
    root = Path(root)
    validate_manifest(df, str(root / MANIFEST_NAME))
    cols = list(MANIFEST_COLUMNS) + [c for c in df.columns if c not in MANIFEST_COLUMNS]
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=root)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            df[cols].to_csv(f, index=False)
        publish(tmp, root / MANIFEST_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    seal(root / MANIFEST_NAME)
    return root / MANIFEST_NAME


def read_manifest(root: str | os.PathLike, name: str | None = None, verify: bool = False) -> StimulusSet:
    """Read ``root/manifest.csv``; with ``verify`` re-hash every file and compare (on threads)."""
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest (the stimulus set is missing or incomplete)")
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    validate_manifest(df, str(path))
    if verify:
        from concurrent.futures import ThreadPoolExecutor

        files = [root / rel for rel in df["path"]]

        def digest(f: Path) -> str | None:
            return sha256_file(f) if f.is_file() else None

        with ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(digest, files))
        for i, (f, want, have) in enumerate(zip(files, df["sha256"], got)):
            if have is None:
                raise ManifestError(f"{path}: row {i + 2}: file {f} is missing")
            if have != want:
                raise ManifestError(f"{path}: row {i + 2}: checksum of {f} does not match")
    return StimulusSet(name=name or root.name, root=root, manifest=df)


def cached_set(root: Path, name: str) -> StimulusSet | None:
    """A generated set kept in a cache folder, if it is intact: its manifest matches its seal and
    every file its manifest's checksum.  A changed set is warned about and removed (to be made
    again); None if there is none."""
    import shutil
    import warnings

    if not (root / MANIFEST_NAME).is_file():
        return None
    try:
        if not check_seal(root / MANIFEST_NAME, "stimulus manifest"):
            raise ManifestError(f"{root / MANIFEST_NAME}: manifest changed")
        return read_manifest(root, name=name, verify=True)
    except ManifestError as e:
        msg = f"{root}: cached stimulus set {name} changed on disk ({e}); making it again"
        warnings.warn(msg, IntegrityWarning, stacklevel=2)
        shutil.rmtree(root, ignore_errors=True)
        return None


def stimuli_cache_root() -> Path:
    """``<user cache>/stimuli``: generated stimulus sets, one content-addressed folder each."""
    root = cache_dir() / "stimuli"
    root.mkdir(parents=True, exist_ok=True)
    return root


def output_folder(name: str, key: str, out: str | os.PathLike | None) -> tuple[Path, StimulusSet | None]:
    """Where a generated set goes and, if it is complete there already, the set itself.

    ``out`` None: the content-addressed cache folder ``stimuli/<name>/<key[:24]>`` (reused when
    it holds a manifest); else ``out``, which must not exist or be empty.
    """
    if out is None:
        final = stimuli_cache_root() / name / key[:24]
        done = cached_set(final, name)
        if done is not None:
            return final, done
        return final, None
    final = Path(out)
    if final.exists() and any(final.iterdir()):
        raise ManifestError(f"{final}: output folder exists and is not empty")
    return final, None


@contextmanager
def staging(final: Path) -> Iterator[Path]:
    """A temporary folder beside ``final`` to write a set into; renamed to ``final`` when the
    block ends (the manifest must be written last inside it), removed if the block fails, so a
    half-written set never sits under its final name.  If a concurrent writer finished first,
    its set is kept and ours dropped."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield tmp
        if not (tmp / MANIFEST_NAME).is_file():
            raise ManifestError(f"{final}: the generator wrote no manifest")
        if final.exists() and not any(final.iterdir()):
            final.rmdir()
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / MANIFEST_NAME).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
