"""Turn any image file a user may have into the RGB array a model expects.

One reader, Pillow, is used everywhere images are opened by path (training from a
folder, prediction, data-set checks, the CIFAR-10 folder loader), so every entry
point accepts the same files, reports the same readable errors, and gives a model
new images exactly as it saw its training images: the same decoding, the same
orientation, the same resize.
"""

from __future__ import annotations

import io
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: File endings :func:`load_image` reads (Pillow's decoders for these are always built in).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")

_FIX = "Re-export or re-download it, or move it out of the folder"


class ImageLoadError(ValueError):
    """An image file could not be read; the message names the file, the reason and the fix."""

    def __init__(self, path, reason: str, fix: str = _FIX):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot read image {self.path}: {reason}. {fix}.")


class _ColourModeError(ValueError):
    """Pillow read the pixels but has no conversion from their colour mode to RGB."""


class _FormatError(ValueError):
    """The file is a readable image, but in a format the caller does not accept."""


def is_image_file(path) -> bool:
    """True for a visible file whose ending is one :func:`load_image` reads."""
    path = Path(path)
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def visible_files(root, max_depth: int | None = None, hidden: list | None = None):
    """Every file under ``root`` that is not hidden (nor inside a hidden folder such as ``.ipynb_checkpoints``), as
    ``Path``s, sorted folder by folder; ``max_depth`` folders deep at most (0: ``root``'s own files). The hidden
    folders skipped are appended to ``hidden`` when given."""
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        if hidden is not None:
            hidden += [Path(dirpath, name) for name in sorted(dirnames) if name.startswith(".")]
        dirnames[:] = [] if max_depth is not None and depth >= max_depth else sorted(
            name for name in dirnames if not name.startswith("."))
        yield from (Path(dirpath, name) for name in sorted(filenames) if not name.startswith("."))


def in_threads(function, items, workers: int | None = None, ahead: int = 256):
    """``function(item)`` for every item, computed by a pool of ``workers`` threads (default: one per CPU core)
    at most ``ahead`` items ahead of the caller, yielded in order: decoding images in parallel (Pillow releases
    the GIL) while memory stays flat, however many there are."""
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def load_image(path, size=None, background=(255, 255, 255), formats=None) -> np.ndarray:
    """Read an image file as a ``uint8`` RGB array of shape ``(height, width, 3)``.

    Handles JPEG (also CMYK), PNG (also with alpha, palette or 16 bits per
    channel), grayscale, GIF (first frame), BMP, WebP and TIFF, and turns phone
    photos upright using their EXIF orientation. Transparent pixels are laid on
    ``background`` (white by default) instead of turning black.

    Args:
        path: the image file.
        size: optional ``(height, width)`` to resize to: Pillow's bilinear filter,
            which averages over all the pixels it shrinks (antialiasing), the same
            for training images read from a folder and for new images. A JPEG much
            larger than that is first decoded at a reduced scale (1/2 to 1/8, at
            least twice the size asked for): several times faster for camera photos.
        background: RGB colour placed behind transparent pixels.
        formats: optional set of Pillow format names (``{"JPEG", "PNG"}``) to
            accept; a file in another format, whatever its ending, is an error.

    Raises:
        ImageLoadError: the file is missing, empty, not an image, truncated or
            corrupt; the one-line message names the file and the fix.
    """
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(path, "no such file", "Check the path and the file name")
    if path.is_dir():
        raise ImageLoadError(path, "it is a folder, not an image file", "Pass an image file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ImageLoadError(path, f"the file cannot be opened ({err.strerror or err})",
                             "Check that it exists and that you may read it") from err
    draft = None if size is None else (2 * max(size),) * 2  # (an EXIF rotation may swap the sides)
    return decode_image(data, path, size=size, background=background, formats=formats, draft=draft)


def decode_image(data: bytes, name, size=None, background=(255, 255, 255), formats=None,
                 draft=None) -> np.ndarray:
    """Like :func:`load_image`, for image bytes already in memory; ``name`` is used in errors.

    ``draft=(width, height)`` lets a JPEG decode at a reduced scale (1/2, 1/4 or 1/8) that is still
    at least that size: much faster for large photos when only a small picture is needed. The whole
    file is still read, so a truncated file is still found.
    """
    if not data:
        raise ImageLoadError(name, "the file is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if formats is not None and image.format not in formats:
                raise _FormatError(f"it holds {image.format} data, which this reader does not accept "
                                   f"(accepted: {', '.join(sorted(formats))})")
            image.seek(0)  # first frame of an animation
            if draft is not None and image.format == "JPEG":
                image.draft("RGB" if image.mode == "RGB" else None, tuple(draft))
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb = _to_rgb(image, background)
            if size is not None:
                height, width = size
                if rgb.size != (width, height):
                    rgb = rgb.resize((width, height), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except _ColourModeError as err:
        raise ImageLoadError(name, str(err), "Save it as an RGB JPEG or PNG") from err
    except _FormatError as err:
        raise ImageLoadError(name, str(err), "Convert it to JPEG or PNG") from err
    except UnidentifiedImageError as err:
        raise ImageLoadError(
            name,
            "not an image Pillow can read (supported: JPEG, PNG, GIF, BMP, WebP, TIFF)",
            "Convert it to JPEG or PNG, or move it out of the folder",
        ) from err
    except Image.DecompressionBombError as err:
        raise ImageLoadError(name, f"the image is implausibly large ({err})",
                             "Resize it to a few thousand pixels a side") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageLoadError(name, f"the image data is truncated or corrupt ({err})") from err


def _to_rgb(image: Image.Image, background) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, compositing transparency onto ``background``."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode == "I" or mode == "F":
        return Image.fromarray(_scale_to_uint8(np.asarray(image), mode)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*tuple(background), 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as err:
        raise _ColourModeError(f"colour mode {mode} cannot be converted to RGB") from err


def _scale_to_uint8(array: np.ndarray, mode: str) -> np.ndarray:
    """Map 16-bit, 32-bit integer or float pixels to 0-255."""
    array = array.astype(np.float64)
    if mode.startswith("I;16"):
        array = array / 257.0  # 65535 -> 255
    elif mode == "F" and array.size and np.nanmax(array) <= 1.0:
        array = array * 255.0  # float images stored in [0, 1]
    elif array.size and np.nanmax(array) > 255:
        array = array / 257.0  # 16-bit data stored in a 32-bit integer image
    return np.clip(np.rint(np.nan_to_num(array)), 0, 255).astype(np.uint8)
