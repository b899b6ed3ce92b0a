"""The change's frame (inpainting_core/framing.py): found once when a result is stored.

The frame is the box of what changed (the mask's box and the changed pixels'),
grown by half its size for context, at least MIN_FRAME_SIDE map pixels a side,
in the gallery card's 4:3 shape, inside the map. The worker keeps it with the
job; the websocket's `succeeded` event and the job's state carry it.
"""

import io

import numpy as np
import pytest
from django_q.conf import Conf
from PIL import Image

from inpainting import jobs
from inpainting.models import InpaintJob
from inpainting_core import framing
from inpainting_core.framing import FRAME_ASPECT, MIN_FRAME_SIDE, Frame, find_frame
from inpainting_core.generation import GenerationSettings
from inpainting_core.pipeline import generate
from tooling.demo import make_demo_map


def changed(size=(2048, 2048), box=(900, 1000, 1100, 1160), colour=(20, 60, 200)):
    before = np.full((size[1], size[0], 3), 120, np.uint8)
    after = before.copy()
    after[box[1]:box[3], box[0]:box[2]] = colour
    return before, after


def aspect(box) -> float:
    return (box[2] - box[0]) / (box[3] - box[1])


def contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] \
        and outer[3] >= inner[3]


# --- finding the frame ------------------------------------------------------------------


def test_a_small_change_is_framed_with_context_in_the_cards_shape():
    before, after = changed()  # 200 × 160 of a 2048² map: under 1 %
    frame = find_frame(before, after)

    assert frame.change == (900, 1000, 1100, 1160)
    assert frame.size == (2048, 2048)
    assert contains(frame.box, frame.change)
    assert aspect(frame.box) == pytest.approx(FRAME_ASPECT, abs=0.01)
    width, height = frame.box[2] - frame.box[0], frame.box[3] - frame.box[1]
    assert width >= 200 * 1.5 and height >= 160 * 1.5  # grown by half its size
    assert min(width, height) >= MIN_FRAME_SIDE
    centre = ((frame.box[0] + frame.box[2]) / 2, (frame.box[1] + frame.box[3]) / 2)
    assert centre == pytest.approx((1000, 1080), abs=1)
    assert frame.zoom > 4 and frame.change_share < 0.01


def test_the_mask_counts_where_the_engine_left_a_pixel_as_it_was():
    before, after = changed(box=(900, 1000, 1000, 1100))
    mask = np.zeros((2048, 2048), np.float32)
    mask[950:1200, 850:1050] = 1.0  # painted wider than what changed
    frame = find_frame(before, after, mask)
    assert frame.change == (850, 950, 1050, 1200)


def test_a_dab_gets_the_least_frame_and_a_frame_stays_inside_the_map():
    before, after = changed(box=(0, 2030, 10, 2048))  # a dab in the bottom-left corner
    frame = find_frame(before, after)
    assert frame.box[0] == 0 and frame.box[3] == 2048
    assert frame.box[3] - frame.box[1] == MIN_FRAME_SIDE
    assert aspect(frame.box) == pytest.approx(FRAME_ASPECT, abs=0.01)


def test_on_a_small_map_the_frame_is_limited_by_the_map():
    before, after = changed(size=(300, 200), box=(100, 80, 140, 120))
    frame = find_frame(before, after)
    assert frame.box == (0, 0, 300, 200)  # 256 would not fit in 200: the whole map
    assert frame.is_whole


def test_a_result_that_changed_nothing_is_shown_whole():
    before, _after = changed()
    frame = find_frame(before, before.copy())
    assert frame == Frame.whole((2048, 2048)) and frame.is_whole


def test_faint_differences_are_not_a_change():
    before, after = changed()
    after = before.copy()
    after[::7, ::5] += 3  # a feather's faintest blend, decoding noise
    assert find_frame(before, after).is_whole


def test_only_the_given_box_is_compared():
    before, after = changed()
    after[10:20, 10:20] = 0  # outside `within`: ignored, as the engine changes nothing there
    frame = find_frame(before, after, within=(800, 900, 1300, 1300))
    assert frame.change == (900, 1000, 1100, 1160)


def test_a_frame_is_kept_as_a_dict_and_refused_when_damaged():
    frame = find_frame(*changed())
    assert Frame.from_dict(frame.as_dict()) == frame
    for damaged in (None, {}, {"box": [1, 2, 3]}, "x",
                    {**frame.as_dict(), "box": [10, 10, 5, 20]},
                    {**frame.as_dict(), "box": [0, 0, 9999, 20]}):
        assert Frame.from_dict(damaged) is None


def test_a_frame_fits_a_picture_kept_at_another_scale():
    frame = find_frame(*changed())
    half = frame.fitted((1024, 1024))
    assert half.size == (1024, 1024)
    assert half.box == pytest.approx(tuple(value / 2 for value in frame.box), abs=1)
    assert contains(half.box, tuple(value // 2 for value in frame.change))
    assert frame.fitted(frame.size) is frame


def test_the_outline_follows_the_mask_or_else_the_changed_pixels():
    before, after = changed(box=(900, 1000, 1100, 1160))
    mask = np.zeros((2048, 2048), np.float32)
    mask[1000:1160, 900:1100] = 1.0
    frame = find_frame(before, after, mask)
    assert framing.outline_of_mask(np.zeros_like(mask), frame.box, frame.size) is None
    for polygons in (framing.outline_of_mask(mask, frame.box, frame.size),
                     framing.outline_of_change(before, after, frame.box)):
        assert len(polygons) == 1
        xs, ys = zip(*polygons[0], strict=True)
        assert (min(xs), min(ys)) == pytest.approx((900, 1000), abs=2)
        assert (max(xs), max(ys)) == pytest.approx((1099, 1159), abs=2)
        assert len(polygons[0]) <= 8  # a rectangle needs four corners, not 700 points


def test_the_frame_of_stored_pictures_is_found_as_the_worker_finds_it():
    before, after = changed(size=(640, 480), box=(300, 200, 360, 250))
    stored = []
    for pixels, format in ((before, "JPEG"), (after, "PNG")):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=format, quality=95)
        stored.append(buffer.getvalue())
    frame = framing.frame_from_pictures(*stored)
    assert contains(frame.change, (300, 200, 360, 250))
    assert frame.change == pytest.approx((300, 200, 360, 250), abs=2)  # JPEG noise is no change


# --- where it is found ------------------------------------------------------------------


def test_the_pipeline_finds_the_frame_of_what_it_painted():
    image = make_demo_map(width=640, height=480, seed=2)
    mask = np.zeros((480, 640), np.float32)
    mask[200:260, 380:450] = 1.0
    result = generate(image, mask, "Ein See", GenerationSettings(engine="classic", seed=1))
    assert result.frame is not None
    assert contains(result.frame.change, (380, 200, 450, 260))
    assert contains(result.frame.box, result.frame.change)
    assert "frame" in result.seconds


@pytest.mark.django_db
def test_the_worker_keeps_the_frame_with_the_result_and_announces_it(
    monkeypatch, settings, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(Conf, "SYNC", True)  # the task runs at once, in this process
    settings.LANGUAGE_CODE = "en"
    width, height = 768, 512
    paint = np.zeros((height, width, 4), np.uint8)
    paint[300:340, 500:560] = (255, 0, 0, 255)
    buffers = []
    for picture in (make_demo_map(width=width, height=height, seed=4),
                    Image.fromarray(paint, "RGBA")):
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        buffers.append(buffer.getvalue())
    with django_capture_on_commit_callbacks(execute=True):  # queued once the job is stored
        job = jobs.submit_job(image=buffers[0], mask=buffers[1], wish="Ein See",
                              generation=GenerationSettings(engine="classic", seed=3))
    job.refresh_from_db()

    assert job.status == InpaintJob.Status.SUCCEEDED
    frame = Frame.from_dict(job.frame)
    assert frame is not None and frame.size == (width, height)
    assert contains(frame.change, (500, 300, 560, 340))
    assert frame.zoom >= 1.5  # the kiosk frames it
    assert jobs.job_state(job)["frame"] == job.frame
    assert job.events.get(kind="succeeded").payload["frame"] == job.frame
