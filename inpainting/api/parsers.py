"""JSON with a nesting limit, for the REST API and the legacy endpoint alike.

Python's json module decodes arrays and objects recursively: a body such as
`{"prompt": [[[[…]]]]}` a hundred thousand levels deep ends in a
RecursionError, which nobody expects from a parser and which used to become a
500 page. The nesting is therefore measured before decoding, in linear passes
of C code (bytes.count, bytes.replace and numpy, never a Python loop per
character): the running sum of opening minus closing brackets outside strings
is the depth. No wish needs more than a level or two; OLPE_MAX_JSON_DEPTH (32)
leaves room for any honest client. A RecursionError that still happens counts
as too deep.
"""

from __future__ import annotations

import codecs
import json

import numpy as np
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

# +1 for an opening bracket, -1 for a closing one, 0 for anything else (per byte).
_STEP = np.zeros(256, np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
_QUOTE = ord('"')
# Bytes are summed this many at a time, so no running sum is as large as the body.
_CHUNK = 1 << 20


class JSONTooDeep(ValueError):
    """The JSON nests deeper than allowed; `message` is for the client."""

    def __init__(self, limit: int):
        self.limit = limit
        self.message = _(
            "The request is nested too deeply: at most %(limit)s levels of brackets are accepted."
        ) % {"limit": limit}
        super().__init__(str(self.message))


def max_depth() -> int:
    return settings.OLPE_MAX_JSON_DEPTH


def nests_deeper_than(data: bytes, limit: int) -> bool:
    """Whether the arrays and objects of the UTF-8 JSON `data` nest more than `limit` levels.

    Brackets inside strings do not count. Pairs of backslashes go first, then
    escaped quotes, so that every remaining quote opens or closes a string; the
    parity of the quotes before a byte then tells whether it is inside one.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # not enough opening brackets to nest deeper: the usual case
    codes = np.frombuffer(data.replace(b"\\\\", b"").replace(b'\\"', b""), np.uint8)
    depth = quotes_before = 0
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start:start + _CHUNK]
        quotes = np.cumsum(chunk == _QUOTE, dtype=np.int64)
        quotes += quotes_before
        steps = np.where(quotes % 2 == 0, _STEP[chunk], 0)
        running = np.cumsum(steps, dtype=np.int64)
        running += depth
        if running.max() > limit:
            return True
        depth, quotes_before = int(running[-1]), int(quotes[-1])
    return False


def load_json(data: bytes | str, *, encoding: str = "utf-8", limit: int | None = None,
              strict: bool = True):
    """Decode JSON whose nesting stays within `limit` (OLPE_MAX_JSON_DEPTH).

    Raises JSONTooDeep for deeper JSON, ValueError (JSONDecodeError,
    UnicodeDecodeError) for anything that is not JSON. With `strict`, NaN and
    Infinity are refused, as REST framework refuses them.
    """
    limit = max_depth() if limit is None else limit
    if isinstance(data, str):
        text, utf8 = data, data.encode("utf-8", "surrogatepass")
    else:
        utf8 = bytes(data)
        text = utf8.decode(encoding)
        if codecs.lookup(encoding).name not in ("utf-8", "ascii"):
            utf8 = text.encode("utf-8", "surrogatepass")
    if nests_deeper_than(utf8, limit):
        raise JSONTooDeep(limit)
    try:
        return json.loads(text, parse_constant=strict_constant if strict else None)
    except RecursionError:
        raise JSONTooDeep(limit) from None


class DepthLimitedJSONParser(JSONParser):
    """REST framework's JSON parser with the nesting limit of `load_json`.

    The body is read through `request.body`, so Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE still refuses an oversized one (413) before
    it is read.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        data = _read_body(stream, parser_context)
        try:
            return load_json(data, encoding=encoding, strict=self.strict)
        except JSONTooDeep as problem:
            raise ParseError(problem.message) from None
        except (ValueError, LookupError):  # not JSON, or not in its declared charset
            raise ParseError(_("The request is not valid JSON.")) from None


def _read_body(stream, parser_context) -> bytes:
    request = parser_context.get("request")
    django_request = getattr(request, "_request", None)
    if django_request is not None and stream is django_request:
        return django_request.body  # checks DATA_UPLOAD_MAX_MEMORY_SIZE
    return stream.read()
