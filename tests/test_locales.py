"""Every language a visitor can choose is complete: no entry untranslated, none fuzzy.

Django shows the English source text for an empty translation and ignores a
fuzzy one, so either would put English (or, after a changed msgid, a stale
translation marked fuzzy by makemessages) in front of a German or Dutch visitor.
The compiled catalogues (.mo, what Django reads) must match their sources.
"""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
SOURCE_LANGUAGE = "en"  # the msgids are English
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != SOURCE_LANGUAGE]
DOMAINS = ["django", "djangojs"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def catalogue(language: str, domain: str) -> polib.POFile:
    path = LOCALE / language / "LC_MESSAGES" / f"{domain}.po"
    assert path.exists(), f"{path} is missing: makemessages -l {language}"
    return polib.pofile(str(path))


def texts(entry: polib.POEntry) -> list[str]:
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


def test_dutch_is_offered_in_its_own_name():
    from django.utils.translation import get_language_info

    assert [code for code, _ in settings.LANGUAGES] == ["de", "en", "nl"]
    assert get_language_info("nl")["name_local"] == "Nederlands"


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", TRANSLATED)
def test_every_entry_is_translated_and_none_is_fuzzy(language, domain):
    po = catalogue(language, domain)
    assert len(po) > 20, "an empty catalogue translates nothing"
    assert not po.metadata_is_fuzzy, "a fuzzy header: msgfmt may drop the plural rules"
    assert po.metadata.get("Language") == language
    untranslated = [entry.msgid for entry in po if not all(text.strip() for text in texts(entry))]
    fuzzy = [entry.msgid for entry in po if entry.fuzzy]
    obsolete = [entry.msgid for entry in po.obsolete_entries()]
    assert (untranslated, fuzzy, obsolete) == ([], [], [])


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_their_placeholders(language, domain):
    wrong = []
    for entry in catalogue(language, domain):
        for index, text in enumerate(texts(entry)):
            source = entry.msgid_plural if entry.msgid_plural and index else entry.msgid
            # a singular may say "one" instead of its number (Dutch "één keer")
            expected = sorted(set(PLACEHOLDER.findall(source)))
            found = sorted(set(PLACEHOLDER.findall(text)))
            if found != expected and not (entry.msgid_plural and index == 0
                                          and set(found) <= set(expected)):
                wrong.append((entry.msgid, text))
    assert wrong == []


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_matches_its_source(language, domain):
    """compilemessages was run after the last change of the .po file."""
    po = catalogue(language, domain)
    mo_path = LOCALE / language / "LC_MESSAGES" / f"{domain}.mo"
    assert mo_path.exists(), f"{mo_path} is missing: compilemessages -l {language}"
    compiled = {(entry.msgctxt, entry.msgid): texts(entry) for entry in polib.mofile(str(mo_path))}
    written = {(entry.msgctxt, entry.msgid): texts(entry) for entry in po if entry.msgid}
    stale = {key for key in written if compiled.get(key) != written[key]}
    assert stale == set()


def test_a_dutch_visitor_reads_dutch(client, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "nl"
    page = client.get("/kiosk/").content.decode()
    assert 'lang="nl"' in page and "Wat als Olpe er anders uitzag?" in page
    assert "Nederlands" in page and "Deutsch" in page and "English" in page
