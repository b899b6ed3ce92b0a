"""The project shell: settings defaults, the secret key, the home page."""

import os
import stat

import pytest
from django.urls import reverse

from olpe_site.secret import load_or_create_secret_key


def test_secret_key_is_generated_once_and_kept(tmp_path):
    path = tmp_path / "secret_key"
    first = load_or_create_secret_key(path)
    second = load_or_create_secret_key(path)
    assert first == second
    assert len(first) >= 50
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_embedded_defaults(settings):
    assert settings.DEBUG is False
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert "orm" in settings.Q_CLUSTER
    # The ORM broker redelivers after `retry`: a running job must time out before that.
    assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]


@pytest.mark.django_db
def test_home_page_names_the_engines_and_their_state(client):
    response = client.get(reverse("inpainting:home"))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("classic", "diffusers", "openai"):
        assert f'data-engine="{name}"' in html
    # The classic engine needs nothing and is always ready; OpenAI has no key in tests.
    assert 'class="engine is-usable" data-engine="classic"' in html
    assert 'class="engine is-unusable" data-engine="openai"' in html


@pytest.mark.django_db
def test_home_page_speaks_german_first_and_english_on_request(client):
    german = client.get(reverse("inpainting:home"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    english = client.get(reverse("inpainting:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="de"' in german and "Alternative Weltgeschichten" in german
    assert 'lang="en"' in english and "Alternative World Histories" in english
