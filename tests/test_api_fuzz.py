"""The REST API against its own OpenAPI schema, with requests schemathesis makes up.

Every operation of `/api/v1/schema/` is called in-process (the WSGI app, the
test database) with generated path parameters, query strings and bodies,
valid and invalid ones, anonymously and as a curator with a token. Whatever
arrives, the answer is never a server error, and an answer the schema
documents has the documented content type and shape. Wishes are stored,
never painted: django-q2's sync mode stays off, and the test's transaction
never commits, so not even the broker sees them.

Rate limits are lifted so that the examples reach the views instead of
bouncing off 429s; `max_examples` keeps the run within CI's patience.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django_q.conf import Conf
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

SCHEMA_PATH = "/api/v1/schema/?format=json"
MAX_EXAMPLES = 50
# Answers to requests the schema allows: no server error, the documented type and shape.
CONFORMANCE = [not_a_server_error, content_type_conformance, response_schema_conformance]
# Requests the schema forbids may end anywhere (the URL resolver's 404 page), never in a 500.
ROBUSTNESS = [not_a_server_error]


def load_schema(mode: GenerationMode):
    schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, get_wsgi_application())
    schema.config.generation.update(modes=[mode], max_examples=MAX_EXAMPLES)
    return schema


valid_requests = load_schema(GenerationMode.POSITIVE)
invalid_requests = load_schema(GenerationMode.NEGATIVE)


@pytest.fixture(autouse=True)
def _fuzz_settings(settings, monkeypatch):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "jobs": None, "owner": None},
    }
    monkeypatch.setattr(Conf, "SYNC", False)


@pytest.fixture(autouse=True)
def _connection_kept_between_requests():
    """As Django's test client does: the WSGI handler would close the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def curator_token(django_user_model):
    curator = django_user_model.objects.create_user("curator", is_staff=True)
    return Token.objects.create(user=curator).key


FUZZ_SETTINGS = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
)


def as_curator(token: str) -> dict:
    return {"Authorization": f"Token {token}"}


@pytest.mark.django_db
@valid_requests.parametrize()
@FUZZ_SETTINGS
def test_a_visitors_valid_requests_get_documented_answers(case):
    case.call_and_validate(checks=CONFORMANCE)


@pytest.mark.django_db
@valid_requests.parametrize()
@FUZZ_SETTINGS
def test_a_curators_valid_requests_get_documented_answers(case, curator_token):
    case.call_and_validate(headers=as_curator(curator_token), checks=CONFORMANCE)


@pytest.mark.django_db
@invalid_requests.parametrize()
@FUZZ_SETTINGS
def test_invalid_requests_never_cause_a_server_error(case, curator_token):
    case.call_and_validate(headers=as_curator(curator_token), checks=ROBUSTNESS)
