"""Writers for the image files users actually have, built from known pixels so tests can check them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

#: A small RGB test picture: left half red, right half blue, 12 x 16 pixels.
HEIGHT, WIDTH = 12, 16


def rgb_pixels(variant: int = 0) -> np.ndarray:
    """The test picture; a ``variant`` above 0 changes its top-left pixel, so that files differ byte for byte."""
    pixels = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    pixels[:, : WIDTH // 2] = (220, 20, 20)
    pixels[:, WIDTH // 2:] = (20, 20, 220)
    if variant:
        pixels[0, 0] = (variant * 37 % 256, variant * 91 % 256, variant * 53 % 256)
    return pixels


def write_png16(path: Path, array: np.ndarray) -> Path:
    """A 16-bit PNG (grayscale HxW or RGB HxWx3), written byte by byte since Pillow cannot write RGB 16-bit."""
    height, width = array.shape[:2]
    colour_type = 2 if array.ndim == 3 else 0
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def write_kind(path: Path, kind: str, variant: int = 0) -> Path:
    """Write the test picture (its ``variant``) as ``kind``; ``path`` should carry a fitting ending."""
    image = Image.fromarray(rgb_pixels(variant))
    if kind == "jpeg":
        image.save(path, quality=95)
    elif kind == "png":
        image.save(path)
    elif kind == "rgba":  # top half fully transparent
        alpha = np.full((HEIGHT, WIDTH), 255, dtype=np.uint8)
        alpha[: HEIGHT // 2] = 0
        if variant:  # the top-left pixel is transparent: vary the alpha too
            alpha[-1, -1] = 100 + variant % 150
        Image.fromarray(np.dstack([rgb_pixels(variant), alpha])).save(path)
    elif kind == "gray":
        image.convert("L").save(path)
    elif kind == "palette_gif":
        image.convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(path)
    elif kind == "gray16":
        write_png16(path, rgb_pixels(variant)[..., 0].astype(np.uint16) * 257)
    elif kind == "rgb16":
        write_png16(path, rgb_pixels(variant).astype(np.uint16) * 257)
    elif kind == "cmyk_jpeg":
        image.convert("CMYK").save(path, quality=95)
    elif kind == "bmp":
        image.save(path, format="BMP")
    elif kind == "webp":
        image.save(path, format="WEBP", lossless=True)
    elif kind == "tiff":
        image.save(path, format="TIFF")
    elif kind == "exif_rotated":  # stored sideways, EXIF says "rotate 90 degrees clockwise to view"
        exif = Image.Exif()
        exif[0x0112] = 6
        image.save(path, quality=95, exif=exif.tobytes())
    else:
        raise ValueError(kind)
    return path


#: Every readable kind, with a file ending that matches it.
READABLE = {
    "jpeg": ".jpg", "png": ".png", "rgba": ".png", "gray": ".png", "palette_gif": ".gif",
    "gray16": ".png", "rgb16": ".png", "cmyk_jpeg": ".jpg", "bmp": ".bmp", "webp": ".webp",
    "tiff": ".tiff", "exif_rotated": ".jpg",
}


def write_bad(path: Path, kind: str) -> Path:
    """Write a broken file: ``empty``, ``text``, ``truncated_jpeg`` or ``truncated_png``."""
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not an image\n")
    elif kind in ("truncated_jpeg", "truncated_png"):
        full = path.with_name("full-" + path.name)
        write_kind(full, "jpeg" if kind == "truncated_jpeg" else "png")
        data = full.read_bytes()
        full.unlink()
        path.write_bytes(data[: len(data) // 2])
    else:
        raise ValueError(kind)
    return path


#: Every image kind users have that must be read (and converted to RGB), with the file ending each needs.
GOOD_KINDS = ["jpeg", "png", "rgba", "gray", "palette_gif", "gray16", "cmyk_jpeg", "bmp", "exif_rotated", "rgb16"]
ENDINGS = {"jpeg": ".jpg", "cmyk_jpeg": ".jpg", "exif_rotated": ".jpg", "palette_gif": ".gif", "bmp": ".bmp"}


def write_messy_folder(root: Path) -> Path:
    """Three classes of 10 readable images in mixed modes (11 dogs: one is WebP), plus everything users leave lying
    around."""
    for number, name in enumerate(("cats", "dogs", "fish")):
        (root / name).mkdir(parents=True)
        for i, kind in enumerate(GOOD_KINDS):  # every file different (no duplicates for the dataset doctor)
            write_kind(root / name / f"{i:02d}-{kind}{ENDINGS.get(kind, '.png')}", kind, variant=1 + 10 * number + i)
    (root / ".ipynb_checkpoints").mkdir()  # hidden folder: not a class
    write_kind(root / ".ipynb_checkpoints" / "x.png", "png")
    (root / "README.md").write_text("my pets\n")  # file outside class folders
    (root / "cats" / "notes.txt").write_text("stray text\n")
    write_kind(root / "dogs" / "photo.webp", "webp", 99)  # an image Keras' own folder reader would skip: read here
    (root / "cats" / ".thumbnails").mkdir()  # a hidden folder inside a class: skipped
    write_kind(root / "cats" / ".thumbnails" / "x.png", "png")
    write_bad(root / "cats" / "broken.jpg", "truncated_jpeg")
    write_bad(root / "dogs" / "empty.png", "empty")
    write_bad(root / "fish" / "fake.jpg", "text")
    return root


def snapshot(root: Path):
    """Every file and folder under ``root`` with its size and modification time: to show nothing changed."""
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))
