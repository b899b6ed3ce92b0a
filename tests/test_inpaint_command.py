"""`manage.py inpaint` end to end on the demo map, as a curator would run it."""

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from tooling.demo import make_demo_map


@pytest.fixture
def demo_files(tmp_path):
    image = make_demo_map(width=384, height=256, seed=3)
    image_path = tmp_path / "map.png"
    image.save(image_path)
    mask = Image.new("RGBA", image.size, (0, 0, 0, 0))
    paint = np.zeros((image.height, image.width, 4), dtype=np.uint8)
    paint[80:170, 120:260] = (255, 0, 0, 255)  # a red stroke on transparency, like the kiosk
    mask = Image.fromarray(paint, "RGBA")
    mask_path = tmp_path / "mask.png"
    mask.save(mask_path)
    return image_path, mask_path, paint[..., 3] > 0


def run_inpaint(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("inpaint", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_inpaint_command_repaints_only_the_painted_region(demo_files, tmp_path):
    image_path, mask_path, painted = demo_files
    out_path = tmp_path / "result.png"
    stdout, _ = run_inpaint(
        "--image", image_path, "--mask", mask_path, "--prompt", "Ein See",
        "--engine", "classic", "--seed", "7", "--out", out_path,
    )
    assert "lake" in stdout.lower()
    original = np.asarray(Image.open(image_path).convert("RGB"))
    result = np.asarray(Image.open(out_path).convert("RGB"))
    assert result.shape == original.shape
    assert not np.array_equal(result[painted], original[painted])
    # Far from the stroke (beyond padding and feather) nothing changes at all.
    far = np.ones(painted.shape, dtype=bool)
    far[60:190, 100:280] = False
    assert np.array_equal(result[far], original[far])


def test_inpaint_command_refuses_an_explicit_engine_that_cannot_run(demo_files, tmp_path, settings, reset_engines):
    settings.OPENAI_API_KEY = ""
    image_path, mask_path, _ = demo_files
    with pytest.raises(CommandError, match="openai"):
        run_inpaint(
            "--image", image_path, "--mask", mask_path, "--prompt", "Ein See",
            "--engine", "openai", "--out", tmp_path / "never.png",
        )
    assert not (tmp_path / "never.png").exists()


def test_inpaint_command_reports_an_empty_mask(demo_files, tmp_path):
    image_path, _, _ = demo_files
    empty = tmp_path / "empty.png"
    Image.new("RGBA", (384, 256), (0, 0, 0, 0)).save(empty)
    with pytest.raises(CommandError):
        run_inpaint(
            "--image", image_path, "--mask", empty, "--prompt", "Ein See",
            "--engine", "classic", "--out", tmp_path / "never.png",
        )


def test_inpaint_command_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError):
        run_inpaint(
            "--image", tmp_path / "nope.png", "--mask", tmp_path / "nope.png", "--prompt", "See",
            "--engine", "classic", "--out", tmp_path / "never.png",
        )
