"""`manage.py olpe_client`: send a wish to a running platform and save the result.

The prototype's test client, grown up. It speaks to a server over HTTP only,
exactly like any other client: it submits over the REST API, follows the job
live over its websocket (or, when that fails, by reading the job every
second), shows the queue position and the steps, and saves the picture.
`--legacy` speaks the prototype's one-request contract instead.

Only the standard library speaks HTTP here; the websocket needs the
`websockets` package and is skipped without it.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import mimetypes
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin, urlsplit, urlunsplit

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inpainting_core import engines
from inpainting_core.engines import ENGINE_NAMES

JOBS_PATH = "api/v1/jobs/"
LEGACY_PATH = "inpainting/"
LEGACY_MODELS = {engines.OWN_MODEL: 0, engines.OPENAI: 1}  # the prototype's model numbers
TERMINAL = ("succeeded", "failed", "cancelled")
POLL_SECONDS = 1.0


class ServerUnreachable(Exception):
    pass


class WatchFailed(Exception):
    """The websocket could not deliver the job's end; the caller falls back to polling."""


# --- HTTP ------------------------------------------------------------------------------


class HttpAnswer:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OlpeServer:
    """The few requests the client makes, with the token and language on each."""

    def __init__(self, base_url: str, *, token: str = "", language: str = "en"):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CommandError(f"--server must be an http(s) URL, not “{base_url}”.")
        self.base_url = base_url.rstrip("/") + "/"
        self.host = parts.hostname
        self.headers = {"Accept-Language": language, "User-Agent": "olpe_client"}
        if token:
            self.headers["Authorization"] = f"Token {token}"
        # A proxy from the environment must not swallow requests to this machine.
        handlers = [urllib.request.ProxyHandler({})] if is_loopback(self.host) else []
        self.opener = urllib.request.build_opener(*handlers)

    def url(self, path: str) -> str:
        """`path` relative to the server (API paths) or absolute (URLs the server gave)."""
        return urljoin(self.base_url, path)

    def websocket_url(self, path: str) -> str:
        parts = urlsplit(self.url(path))
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def request(self, method: str, path: str, *, body: bytes | None = None,
                content_type: str | None = None, timeout: float = 60) -> HttpAnswer:
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url(path), data=body, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=timeout) as answer:
                return HttpAnswer(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return HttpAnswer(error.code, error.headers, error.read())
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ServerUnreachable(
                f"Cannot reach the server at {self.base_url}: {reason}"
            ) from error


def multipart_body(fields: dict[str, str], files: dict[str, Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8") + b"\r\n"
        )
    for name, path in files.items():
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{path.name}"\r\nContent-Type: {media_type}\r\n\r\n'.encode()
            + path.read_bytes() + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def data_url(path: Path) -> str:
    """A picture as the prototype's frontend sent it (canvas.toDataURL)."""
    media_type = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{media_type};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def refusal(answer: HttpAnswer) -> str:
    """A readable explanation of an error answer: field messages line by line."""
    payload = answer.json()
    if answer.status == 429:
        wait = answer.headers.get("Retry-After")
        return "Too many requests" + (f"; try again in {wait} s." if wait else ".")
    if isinstance(payload, dict) and set(payload) - {"detail", "status"}:
        lines = [f"  {field}: {' '.join(map(str, as_list(messages)))}"
                 for field, messages in payload.items()]
        return "The server refused the wish:\n" + "\n".join(lines)
    if isinstance(payload, dict) and "detail" in payload:
        return f"The server answered {answer.status}: {payload['detail']}"
    return f"The server answered {answer.status} {answer.content_type or ''}".rstrip()


# --- following a job -----------------------------------------------------------------


class ProgressDisplay:
    """A tqdm bar that shows the queue position while waiting and the steps while running."""

    def __init__(self, stream):
        self.bar = tqdm(desc="sent", unit="step", file=stream, leave=True)

    def show(self, status: str, *, position: int = 0, step: int = 0, total: int = 0):
        if status == "queued":
            self.bar.set_description_str(f"queued, position {position}" if position else "queued")
        else:
            self.bar.set_description_str(status)
        if total:
            self.bar.total = total
            self.bar.n = min(step, total)
        self.bar.refresh()

    def show_state(self, state: dict):
        progress = state.get("progress") or {}
        self.show(state["status"], position=state.get("position") or 0,
                  step=progress.get("step", 0), total=progress.get("total", 0))

    def show_event(self, message: dict):
        kind = message.get("type")
        if kind == "queued":
            self.show("queued", position=message.get("position") or 0)
        elif kind in ("started", "progress"):
            self.show("running", step=message.get("step", 0), total=message.get("total", 0))
        elif kind == "succeeded":  # the last progress event may have been skipped
            self.show(kind, step=self.bar.total or 0, total=self.bar.total or 0)
        elif kind in TERMINAL:
            self.show(kind)

    def close(self):
        self.bar.close()


async def watch_websocket(url: str, origin: str, on_message: Callable[[dict], None],
                          timeout: float, use_proxy: bool, token: str = "") -> dict:
    """Relay the job's events until the terminal one; WatchFailed if the socket lets us down.

    With an API token the socket is opened as what this client is, a program
    with a token (no Origin); without one it presents the server's own origin,
    as the kiosk page would.
    """
    try:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException
    except ImportError as error:
        raise WatchFailed("the websockets package is not installed") from error
    # The overall timeout is outside the `try`: its TimeoutError is an OSError too,
    # but it ends the wait instead of falling back to polling.
    async with asyncio.timeout(timeout):
        try:
            who = ({"additional_headers": {"Authorization": f"Token {token}"}} if token
                   else {"origin": origin})
            async with connect(url, open_timeout=10, proxy=True if use_proxy else None,
                               **who) as socket:
                async for raw in socket:
                    message = json.loads(raw)
                    on_message(message)
                    if message.get("type") in TERMINAL:
                        return message
        except (OSError, WebSocketException, ValueError) as error:
            raise WatchFailed(str(error) or type(error).__name__) from error
    raise WatchFailed("the server closed the websocket before the job finished")


# --- the command -----------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Send a wish to a running platform (REST API, or the prototype's contract with "
        "--legacy), follow its progress and save the repainted map."
    )

    def add_arguments(self, parser):
        parser.add_argument("--server", default="http://127.0.0.1:8000", help="The platform's URL.")
        parser.add_argument("--image", required=True, type=Path, help="The map (PNG or JPEG).")
        parser.add_argument("--mask", required=True, type=Path,
                            help="Where to repaint: strokes on transparency, or white on black.")
        parser.add_argument("--prompt", required=True, help='The wish, e.g. "Ein See".')
        parser.add_argument("--out", required=True, type=Path, help="Where to write the PNG.")
        parser.add_argument("--engine", choices=ENGINE_NAMES, help="Default: the server's.")
        parser.add_argument("--style", help="A style preset of the server (GET /api/v1/styles/).")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--steps", type=int)
        parser.add_argument("--guidance", type=float)
        parser.add_argument("--strength", type=float)
        parser.add_argument("--token", default="", help="An API token of the platform.")
        parser.add_argument("--legacy", action="store_true",
                            help="Use the prototype's POST /inpainting/ contract.")
        parser.add_argument("--timeout", type=float, default=900.0,
                            help="Seconds to wait for the result (default 900).")
        parser.add_argument("--language", default="en", help="Language of the server's messages.")
        parser.add_argument("--no-websocket", action="store_true",
                            help="Follow the job by reading it every second instead.")

    def handle(self, *args, **options):
        for name in ("image", "mask"):
            if not options[name].is_file():
                raise CommandError(f"--{name}: no such file: {options[name]}")
        server = OlpeServer(options["server"], token=options["token"], language=options["language"])
        try:
            if options["legacy"]:
                picture = self._legacy(server, options)
            else:
                picture = self._via_api(server, options)
        except ServerUnreachable as error:
            raise CommandError(str(error)) from error
        options["out"].parent.mkdir(parents=True, exist_ok=True)
        options["out"].write_bytes(picture)
        self.stdout.write(self.style.SUCCESS(f"Wrote {options['out']}"))

    # --- REST API ---

    def _via_api(self, server: OlpeServer, options) -> bytes:
        state = self._submit(server, options)
        wish = state["prompts"]["original"]
        self.stdout.write(f"Job {state['id']} accepted ({state['engine']}, wish: {wish})")
        display = ProgressDisplay(self.stderr._out)
        try:
            state = self._follow(server, state, display, options)
        finally:
            display.close()
        if state.get("notice"):
            self.stdout.write(f"Notice: {state['notice']}")
        if state["status"] != "succeeded":
            reason = state.get("error") or state["status"]
            raise CommandError(f"The job {state['status']}: {reason}")
        answer = server.request("GET", state["result_url"])
        if answer.status != 200:
            raise CommandError(refusal(answer))
        return answer.body

    def _submit(self, server: OlpeServer, options) -> dict:
        fields = {"prompt": options["prompt"]}
        for name in ("engine", "style", "seed", "steps", "guidance", "strength"):
            if options[name] is not None:
                fields[name] = str(options[name])
        files = {"image": options["image"], "mask": options["mask"]}
        body, content_type = multipart_body(fields, files)
        answer = server.request("POST", JOBS_PATH, body=body, content_type=content_type)
        if answer.status != 202:
            raise CommandError(refusal(answer))
        return answer.json()

    def _follow(self, server: OlpeServer, state: dict, display: ProgressDisplay, options) -> dict:
        deadline = time.monotonic() + options["timeout"]
        display.show_state(state)
        if state["status"] in TERMINAL:
            return state
        if not options["no_websocket"]:
            try:
                asyncio.run(watch_websocket(
                    server.websocket_url(state["websocket_url"]), server.origin, display.show_event,
                    timeout=options["timeout"], use_proxy=not is_loopback(server.host),
                    token=options["token"],
                ))
                return self._read_state(server, state["url"])
            except WatchFailed as failure:
                display.bar.write(
                    f"Websocket unavailable ({failure}); reading the job every second."
                )
            except TimeoutError:
                raise CommandError(f"No result within {options['timeout']:.0f} s.") from None
        return self._poll(server, state["url"], display, deadline, options["timeout"])

    def _poll(self, server, url, display, deadline, timeout) -> dict:
        while True:
            answer = server.request("GET", url)
            pause = POLL_SECONDS
            if answer.status == 429:  # polling too fast for the server: wait as told
                pause = float(answer.headers.get("Retry-After") or POLL_SECONDS)
            elif answer.status != 200:
                raise CommandError(refusal(answer))
            else:
                state = answer.json()
                display.show_state(state)
                if state["status"] in TERMINAL:
                    return state
            if time.monotonic() + pause > deadline:
                raise CommandError(f"No result within {timeout:.0f} s.")
            time.sleep(pause)

    def _read_state(self, server: OlpeServer, url: str) -> dict:
        answer = server.request("GET", url)
        if answer.status != 200:
            raise CommandError(refusal(answer))
        return answer.json()

    # --- the prototype's contract ---

    def _legacy(self, server: OlpeServer, options) -> bytes:
        engine = options["engine"] or engines.OWN_MODEL
        if engine not in LEGACY_MODELS:
            raise CommandError(
                "--legacy knows only the engines diffusers (model 0) and openai (model 1)."
            )
        payload = {
            "prompt": options["prompt"],
            "image": data_url(options["image"]),
            "mask": data_url(options["mask"]),
            "model": LEGACY_MODELS[engine],
        }
        if options["guidance"] is not None:
            payload["guidance_scale"] = options["guidance"]
        self.stdout.write("Waiting for the picture (the legacy contract shows no progress) …")
        answer = server.request(
            "POST", LEGACY_PATH, body=json.dumps(payload).encode(),
            content_type="application/json", timeout=options["timeout"],
        )
        if answer.status != 200 or answer.content_type != "image/png":
            raise CommandError(refusal(answer))
        return answer.body
