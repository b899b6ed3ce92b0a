"""The OpenAI engine, through the real `openai` client, against a local fake of the API."""

import logging
import socket

import numpy as np
import pytest
from PIL import Image

from inpainting_core.engines.base import Cancelled, EngineError, EngineRequest, EngineUnavailable
from inpainting_core.engines.openai_images import OpenAIEngine, closest_size
from tests.fake_openai import fake_openai  # noqa: F401 - the fixture

PROMPT = "aerial photograph of a calm lake, map of Olpe"


def gradient_picture(width: int, height: int) -> Image.Image:
    """A smooth RGB picture (quick to encode) in which every pixel differs from the fake's fill."""
    ys, xs = np.mgrid[0:height, 0:width]
    channels = [40 + xs * 120 // width, 60 + ys * 120 // height, 90 + (xs + ys) % 7]
    pixels = np.stack(channels, axis=-1)
    return Image.fromarray(pixels.astype(np.uint8))


def soft_mask(width: int, height: int) -> np.ndarray:
    """A band across the middle rising from 0 to 255 left to right: every level occurs."""
    levels = np.zeros((height, width), np.uint8)
    levels[height // 4 : 3 * height // 4] = np.linspace(0, 255, width).round().astype(np.uint8)
    return levels


def make_request(width: int = 1024, height: int = 1024) -> EngineRequest:
    return EngineRequest(
        image=gradient_picture(width, height),
        mask=Image.fromarray(soft_mask(width, height)),
        prompt=PROMPT,
    )


def repainted(levels: np.ndarray) -> np.ndarray:
    """The documented rule: levels from 128 up (the compositor's painted core) are repainted."""
    return levels >= 128


# --- What the client sends ---------------------------------------------------------------


def test_the_request_carries_model_prompt_size_image_and_mask(fake_openai):
    request = make_request()

    result = OpenAIEngine().inpaint(request).image

    (sent,) = fake_openai.edits
    assert sent.headers["authorization"] == f"Bearer {fake_openai.api_key}"
    assert sent.fields["model"] == "gpt-image-1"
    assert sent.fields["prompt"] == PROMPT
    assert sent.fields["size"] == "1024x1024"
    assert sent.fields["n"] == "1"
    assert "response_format" not in sent.fields
    image, mask = sent.files["image"].image(), sent.files["mask"].image()
    assert (image.format, image.size) == ("PNG", (1024, 1024))
    assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(request.image))
    assert (mask.format, mask.mode, mask.size) == ("PNG", "RGBA", (1024, 1024))
    expected_alpha = np.where(repainted(soft_mask(1024, 1024)), 0, 255)
    assert np.array_equal(np.asarray(mask.getchannel("A")), expected_alpha)
    assert (result.mode, result.size) == ("RGB", (1024, 1024))


def test_the_answer_is_the_fakes_picture(fake_openai):
    request = make_request()

    result = np.asarray(OpenAIEngine().inpaint(request).image)

    painted = repainted(soft_mask(1024, 1024))
    assert (result[painted] == fake_openai.fill).all()
    assert np.array_equal(result[~painted], np.asarray(request.image)[~painted])


def test_the_model_comes_from_the_setting(fake_openai, settings):
    settings.OPENAI_IMAGE_MODEL = "gpt-image-2"

    OpenAIEngine().inpaint(make_request()).image

    assert fake_openai.edits[0].fields["model"] == "gpt-image-2"
    assert "response_format" not in fake_openai.edits[0].fields


def test_dall_e_2_is_asked_for_base64(fake_openai, settings):
    settings.OPENAI_IMAGE_MODEL = "dall-e-2"

    result = OpenAIEngine().inpaint(make_request()).image

    (sent,) = fake_openai.edits
    assert sent.fields["model"] == "dall-e-2"
    assert sent.fields["response_format"] == "b64_json"
    assert sent.fields["size"] == "1024x1024"
    assert result.size == (1024, 1024)
    assert [request.method for request in fake_openai.requests] == ["POST"]


def test_a_url_answer_is_downloaded(fake_openai, settings):
    settings.OPENAI_IMAGE_MODEL = "dall-e-2"
    fake_openai.answer("url")

    result = np.asarray(OpenAIEngine().inpaint(make_request()).image)

    assert [request.method for request in fake_openai.requests] == ["POST", "GET"]
    assert (result[repainted(soft_mask(1024, 1024))] == fake_openai.fill).all()


def test_an_expired_url_is_a_retryable_error(fake_openai):
    fake_openai.answer("url_expired")

    with pytest.raises(EngineError) as raised:
        OpenAIEngine().inpaint(make_request()).image

    assert raised.value.retryable
    assert "could not be fetched" in str(raised.value)


# --- Sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crop", "expected"),
    [((512, 512), (1024, 1024)), ((900, 600), (1536, 1024)), ((600, 900), (1024, 1536)),
     ((1100, 1000), (1024, 1024)), ((2000, 500), (1536, 1024))],
)
def test_gpt_image_models_paint_at_the_closest_accepted_aspect(settings, crop, expected):
    settings.OPENAI_IMAGE_MODEL = "gpt-image-1"
    assert OpenAIEngine().target_size(*crop) == expected


@pytest.mark.parametrize("crop", [(512, 512), (900, 600), (600, 900)])
def test_dall_e_2_paints_squares(settings, crop):
    settings.OPENAI_IMAGE_MODEL = "dall-e-2"
    assert OpenAIEngine().target_size(*crop) == (1024, 1024)


def test_closest_size_compares_aspect_ratios_not_differences():
    # 1.2 is nearer 1.5 than 1.0 by difference, but nearer 1.0 as a ratio (1.2 < sqrt(1.5)).
    assert closest_size(120, 100, ((1024, 1024), (1536, 1024))) == (1024, 1024)
    assert closest_size(125, 100, ((1024, 1024), (1536, 1024))) == (1536, 1024)


def test_a_crop_of_another_size_is_sent_at_an_accepted_size_and_returned_at_its_own(fake_openai):
    request = make_request(300, 200)

    result = OpenAIEngine().inpaint(request).image

    sent = fake_openai.edits[0]
    assert sent.fields["size"] == "1536x1024"
    assert sent.files["image"].image().size == (1536, 1024)
    assert sent.files["mask"].image().size == (1536, 1024)
    assert result.size == (300, 200)


# --- Failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "kind", "retryable", "says"),
    [
        ("unauthorized", EngineUnavailable, False, "OPENAI_API_KEY"),
        ("insufficient_quota", EngineUnavailable, False, "credit is used up"),
        ("rate_limited", EngineError, True, "busy"),
        ("moderation_blocked", EngineError, False, "safety system declined"),
        ("content_policy_violation", EngineError, False, "safety system declined"),
        ("organization_unverified", EngineUnavailable, False, "may not use the model"),
        ("model_not_found", EngineUnavailable, False, "“gpt-image-1” is not available"),
        ("invalid_model", EngineUnavailable, False, "OPENAI_IMAGE_MODEL"),
        ("server_error", EngineError, True, "try again later"),
    ],
)
def test_api_errors_become_readable_engine_errors(fake_openai, scenario, kind, retryable, says):
    fake_openai.answer(scenario)

    with pytest.raises(EngineError) as raised:
        OpenAIEngine().inpaint(make_request()).image

    assert type(raised.value) is kind
    assert raised.value.retryable is retryable
    assert says in str(raised.value)
    assert len(fake_openai.edits) == 1


def test_a_wrong_address_names_the_setting(fake_openai, settings):
    settings.OPENAI_BASE_URL = f"{fake_openai.root_url}/not-the-api"

    with pytest.raises(EngineUnavailable) as raised:
        OpenAIEngine().inpaint(make_request()).image

    assert "OPENAI_BASE_URL" in str(raised.value)
    assert [request.path for request in fake_openai.requests] == ["/not-the-api/images/edits"]


def test_a_refused_key_never_appears_in_the_message_or_the_logs(fake_openai, settings, caplog):
    wrong_key = "sk-proj-wrongKEY0123456789"
    settings.OPENAI_API_KEY = wrong_key
    caplog.set_level(logging.DEBUG)

    with pytest.raises(EngineUnavailable) as raised:
        OpenAIEngine().inpaint(make_request()).image

    assert fake_openai.edits[0].headers["authorization"] == f"Bearer {wrong_key}"
    assert wrong_key not in str(raised.value)
    assert "refused the API key" in str(raised.value)
    assert "AuthenticationError" in caplog.text
    assert wrong_key not in caplog.text
    assert "sk-te****" not in caplog.text  # even the API's masked quote is redacted


def test_rate_limits_are_retried_by_the_client(fake_openai, settings):
    settings.OPENAI_MAX_RETRIES = 1
    fake_openai.answer("rate_limited", "success")

    result = OpenAIEngine().inpaint(make_request()).image

    assert len(fake_openai.edits) == 2
    assert result.size == (1024, 1024)


def test_retries_stop_at_the_setting(fake_openai, settings):
    settings.OPENAI_MAX_RETRIES = 2
    fake_openai.answer("rate_limited")

    with pytest.raises(EngineError) as raised:
        OpenAIEngine().inpaint(make_request()).image

    assert raised.value.retryable
    assert len(fake_openai.edits) == 3


def test_a_slow_answer_times_out_as_a_retryable_error(fake_openai, settings):
    settings.OPENAI_TIMEOUT = 0.5
    fake_openai.answer("slow")
    fake_openai.delay = 30.0

    with pytest.raises(EngineError) as raised:
        OpenAIEngine().inpaint(make_request()).image

    assert type(raised.value) is EngineError
    assert raised.value.retryable
    assert "did not answer in time" in str(raised.value)
    assert len(fake_openai.edits) == 1


def test_an_unreachable_service_is_a_retryable_error(fake_openai, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{closed_port}/v1"

    with pytest.raises(EngineError) as raised:
        OpenAIEngine().inpaint(make_request()).image

    assert raised.value.retryable
    assert "could not be reached" in str(raised.value)


# --- Status, progress, cancelling, the client ------------------------------------------------


def test_without_a_key_the_engine_is_unusable_and_asks_nothing(fake_openai, settings):
    settings.OPENAI_API_KEY = ""
    engine = OpenAIEngine()

    status = engine.status()
    with pytest.raises(EngineUnavailable) as raised:
        engine.inpaint(make_request()).image

    assert not status.usable
    assert "no API key configured" in status.reason
    assert "no API key configured" in str(raised.value)
    assert fake_openai.requests == []


def test_with_a_key_the_engine_is_usable_without_asking_the_api(fake_openai):
    status = OpenAIEngine().status()

    assert (status.name, status.usable, status.reason) == ("openai", True, "")
    assert fake_openai.requests == []


def test_progress_is_reported_when_sending_and_when_done(fake_openai):
    steps = []

    OpenAIEngine().inpaint(make_request(), progress=lambda *step: steps.append(step)).image

    assert steps == [(0, 1, None), (1, 1, None)]


def test_a_job_cancelled_before_sending_sends_nothing(fake_openai):
    steps = []

    with pytest.raises(Cancelled):
        OpenAIEngine().inpaint(
            make_request(), progress=lambda *step: steps.append(step), should_cancel=lambda: True
        ).image

    assert fake_openai.requests == []
    assert steps == []


def test_a_job_cancelled_while_waiting_drops_the_answer(fake_openai):
    checks = iter([False, True])

    with pytest.raises(Cancelled):
        OpenAIEngine().inpaint(make_request(), should_cancel=lambda: next(checks)).image

    assert len(fake_openai.edits) == 1


def test_the_client_is_created_once_with_the_settings(fake_openai, settings):
    settings.OPENAI_TIMEOUT = 12.5
    settings.OPENAI_MAX_RETRIES = 3
    engine = OpenAIEngine()

    client = engine.client()

    assert engine.client() is client
    assert client.timeout == 12.5
    assert client.max_retries == 3
    assert str(client.base_url).rstrip("/") == fake_openai.base_url


# --- Through the pipeline ----------------------------------------------------------------------


def test_the_pipeline_repaints_only_the_painted_region(fake_openai, settings):
    from inpainting_core.generation import GenerationSettings
    from inpainting_core.pipeline import generate

    settings.OLPE_FEATHER_PX = 4
    picture = gradient_picture(640, 480)
    mask = np.zeros((480, 640), np.float32)
    mask[180:300, 250:420] = 1.0

    wish = "Was wäre, wenn hier ein See wäre?"

    result = generate(picture, mask, wish, GenerationSettings(engine="openai"))

    (sent,) = fake_openai.edits
    assert sent.fields["prompt"] == result.prompt.final
    assert sent.fields["model"] == "gpt-image-1"
    pixels, original = np.asarray(result.image), np.asarray(picture)
    outside = np.ones_like(mask, bool)
    outside[180 - 8 : 300 + 8, 250 - 8 : 420 + 8] = False
    assert np.array_equal(pixels[outside], original[outside])
    core = pixels[190:290, 260:410].astype(int)
    assert np.abs(core - fake_openai.fill).max() <= 2
