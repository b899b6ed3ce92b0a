"""inpainting_core.imaging: untrusted uploads decoded safely or refused with a reason.
No database: checked on real encoded files."""

import io
import zipfile
import zlib

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageCms, ImageFile

from inpainting_core import imaging, masks
from tests.pictures import BLUE, RED, crafted_png, encode, noise_map, png_chunk


# --- Decoding untrusted uploads ---------------------------------------------------------


@pytest.fixture
def decode_calls(monkeypatch):
    """Counts pixel decoding (ImageFile.load), to prove that a refusal came before it."""
    calls = []
    original_load = ImageFile.ImageFile.load

    def counting_load(self):
        if self.tile:  # pixel data still to decode; later calls are no-ops
            calls.append(self.size)
        return original_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return calls


def sample_png() -> bytes:
    return encode(noise_map((64, 48)))


@pytest.mark.parametrize("wrap", ["bytes", "str path", "Path", "file object", "uploaded file"])
def test_open_image_reads_every_kind_of_source(wrap, tmp_path):
    data = sample_png()
    path = tmp_path / "map.png"
    path.write_bytes(data)
    stream = io.BytesIO(data)
    stream.read(10)  # already partly read, e.g. by upload validation
    uploaded = SimpleUploadedFile("map.png", data, content_type="image/png")
    uploaded.read()
    source = {
        "bytes": data,
        "str path": str(path),
        "Path": path,
        "file object": stream,
        "uploaded file": uploaded,
    }[wrap]
    image = imaging.open_image(source)
    assert image.mode == "RGB" and image.size == (64, 48)
    np.testing.assert_array_equal(np.asarray(image), np.asarray(Image.open(io.BytesIO(data))))


def test_a_missing_file_is_a_readable_problem(tmp_path):
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(tmp_path / "missing.png")
    assert raised.value.code == "unreadable" and raised.value.field == "image"


def test_the_decode_counter_sees_a_normal_decode(decode_calls):
    imaging.open_image(sample_png())
    assert decode_calls == [(64, 48)]


def test_huge_dimensions_are_refused_from_the_header(decode_calls):
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(crafted_png(100_000, 100_000))
    assert (raised.value.code, raised.value.field) == ("too_large", "image")
    assert decode_calls == []


def test_dimensions_above_the_setting_are_refused_naming_the_size(settings, decode_calls):
    settings.OLPE_MAX_IMAGE_PIXELS = 1000 * 1000
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_mask(crafted_png(2000, 1000))
    assert (raised.value.code, raised.value.field) == ("too_large", "mask")
    assert "2000 × 1000" in str(raised.value)
    assert decode_calls == []


def test_a_decompression_bomb_is_refused_without_decoding(decode_calls):
    # 8192 x 8192 one-bit pixels (64 million) in a file of a few kilobytes.
    rows = (b"\0" + bytes(8192 // 8)) * 8192
    bomb = crafted_png(8192, 8192, rows, bit_depth=1)
    assert len(bomb) < 50_000
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(bomb, max_pixels=4096 * 4096)
    assert raised.value.code == "too_large"
    assert decode_calls == []


def test_a_compressed_text_bomb_is_refused():
    text = png_chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"a" * (4 * 2**20), 9))
    with pytest.raises(imaging.ImageProblem):
        imaging.open_image(crafted_png(4, 2, b"\0" * 10, extra_chunks=text))


@pytest.mark.parametrize("format", ["PNG", "JPEG", "WEBP"])
def test_a_truncated_picture_is_refused(format):
    data = encode(noise_map((64, 48)), format)
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(data[: len(data) * 2 // 3])
    assert raised.value.code in ("truncated", "corrupt")


def test_damaged_pixel_data_is_refused():
    data = bytearray(sample_png())
    start = data.index(b"IDAT") + 20
    data[start : start + 40] = b"\xa5" * 40
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(bytes(data))
    assert raised.value.code == "corrupt"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b"%PDF-1.7\n" + bytes(100),
    ],
    ids=["empty", "text", "html", "pdf"],
)
def test_non_image_bytes_are_refused(data):
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(data)
    assert (raised.value.code, raised.value.field) == ("not_image", "image")
    assert "PNG" in str(raised.value)


@pytest.mark.parametrize("format", ["GIF", "BMP", "TIFF"])
def test_other_picture_formats_are_refused(format):
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_mask(encode(Image.new("RGB", (8, 8)), format))
    assert raised.value.code == "not_image"


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return buffer.getvalue()


@pytest.mark.parametrize("format", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize(
    "appended", [zip_archive(), b"<html><script>alert(1)</script></html>"], ids=["zip", "html"]
)
def test_a_polyglot_is_refused(format, appended):
    polyglot = encode(noise_map((32, 32)), format) + appended
    with pytest.raises(imaging.ImageProblem) as raised:
        imaging.open_image(polyglot)
    assert raised.value.code == "trailing_data"


def test_trailing_zero_padding_is_tolerated():
    assert imaging.open_image(encode(noise_map((32, 32)), "JPEG") + bytes(64)).size == (32, 32)


def test_a_cameras_multi_picture_jpeg_is_accepted():
    first, second = Image.new("RGB", (64, 48), RED), Image.new("RGB", (64, 48), BLUE)
    data = encode(first, "MPO", save_all=True, append_images=[second])
    assert imaging.open_image(data).size == (64, 48)
    with pytest.raises(imaging.ImageProblem):
        imaging.open_image(data + b"<html></html>")


def test_exif_orientation_is_applied():
    photo = np.zeros((20, 40, 3), np.uint8)
    photo[:, :20] = RED
    photo[:, 20:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90 degrees clockwise to show
    image = imaging.open_image(encode(Image.fromarray(photo), "JPEG", exif=exif, quality=95))
    assert image.size == (20, 40)
    top, bottom = np.asarray(image)[5, 10], np.asarray(image)[35, 10]
    assert top[0] > 180 and top[2] < 80 and bottom[2] > 160 and bottom[0] < 80


def test_exif_orientation_is_applied_to_masks_too():
    mask = np.zeros((20, 40), np.uint8)
    mask[:, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = imaging.open_mask(encode(Image.fromarray(mask), "PNG", exif=exif))
    assert masks.mask_bbox(masks.normalise_mask(decoded)) == (0, 0, 20, 10)


def test_transparency_is_laid_on_white():
    picture = np.zeros((10, 30, 4), np.uint8)  # black under the transparency
    picture[:, 10:20] = (0, 0, 255, 128)
    picture[:, 20:] = (0, 0, 255, 255)
    image = imaging.open_image(encode(Image.fromarray(picture, "RGBA")))
    assert image.mode == "RGB"
    row = np.asarray(image)[5]
    assert row[0].tolist() == [255, 255, 255]
    assert row[15, 0] in (126, 127) and row[15, 2] == 255
    assert row[25].tolist() == [0, 0, 255]


def test_palette_transparency_and_grey_alpha_are_laid_on_white():
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.info["transparency"] = 0
    assert np.asarray(imaging.open_image(encode(palette)))[0, 0].tolist() == [255, 255, 255]
    grey = Image.fromarray(np.dstack([np.full((4, 4), 50, np.uint8), np.zeros((4, 4), np.uint8)]))
    assert np.asarray(imaging.open_image(encode(grey)))[0, 0].tolist() == [255, 255, 255]


def test_cmyk_is_converted_to_rgb():
    image = imaging.open_image(
        encode(Image.new("CMYK", (8, 8), (255, 0, 0, 0)), "JPEG", quality=95)
    )
    red, green, blue = np.asarray(image)[4, 4].tolist()
    assert image.mode == "RGB" and red < 30 and green > 225 and blue > 225


def test_sixteen_bit_pictures_are_scaled_to_eight_bits():
    colour = np.zeros((4, 4, 3), np.uint16)
    colour[...] = (65535, 128 * 257, 0)  # OpenCV writes BGR: blue, green, red
    ok, encoded = cv2.imencode(".png", colour)
    assert np.asarray(imaging.open_image(encoded.tobytes()))[0, 0].tolist() == [0, 128, 255]
    ok, encoded = cv2.imencode(".png", np.full((4, 4), 200 * 257, np.uint16))
    assert np.asarray(imaging.open_image(encoded.tobytes()))[0, 0].tolist() == [200, 200, 200]


def test_an_srgb_profile_leaves_pixels_as_they_are():
    picture = noise_map((16, 16))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = imaging.open_image(encode(picture, icc_profile=srgb))
    np.testing.assert_array_equal(np.asarray(image), np.asarray(picture))


