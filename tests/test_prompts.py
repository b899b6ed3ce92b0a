"""Prompt preparation: glossary, English wishes, styles, limits, and Google Translate.

Google Translate is a local fake (tests/fake_translate.py) behind the real client.
"""

import threading
import time
import uuid

import pytest
from django.utils.functional import Promise

from inpainting_core import glossary, landcover, translation, vocabulary
from inpainting_core.prompts import detect_land_covers, prepare_prompt
from inpainting_core.styles import STYLES, Style, style_choices
from inpainting_core.translation import translate_to_english
from inpainting_core.wishes import PromptProblem
from tests.fake_translate import ERROR, GARBAGE, HANG, OK, FakeGoogleTranslate, unused_url

REQUIRED_WORDS = {
    "See": landcover.WATER, "Fluss": landcover.WATER, "Bach": landcover.WATER,
    "Teich": landcover.WATER, "Stausee": landcover.WATER, "Talsperre": landcover.WATER,
    "Moor": landcover.WATER, "Sumpf": landcover.WATER, "Kanal": landcover.WATER,
    "Wasserfall": landcover.WATER, "Hafen": landcover.WATER,
    "Wald": landcover.FOREST, "Dschungel": landcover.FOREST, "Palmen": landcover.FOREST,
    "Wiese": landcover.MEADOW, "Weide": landcover.MEADOW, "Obstwiese": landcover.MEADOW,
    "Park": landcover.MEADOW, "Garten": landcover.MEADOW, "Friedhof": landcover.MEADOW,
    "Spielplatz": landcover.MEADOW, "Hügel": landcover.MEADOW,
    "Feld": landcover.FIELD, "Acker": landcover.FIELD, "Weinberg": landcover.FIELD,
    "Kirche": landcover.BUILDINGS, "Burg": landcover.BUILDINGS, "Schloss": landcover.BUILDINGS,
    "Bahnhof": landcover.BUILDINGS, "Hochhaus": landcover.BUILDINGS, "Stadion": landcover.BUILDINGS,
    "Dorf": landcover.BUILDINGS, "Stadt": landcover.BUILDINGS, "Haus": landcover.BUILDINGS,
    "Häuser": landcover.BUILDINGS, "Solarpark": landcover.BUILDINGS, "Fabrik": landcover.BUILDINGS,
    "Kraftwerk": landcover.BUILDINGS, "Turm": landcover.BUILDINGS, "Mauer": landcover.BUILDINGS,
    "Kloster": landcover.BUILDINGS, "Mühle": landcover.BUILDINGS, "Bauernhof": landcover.BUILDINGS,
    "Brücke": landcover.ROAD, "Parkplatz": landcover.ROAD, "Flughafen": landcover.ROAD,
    "Straße": landcover.ROAD, "Autobahn": landcover.ROAD, "Schiene": landcover.ROAD,
    "Marktplatz": landcover.ROAD,
    "Wüste": landcover.SAND, "Strand": landcover.SAND,
    "Gletscher": landcover.SNOW, "Schnee": landcover.SNOW, "Eis": landcover.SNOW,
    "Berg": landcover.ROCK, "Felsen": landcover.ROCK, "Steinbruch": landcover.ROCK,
    "Vulkan": landcover.LAVA,
    "Insel": None, "Windrad": None,
}


# --- Glossary ------------------------------------------------------------------------------


def test_glossary_knows_enough_words():
    assert len(vocabulary.GERMAN_NOUNS) >= 150


@pytest.mark.parametrize("word, land_cover", REQUIRED_WORDS.items())
def test_glossary_knows_the_required_words(word, land_cover):
    match = glossary.lookup_noun(word)
    assert match is not None, word
    assert match.land_cover == land_cover


def test_every_german_noun_maps_back_to_its_land_cover_through_its_english():
    """English wishes and translated ones must find the same land cover as the glossary."""
    for german, noun in vocabulary.GERMAN_NOUNS.items():
        if noun.land_cover:
            assert glossary.english_land_covers(noun.english)[:1] == [noun.land_cover], german


@pytest.mark.parametrize(
    "spelling", ["Brücke", "Bruecke", "BRÜCKE", "brücke", "Bru\u0308cke"]
)
def test_umlaut_spellings_are_one_word(spelling):
    assert glossary.lookup_noun(spelling).english() == "bridge"


@pytest.mark.parametrize(
    "word, english, land_cover",
    [
        ("Seen", "lakes", landcover.WATER),
        ("Wiesen", "meadows", landcover.MEADOW),
        ("Häuser", "houses", landcover.BUILDINGS),
        ("Haeuser", "houses", landcover.BUILDINGS),
        ("Bäume", "trees", landcover.FOREST),
        ("Flüsse", "rivers", landcover.WATER),
        ("Fluesse", "rivers", landcover.WATER),
        ("Strassen", "streets", landcover.ROAD),
        ("Windräder", "wind turbines", None),
        ("Schafe", "sheep", None),
        ("Hauses", "house", landcover.BUILDINGS),
        ("Badesee", "swimming lake", landcover.WATER),
        ("Waldsee", "forest lake", landcover.WATER),
        ("Fichtenwald", "spruce forest", landcover.FOREST),
        ("Fichtenwälder", "spruce forests", landcover.FOREST),
        ("Dorfkirche", "village church", landcover.BUILDINGS),
        ("Sonnenblumenfeld", "sunflower field", landcover.FIELD),
        ("Spielplätze", "playgrounds", landcover.MEADOW),
    ],
)
def test_inflections_plurals_and_compounds(word, english, land_cover):
    match = glossary.lookup_noun(word)
    assert (match.english(), match.land_cover) == (english, land_cover)


def test_short_tails_do_not_split_ordinary_words():
    assert glossary.lookup_noun("Kreis").english() == "district"  # not "Kr" + "Eis"
    assert glossary.lookup_noun("Reisfeld").english() == "rice field"
    assert glossary.lookup_noun("Gedanke") is None


@pytest.mark.parametrize(
    "english, plural",
    [("lake", "lakes"), ("factory", "factories"), ("valley", "valleys"), ("church", "churches"),
     ("parking lot", "parking lots"), ("marsh", "marshes")],
)
def test_pluralize(english, plural):
    assert vocabulary.pluralize(english) == plural


@pytest.mark.parametrize(
    "wish, english",
    [
        ("Was wäre, wenn hier ein See wäre?", "a lake"),
        ("Was waere, wenn hier ein See waere?", "a lake"),
        ("Ich wünsche mir einen Wald", "a forest"),
        ("Mach hier einen Badesee draus", "a swimming lake"),
        ("Ein großer See mit Booten", "a large lake with boats"),
        ("zwei Hügel und viele Bäume", "two hills and many trees"),
        ("eine Bruecke ueber den Fluss", "a bridge over the river"),
        ("ein verschneiter Fichtenwald", "a snowy spruce forest"),
        ("Strassen voller Autos", "streets full of cars"),
        ("Ein riesiger Dinosaurier im Park", "a huge dinosaur in the park"),
        ("ein Obstgarten", "an orchard"),
    ],
)
def test_glossary_translates_wishes_without_word_salad(wish, english):
    assert glossary.translate(wish) == english


def test_glossary_keeps_unknown_names_and_drops_unknown_particles():
    assert glossary.translate("Ein Brunnen für Hugo halt") == "a fountain for Hugo"


@pytest.mark.parametrize(
    "text, english",
    [
        ("a lake", True),
        ("What if there was a forest here?", True),
        ("castle with towers", True),
        ("I want to see a lake", True),
        ("See", False),
        ("Park", False),
        ("Wald mit See", False),
        ("Ein Wald", False),
        ("Was wäre, wenn", False),
        ("Dinosaurier", False),
    ],
)
def test_looks_english(text, english):
    assert glossary.looks_english(text) is english


# --- Land covers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, covers",
    [
        ("Ein See neben dem Wald", (landcover.WATER, landcover.FOREST)),
        ("a forest next to a lake", (landcover.FOREST, landcover.WATER)),
        ("Wald statt Parkplatz", (landcover.FOREST,)),
        ("a meadow instead of the parking lot", (landcover.MEADOW,)),
        ("verschneite Felsen am Gletscher", (landcover.SNOW, landcover.ROCK)),
        ("Vulkan", (landcover.LAVA,)),
        ("parking lots and skyscrapers", (landcover.ROAD, landcover.BUILDINGS)),
        ("ein Dinosaurier", ()),
        ("a mountain lake", (landcover.WATER,)),  # a noun before a noun only qualifies it
        ("a snowy spruce forest", (landcover.SNOW, landcover.FOREST)),
    ],
)
def test_detect_land_covers(text, covers):
    assert detect_land_covers(text) == covers


# --- Preparing prompts (glossary: tests run offline) ----------------------------------------


def test_german_wish_becomes_an_english_prompt():
    prompt = prepare_prompt("  Was wäre, wenn hier ein See wäre? ")
    assert prompt.original == "Was wäre, wenn hier ein See wäre?"
    assert prompt.translated == "a lake"
    assert prompt.subject == "a lake"
    assert prompt.translation_source == translation.SOURCE_GLOSSARY
    assert prompt.land_covers == (landcover.WATER,)
    assert prompt.style == "none"
    assert prompt.final.startswith("aerial satellite photo of Olpe, top-down view, a lake, ")
    assert "water surface" in prompt.final and "shoreline" in prompt.final


def test_replaced_things_go_to_the_negative_prompt():
    prompt = prepare_prompt("Ich wünsche mir einen Wald statt dem Parkplatz")
    assert prompt.subject == "a forest"
    assert "parking" not in prompt.final
    assert prompt.negative.endswith(", parking lot")
    assert prompt.land_covers == (landcover.FOREST,)


def test_english_wish_is_not_translated():
    prompt = prepare_prompt("What if there was a forest here?")
    assert prompt.translation_source == translation.SOURCE_ENGLISH
    assert prompt.translated == "What if there was a forest here?"
    assert prompt.subject == "a forest"
    assert prompt.land_covers == (landcover.FOREST,)
    assert "tree canopy" in prompt.final


@pytest.mark.parametrize(
    "wish, subject",
    [
        ("I wish there were a castle with towers", "a castle with towers"),
        ("Make a lake out of it here", "a lake"),
        ("Could you please build a stadium here?", "a stadium"),
        ("Instead of the parking lot, a playground", "a playground"),
        ("a lake without boats but with swans", "a lake with swans"),
    ],
)
def test_english_wish_phrasing_is_removed(wish, subject):
    assert prepare_prompt(wish).subject == subject


def test_every_style_frames_the_subject_differently():
    finals = {key: prepare_prompt("Ein Wald", key).final for key in STYLES}
    assert len(set(finals.values())) == len(STYLES)
    for key, final in finals.items():
        assert "a forest" in final, key
        assert final.index("a forest") < len(final) // 2, key  # the subject survives truncation


def test_required_styles_exist_and_choices_list_them():
    assert {"none", "medieval", "wild_west", "futuristic", "flooded", "winter"} <= set(STYLES)
    choices = style_choices()
    assert [key for key, _ in choices] == list(STYLES)
    assert choices[0][0] == "none"
    assert all(isinstance(label, Promise) for _, label in choices)


def test_style_negative_is_added():
    plain = prepare_prompt("Ein Dorf", "none").negative
    medieval = prepare_prompt("Ein Dorf", "medieval").negative
    assert "watermark" in plain and "perspective view" in plain
    assert medieval.startswith(plain)
    assert "modern buildings" in medieval and "modern buildings" not in plain


def test_negative_prompt_does_not_forbid_what_is_wished():
    prompt = prepare_prompt("lots of people at a festival")
    assert "people" not in prompt.negative.split(", ")
    assert "watermark" in prompt.negative


def test_only_negated_wish_keeps_the_scene_and_forbids_the_rest():
    prompt = prepare_prompt("keine Autos")
    assert prompt.subject == ""
    assert prompt.negative.endswith(", cars")
    assert ", ," not in prompt.final


def test_style_template_needs_a_subject():
    with pytest.raises(ValueError):
        Style("broken", "Broken", "aerial photo")


@pytest.mark.parametrize("wish", ["", "   ", "\n\t", "\x00\x07", "\u200b", None])
def test_empty_wish_is_refused(wish):
    with pytest.raises(PromptProblem) as caught:
        prepare_prompt(wish)
    assert caught.value.code == "empty"
    assert caught.value.field == "prompt"
    assert isinstance(caught.value.message, Promise)


def test_too_long_wish_is_refused(settings):
    settings.OLPE_MAX_WISH_CHARS = 20
    assert prepare_prompt("See " + "x" * 16).original  # exactly 20 characters
    with pytest.raises(PromptProblem) as caught:
        prepare_prompt("See " + "x" * 17)
    assert caught.value.code == "too_long"
    assert "20" in str(caught.value.message)


def test_default_limit_is_300_characters():
    prepare_prompt("a" * 300)
    with pytest.raises(PromptProblem):
        prepare_prompt("a" * 301)


def test_unknown_style_is_refused():
    with pytest.raises(PromptProblem) as caught:
        prepare_prompt("Ein See", "vaporwave")
    assert (caught.value.code, caught.value.field) == ("unknown_style", "style")


def test_control_characters_and_whitespace_are_cleaned():
    prompt = prepare_prompt("Ein\x00 See\u200b\n\n mit\tBooten\x1b")
    assert prompt.original == "Ein See mit Booten"
    assert prompt.subject == "a lake with boats"


# --- Google Translate through the real client against a local fake ---------------------------

TRANSLATIONS = {
    "Was wäre, wenn hier ein See wäre?": "What if there was a lake here?",
    "Ein Wald": "A forest",
    "Ein Bergsee": "A tarn",
}


@pytest.fixture
def fake_google(settings):
    settings.OLPE_TRANSLATION_ENABLED = True
    settings.OLPE_TRANSLATION_TIMEOUT = 3.0
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"translations-{uuid.uuid4()}",
        }
    }
    translation.forget_translations()
    with FakeGoogleTranslate(TRANSLATIONS) as fake:
        settings.OLPE_TRANSLATOR_URL = fake.url
        yield fake
    _wait_for_abandoned_requests()
    translation.forget_translations()


def _wait_for_abandoned_requests():
    """Requests a test gave up on end once the fake stops; let them free their slots."""
    for thread in threading.enumerate():
        if thread.name == "olpe-translate":
            thread.join(timeout=10)


def test_google_translates_through_deep_translator(fake_google):
    prompt = prepare_prompt("Was wäre, wenn hier ein See wäre?")
    assert prompt.translation_source == translation.SOURCE_GOOGLE
    assert prompt.translated == "What if there was a lake here?"
    assert prompt.subject == "a lake"
    assert prompt.land_covers == (landcover.WATER,)
    [query] = fake_google.queries
    assert (query["sl"], query["tl"]) == ("de", "en")
    assert query["q"] == "Was wäre, wenn hier ein See wäre?"


def test_land_covers_fall_back_to_the_glossary_when_google_picks_an_unknown_word(fake_google):
    prompt = prepare_prompt("Ein Bergsee")
    assert (prompt.translation_source, prompt.subject) == (translation.SOURCE_GOOGLE, "a tarn")
    assert prompt.land_covers == (landcover.WATER,)


def test_translations_are_cached(fake_google):
    assert translate_to_english("Ein Wald") == ("A forest", translation.SOURCE_GOOGLE)
    assert translate_to_english("Ein Wald") == ("A forest", translation.SOURCE_GOOGLE)
    assert fake_google.request_count == 1
    translation.forget_translations()  # this process forgets; the shared cache still knows
    assert translate_to_english("Ein Wald") == ("A forest", translation.SOURCE_GOOGLE)
    assert fake_google.request_count == 1


def test_english_and_disabled_translation_never_ask_google(fake_google, settings):
    english = "a forest with a lake"
    assert translate_to_english(english) == (english, translation.SOURCE_ENGLISH)
    settings.OLPE_TRANSLATION_ENABLED = False
    assert translate_to_english("Ein Wald") == ("a forest", translation.SOURCE_GLOSSARY)
    assert fake_google.request_count == 0


def test_hanging_translator_is_abandoned_after_the_timeout(fake_google, settings):
    settings.OLPE_TRANSLATION_TIMEOUT = 0.5
    fake_google.mode = HANG
    assert translate_to_english("Ein Wald") == ("a forest", translation.SOURCE_GLOSSARY)
    assert fake_google.hanging == 1  # the call returned while the server still held the request
    # The circuit breaker spares the next visitor the wait.
    assert translate_to_english("Ein See") == ("a lake", translation.SOURCE_GLOSSARY)
    assert fake_google.request_count == 1


def test_hanging_requests_do_not_pile_up(fake_google, settings):
    settings.OLPE_TRANSLATION_TIMEOUT = 0.5
    settings.OLPE_TRANSLATION_RETRY_AFTER = 0
    fake_google.mode = HANG
    for wish in ("Ein Wald", "Ein See", "Eine Wiese", "Ein Feld"):
        assert translate_to_english(wish)[1] == translation.SOURCE_GLOSSARY
    assert fake_google.request_count == translation.MAX_REQUESTS_IN_FLIGHT
    fake_google.mode = OK
    fake_google.release()
    assert _eventually_google("Ein Wald") == ("A forest", translation.SOURCE_GOOGLE)


def _eventually_google(wish, attempts=100):
    """Translate until the abandoned requests have ended and freed their slots."""
    for _ in range(attempts):
        english, source = translate_to_english(wish)
        if source == translation.SOURCE_GOOGLE:
            return english, source
        time.sleep(0.05)
    return english, source


@pytest.mark.parametrize("mode, status", [(ERROR, 500), (ERROR, 429), (ERROR, 403), (GARBAGE, 200)])
def test_failing_translator_falls_back_to_the_glossary(fake_google, mode, status):
    fake_google.mode, fake_google.error_status = mode, status
    prompt = prepare_prompt("Was wäre, wenn hier ein See wäre?")
    assert (prompt.translation_source, prompt.translated) == (translation.SOURCE_GLOSSARY, "a lake")
    assert prompt.land_covers == (landcover.WATER,)
    assert fake_google.request_count == 1


def test_offline_falls_back_to_the_glossary(fake_google, settings):
    settings.OLPE_TRANSLATOR_URL = unused_url()
    assert translate_to_english("Ein Wald") == ("a forest", translation.SOURCE_GLOSSARY)


def test_circuit_breaker_retries_after_its_window(fake_google, settings):
    fake_google.mode = ERROR
    assert translate_to_english("Ein Wald")[1] == translation.SOURCE_GLOSSARY
    fake_google.mode = OK
    assert translate_to_english("Ein Wald")[1] == translation.SOURCE_GLOSSARY  # still open: 60 s
    assert fake_google.request_count == 1

    settings.OLPE_TRANSLATION_RETRY_AFTER = 0
    fake_google.mode = ERROR
    translation.forget_translations()
    assert translate_to_english("Ein Wald")[1] == translation.SOURCE_GLOSSARY
    fake_google.mode = OK
    assert translate_to_english("Ein Wald") == ("A forest", translation.SOURCE_GOOGLE)
    assert fake_google.request_count == 3


# --- the model's token budget ------------------------------------------------------------

from django.utils import translation as django_translation  # noqa: E402

from inpainting_core.prompts import PromptBudget, compose_prompt  # noqa: E402


def word_budget(limit: int) -> PromptBudget:
    """One token per word and per comma, plus start and end: CLIP's count, roughly."""
    return PromptBudget(limit, lambda text: len(text.replace(",", " ,").split()) + 2)


def test_without_a_budget_nothing_is_dropped():
    prompt = prepare_prompt("a lake in the forest", "medieval")
    assert prompt.dropped == () and prompt.notes == ()
    assert prompt.final == STYLES["medieval"].render(
        "a lake in the forest, lake, calm water surface, natural shoreline, dense forest, "
        "tree canopy"
    )


def test_a_prompt_that_fits_is_unchanged():
    whole = prepare_prompt("a lake in the forest", "medieval")
    fitted = prepare_prompt("a lake in the forest", "medieval", word_budget(200))
    assert (fitted.final, fitted.negative, fitted.dropped) == (whole.final, whole.negative, ())


def test_the_template_goes_first_then_the_tags_then_the_style_never_the_wish():
    whole = prepare_prompt("a lake in the forest", "medieval")
    budget = word_budget(whole_count := word_budget(0).count(whole.final))
    assert budget.fits(whole.final)

    # Six words fewer: the shared template's quality words and "top-down view" go.
    fitted = prepare_prompt("a lake in the forest", "medieval", word_budget(whole_count - 6))
    assert fitted.dropped[:3] == ("photorealistic", "high resolution", "top-down view")
    assert "timber-framed houses" in fitted.final and "tree canopy" in fitted.final

    # Tighter: the tags go next (the last first), the style's own phrases last.
    tight = prepare_prompt("a lake in the forest", "medieval", word_budget(whole_count - 16))
    assert "tree canopy" in tight.dropped and "medieval town from above" in tight.final
    assert tight.final.startswith("medieval town from above, a lake in the forest")

    # Only the wish fits: all else is dropped, the wish is whole and first.
    bare = prepare_prompt("a lake in the forest", "medieval", word_budget(9))
    assert bare.final == "a lake in the forest"
    for prompt in (fitted, tight, bare):
        assert word_budget(0).count(prompt.final) <= word_budget(whole_count).limit
        assert "a lake in the forest" in prompt.final and prompt.notes == ()


def test_the_negative_prompt_fits_too_keeping_what_the_wish_replaces():
    fitted = prepare_prompt("a forest instead of the parking lot", "medieval", word_budget(12))
    assert word_budget(12).fits(fitted.negative)
    assert "parking lot" in fitted.negative
    assert "blurry" in fitted.dropped  # the base list goes before the wish's own exclusions


def test_a_wish_longer_than_the_budget_is_refused_with_a_translated_reason():
    wish = "a lake with boats and a castle on the hill and a church with a tall tower"
    with pytest.raises(PromptProblem) as refused:
        prepare_prompt(wish, "none", word_budget(10))
    assert refused.value.code == "wish_too_long" and refused.value.field == "prompt"
    assert "too long" in str(refused.value.message)
    with django_translation.override("de"):
        with pytest.raises(PromptProblem) as auf_deutsch:
            prepare_prompt(wish, "none", word_budget(10))
    assert "zu lang" in str(auf_deutsch.value.message)


def test_a_wish_longer_than_the_budget_is_shortened_with_a_note_when_asked():
    wish = "a lake with boats and a castle on the hill and a church with a tall tower"
    prompt = prepare_prompt(wish, "none", word_budget(10), shorten=True)

    assert prompt.final == "a lake with boats and a castle on"  # 8 words + start and end
    assert word_budget(10).fits(prompt.final)
    assert len(prompt.notes) == 1
    note = str(prompt.notes[0])
    assert "“a lake with boats and a castle on”" in note and "“the hill and a church" in note
    with django_translation.override("de"):
        assert "zu lang" in str(prompt.notes[0])


def test_compose_prompt_reuses_a_translation_without_translating_again(monkeypatch):
    monkeypatch.setattr(
        "inpainting_core.prompts.translate_to_english",
        lambda text: pytest.fail("composing must not translate"),
    )
    prompt = compose_prompt("Ein See", "a lake", "glossary", "winter", word_budget(14))
    assert prompt.final.startswith("aerial satellite photo of Olpe in deep winter, a lake")
    assert prompt.translated == "a lake" and word_budget(14).fits(prompt.final)


def test_a_single_endless_word_is_shortened_within_the_budget_too():
    word = "x" * 60
    prompt = compose_prompt(word, word, "english", "none", PromptBudget(12, len), shorten=True)
    assert prompt.final == "x" * 12
    assert f"“{'x' * 48}”" in str(prompt.notes[0])
