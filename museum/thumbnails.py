"""Small copies of pictures, made on first use and kept beside the picture.

Lists in the admin and the public gallery both show many pictures at once;
decoding full-size PNGs for each request would be slow. A thumbnail lives in
the same folder as its picture, so deleting a creation's folder removes it.
A thumbnail may show only a part of its picture (`box`, in the picture's
pixels): it is cut from the full-resolution picture, then made smaller, never
larger, so a small part stays sharp.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Callable, Optional

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps

from inpainting_core import pyramids as core_pyramids
from museum import pyramids

Box = tuple[int, int, int, int]


def open_cached(picture, name: str, *, side: int, quality: int):
    """The open thumbnail `name` of `picture` (a FieldFile), rendered if it is not there yet."""
    return open_made(picture.storage, name, lambda: render(picture, side=side, quality=quality))


def open_made(storage, name: str, make: Callable[[], bytes]):
    """The open file `name` of `storage`, made by `make` and stored first if it is not there."""
    if not storage.exists(name):
        store_atomically(storage, name, make())
    return storage.open(name, "rb")


def render(picture, *, side: int, quality: int, format: str = "JPEG") -> bytes:
    """`picture` at most `side` pixels a side, as JPEG or PNG."""
    with picture.open("rb") as source, Image.open(source) as image:
        if image.width * image.height > settings.OLPE_MAX_IMAGE_PIXELS:
            # A huge map (a 16384² scan) is shrunk by libvips in a stream, never held whole.
            small = Image.fromarray(core_pyramids.thumbnail(
                pyramids.local_path(picture.name, picture.storage), side))
        else:
            image.draft("RGB", (side, side))  # JPEG sources decode at a reduced scale
            small = ImageOps.exif_transpose(image).convert("RGB")  # as the worker reads the map
    return encode(shrunk(small, side), format=format, quality=quality)


def shrunk(image: Image.Image, side: int, box: Optional[Box] = None) -> Image.Image:
    """A new picture of `image` (or of its `box`), at most `side` pixels a side, never
    enlarged; `image` itself is left as it is."""
    part = image.crop(box) if box is not None else image
    scale = side / max(part.size)
    if scale >= 1:
        return part if box is not None else part.copy()
    size = (max(1, round(part.width * scale)), max(1, round(part.height * scale)))
    return part.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def encode(image: Image.Image, *, format: str = "JPEG", quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    if format == "PNG":
        image.save(buffer, "PNG", optimize=False, compress_level=6)
    else:
        image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
    return buffer.getvalue()


def store_atomically(storage, name: str, data: bytes) -> None:
    """Write `name` so that a concurrent request never reads half a file.

    On the local filesystem the file is renamed into place; other storages
    write objects whole. Two requests racing both write the same bytes.
    """
    try:
        target = Path(storage.path(name))
    except NotImplementedError:
        saved = storage.save(name, ContentFile(data))
        if saved != name:  # another request stored it meanwhile
            storage.delete(saved)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, getattr(storage, "file_permissions_mode", None) or 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
