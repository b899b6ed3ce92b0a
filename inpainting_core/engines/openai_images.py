"""The OpenAI engine: the painted region is repainted by OpenAI's image edit API.

The crop goes up as a PNG together with a mask PNG whose transparent pixels
mark the region to repaint; the answer is the repainted crop. The pipeline
then composites it into the map like any other engine's picture, so pixels
outside the painted region stay exactly as they were even though GPT image
models re-render the whole picture they are given.

Model families differ in what they accept and how they answer:

* GPT image models (`gpt-image-*`, `chatgpt-image-latest`) paint at 1024x1024,
  1536x1024 or 1024x1536 and always answer base64. They reject
  `response_format`, so it is never sent to them.
* `dall-e-2` (retired by OpenAI, still selectable for accounts that have it)
  paints square pictures only and answers with a URL unless asked for
  `b64_json`, which this engine always asks for. A URL answer (a proxy, an
  older deployment) is still understood and downloaded.

The model is always sent explicitly (`OPENAI_IMAGE_MODEL`): the client
library's default has changed between versions, and a silent change of model
would change prices and pictures.

The API has no negative prompt, seed, steps or guidance; those fields of the
request are not used, and the same wish may give a different picture each time.

Waiting is bounded: OPENAI_TIMEOUT limits each network wait (connecting, and
each read while the model paints) and the client retries rate limits, server
errors and timeouts at most OPENAI_MAX_RETRIES times, so a job waits at most
about (OPENAI_MAX_RETRIES + 1) x OPENAI_TIMEOUT plus short back-offs. An HTTP
call cannot be interrupted halfway, so a cancel request is honoured before
the picture is sent and again when the answer arrives.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import math
import re
import threading
from typing import Optional

import httpx2
import numpy as np
import openai
from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from inpainting_core.engines import LABELS, OPENAI
from inpainting_core.masks import PAINTED

from .base import (
    CancelCheck,
    Engine,
    EngineError,
    EngineRequest,
    EngineResult,
    EngineStatus,
    EngineUnavailable,
    ProgressCallback,
    check_cancel,
)

logger = logging.getLogger(__name__)

# Every GPT image model accepts these; newer ones accept more, but a size
# every model takes keeps a change of OPENAI_IMAGE_MODEL from breaking jobs.
GPT_IMAGE_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
# dall-e-2 paints squares of 256, 512 or 1024 pixels; the largest looks best on a map.
LEGACY_SIZES = ((1024, 1024),)
LEGACY_MODEL_PREFIX = "dall-e"
LEGACY_PROMPT_LIMIT = 1000

# Mask levels at or above this are repainted by the API (alpha 0). It matches
# the compositor's painted core (masks.PAINTED), so every pixel the map takes
# wholly from the answer was repainted; in the feathered band below it the
# API keeps the original, which then blends into the map without a seam.
REPAINT_LEVEL = math.ceil(PAINTED * 255)

# Fetching an answer given as a URL is a plain download: it gets a shorter
# limit than the generation itself, and a size cap against a runaway body.
DOWNLOAD_TIMEOUT_S = 15.0
DOWNLOAD_MAX_BYTES = 64 * 1024 * 1024

SAFETY_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})
MODEL_CODES = frozenset({"model_not_found", "invalid_model"})
# Anything shaped like an OpenAI key, also the partly masked form API errors quote.
KEY_PATTERN = re.compile(r"\b(?:sk|sess)-[A-Za-z0-9_*\-]{4,}")


def _interpolate(template, params) -> str:
    return str(template) % params


# Translated in the language active when the message is shown, not when raised.
_lazy_interpolate = lazy(_interpolate, str)


def is_legacy_model(model: str) -> bool:
    return model.startswith(LEGACY_MODEL_PREFIX)


def accepted_sizes(model: str) -> tuple[tuple[int, int], ...]:
    return LEGACY_SIZES if is_legacy_model(model) else GPT_IMAGE_SIZES


def closest_size(width: int, height: int, sizes) -> tuple[int, int]:
    """The size whose aspect ratio is closest to width:height (compared as log ratios)."""
    aspect = math.log(width / height)
    return min(sizes, key=lambda size: abs(math.log(size[0] / size[1]) - aspect))


def image_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    (image if image.mode == "RGB" else image.convert("RGB")).save(buffer, format="PNG")
    return buffer.getvalue()


def mask_png(mask: Image.Image) -> bytes:
    """The API's mask: fully transparent where to repaint, opaque elsewhere.

    The colour channels carry nothing, so they are left black: the mask then
    compresses to a few kilobytes, far below the API's 4 MB limit for masks.
    """
    levels = np.asarray(mask.convert("L"))
    rgba = np.zeros((*levels.shape, 4), np.uint8)
    rgba[..., 3] = np.where(levels >= REPAINT_LEVEL, 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def redact(text: str, api_key: str) -> str:
    """Remove the API key (and anything shaped like a key) before text is logged."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return KEY_PATTERN.sub("[redacted]", text)


class OpenAIEngine(Engine):
    name = OPENAI
    label = LABELS[OPENAI]

    def __init__(self):
        self._client: Optional[openai.OpenAI] = None
        self._client_lock = threading.Lock()

    # --- Engine interface -----------------------------------------------------------

    def status(self) -> EngineStatus:
        """Usable when a key and a model are configured; asks the API nothing."""
        reason = self._unusable_reason()
        return self._unusable(reason) if reason else self._usable()

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """The accepted size of the configured model nearest the crop's aspect."""
        return closest_size(width, height, accepted_sizes(self._model))

    def inpaint(
        self,
        request: EngineRequest,
        progress: Optional[ProgressCallback] = None,
        should_cancel: Optional[CancelCheck] = None,
    ) -> EngineResult:
        reason = self._unusable_reason()
        if reason:
            raise EngineUnavailable(reason)
        model = self._model
        size = self.target_size(*request.image.size)
        image, mask = self._at_size(request, size)
        check_cancel(should_cancel)
        _report(progress, 0)
        answer = self._edit(model, image, mask, request.prompt, size)
        check_cancel(should_cancel)
        picture = self._picture(answer)
        _report(progress, 1)
        if picture.size != request.image.size:
            picture = picture.resize(request.image.size, Image.Resampling.LANCZOS)
        return EngineResult(picture)

    # --- Settings and client --------------------------------------------------------

    @property
    def _api_key(self) -> str:
        return settings.OPENAI_API_KEY or ""

    @property
    def _model(self) -> str:
        return settings.OPENAI_IMAGE_MODEL or ""

    def _unusable_reason(self):
        if not self._api_key:
            return _("no API key configured (OPENAI_API_KEY)")
        if not self._model:
            return _("no image model configured (OPENAI_IMAGE_MODEL)")
        return None

    def client(self) -> openai.OpenAI:
        """One client per engine: it keeps its connection pool between jobs.

        Its key, address, timeout and retries are read once; after changing them,
        `inpainting_core.engines.reset()` makes the next job build a new client.
        """
        with self._client_lock:
            if self._client is None:
                self._client = openai.OpenAI(
                    api_key=self._api_key,
                    base_url=settings.OPENAI_BASE_URL or None,  # None: OpenAI's own address
                    timeout=settings.OPENAI_TIMEOUT,
                    max_retries=settings.OPENAI_MAX_RETRIES,
                )
            return self._client

    # --- One edit -------------------------------------------------------------------

    @staticmethod
    def _at_size(request: EngineRequest, size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
        """The pipeline already sends crops at target_size; a direct caller may not."""
        if request.image.size == size:
            return request.image, request.mask
        return (
            request.image.resize(size, Image.Resampling.LANCZOS),
            request.mask.convert("L").resize(size, Image.Resampling.BILINEAR),
        )

    def _edit(self, model: str, image, mask, prompt: str, size: tuple[int, int]):
        params = {
            "model": model,
            "image": ("crop.png", image_png(image), "image/png"),
            "mask": ("mask.png", mask_png(mask), "image/png"),
            "prompt": prompt,
            "n": 1,
            "size": f"{size[0]}x{size[1]}",
        }
        if is_legacy_model(model):
            params["prompt"] = prompt[:LEGACY_PROMPT_LIMIT]
            params["response_format"] = "b64_json"
        try:
            return self.client().images.edit(**params)
        except openai.APIError as error:
            self._log_failure(error)
            raise engine_error(error, model) from None

    def _picture(self, answer) -> Image.Image:
        if not answer.data:
            raise EngineError(_("The image service answered without a picture."), retryable=True)
        image = answer.data[0]
        if image.b64_json:
            data = _decode_base64(image.b64_json)
        elif image.url:
            data = self._download(image.url)
        else:
            raise EngineError(_("The image service answered without a picture."), retryable=True)
        return _open_picture(data)

    def _download(self, url: str) -> bytes:
        if not url.startswith(("https://", "http://")):
            raise EngineError(_("The image service answered with an unusable address."))
        timeout = min(DOWNLOAD_TIMEOUT_S, settings.OPENAI_TIMEOUT)
        try:
            with httpx2.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
                response.raise_for_status()
                return _read_capped(response)
        except httpx2.HTTPError as error:
            logger.warning("Downloading the OpenAI answer failed: %s", type(error).__name__)
            raise EngineError(
                _("The finished picture could not be fetched from the image service."),
                retryable=True,
            ) from None

    def _log_failure(self, error: openai.APIError) -> None:
        status = getattr(error, "status_code", None)
        logger.warning(
            "OpenAI image edit failed: %s (status %s, code %s, request %s): %s",
            type(error).__name__,
            status,
            error.code,
            getattr(error, "request_id", None),
            redact(str(error.message), self._api_key),
        )


def engine_error(error: openai.APIError, model: str) -> EngineError:
    """A translated, key-free explanation of a failed API call, and whether to retry.

    Account problems (key, credit, model) come before busy signals: OpenAI
    answers an exhausted credit with the same 429 as a rate limit, and only
    the rate limit passes by itself.
    """
    return (
        _network_error(error)
        or _account_error(error, model)
        or _refusal(error)
        or EngineError(_("The image service could not repaint this region."))
    )


def _network_error(error: openai.APIError) -> Optional[EngineError]:
    if isinstance(error, openai.APITimeoutError):
        message = _("The image service did not answer in time. Please try again.")
    elif isinstance(error, openai.APIConnectionError):
        message = _("The image service could not be reached. Please try again.")
    elif isinstance(error, openai.InternalServerError):
        message = _("The image service has a problem right now. Please try again later.")
    else:
        return None
    return EngineError(message, retryable=True)


def _account_error(error: openai.APIError, model: str) -> Optional[EngineUnavailable]:
    """Failures no retry can mend: staff must change a setting or the account."""
    if isinstance(error, openai.AuthenticationError):
        message = _(
            "The image service refused the API key. Staff: check the OPENAI_API_KEY setting."
        )
    elif error.code in QUOTA_CODES or error.type in QUOTA_CODES:
        message = _(
            "The image service's credit is used up. Staff: check the OpenAI account's billing."
        )
    elif _names_bad_model(error):
        message = _lazy_interpolate(
            _(
                "The model “%(model)s” is not available to this OpenAI account. "
                "Staff: choose another one in the OPENAI_IMAGE_MODEL setting."
            ),
            {"model": model},
        )
    elif isinstance(error, openai.PermissionDeniedError):
        message = _lazy_interpolate(
            _(
                "This OpenAI account may not use the model “%(model)s”. "
                "Staff: check the account's access or the OPENAI_IMAGE_MODEL setting."
            ),
            {"model": model},
        )
    elif isinstance(error, openai.NotFoundError):
        message = _("The image service was not found. Staff: check the OPENAI_BASE_URL setting.")
    else:
        return None
    return EngineUnavailable(message)


def _refusal(error: openai.APIError) -> Optional[EngineError]:
    """The service declined this one request: because it is busy, or because of the wish."""
    if isinstance(error, openai.RateLimitError):
        return EngineError(
            _("The image service is busy right now. Please try again in a moment."), retryable=True
        )
    if error.code in SAFETY_CODES:
        return EngineError(
            _(
                "The image service's safety system declined this wish. "
                "Please try a different wish or paint a different region."
            )
        )
    return None


def _names_bad_model(error: openai.APIError) -> bool:
    """404 model_not_found, or a 400 that blames the `model` parameter (a retired model)."""
    if error.code in MODEL_CODES:
        return True
    return isinstance(error, openai.BadRequestError) and error.param == "model"


def _report(progress: Optional[ProgressCallback], step: int) -> None:
    if progress is not None:
        progress(step, 1, None)


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _damaged_picture() from None


def _read_capped(response: httpx2.Response) -> bytes:
    chunks, total = [], 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > DOWNLOAD_MAX_BYTES:
            raise _damaged_picture()
        chunks.append(chunk)
    return b"".join(chunks)


def _open_picture(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as picture:
            return picture.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise _damaged_picture() from None


def _damaged_picture() -> EngineError:
    return EngineError(_("The image service answered with a damaged picture."), retryable=True)
