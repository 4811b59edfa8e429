"""Safe unpacking of downloaded archives.

A member is refused (:class:`UnsafeArchiveError`, naming archive and member) when it would land
outside the target folder (absolute path, ``..``), or when it is a symbolic or hard link, a device
file or a FIFO.  The archive is unpacked into a temporary folder beside the target, which is
renamed into place only when every member was written: an interrupted unpack leaves nothing
under the target's name.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from psychobench.errors import PsychobenchError


class UnsafeArchiveError(PsychobenchError, ValueError):
    """An archive member that must not be unpacked."""


def _check_name(archive: Path, name: str) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    drive_like = bool(p.parts) and ":" in p.parts[0]
    if not p.parts or p.is_absolute() or ".." in p.parts or drive_like:
        raise UnsafeArchiveError(f"{archive}: member {name!r} would land outside the target folder")
    return p


def extract(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Unpack a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` archive into ``target`` (replaced)."""
    archive, target = Path(archive), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, tmp)
        else:
            raise UnsafeArchiveError(f"{archive}: not a tar or zip archive")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def verify(archive: str | os.PathLike) -> int:
    """Open an archive and read every member back to its end (gzip and zip check their CRCs
    there), checking every member's name and kind as :func:`extract` does; returns the number
    of members.  Raises on a truncated or corrupt archive."""
    archive = Path(archive)
    n = 0
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _check_name(archive, info.filename)
                    with zf.open(info) as f:
                        while f.read(1 << 20):
                            pass
                    n += 1
            return n
        with tarfile.open(archive) as tf:
            for m in tf:
                _check_name(archive, m.name)
                if m.issym() or m.islnk() or not (m.isfile() or m.isdir()):
                    raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a link or special file")
                if m.isfile():
                    f = tf.extractfile(m)
                    while f.read(1 << 20):
                        pass
                n += 1
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise UnsafeArchiveError(f"{archive}: not a complete archive ({type(e).__name__}: {e})") from None
    if n == 0:
        raise UnsafeArchiveError(f"{archive}: an empty archive")
    return n


def _extract_tar(archive: Path, out: Path) -> None:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:  # check everything before writing anything
            _check_name(archive, m.name)
            if m.issym() or m.islnk():
                raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a link; links are refused")
            if not (m.isfile() or m.isdir()):
                raise UnsafeArchiveError(
                    f"{archive}: member {m.name!r} is a device file or FIFO; refused")
        for m in members:
            dest = out / m.name
            if m.isdir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(m)
            with src, open(dest, "wb") as f:
                shutil.copyfileobj(src, f)


def _extract_zip(archive: Path, out: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            _check_name(archive, info.filename)
            mode = (info.external_attr >> 16) & 0o170000
            if mode and mode not in (0o100000, 0o040000):
                raise UnsafeArchiveError(
                    f"{archive}: member {info.filename!r} is a link or special file; refused")
        for info in infos:
            dest = out / info.filename
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as f:
                shutil.copyfileobj(src, f)
