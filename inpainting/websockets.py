"""What every websocket of the platform shares: small JSON actions, and a channel layer
that may fail without taking the socket with it.

Kiosks and the wall run for days. Two things must not cost them their
connection:

* a stray or malformed message from the browser: it is answered with an
  error message, never with a crash (which daphne reports as close 1011);
* the channel layer going away (Redis restarted, a read timing out under
  load, a connection reset): the layer is only a shortcut for news that is
  also stored in the database, so a socket whose layer fails logs it, keeps
  its connection, reads the database instead and joins its group again once
  the layer answers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Optional
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import validate_host
from django.utils.translation import gettext
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a channel layer raises when its server is slow, restarting or gone.
LAYER_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
# How long a socket waits before it asks a failed layer for messages again.
RECEIVE_RETRY_SECONDS = (0.2, 5.0)


class LayerHealth:
    """Whether this process's channel layer answered last time; logs each change once.

    Every socket of a process shares one layer, so an outage is one warning
    in the log, not one per open kiosk.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.failed = False

    def failure(self, operation: str, error: BaseException) -> None:
        with self._lock:
            first, self.failed = not self.failed, True
        if first:
            logger.warning("Channel layer failed (%s: %r); websockets read the database until "
                           "it is back", operation, error)

    def success(self) -> None:
        with self._lock:
            recovered, self.failed = self.failed, False
        if recovered:
            logger.info("Channel layer is back; websockets use it again")


layer_health = LayerHealth()


class ActionConsumer(AsyncJsonWebsocketConsumer):
    """A JSON consumer that survives bad messages and a failing channel layer.

    Subclasses map action names to coroutines in `actions`, join groups with
    `join_group` (which says whether the layer took the membership) and look
    at `layer_ok` to choose between live group messages and reading the
    database.
    """

    actions: dict[str, str] = {}
    layer_ok = True

    # --- messages from the browser ---

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:  # a binary frame: nothing here speaks it
            await self.send_json({"type": "error", "reason": gettext("Unknown action.")})
            return
        await super().receive(text_data=text_data, **kwargs)

    async def receive_json(self, content, **kwargs):
        action = content.get("action") if isinstance(content, dict) else None
        handler = self.actions.get(action) if isinstance(action, str) else None
        if handler is None:
            await self.send_json({"type": "error", "reason": gettext("Unknown action.")})
        else:
            await getattr(self, handler)()

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return await super().decode_json(text_data)
        except (ValueError, RecursionError):
            return None  # answered as an unknown action

    # --- the channel layer ---

    async def join_group(self, group: str) -> bool:
        """Join `group`; False (and the socket carries on) when the layer fails."""
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except LAYER_ERRORS as error:
            self._layer_failed("group_add", error)
            return False
        self._layer_answered()
        return True

    async def leave_group(self, group: str) -> None:
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except LAYER_ERRORS as error:  # the layer forgets members itself after a while
            self._layer_failed("group_discard", error)

    def _layer_failed(self, operation: str, error: BaseException) -> None:
        self.layer_ok = False
        layer_health.failure(operation, error)

    def _layer_answered(self) -> None:
        self.layer_ok = True
        layer_health.success()

    # channels' AsyncConsumer.__call__ binds `channel_receive` to the layer's
    # `receive` and lets whatever it raises end the consumer (close 1011). The
    # property keeps the layer's function and hands channels one that waits
    # and tries again instead.
    @property
    def channel_receive(self):
        return self._receive_from_layer

    @channel_receive.setter
    def channel_receive(self, receive):
        self._layer_receive = receive

    async def _receive_from_layer(self):
        delay, longest = RECEIVE_RETRY_SECONDS
        while True:
            try:
                return await self._layer_receive()
            except LAYER_ERRORS as error:
                self._layer_failed("receive", error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)


# --- the handshake -----------------------------------------------------------------


NOT_FOUND_CLOSE_CODE = 4404
UNAUTHORISED_CLOSE_CODE = 4401


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """The last route: a path no app serves is closed with 4404, like an unknown job."""

    async def connect(self):
        await self.accept()
        await self.close(code=NOT_FOUND_CLOSE_CODE)


class RefusedConsumer(AsyncJsonWebsocketConsumer):
    """Accepts only to say why not, then closes with 4401: better than a bare 403."""

    def __init__(self, reason: str, **kwargs):
        super().__init__(**kwargs)
        self.reason = reason

    async def connect(self):
        await self.accept()
        await self.send_json({"type": "error", "reason": self.reason})
        await self.close(code=UNAUTHORISED_CLOSE_CODE)


def _header(scope, name: bytes) -> Optional[str]:
    for header_name, value in scope.get("headers", ()):
        if header_name == name:
            return value.decode("latin-1")
    return None


def own_origin(scope) -> Optional[str]:
    """`scheme://host[:port]` of the page that may open this socket: this site itself."""
    host = _header(scope, b"host")
    if not host:
        return None
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return f"{scheme}://{host}".lower()


def allowed_origin(scope, origin: str) -> bool:
    """The site's own scheme, host and port (a host it serves), or a trusted origin."""
    origin = origin.lower()
    if origin in (trusted.lower() for trusted in settings.CSRF_TRUSTED_ORIGINS):
        return True
    own = own_origin(scope)
    if own is None or origin != own:
        return False
    return validate_host(urlsplit(own).hostname or "", settings.ALLOWED_HOSTS)


@database_sync_to_async
def token_user(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token is not None and token.user.is_active else None


class WebsocketGate:
    """Who may open a websocket: a page of this site, or a client with an API token.

    Browsers send `Origin` with every handshake; it must be this site's own
    scheme, host and port (or one of `CSRF_TRUSTED_ORIGINS`), so a page
    elsewhere cannot open a socket with a visitor's cookies. A client without
    `Origin` is no browser: it sends `Authorization: Token <key>` (the REST
    API's tokens), and that user is the socket's user. A wrong token, or
    neither, is refused with a message and close code 4401. Runs inside
    channels' AuthMiddlewareStack, so a browser's session user is already in
    the scope.
    """

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        authorization = _header(scope, b"authorization") or ""
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() == "token" and key.strip():
            user = await token_user(key.strip())
            if user is None:
                return await self._refuse(scope, receive, send, gettext("Invalid token."))
            scope = {**scope, "user": user}
        elif origin is None:
            return await self._refuse(scope, receive, send, gettext(
                "Clients without a browser send their API token: "
                "“Authorization: Token <key>”."))
        if origin is not None and not allowed_origin(scope, origin):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

    @staticmethod
    async def _refuse(scope, receive, send, reason):
        return await RefusedConsumer.as_asgi(reason=reason)(scope, receive, send)
