"""Downloads through the mirror (directory and loopback HTTP), checksums, atomicity, archives."""

import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from psychobench.data import archive, download, registry

URL = ("https://raw.githubusercontent.com/bethgelab/model-vs-human/"
       "79ed7cd1d9ac3a114e71b6638f0a98bdd627316c/raw-data/colour/colour_subject-01_session_1.csv")


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pinned(url):
    spec = registry.DATASETS["humans/colour"]
    rel = url[len(spec.base_url):]
    return next(e.sha256 for e in registry.files_of()["humans/colour"] if e.relpath == rel)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def http_mirror(mirror):
    """A loopback HTTP server serving the mirror folder (bounded: stopped after the test)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_mirror_mapping(mirror, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", "/m")
    assert download.resolve("https://host.org/a/b c.csv") == "/m/host.org/a/b c.csv"
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", "http://127.0.0.1:9/base/")
    assert download.resolve("https://host.org/a/b%20c.csv") == "http://127.0.0.1:9/base/host.org/a/b%20c.csv"
    monkeypatch.delenv("PSYCHOBENCH_MIRROR")
    assert download.resolve("https://host.org/x") == "https://host.org/x"


def test_fetch_from_directory_mirror_verifies(mirror, cache):
    p = download.fetch(URL, pinned(URL), progress=False)
    assert p.is_relative_to(cache) and sha(p) == pinned(URL)


def test_fetch_over_loopback_http(http_mirror, cache, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", http_mirror)
    p = download.fetch(URL, pinned(URL), progress=False)
    assert sha(p) == pinned(URL)
    # a whole data set through HTTP
    root = registry.fetch_dataset("humans/edge", progress=False)
    assert len(list(root.glob("*.csv"))) == 10


def test_wrong_checksum_leaves_nothing(mirror, cache):
    with pytest.raises(download.DownloadError, match="does not match"):
        download.fetch(URL, "0" * 64, progress=False)
    dest = download.default_dest(URL)
    assert not dest.exists()
    assert not list(dest.parent.glob("*.part"))


def test_corrupted_cache_file_is_replaced(mirror, cache):
    p = download.fetch(URL, pinned(URL), progress=False)
    p.write_text("garbage")
    p2 = download.fetch(URL, pinned(URL), progress=False)
    assert p2 == p and sha(p) == pinned(URL)


def test_missing_from_mirror_is_clear(mirror, cache):
    with pytest.raises(download.DownloadError, match="not in the mirror"):
        download.fetch("https://raw.githubusercontent.com/nobody/none.csv", None, progress=False)


def test_dataset_verify_detects_and_fetch_repairs(mirror, cache):
    root = registry.fetch_dataset("humans/colour", progress=False)
    victim = sorted(root.glob("*.csv"))[0]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    assert registry.verify_dataset("humans/colour") == [victim.name]
    registry.fetch_dataset("humans/colour", progress=False, verify=True)
    assert registry.verify_dataset("humans/colour") == []


def make_release(mirror_root: Path, name: str, members: dict[str, bytes]) -> Path:
    url = f"{registry.RELEASE}/{name}.tar.gz"
    p = Path(download.resolve(url))
    p.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(p, "w:gz") as tf:
        for arc, data in members.items():
            info = tarfile.TarInfo(arc)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return p


def test_release_tarball_hash_recorded_then_enforced(tmp_path, cache, monkeypatch):
    fake_mirror = tmp_path / "mirror"
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", str(fake_mirror))
    tar = make_release(fake_mirror, "colour", {
        "datasets/colour/dnn/session-1/0001_cl_dnn_bw_oven_40_n04111531_14126.png": b"png-bytes"})
    root = registry.fetch_dataset("release/colour", progress=False)
    assert (root / "datasets/colour/dnn/session-1/0001_cl_dnn_bw_oven_40_n04111531_14126.png").read_bytes() == b"png-bytes"
    recorded = json.loads((cache / "known_hashes.json").read_text())
    assert recorded[f"{registry.RELEASE}/colour.tar.gz"] == sha(tar)
    # upstream changes: the cached copy is corrupted and the new bytes do not match the record
    download.default_dest(f"{registry.RELEASE}/colour.tar.gz").write_bytes(b"corrupt")
    make_release(fake_mirror, "colour", {"datasets/colour/dnn/session-1/x.png": b"other"})
    with pytest.raises(download.DownloadError, match="does not match"):
        registry.fetch_dataset("release/colour", progress=False)


def _tar_with(tmp_path, add) -> Path:
    p = tmp_path / "a.tar"
    with tarfile.open(p, "w") as tf:
        ok = tarfile.TarInfo("ok.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        add(tf)
    return p


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device", "fifo"])
def test_unsafe_tar_members_refused(tmp_path, kind):
    def add(tf):
        info = tarfile.TarInfo({"dotdot": "../evil.txt", "absolute": "/tmp/evil.txt"}.get(kind, "evil"))
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "ok.txt"
        elif kind == "device":
            info.type = tarfile.CHRTYPE
        elif kind == "fifo":
            info.type = tarfile.FIFOTYPE
        else:
            info.size = 4
            tf.addfile(info, io.BytesIO(b"evil"))
            return
        tf.addfile(info)

    target = tmp_path / "out"
    with pytest.raises(archive.UnsafeArchiveError, match="refused|outside"):
        archive.extract(_tar_with(tmp_path, add), target)
    assert not target.exists()                       # nothing half-unpacked
    assert not (tmp_path / "evil.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.tar"]


def test_unsafe_zip_member_refused(tmp_path):
    p = tmp_path / "a.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("fine/x.txt", "x")
        zf.writestr("../../escape.txt", "y")
    with pytest.raises(archive.UnsafeArchiveError, match="outside"):
        archive.extract(p, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_registry_covers_the_required_sets():
    names = set(registry.DATASETS)
    assert {f"humans/{d}" for d in registry.MVH_DATASETS} <= names
    assert {"reference/resnet50", "stimuli/cue-conflict", "stimuli/edge", "stimuli/silhouette"} <= names
    assert {f"release/{d}" for d in registry.MVH_DATASETS[:14]} <= names
    files = registry.files_of()
    assert len(files["stimuli/cue-conflict"]) == 1280 and len(files["reference/resnet50"]) == 17
    assert all(len(e.sha256) == 64 for fs in files.values() for e in fs)


def test_data_cli(mirror, cache, capsys):
    from psychobench.cli.data import main

    assert main(["fetch", "humans/edge"]) == 0
    assert main(["verify", "humans/edge"]) == 0
    assert main(["list", "--tag", "humans"]) == 0
    out = capsys.readouterr().out
    assert "humans/edge" in out and "ok" in out
    assert main(["fetch", "no/such-set"]) == 2
