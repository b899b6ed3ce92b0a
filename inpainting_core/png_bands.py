"""PNG files written in bands, so that a result that differs from its map in a few
rows costs only those rows.

A PNG's pixels are one zlib stream of filtered rows. Here the rows are cut into
bands of `BAND_ROWS`; each band is compressed on its own and ends with a full
flush (the compressor forgets everything before it), and the first row of each
band is filtered without looking at the row above. So a band's compressed bytes
depend on that band's pixels alone:

- a World's map is compressed once per worker (`BandedPNG.of`, kept in the
  worker's map cache beside the decoded map), and a result painted on it
  compresses again only the bands its wish changed (`BandedPNG.encode_changed`);
  a 512-pixel wish on a 4096² map writes its lossless PNG in a tenth of the
  time of a whole-picture encode;
- bands that must be compressed are compressed in threads (zlib releases the
  GIL), so a whole picture also takes less than Pillow's single-threaded encoder.

The zlib checksum (Adler-32) of the whole stream is combined from the bands'
checksums. The result is an ordinary 8-bit RGB PNG (one IDAT chunk per band),
decoded by every browser and by Pillow to exactly the pixels it was made from.
Rows use the PNG "Up" filter, which suits maps and photographs about as well as
Pillow's choice and costs one vectorised subtraction.
"""

from __future__ import annotations

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

BAND_ROWS = 128
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FILTER_NONE, _FILTER_UP = 0, 2
_ADLER_BASE = 65521
_THREADS = 4


@dataclass(frozen=True)
class Band:
    """One band's compressed rows (a raw deflate stream ending in a full flush)."""

    data: bytes
    adler: int  # Adler-32 of the band's filtered rows, started afresh
    length: int  # bytes of filtered rows
    crc: int  # CRC-32 of the IDAT chunk holding `data`


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine)."""
    remainder = second_length % _ADLER_BASE
    sum1 = first & 0xFFFF
    sum2 = (remainder * sum1) % _ADLER_BASE
    sum1 = (sum1 + (second & 0xFFFF) + _ADLER_BASE - 1) % _ADLER_BASE
    sum2 = (sum2 + (first >> 16) + (second >> 16) + _ADLER_BASE - remainder) % _ADLER_BASE
    return sum1 | (sum2 << 16)


def _chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    if crc is None:
        crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc & 0xFFFFFFFF)


class BandedPNG:
    """The compressed bands of one RGB picture; `encode()` gives its PNG file."""

    def __init__(self, pixels: np.ndarray, bands: list[Band], *, level: int, band_rows: int):
        self.height, self.width = pixels.shape[:2]
        self.bands = bands
        self.level = level
        self.band_rows = band_rows

    @property
    def nbytes(self) -> int:
        """Memory the compressed bands hold (the map cache counts it)."""
        return sum(len(band.data) for band in self.bands)

    @classmethod
    def of(cls, pixels: np.ndarray, *, level: int, band_rows: int = BAND_ROWS) -> "BandedPNG":
        """Compress every band of `pixels` (height × width × 3, uint8)."""
        cls.check_inputs(pixels, level, band_rows)
        starts = range(0, pixels.shape[0], band_rows)
        bands = _compress_bands(pixels, list(starts), level, band_rows)
        return cls(pixels, bands, level=level, band_rows=band_rows)

    @staticmethod
    def check_inputs(pixels: np.ndarray, level: int, band_rows: int) -> None:
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"Expected RGB pixels as height x width x 3 uint8, got {pixels.dtype} {pixels.shape}")
        if not pixels.shape[0] or not pixels.shape[1]:
            raise ValueError("A picture needs at least one pixel")
        if not 0 <= level <= 9:
            raise ValueError(f"zlib level must be 0-9, got {level}")
        if band_rows < 1:
            raise ValueError(f"band_rows must be positive, got {band_rows}")

    def encode(self) -> bytes:
        """The PNG file of the picture these bands were made from."""
        return self._assemble(self.bands)

    def encode_changed(self, original: np.ndarray, changed: np.ndarray) -> bytes:
        """The PNG file of `changed`, a copy of `original` (the picture of these bands)
        with some pixels painted anew: only the bands with a changed row are compressed."""
        if changed.shape != original.shape or original.shape[:2] != (self.height, self.width):
            raise ValueError("The changed picture must have the original's size")
        self.check_inputs(changed, self.level, self.band_rows)
        differs = np.flatnonzero((changed != original).reshape(self.height, -1).any(axis=1))
        starts = sorted({int(row) // self.band_rows * self.band_rows for row in differs})
        fresh = dict(
            zip(starts, _compress_bands(changed, starts, self.level, self.band_rows), strict=True)
        )
        bands = [fresh.get(index * self.band_rows, band) for index, band in enumerate(self.bands)]
        return self._assemble(bands)

    def _assemble(self, bands: list[Band]) -> bytes:
        adler, stream_end = 1, zlib.compressobj(self.level, zlib.DEFLATED, -15).flush()
        for band in bands:
            adler = adler32_combine(adler, band.adler, band.length)
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        zlib_header = bytes([0x78, 0x01])  # deflate, 32 KiB window, no dictionary
        parts = [PNG_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", zlib_header)]
        parts += [_chunk(b"IDAT", band.data, band.crc) for band in bands]
        parts += [_chunk(b"IDAT", stream_end + struct.pack(">I", adler)), _chunk(b"IEND", b"")]
        return b"".join(parts)


def _filtered(pixels: np.ndarray, start: int, band_rows: int) -> np.ndarray:
    """The band's rows as PNG filter bytes: the first unfiltered, the others "Up"."""
    rows = pixels[start:start + band_rows].reshape(-1, pixels.shape[1] * 3)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
    out[0, 0], out[1:, 0] = _FILTER_NONE, _FILTER_UP
    out[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])  # modulo 256, as PNG defines it
    return out


def _compress_band(pixels: np.ndarray, start: int, level: int, band_rows: int) -> Band:
    raw = _filtered(pixels, start, band_rows).tobytes()
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    data = compressor.compress(raw) + compressor.flush(zlib.Z_FULL_FLUSH)
    return Band(data=data, adler=zlib.adler32(raw), length=len(raw), crc=zlib.crc32(b"IDAT" + data))


def _compress_bands(pixels: np.ndarray, starts: list[int], level: int, band_rows: int) -> list[Band]:
    if len(starts) <= 1:
        return [_compress_band(pixels, start, level, band_rows) for start in starts]
    with ThreadPoolExecutor(max_workers=min(_THREADS, len(starts))) as pool:
        return list(pool.map(lambda start: _compress_band(pixels, start, level, band_rows), starts))
