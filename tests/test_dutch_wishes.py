"""Dutch wishes: recognised, translated by Google (told it is Dutch) or offline by the glossary.

Google Translate is the local fake of tests/fake_translate.py behind the real client.
"""

from __future__ import annotations

import uuid

import pytest

from inpainting_core import glossary_nl, landcover, translation, vocabulary, wish_language
from inpainting_core.prompts import detect_land_covers, prepare_prompt
from inpainting_core.translation import translate_to_english
from tests.fake_translate import FakeGoogleTranslate


@pytest.mark.parametrize("wish, language", [
    ("Wat als hier een meer was?", "nl"),
    ("Een bos met hoge bomen", "nl"),
    ("Wat als hier een kasteel op de heuvel stond?", "nl"),
    ("Windmolens en tulpen", "nl"),
    ("kasteel", "nl"),
    ("Bos", "nl"),
    ("Was wäre, wenn hier ein See wäre?", "de"),
    ("Ein Wald", "de"),
    ("Ein Bergsee", "de"),
    ("Dinosaurier", "de"),
    ("What if there were a lake here?", "en"),
    ("a castle", "en"),
    ("lake", "en"),
    # words of more than one language: German, as the museum hears it most
    ("See", "de"), ("Park", "de"), ("Hotel", "de"), ("Strand", "de"),
])
def test_the_language_of_a_wish_is_recognised(wish, language):
    assert wish_language.identify(wish) == language


def test_without_py3langid_the_glossaries_decide(monkeypatch):
    monkeypatch.setattr(wish_language, "_identifier", wish_language._MISSING)
    assert wish_language.model_guess("Wat als hier een meer was?") is None
    assert wish_language.identify("Wat als hier een meer was?") == "nl"
    assert wish_language.identify("Ein Wald am See") == "de"
    assert wish_language.identify("a forest by the lake") == "en"
    assert translate_to_english("Een bos met bomen") == ("a forest with trees",
                                                          translation.SOURCE_GLOSSARY)


@pytest.mark.parametrize("wish, english", [
    ("Wat als hier een meer was?", "a lake"),
    ("Een groot bos met hoge bomen", "a large forest with tall trees"),
    ("Wat als hier een kasteel op de heuvel stond?", "a castle on the hill"),
    ("Huizen en een kerk", "houses and a church"),
    ("meer bomen en een zwembad", "more trees and a swimming pool"),
    ("Een bergmeer", "a mountain lake"),
    ("twee windmolens", "two windmills"),
    ("Een besneeuwde weide", "a snowy meadow"),
    ("Een meer in plaats van de parkeerplaats", "a lake instead of the parking lot"),
    ("Tulpenvelden", "tulip fields"),
    ("drie kleine huisjes", "three small houses"),
    ("Dennenbos bij de Biggemeer", "pine forest near the Bigge reservoir"),
])
def test_the_dutch_glossary_translates_wishes(wish, english):
    assert glossary_nl.translate(wish) == english


def test_every_dutch_word_means_a_noun_of_the_german_glossary():
    # one fact in one place: the Dutch table names German nouns, whose English it shares
    assert len(glossary_nl.DUTCH_NOUNS) >= 250
    englishes = {noun.english for noun in vocabulary.GERMAN_NOUNS.values()}
    assert {noun.english for noun in glossary_nl.DUTCH_NOUNS.values()} <= englishes
    covers = {noun.land_cover for noun in glossary_nl.DUTCH_NOUNS.values()}
    assert covers == {noun.land_cover for noun in vocabulary.GERMAN_NOUNS.values()}


@pytest.mark.parametrize("wish, covers", [
    ("Wat als hier een meer was?", (landcover.WATER,)),
    ("Een bos in plaats van de parkeerplaats", (landcover.FOREST,)),
    ("Een vulkaan naast de kerk", (landcover.LAVA, landcover.BUILDINGS)),
])
def test_dutch_wishes_name_their_land_covers(wish, covers):
    assert detect_land_covers(wish) == covers


def test_a_dutch_wish_offline_becomes_an_english_prompt():
    prompt = prepare_prompt("Wat als hier een meer was?")
    assert prompt.translation_source == translation.SOURCE_GLOSSARY
    assert (prompt.translated, prompt.subject) == ("a lake", "a lake")
    assert prompt.land_covers == (landcover.WATER,)
    assert "lake" in prompt.final


@pytest.fixture
def fake_google(settings):
    settings.OLPE_TRANSLATION_ENABLED = True
    settings.OLPE_TRANSLATION_TIMEOUT = 3.0
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"translations-{uuid.uuid4()}"}}
    translation.forget_translations()
    with FakeGoogleTranslate({"Wat als hier een meer was?": "What if there was a lake here?",
                              "Een bos": "A forest", "Ein Wald": "A forest"}) as fake:
        settings.OLPE_TRANSLATOR_URL = fake.url
        yield fake
    translation.forget_translations()


def test_google_is_told_that_a_wish_is_dutch(fake_google):
    prompt = prepare_prompt("Wat als hier een meer was?")
    assert prompt.translation_source == translation.SOURCE_GOOGLE
    assert prompt.subject == "a lake"
    assert translate_to_english("Ein Wald") == ("A forest", translation.SOURCE_GOOGLE)
    assert [query.get("sl") for query in fake_google.queries] == ["nl", "de"]
    # an English wish is not sent at all
    assert translate_to_english("a forest")[1] == translation.SOURCE_ENGLISH
    assert fake_google.request_count == 2


def test_dutch_visitors_get_dutch_suggestions_else_the_english(db):
    from museum.models import SiteSettings

    site = SiteSettings.load()
    site.prompt_suggestions_de, site.prompt_suggestions_en = "Ein See", "A lake"
    assert site.suggestions("nl") == ["A lake"]
    site.prompt_suggestions_nl = "Een meer\n\n Een bos "
    assert site.suggestions("nl") == ["Een meer", "Een bos"]
    assert site.suggestions("de") == ["Ein See"] and site.suggestions("en-gb") == ["A lake"]
