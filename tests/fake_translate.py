"""A local stand-in for Google Translate's mobile page, which deep-translator scrapes.

deep-translator's GoogleTranslator sends `GET <base>?tl=en&sl=de&q=<text>` and
reads the text of `<div class="result-container">` from the HTML answer. This
server answers the same way from a small dictionary, counts the requests, and
can be told to fail (HTTP status), to answer garbage, or to hang until released,
so tests exercise the real client against every way the real page misbehaves.
"""

from __future__ import annotations

import html
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

OK = "ok"
HANG = "hang"
ERROR = "error"
GARBAGE = "garbage"

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Google Translate</title></head>
<body><div class="header">Google Translate</div>
<div class="result-container">{translation}</div>
</body></html>"""


class FakeGoogleTranslate:
    """Use as `with FakeGoogleTranslate({...}) as fake`; point OLPE_TRANSLATOR_URL at fake.url."""

    def __init__(self, translations: dict[str, str] | None = None, longest_hang: float = 30.0):
        self.translations = dict(translations or {})
        self.mode = OK
        self.error_status = 500
        self.longest_hang = longest_hang
        self.queries: list[dict[str, str]] = []
        self.hanging = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/m"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.queries)

    def release(self) -> None:
        """Let hanging requests answer now."""
        self._release.set()

    def start(self) -> FakeGoogleTranslate:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> FakeGoogleTranslate:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _answer(self, query: dict[str, str]) -> tuple[int, str]:
        with self._lock:
            self.queries.append(query)
            mode = self.mode
        if mode == HANG:
            with self._lock:
                self.hanging += 1
            self._release.wait(self.longest_hang)
            with self._lock:
                self.hanging -= 1
        if mode == ERROR:
            return self.error_status, "<html><body>Server Error</body></html>"
        if mode == GARBAGE:
            return 200, "<html><body><p>Unusual traffic from your network.</p></body></html>"
        text = query.get("q", "")
        translation = self.translations.get(text, text)  # Google echoes what it cannot translate
        return 200, PAGE.format(translation=html.escape(translation))

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parameters = parse_qs(urlsplit(self.path).query)
                query = {key: values[0] for key, values in parameters.items()}
                status, body = fake._answer(query)
                payload = body.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should after its timeout

            def log_message(self, format, *args):
                pass

        return Handler


def unused_url() -> str:
    """A URL on a local port where nothing listens: connections are refused, as when offline."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/m"
