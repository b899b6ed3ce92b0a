"""The job protocol: one definition (inpainting/protocol.py) for the REST API, the
websocket and the consumer's documented protocol. Every test that runs a job also
checks its events: `events.publish` refuses an undocumented field."""

from __future__ import annotations

import re

import pytest

from inpainting import consumers, events, protocol
from inpainting.api.serializers import JobStateSerializer


def documented_live_events() -> dict[str, set[str]]:
    """`kind` {a, b} pairs of the consumer docstring's live-event paragraph."""
    doc = consumers.__doc__
    live = doc[doc.index("* Then the live events"):doc.index("* After the terminal event")]
    found: dict[str, set[str]] = {}
    for kind, fields in re.findall(r"`(\w+)`\s*\{([^}]*)\}", live):
        names = {name.strip() for name in fields.split(",") if name.strip()}
        found.setdefault(kind, set()).update(names)
    return found


def test_the_consumer_documents_exactly_the_protocol_of_every_event():
    documented = documented_live_events()
    assert set(documented) == set(protocol.EVENTS)
    for kind in protocol.EVENTS:
        assert documented[kind] == set(protocol.event_fields(kind)), kind


def test_an_undocumented_field_is_refused_before_anything_is_written():
    with pytest.raises(ValueError, match="document"):
        protocol.check_event(events.STARTED, {"attempt": 1, "engine": "classic", "gpu": "x"})
    with pytest.raises(ValueError, match="event kind"):
        protocol.check_event("exploded", {})
    protocol.check_event(events.QUEUED, {"position": 2, "retry": True, "reason": "lost worker"})


def test_the_rest_api_answers_the_protocols_state_with_its_links():
    assert set(JobStateSerializer().fields) == set(protocol.JobState().fields) | {
        "url", "websocket_url"
    }
