"""Every visitor-facing string of the JavaScript has its German and its Dutch translation.

The scripts translate through the `gettext`/`ngettext` globals of Django's
JavaScriptCatalog (/jsi18n/), which serves the `djangojs` domain. `makemessages
-d djangojs` finds only calls with a string literal, so a string passed through
a helper (`t(text)`) or a variable never reaches locale/de/LC_MESSAGES/djangojs.po:
the visitor then reads English on a German (or Dutch) kiosk or wall.
"""
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.translation.trans_real import DjangoTranslation

STRING = r'"((?:[^"\\\n]|\\.)*)"'
GETTEXT = re.compile(r"(?<![\w.])gettext\(\s*" + STRING + r"\s*\)")
NGETTEXT = re.compile(r"(?<![\w.])ngettext\(\s*" + STRING + r"\s*,\s*" + STRING + r"\s*,")
ANY_CALL = re.compile(r"(?<![\w])n?gettext\(\s*(\S)")


def scripts():
    folder = Path(settings.BASE_DIR) / "static/js"
    return sorted(folder.rglob("*.js"))


def unescape(text):
    return re.sub(r"\\(.)", r"\1", text)


def js_strings():
    """(file, msgid, plural or None) of every gettext/ngettext call in static/js."""
    found = []
    for path in scripts():
        source = path.read_text()
        name = path.relative_to(settings.BASE_DIR).as_posix()
        found += [(name, unescape(msgid), None) for msgid in GETTEXT.findall(source)]
        found += [(name, unescape(one), unescape(many)) for one, many in NGETTEXT.findall(source)]
    return found


@pytest.fixture(scope="module", params=["de", "nl"])
def catalogue(request):
    # The catalogue /jsi18n/ serves: the djangojs domain of LOCALE_PATHS and the apps.
    return DjangoTranslation(request.param, domain="djangojs")


def test_the_scripts_translate_only_string_literals():
    # makemessages cannot see `gettext(variable)`: such a string is never translated.
    calls = [
        (path.name, match.group(0)) for path in scripts()
        for match in ANY_CALL.finditer(path.read_text()) if match.group(1) != '"'
    ]
    assert calls == []


def test_every_javascript_string_has_a_translation(catalogue):
    strings = js_strings()
    msgids = {msgid for _, msgid, _ in strings}
    # The finder finds the kiosk's, the wall's and the compare slider's strings.
    assert {"Sending your wish …", "by %(name)s", "Map: %(world)s",
            "Divider between before and after",
            "This map cannot be selected by regions yet. Please use the brush."} <= msgids
    assert any(plural for _, _, plural in strings)
    missing = []
    for name, msgid, plural in strings:
        if plural is None:
            translated = catalogue.gettext(msgid) != msgid
        else:
            translated = (catalogue.ngettext(msgid, plural, 1) != msgid
                          and catalogue.ngettext(msgid, plural, 2) != plural)
        if not translated:
            missing.append((name, msgid))
    assert missing == []


def test_the_catalogues_keep_the_placeholders(catalogue):
    # A translation that drops or renames %(name)s breaks interpolate() on the page.
    for _, msgid, plural in js_strings():
        translated = catalogue.gettext(msgid) if plural is None else catalogue.ngettext(msgid, plural, 2)
        source = msgid if plural is None else plural
        assert sorted(re.findall(r"%\(\w+\)s", translated)) == sorted(
            re.findall(r"%\(\w+\)s", source)), msgid
