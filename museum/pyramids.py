"""The tile pyramids of stored pictures: where they live, whether one is needed, making one.

A picture's pyramid (`inpainting_core.pyramids`) is stored beside the picture
in the media storage (Django's storage API: a local directory, or S3), under
the picture's name with `.pyramid.tif` in place of its extension. Stored
pictures never change under their name (a World's new map gets a new random
name; a creation's pictures are written once), so a pyramid that exists is
current; a creation's pyramids live in its folder and go with it.

Which pictures get one: those with more than OLPE_PYRAMID_MIN_PIXELS pixels;
smaller ones are read from their own file. Maps painted by region (more than
OLPE_HUGE_MAP_PIXELS, `is_huge`) get a lossless pyramid, which workers read
their wishes' regions from; all others JPEG tiles.

libvips reads a file it can seek in: a local storage's own path, or else a
copy fetched once into OLPE_PYRAMID_CACHE_DIR (`local_path`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from inpainting_core import pyramids

log = logging.getLogger(__name__)

SUFFIX = ".pyramid.tif"


def pyramid_name(picture_name: str) -> str:
    """Where the pyramid of the stored picture `picture_name` is stored."""
    return posixpath.splitext(picture_name)[0] + SUFFIX


def is_huge(size: tuple[int, int]) -> bool:
    """Whether a map of `size` (width, height) is painted by region (OLPE_HUGE_MAP_PIXELS)."""
    return size[0] * size[1] > settings.OLPE_HUGE_MAP_PIXELS


def needs_pyramid(size: tuple[int, int]) -> bool:
    """Pictures above OLPE_PYRAMID_MIN_PIXELS, and every map painted by region."""
    return size[0] * size[1] > settings.OLPE_PYRAMID_MIN_PIXELS or is_huge(size)


def has_pyramid(picture_name: str, storage=None) -> bool:
    return (storage or default_storage).exists(pyramid_name(picture_name))


def local_path(name: str, storage=None) -> Path:
    """A local file of the stored file `name` for libvips: the storage's own path when it
    has one, else a copy in OLPE_PYRAMID_CACHE_DIR, fetched on first use.

    Raises FileNotFoundError when the storage has no such file.
    """
    storage = storage or default_storage
    try:
        path = Path(storage.path(name))
    except NotImplementedError:
        return _cached_copy(storage, name)
    if not path.exists():
        raise FileNotFoundError(name)
    return path


def _cached_copy(storage, name: str) -> Path:
    # Named by a digest of the stored name: stored names never change their content.
    digest = hashlib.sha256(name.encode()).hexdigest()
    copy = Path(settings.OLPE_PYRAMID_CACHE_DIR) / digest[:2] / (digest + Path(name).suffix)
    if copy.exists():
        return copy
    if not storage.exists(name):
        raise FileNotFoundError(name)
    copy.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=copy.parent, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as target, storage.open(name, "rb") as source:
            shutil.copyfileobj(source, target, 1024 * 1024)
        os.replace(temporary, copy)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return copy


def picture_size(name: str, storage=None) -> tuple[int, int]:
    """(width, height) of the stored picture `name` as shown, from its header."""
    return pyramids.picture_size(local_path(name, storage))


def open_picture(name: str, storage=None) -> pyramids.Pyramid:
    """The stored picture `name` for reading tiles and regions: its pyramid when it has
    one, else the picture itself (a pyramid of one level).

    Raises FileNotFoundError when the picture is gone.
    """
    storage = storage or default_storage
    try:
        return pyramids.Pyramid(local_path(pyramid_name(name), storage))
    except FileNotFoundError:
        return pyramids.Pyramid(local_path(name, storage), pyramid=False)


def make_pyramid(name: str, storage=None) -> bool:
    """Make and store the pyramid of the stored picture `name` if it needs one and has none.

    Returns whether one was made. Lossless for maps painted by region. The
    picture's file is read locally (fetched from a remote storage once).
    """
    storage = storage or default_storage
    target = pyramid_name(name)
    if storage.exists(target):
        return False
    source = local_path(name, storage)
    size = pyramids.picture_size(source)
    if not needs_pyramid(size):
        return False
    lossless = is_huge(size)
    try:
        own = Path(storage.path(target))
    except NotImplementedError:
        own = None
    if own is not None:  # written in place, renamed when complete
        pyramids.build(source, own, lossless=lossless)
    else:
        with tempfile.TemporaryDirectory() as folder:
            built = Path(folder) / "pyramid.tif"
            pyramids.build(source, built, lossless=lossless)
            with built.open("rb") as handle:
                saved = storage.save(target, File(handle))
            if saved != target:  # another worker stored it meanwhile
                storage.delete(saved)
    log.info("Pyramid of %s made (%s × %s, %s)", name, *size, "lossless" if lossless else "JPEG")
    return True


def delete_pyramid(picture_name: str, storage=None) -> None:
    """Delete the stored pyramid of a picture (and this process's local copy), if any."""
    storage = storage or default_storage
    name = pyramid_name(picture_name)
    try:
        storage.delete(name)
    except OSError:
        log.warning("The pyramid %s could not be deleted", name, exc_info=True)
    try:
        storage.path(name)
    except NotImplementedError:
        digest = hashlib.sha256(name.encode()).hexdigest()
        for copy in (Path(settings.OLPE_PYRAMID_CACHE_DIR) / digest[:2]).glob(digest + "*"):
            copy.unlink(missing_ok=True)
