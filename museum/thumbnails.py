"""Small JPEG copies of pictures, made on first use and kept beside the picture.

Lists in the admin and the public gallery both show many pictures at once;
decoding full-size PNGs for each request would be slow. A thumbnail lives in
the same folder as its picture, so deleting a creation's folder removes it.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image

from inpainting_core import pyramids as core_pyramids
from museum import pyramids


def open_cached(picture, name: str, *, side: int, quality: int):
    """The open thumbnail `name` of `picture` (a FieldFile), rendered if it is not there yet."""
    storage = picture.storage
    if not storage.exists(name):
        store_atomically(storage, name, render(picture, side=side, quality=quality))
    return storage.open(name, "rb")


def render(picture, *, side: int, quality: int) -> bytes:
    box = (side, side)
    with picture.open("rb") as source, Image.open(source) as image:
        if image.width * image.height > settings.OLPE_MAX_IMAGE_PIXELS:
            # A huge map (a 16384² scan) is shrunk by libvips in a stream, never held whole.
            small = Image.fromarray(core_pyramids.thumbnail(
                pyramids.local_path(picture.name, picture.storage), side))
        else:
            image.draft("RGB", box)  # JPEG sources decode at a reduced scale
            small = image.convert("RGB")
        small.thumbnail(box, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
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
