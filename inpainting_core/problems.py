"""What a client sent that cannot be used, said once for every layer.

A `Problem` carries a translated `message` for people, a stable `code` for
programs (the REST API answers `{"field": [{"code": ..., "message": ...}]}`)
and the `field` of the request at fault (None: the request as a whole).
Every refusal of the core, the museum and the services derives from it, so
callers catch one class and read the same three attributes.
"""

from __future__ import annotations


class Problem(ValueError):
    """A refusal with a readable `message`, a stable `code` and the `field` at fault."""

    code = "invalid"
    field: str | None = None

    def __init__(self, message, *, code: str | None = None, field: str | None = None):
        super().__init__(str(message))
        self.message = message  # lazy translations are translated when shown
        if code is not None:
            self.code = code
        if field is not None:
            self.field = field

    def __str__(self) -> str:
        return str(self.message)

    def error_body(self) -> dict:
        return error_body(self.message, code=self.code, field=self.field)


# The key of an error that concerns the request as a whole (REST framework's own).
DETAIL = "detail"


def error_body(message, *, code: str, field: str | None = None) -> dict:
    """The JSON body of every 4xx answer: `{"field": [{"code": ..., "message": ...}]}`."""
    return {field or DETAIL: [{"code": code, "message": str(message)}]}
