"""Shared fixtures: every test gets its own media directory and works offline."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    # Tests never reach Google Translate; the translation tests start local fakes.
    settings.OLPE_TRANSLATION_ENABLED = False
    yield


@pytest.fixture
def reset_engines():
    from inpainting import engines

    engines.reset()
    yield engines
    engines.reset()
