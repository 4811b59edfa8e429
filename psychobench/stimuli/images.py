"""Reading and writing stimulus images, with errors that name the file.

Stimulus creation from raw photographs: resize the shorter side to 256 px (bilinear, as
torchvision ``Resize(256)`` does on PIL images, long side ``int(256 * long / short)``) and
centre-crop 224 px (offsets ``round((size - 224) / 2)``), as model-vs-human's
``datasets/create_dataset.py`` did.  Images are written as 8-bit PNG.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from psychobench.errors import PsychobenchError
from psychobench.data.io import atomic_write_bytes

from .manipulations import to_uint8

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".gif")


class StimulusError(PsychobenchError, ValueError):
    """A bad stimulus or base image; the message names the file."""


def decode_image(data: bytes | os.PathLike | str, name: str | None = None) -> np.ndarray:
    """Decode an image file -> uint8 (H, W) for grey or (H, W, 3) for colour (alpha dropped)."""
    name = name or str(data)
    try:
        src = io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")
    except OSError as e:
        raise StimulusError(f"{name}: cannot read image file ({e.strerror or e})") from None
    try:
        with src, Image.open(src) as im:
            im.load()
            if im.mode in ("L", "I;16", "I", "F", "1"):
                arr = np.asarray(im.convert("L"))
            elif im.mode == "LA":
                arr = np.asarray(im.convert("L"))
            else:
                arr = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise StimulusError(f"{name}: not a readable image ({e})") from None
    return arr


def resize_crop(img: np.ndarray, resize: int = 256, crop: int = 224) -> np.ndarray:
    """Shorter side -> ``resize`` (bilinear, antialiased) then centre crop ``crop`` x ``crop``."""
    im = Image.fromarray(img)
    w, h = im.size
    if min(w, h) < 8:
        raise StimulusError(f"image of {w}x{h} px is too small")
    if w <= h:
        nw, nh = resize, int(resize * h / w)
    else:
        nw, nh = int(resize * w / h), resize
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.BILINEAR)
    top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
    return np.asarray(im.crop((left, top, left + crop, top + crop)))


def _png_raw(a: np.ndarray, level: int) -> bytes:
    """Minimal PNG writer: 8-bit grey or RGB, filter 0 on every row, zlib ``level`` (PNG spec,
    ISO/IEC 15948: signature, IHDR, one IDAT, IEND; chunk CRC-32 over type and data)."""
    h, w = a.shape[:2]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), a.reshape(h, -1)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if a.ndim == 2 else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + chunk(b"IEND", b""))


def encode_png(img: np.ndarray | float, *, quantise: str = "truncate", stack_rgb: bool = False,
               compress_level: int | None = None) -> bytes:
    """uint8 or float [0, 1] image (H, W[, 3]) -> PNG bytes (8-bit L or RGB; deterministic).

    ``compress_level`` None: Pillow's encoder (the bytes the recipes' content keys pin);
    0-9: a minimal writer (no row filters, that zlib level; ~2x faster at level 1)."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        a = to_uint8(a, quantise)
    if stack_rgb and a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if compress_level is not None:
        return _png_raw(np.ascontiguousarray(a), int(compress_level))
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename."""
    atomic_write_bytes(path, data)


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith("."))
