"""Decoded maps kept in a worker process, so that a wish moves only its region.

A World's map is decoded once per worker process and kept here; a job on it
crops its region from the decoded picture instead of reading and decoding the
whole file again. An entry is keyed by the file's name, size and modification
time, so a map a curator replaced is read anew. The cache is bounded in bytes
(OLPE_MAP_CACHE_BYTES, decoded pixels); the least recently used maps leave
first, and a map larger than the whole bound is never kept.

Pictures handed out are shared: callers must not change them in place
(`compositing.composite` works on a copy). The worker also keeps a World's map
compressed in bands here (`png_bands.BandedPNG`), so that a result painted on
it compresses only the bands the wish changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from django.conf import settings
from PIL import Image


def image_bytes(image) -> int:
    """Memory a kept value holds: a decoded picture's pixels, or anything with `nbytes`
    (the compressed bands of a map, `png_bands.BandedPNG`)."""
    if isinstance(image, Image.Image):
        return image.width * image.height * len(image.getbands())
    return int(image.nbytes)


class MapCache:
    """A least-recently-used cache of decoded pictures, bounded in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Image.Image] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def get(self, key: Hashable, load: Callable[[], Image.Image]) -> Image.Image:
        """The picture for `key`, from the cache or from `load()` (then kept if it fits)."""
        with self._lock:
            image = self._entries.get(key)
            if image is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return image
            self.misses += 1
        image = load()  # outside the lock: decoding takes long
        self.put(key, image)
        return image

    def put(self, key: Hashable, image: Image.Image) -> None:
        """Keep `image`, dropping the least recently used pictures to stay within the bound."""
        size = image_bytes(image)
        with self._lock:
            if key in self._entries:
                self._bytes -= image_bytes(self._entries.pop(key))
            if size > self.max_bytes:
                return
            while self._entries and self._bytes + size > self.max_bytes:
                _key, dropped = self._entries.popitem(last=False)
                self._bytes -= image_bytes(dropped)
            self._entries[key] = image
            self._bytes += size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = self.hits = self.misses = 0


_cache: MapCache | None = None


def map_cache() -> MapCache:
    """This process's cache, created on first use with OLPE_MAP_CACHE_BYTES."""
    global _cache
    if _cache is None or _cache.max_bytes != settings.OLPE_MAP_CACHE_BYTES:
        _cache = MapCache(settings.OLPE_MAP_CACHE_BYTES)
    return _cache
