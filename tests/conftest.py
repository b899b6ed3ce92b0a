"""Shared fixtures: every test gets its own media directory and works offline."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    # Tests never reach Google Translate; the translation tests start local fakes.
    settings.OLPE_TRANSLATION_ENABLED = False
    # The model registry lives in the database; tests that need it switch it on.
    settings.OLPE_MODEL_REGISTRY = False
    yield


@pytest.fixture(autouse=True)
def _english_unless_asked():
    """Messages made outside a request are checked in English; German tests ask for German.

    Visitors get German (LANGUAGE_CODE) through the middleware, which chooses per
    request, so this only fixes the language of code called directly by a test.
    """
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Rate-limit counters and cached translations live in the cache; no test inherits them."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_curator_caches():
    """Site settings and the blocklist are cached per process; every test starts clean."""
    from museum import moderation
    from museum.models import SiteSettings

    SiteSettings.forget_cached()
    moderation.forget_matcher()
    yield
    SiteSettings.forget_cached()
    moderation.forget_matcher()


@pytest.fixture
def reset_engines():
    from inpainting_core import engines

    engines.reset()
    yield engines
    engines.reset()


@pytest.fixture
def curator(db):
    """A member of the Curators group (from gallery's migration): staff, not superuser."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user("kuratorin", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Curators"))
    return user


# Slow modules that kill and restart processes and watch recovery with short timings.
RECOVERY_MODULES = {"tests.test_faults", "tests.test_jobs_e2e"}


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (scripts/test runs two workers), slow tests keep to their group.

    Slow tests start real platforms, browsers and servers and share
    module-scoped platforms, so each group runs on one worker, one test after
    another as they were written to: the crash-recovery tests in one group,
    the browser and client tests in the other. The fast tests fill the gaps.
    """
    for item in items:
        if item.get_closest_marker("slow"):
            group = "recovery" if item.module.__name__ in RECOVERY_MODULES else "browsers"
            item.add_marker(pytest.mark.xdist_group(group))
