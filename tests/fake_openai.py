"""A local stand-in for OpenAI's image edit API, for tests that use the real client.

`FakeOpenAI` is a real HTTP server on 127.0.0.1 that speaks the API's protocol
for `POST /v1/images/edits`: it reads the multipart form the client sends,
records every request (headers, form fields, files), checks the request the
way the API does (the key, a PNG image, a mask PNG with alpha of the same
size, no `response_format` for GPT image models) and answers in the API's
shapes: a base64 picture, a URL it then serves itself, or an error body
`{"error": {"message", "type", "code", "param"}}` with the API's status code.

Its picture is the uploaded image with the mask's transparent part filled
with one flat colour (`FakeOpenAI.fill`), scaled to the requested size, so a
test can tell exactly which pixels came from the "model".

Scenarios (`FakeOpenAI.answer`): "success" follows the protocol (base64 for
GPT image models; for dall-e-2 a URL unless `response_format=b64_json`);
"b64_json" and "url" force that shape; "url_expired" answers a URL that is
gone; "slow" answers successfully after `FakeOpenAI.delay` seconds; the rest
are the API's errors, listed in ERRORS. A request with the wrong key gets the
API's 401 whatever the scenario.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

import numpy as np
import pytest
from PIL import Image

TEST_API_KEY = "sk-test-olpe-0123456789abcdef"
EDITS_PATH = "/v1/images/edits"
FILES_PREFIX = "/files/"
GPT_IMAGE_REJECTS = ("response_format",)


@dataclass(frozen=True)
class ApiError:
    status: int
    message: str
    type: str
    code: Optional[str]
    param: Optional[str] = None
    headers: tuple[tuple[str, str], ...] = ()


ERRORS = {
    "unauthorized": ApiError(
        401,
        "Incorrect API key provided: sk-te****cdef. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    "insufficient_quota": ApiError(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    ),
    # retry-after-ms keeps the client's retries in tests to milliseconds.
    "rate_limited": ApiError(
        429,
        "Rate limit reached for images per minute: Limit 5, Used 5, Requested 1.",
        "requests",
        "rate_limit_exceeded",
        headers=(("retry-after-ms", "10"),),
    ),
    "moderation_blocked": ApiError(
        400,
        "Your request was rejected by the safety system.",
        "image_generation_user_error",
        "moderation_blocked",
    ),
    "content_policy_violation": ApiError(
        400,
        "Your request was rejected as a result of our safety system.",
        "invalid_request_error",
        "content_policy_violation",
    ),
    "organization_unverified": ApiError(
        403,
        "Your organization must be verified to use this model.",
        "invalid_request_error",
        None,
    ),
    "model_not_found": ApiError(
        404,
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    "invalid_model": ApiError(
        400,
        "Invalid value for 'model'. Supported values are: 'gpt-image-1.5', 'gpt-image-2'.",
        "invalid_request_error",
        "invalid_value",
        "model",
    ),
    "server_error": ApiError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
        headers=(("retry-after-ms", "10"),),
    ),
}
SUCCESS_SCENARIOS = ("success", "b64_json", "url", "url_expired", "slow")


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes

    def image(self) -> Image.Image:
        picture = Image.open(io.BytesIO(self.data))
        picture.load()
        return picture


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


class BadForm(ValueError):
    """The body is not the multipart form the endpoint expects."""


Form = tuple[dict[str, str], dict[str, UploadedFile]]


def parse_multipart(content_type: str, body: bytes) -> Form:
    """Split a multipart/form-data body into text fields and files, with the email parser."""
    if not content_type.startswith("multipart/form-data"):
        raise BadForm(f"expected multipart/form-data, got {content_type!r}")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise BadForm(f"unreadable multipart body: {message.defects}")
    fields, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise BadForm("a part has no name")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode("utf-8")
        else:
            files[name] = UploadedFile(filename, part.get_content_type(), data)
    return fields, files


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


class FakeOpenAI:
    """The server, its scenario queue and what it has received."""

    def __init__(self, api_key: str = TEST_API_KEY, fill: tuple[int, int, int] = (230, 20, 200)):
        self.api_key = api_key
        self.fill = fill
        self.delay = 5.0
        self.requests: list[RecordedRequest] = []
        self._scenarios: deque[str] = deque(["success"])
        self._files: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # --- Life cycle -------------------------------------------------------------------

    def start(self) -> "FakeOpenAI":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        # A short poll interval lets stop() return at once instead of after half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases "slow" answers still waiting
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    # --- Scenarios and records ------------------------------------------------------

    def answer(self, *scenarios: str) -> None:
        """Answer the next requests with these scenarios in turn; the last one then stays."""
        unknown = set(scenarios) - set(ERRORS) - set(SUCCESS_SCENARIOS)
        if unknown or not scenarios:
            raise ValueError(f"unknown scenarios: {sorted(unknown)}")
        with self._lock:
            self._scenarios = deque(scenarios)

    @property
    def edits(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == EDITS_PATH]

    def _next_scenario(self) -> str:
        with self._lock:
            return self._scenarios.popleft() if len(self._scenarios) > 1 else self._scenarios[0]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _store_file(self, data: bytes) -> str:
        with self._lock:
            name = f"img-{next(self._ids)}.png"
            self._files[name] = data
        return f"{self.root_url}{FILES_PREFIX}{name}"

    def _file(self, name: str) -> Optional[bytes]:
        with self._lock:
            return self._files.get(name)

    # --- The endpoint -----------------------------------------------------------------

    def handle_edit(self, request: RecordedRequest) -> tuple[int, dict, tuple]:
        """(status, JSON body, extra headers) for one edit request."""
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(ERRORS["unauthorized"])
        scenario = self._next_scenario()
        if scenario in ERRORS:
            return _error(ERRORS[scenario])
        problem = _protocol_problem(request)
        if problem is not None:
            return _error(problem)
        if scenario == "slow":
            self._stopping.wait(self.delay)
        picture = png_bytes(self._paint(request))
        return HTTPStatus.OK, self._images_response(request, scenario, picture), ()

    def _paint(self, request: RecordedRequest) -> Image.Image:
        image = request.files["image"].image().convert("RGB")
        alpha = np.asarray(request.files["mask"].image().getchannel("A"))
        pixels = np.asarray(image).copy()
        pixels[alpha == 0] = self.fill
        painted = Image.fromarray(pixels)
        size = request.fields.get("size", "auto")
        if size != "auto":
            width, height = (int(side) for side in size.split("x"))
            painted = painted.resize((width, height), Image.Resampling.BILINEAR)
        return painted

    def _images_response(self, request: RecordedRequest, scenario: str, picture: bytes) -> dict:
        if scenario == "url_expired":
            entry = {"url": f"{self.root_url}{FILES_PREFIX}expired.png"}
        elif scenario == "url" or (scenario == "success" and _answers_url(request)):
            entry = {"url": self._store_file(picture)}
        else:
            entry = {"b64_json": base64.b64encode(picture).decode("ascii")}
        return {"created": int(time.time()), "data": [entry]}


def _answers_url(request: RecordedRequest) -> bool:
    """dall-e models answer a URL unless asked for base64; GPT image models never do."""
    model = request.fields.get("model", "dall-e-2")
    return model.startswith("dall-e") and request.fields.get("response_format", "url") == "url"


def _protocol_problem(request: RecordedRequest) -> Optional[ApiError]:
    """What the API would refuse in this request, if anything."""
    if not request.fields.get("prompt"):
        return _missing("prompt")
    model = request.fields.get("model", "")
    if not model.startswith("dall-e"):
        for name in GPT_IMAGE_REJECTS:
            if name in request.fields:
                return _invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    try:
        image = request.files["image"].image()
        mask = request.files["mask"].image()
    except KeyError as missing:
        return _missing(missing.args[0])
    except OSError:
        return _invalid("Invalid image file or mode.", "image", "invalid_image_format")
    if mask.format != "PNG" or "A" not in mask.getbands():
        return _invalid("Invalid mask: it must be a PNG with an alpha channel.", "mask")
    if mask.size != image.size:
        return _invalid("Invalid mask: it must have the same dimensions as the image.", "mask")
    return None


def _invalid(message: str, param: Optional[str], code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, "invalid_request_error", code, param)


def _missing(param: str) -> ApiError:
    return _invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _error(error: ApiError) -> tuple[int, dict, tuple]:
    details = {
        "message": error.message,
        "type": error.type,
        "code": error.code,
        "param": error.param,
    }
    return error.status, {"error": details}, error.headers


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeOpenAI/1.0"

    @property
    def fake(self) -> FakeOpenAI:
        return self.server.fake

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = self._record("POST")
        if self.path != EDITS_PATH:
            message = f"Invalid URL (POST {self.path})"
            return self._send_json(*_error(ApiError(404, message, "invalid_request_error", None)))
        try:
            content_type = self.headers.get("Content-Type", "")
            request.fields, request.files = parse_multipart(content_type, body)
        except BadForm as problem:
            return self._send_json(*_error(_invalid(f"Could not parse the form: {problem}", None)))
        self._send_json(*self.fake.handle_edit(request))

    def do_GET(self):
        self._record("GET")
        data = None
        if self.path.startswith(FILES_PREFIX):
            data = self.fake._file(self.path.removeprefix(FILES_PREFIX))
        if data is None:
            return self._send(HTTPStatus.NOT_FOUND, b"Not found", "text/plain")
        self._send(HTTPStatus.OK, data, "image/png")

    def _record(self, method: str) -> RecordedRequest:
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = RecordedRequest(method, self.path, headers)
        self.fake._record(request)
        return request

    def _send_json(self, status: int, body: dict, headers=()) -> None:
        request_id = f"req_fake{len(self.fake.requests)}"
        self._send(status, json.dumps(body).encode(), "application/json",
                   (("x-request-id", request_id), *headers))

    def _send(self, status: int, data: bytes, content_type: str, headers=()) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass  # keep test output clean; the requests are recorded instead


@pytest.fixture
def fake_openai(settings, reset_engines):
    """A started fake, with settings pointing the engine at it (no retries, short timeout)."""
    fake = FakeOpenAI().start()
    settings.OPENAI_API_KEY = fake.api_key
    settings.OPENAI_BASE_URL = fake.base_url
    settings.OPENAI_IMAGE_MODEL = "gpt-image-1"
    settings.OPENAI_TIMEOUT = 10.0
    settings.OPENAI_MAX_RETRIES = 0
    yield fake
    fake.stop()
