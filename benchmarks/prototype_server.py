"""A server shaped like the prototype, for benchmarks only: the model runs inside the request.

The prototype answered `POST /inpainting/` by running the model in the
request handler of one single-process server, so while it painted, nothing
else was answered. This reproduction keeps exactly that shape and runs the
platform's own pipeline with the classic engine inside the handler, so
`bench_web.py` compares two designs doing the same work, not two engines.
`GET /health` stands for any cheap request a client makes meanwhile (the
prototype had no job state to read); it is the cheapest answer possible,
which favours this design.

Never deploy it: no limits, no queue, no persistence.

    .venv/bin/python benchmarks/prototype_server.py --port 8765
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")

import django  # noqa: E402

django.setup()

from inpainting.api.serializers import decode_base64_picture  # noqa: E402
from inpainting_core import compositing, imaging  # noqa: E402
from inpainting_core.generation import GenerationSettings  # noqa: E402
from inpainting_core.pipeline import generate, load_inputs  # noqa: E402
from inpainting_core.wishes import PromptProblem  # noqa: E402


class PrototypeHandler(BaseHTTPRequestHandler):
    """One request at a time, the generation included."""

    def do_GET(self):
        if self.path == "/health":
            self._answer(200, "application/json", b'{"status": "ok"}')
        else:
            self._answer(404, "application/json", b'{"detail": "not found"}')

    def do_POST(self):
        if self.path != "/inpainting/":
            self._answer(404, "application/json", b'{"detail": "not found"}')
            return
        try:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            image, mask = load_inputs(
                decode_base64_picture(payload["image"]), decode_base64_picture(payload["mask"])
            )
            options = GenerationSettings(
                engine="classic", guidance=payload.get("guidance_scale"), seed=payload.get("seed")
            )
            result = generate(image, mask, payload["prompt"], options)
        except (ValueError, KeyError, TypeError, imaging.ImageProblem, PromptProblem) as error:
            self._answer(400, "application/json", json.dumps({"detail": str(error)}).encode())
            return
        self._answer(200, "image/png", compositing.to_png_bytes(result.image))

    def _answer(self, status: int, content_type: str, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # quiet: the benchmark prints its own figures
        pass


class PrototypeServer(HTTPServer):
    # A deep listen queue like common development servers, so waiting clients
    # queue in the kernel instead of being refused and retried.
    request_queue_size = 128


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    arguments = parser.parse_args(argv)
    with PrototypeServer((arguments.host, arguments.port), PrototypeHandler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
