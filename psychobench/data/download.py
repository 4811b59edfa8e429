"""Every download of psychobench goes through :func:`fetch`.

* Files land in the user cache (``$PSYCHOBENCH_CACHE``, default ``~/.cache/psychobench``).
* ``$PSYCHOBENCH_MIRROR`` (a directory or an ``http(s)://`` base URL) maps
  ``https://HOST/REST`` to ``MIRROR/HOST/REST``: the same code reads a local mirror of the
  upstream URL space (offline machines, CI) or the real internet.
* A file is streamed to a temporary name beside its destination while it is hashed, checked
  against its pinned sha256 and only then renamed: a partial or corrupted download never sits
  under its final name.  A cached file whose checksum no longer matches is fetched again.
* Files without a pinned checksum (release tarballs, corpus recordings) are trusted on first
  use: the hash seen on the first complete download is recorded in ``CACHE/known_hashes.json``
  and enforced afterwards.  "Complete" means every byte the server announced (Content-Length)
  arrived and the caller's check of the content passed (an archive opens and every member reads
  back); a failed or short download leaves neither a file nor a recorded hash.
* A cached file is re-hashed every time it is asked for; one that no longer matches its pinned
  or recorded hash is warned about (:class:`~psychobench.data.io.IntegrityWarning`) and fetched
  again.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import tempfile
import threading
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from psychobench.errors import PsychobenchError
from psychobench.data.io import CHUNK, atomic_write_text, cache_dir, publish, sha256_file

log = logging.getLogger(__name__)


class DownloadError(PsychobenchError, RuntimeError):
    """A download failed or its content does not match the pinned checksum."""


def mirror() -> str | None:
    """The mirror base (directory or URL) from ``$PSYCHOBENCH_MIRROR``, or None."""
    m = os.environ.get("PSYCHOBENCH_MIRROR", "").strip()
    return m or None


def resolve(url: str) -> str:
    """Where ``url`` is actually read from: itself, or its place in the mirror.

    Returns a URL (``https://...``) or a local file path (mirror directory).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "file"):
        raise DownloadError(f"unsupported URL scheme in {url!r}")
    m = mirror()
    if m is None or parts.scheme == "file":
        return url
    rest = parts.netloc + urllib.parse.unquote(parts.path)
    if m.startswith(("http://", "https://")):
        return m.rstrip("/") + "/" + urllib.parse.quote(rest)
    return str(Path(m).expanduser() / rest)


def default_dest(url: str) -> Path:
    """Cache location of a URL: ``CACHE/downloads/HOST/PATH``."""
    parts = urllib.parse.urlsplit(url)
    rel = Path(parts.netloc) / urllib.parse.unquote(parts.path).lstrip("/")
    return cache_dir() / "downloads" / rel


def _known_hashes_path() -> Path:
    return cache_dir() / "known_hashes.json"


def known_hashes() -> dict[str, str]:
    p = _known_hashes_path()
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise DownloadError(f"{p}: not valid JSON ({e}); delete it to re-record hashes") from e


_HASHES_LOCK = threading.Lock()


def record_hash(url: str, digest: str) -> None:
    """Record the hash of a file first seen without a pinned checksum (atomic write; threads of
    one process serialise, so parallel downloads lose no entry)."""
    with _HASHES_LOCK:
        table = known_hashes()
        table[url] = digest
        atomic_write_text(_known_hashes_path(), json.dumps(table, indent=1, sort_keys=True) + "\n")


def _open_source(src: str):
    """Open a URL or local path for reading; returns (file object, size or None)."""
    if src.startswith(("http://", "https://", "file://")):
        try:
            resp = urllib.request.urlopen(src, timeout=60)  # noqa: S310 (scheme checked)
        except Exception as e:  # URLError, HTTPError, timeouts
            raise DownloadError(f"cannot download {src}: {e}") from e
        size = resp.headers.get("Content-Length")
        return resp, int(size) if size else None
    p = Path(src)
    if not p.is_file():
        raise DownloadError(f"{src}: not in the mirror (PSYCHOBENCH_MIRROR={mirror()})")
    return open(p, "rb"), p.stat().st_size


def discard_changed(dest: Path, why: str) -> None:
    """Warn that a cached file no longer matches its digest (naming it and ``why``) and remove
    it, so that it is fetched again."""
    import warnings

    from psychobench.data.io import IntegrityWarning

    msg = f"{dest}: {why}; downloading it again"
    log.warning(msg)
    warnings.warn(msg, IntegrityWarning, stacklevel=3)
    dest.unlink(missing_ok=True)


def fetch(url: str, sha256: str | None = None, *, dest: str | os.PathLike | None = None,
          progress: bool = True, validate=None) -> Path:
    """Download ``url`` (through the mirror if set) to ``dest`` and verify it.

    ``sha256``: the pinned hex digest; ``None`` means trust on first use (see module doc).
    ``validate``: a check of the content (``validate(path)`` raises on a bad file), run before an
    unpinned file is published and its hash recorded.  Returns the path of the verified file.
    Raises :class:`DownloadError` on failure; nothing is left under the final name unless it
    verified.
    """
    dest = Path(dest) if dest is not None else default_dest(url)
    expected = sha256 or known_hashes().get(url)
    if dest.is_file():
        if expected is None:
            # an unpinned file without a recorded hash (an older cache): check it before trusting it
            try:
                if validate is not None:
                    validate(dest)
            except Exception as e:  # noqa: BLE001 (any failure of the caller's check)
                discard_changed(dest, f"fails its check ({e})")
            else:
                record_hash(url, sha256_file(dest))
                return dest
        elif sha256_file(dest) == expected:
            return dest
        else:
            discard_changed(dest, "checksum does not match " + ("the pinned one" if sha256 else "the one recorded"))

    src = resolve(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    h = hashlib.sha256()
    try:
        fin, size = _open_source(src)
        got = 0
        with fin, os.fdopen(fd, "wb") as fout, tqdm(
            total=size, unit="B", unit_scale=True, desc=dest.name, disable=not progress,
            leave=False,
        ) as bar:
            try:
                while block := fin.read(CHUNK):
                    fout.write(block)
                    h.update(block)
                    got += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as e:     # a connection cut short
                raise DownloadError(f"{url}: download interrupted after {got} bytes ({e})") from e
        if size is not None and got != size:
            raise DownloadError(f"{url}: {got} bytes arrived of the {size} announced (read from {src})")
        digest = h.hexdigest()
        if expected is not None and digest != expected:
            raise DownloadError(
                f"{url}: sha256 {digest} does not match the expected {expected} (read from {src})")
        if expected is None and validate is not None:
            try:
                validate(Path(tmp))
            except Exception as e:  # noqa: BLE001 (any failure of the caller's check)
                raise DownloadError(f"{url}: the downloaded file fails its check ({e}); nothing was kept") from e
        publish(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if expected is None:
        record_hash(url, digest)
        log.info("recorded sha256 %s for %s", digest, url)
    return dest
