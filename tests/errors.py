"""Reading the API's error bodies: `{"field": [{"code": ..., "message": ...}]}`."""

from __future__ import annotations


def codes(response, field: str = "detail") -> list[str]:
    """The stable codes of the errors of `field` ("detail": the request as a whole)."""
    return [error["code"] for error in errors(response, field)]


def message(response, field: str = "detail") -> str:
    """The first translated message of `field`."""
    return errors(response, field)[0]["message"]


def errors(response, field: str) -> list[dict]:
    body = response.json()
    found = body[field]
    assert isinstance(found, list) and found, body
    for error in found:
        assert set(error) == {"code", "message"}, error
        assert error["code"] and isinstance(error["message"], str) and error["message"], error
    return found
