"""How a text is spelled before it is compared with the blocklist: plain text in, text out.

Spelling (`normalise`, `spellings`), the same for terms and texts:

* Unicode, by libraries rather than tables of our own: NFKC folds
  compatibility forms (full-width, mathematical bold or script letters,
  enclosed letters, ligatures, super- and subscripts); letters of other
  scripts that look Latin are read as the Latin letter they look like, after
  Unicode's confusables data (`confusable-homoglyphs`: a Cyrillic "Н" reads
  "h", a Greek capital Nu "n"); then the text is casefolded and spelled in
  ASCII by `anyascii` (small capitals, runes, squared and regional-indicator
  letters, IPA, accents). Where look and sound disagree (a Cyrillic "Н" is
  spoken "n"), both readings are checked. Invisible characters and combining
  marks vanish.
* German: "ä", "ae" and a decomposed "a" + diaeresis all read "ae", "ß" reads
  "ss", and a term's umlaut also matches its plain vowel ("mörder": "moerder",
  "morder").
* Leetspeak: digits in a word with letters (0→o, 1→i, 3→e, 4→a, 5→s, 7→t),
  "@", "$" and "€", "!" inside a word (→ i), "|" starting a word (→ i) or
  ending one (→ l), a few letters drawn with signs ("|-|" → h), and "*", "|"
  or "1" inside a word as a wildcard for one letter ("N*zi", "H|tler",
  "Hit1er"). A number on its own stays a number: "Olpe 1888" and "Haus Nr.
  88" are not letters.
* Repeated letters: runs of three or more count as two; a single letter of a
  term may be doubled ("Hittler"), a doubled one must be ("nigger" is not in
  "weniger"), except "ss", which also matches "s" ("Scheise").
* Separators: punctuation inside a word joins it ("n.a.z.i", "arsch-loch")
  and also parts it ("KZ-Wächter" has the word "kz"); single letters spaced
  out ("n a z i") are joined.

Symbols: the swastika characters (卐, 卍, the Tibetan svasti signs) are kept
as they are, so the list can block them like words; `museum.blocklist_data`
explains why 卍 (manji, a temple sign on Japanese maps) is refused as well.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable

from anyascii import anyascii
from confusable_homoglyphs import categories as unicode_scripts
from confusable_homoglyphs import confusables

# The swastika characters are kept as they are, so the list can block them as terms.
# (anyascii spells 卐 and 卍 as the Chinese reading "wan", which hides in "swan" and
# "Wand", and the Tibetan svasti signs as "+".) Both orientations are blocked by the
# shipped list; see museum.blocklist_data for why 卍 (manji) is refused too.
SYMBOLS = frozenset("\u5350\u534d\u0fd5\u0fd6\u0fd7\u0fd8")  # 卐 卍 ࿕ ࿖ ࿗ ࿘

# Signs used as letters wherever they stand (before anyascii, which spells € as "EUR").
_SIGNS_AS_LETTERS = str.maketrans({"@": "a", "$": "s"})
_UMLAUTS_AND_SIGNS = {"ä": "ae", "ö": "oe", "ü": "ue", "@": "a", "$": "s", "€": "e"}
# Digits used as letters, only inside a word that has letters: "N4Z1", not "1888".
_DIGITS_AS_LETTERS = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
)
_DIGITS_AS_WILDCARDS = str.maketrans(
    {"0": "o", "1": "*", "3": "e", "4": "a", "5": "s", "7": "t"}
)
_ONE_INSIDE_WORD = re.compile(r"[a-z]1|1[a-z]")
# Letters drawn with ASCII signs, longest first: "|-|itler", "|\\|azi".
_ASCII_ART = tuple(
    (re.compile(re.escape(art)), letter)
    for art, letter in (("|-|", "h"), ("|\\|", "n"), ("|_|", "u"), ("\\/\\/", "w"),
                        ("\\/", "v"), ("/\\", "a"))
)
_BANG_INSIDE_WORD = re.compile(r"(?<=[a-z0-9])!(?=[a-z0-9])")  # "H!tler"
# Other readings of "!", only for texts that have one: a letter "i" wherever it touches
# a word ("n@z!", "n.@.z.!"), or a separator between letters ("n!a!z!i").
_BANG_TOUCHING_WORD = re.compile(r"(?<=[a-z0-9.\-_*'`´’~+|/\\:])!|!(?=[a-z0-9])")
_BANG_BETWEEN_LETTERS = re.compile(r"(?<=[a-z0-9])!+(?=[a-z0-9])")
_PIPE_STARTING_WORD = re.compile(r"(?<![a-z0-9|])\|(?=[a-z0-9])")  # "|diot"
_PIPES_ENDING_WORD = re.compile(r"(?<=[a-z0-9])\|+(?![a-z0-9|])")  # "Ki||"
# "*" or "|" inside a word stands for one letter: "N*zi", "H|tler", "F**k".
_WILDCARDS_INSIDE_WORD = re.compile(r"(?<=[a-z0-9])[*|]+(?=[a-z0-9])")
WILDCARD = "*"
# Written inside a word to disguise it: "n.a.z.i", "f-u-c-k", "arsch_loch".
_INSIDE_WORD_SEPARATORS = re.compile(
    r"(?<=[a-z0-9\x01])[.\-_*'`´’~+|/\\:]+(?=[a-z0-9\x01])"
)
_SYMBOL_CLASS = "".join(sorted(SYMBOLS))
_NOT_WORD = re.compile(f"[^a-z0-9{_SYMBOL_CLASS}]+")
_NOT_WORD_OR_WILDCARD = re.compile(rf"[^a-z0-9\x01{_SYMBOL_CLASS}]+")
# Three or more single letters or digits in a row: "n a z i".
_SPACED_LETTERS = re.compile(r"(?<![a-z0-9*])[a-z0-9](?: [a-z0-9](?![a-z0-9*])){2,}")
_REPEATED_LETTERS = re.compile(r"([a-z])\1\1+")
_DIGIT = re.compile(r"[0-9]")
_WORD_WITH_DIGITS_AND_LETTERS = re.compile(r"(?<![a-z0-9*])(?=[0-9]*[a-z*])[a-z0-9*]+")

_MAX_CACHED_CHARACTERS = 20_000


class _CharacterTable(dict):
    """A `str.translate` table that works out each character on first use.

    Unicode has too many characters to tabulate in advance, and a visitor's text
    has few distinct ones; the cache is capped so odd input cannot grow it forever.
    """

    def __init__(self, spell: Callable[[str], str]):
        super().__init__()
        self._spell = spell

    def __missing__(self, codepoint: int) -> str:
        spelled = self._spell(chr(codepoint))
        if len(self) < _MAX_CACHED_CHARACTERS:
            self[codepoint] = spelled
        return spelled


def _latin_look_alike(char: str) -> str:
    """The Latin letter `char` looks like (Unicode's confusables data), or `char` itself.

    Only letters of other scripts are read this way; a look-alike that is itself
    no ASCII letter (Cyrillic "н" looks like a small capital "ʜ") is spelled by
    anyascii. A capital that looks like "l" looks like a capital "I" just as well
    (Greek "Ι", Cyrillic "І"), and a capital is read as a capital.
    """
    if char.isascii():
        return char
    found = confusables.is_confusable(char, preferred_aliases=["latin"])
    if not found:
        return char
    for glyph in (homoglyph["c"] for homoglyph in found[0]["homoglyphs"]):
        if len(glyph) != 1 or unicode_scripts.alias(glyph) != "LATIN":
            continue
        letter = glyph if glyph.isascii() else anyascii(glyph)
        if len(letter) == 1 and letter.isalpha():
            return "I" if char.isupper() and letter == "l" else letter
    return char


def _ascii_spelling(char: str) -> str:
    """`char` (casefolded) in ASCII: umlauts as "ae", signs used as letters, else anyascii.

    Invisible characters and combining marks vanish; the blocked symbols stay.
    """
    if char in _UMLAUTS_AND_SIGNS:
        return _UMLAUTS_AND_SIGNS[char]
    if char.isascii() or char in SYMBOLS:
        return char
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return ""
    return anyascii(char).lower()


_LOOK_ALIKES = _CharacterTable(_latin_look_alike)
_TO_ASCII = _CharacterTable(_ascii_spelling)


def _ascii_readings(text: str) -> list[str]:
    """`text` lower-cased in ASCII: read by look-alikes first, then by transliteration.

    Most texts have one reading: those in ASCII, and those whose only other
    letters are Latin (umlauts, accents).
    """
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        text = text.lower()
        return [text.translate(_SIGNS_AS_LETTERS) if "@" in text or "$" in text else text]
    transliterated = text.casefold().translate(_TO_ASCII)
    looked_at = text.translate(_LOOK_ALIKES)
    if looked_at == text:
        return [transliterated]
    return list(dict.fromkeys((looked_at.casefold().translate(_TO_ASCII), transliterated)))


def _spell(text: str, *, split: bool = False, wildcards: bool = False) -> str:
    """One spelling of an ASCII reading: a-z, 0-9, single spaces (and symbols, wildcards).

    Punctuation inside a word joins it ("n.a.z.i"), or with `split` parts it
    ("KZ-Wächter"); with `wildcards`, "*", "|" and "1" inside a word stand
    for any one letter.
    """
    if "/" in text or "\\" in text or "|" in text:
        for art, letter in _ASCII_ART:
            text = art.sub(letter, text)
    if "!" in text:
        text = _BANG_INSIDE_WORD.sub("i", text)
    if "|" in text:
        text = _PIPE_STARTING_WORD.sub("i", text)
        text = _PIPES_ENDING_WORD.sub(lambda pipes: "l" * len(pipes.group()), text)
    if wildcards:  # marked as "\x01" until the other signs are gone, then "*"
        text = _WILDCARDS_INSIDE_WORD.sub(lambda signs: "\x01" * len(signs.group()), text)
    text = _INSIDE_WORD_SEPARATORS.sub(" " if split else "", text)
    if wildcards:
        text = _NOT_WORD_OR_WILDCARD.sub(" ", text).strip().replace("\x01", WILDCARD)
    else:
        text = _NOT_WORD.sub(" ", text).strip()
    text = _SPACED_LETTERS.sub(lambda match: match.group().replace(" ", ""), text)
    if _DIGIT.search(text):
        digits = _DIGITS_AS_WILDCARDS if wildcards else _DIGITS_AS_LETTERS
        text = _WORD_WITH_DIGITS_AND_LETTERS.sub(lambda word: word.group().translate(digits), text)
    return _REPEATED_LETTERS.sub(r"\1\1", text)


def normalise(text: str) -> str:
    """The spelling terms and wishes are compared in: a-z, 0-9 and single spaces.

    (Blocked symbols such as the swastika stay as they are.) Letters of other
    scripts are read as the Latin letters they look like; `spellings` also
    gives the other readings a text is checked in.
    """
    return _spell(_ascii_readings(text or "")[0])


def spellings(text: str) -> list[tuple[str, bool]]:
    """Every spelling `text` is checked in, as (spelling, has_wildcards).

    The first is `normalise(text)`; others only exist for texts that need them:
    letters of other scripts transliterated instead of read as look-alikes
    (Cyrillic "Нitler" reads "hitler" by look, "nitler" by sound), words
    joined by punctuation also read apart (so "KZ-Wächter" has the whole word
    "kz"), "!" read as an "i" wherever it touches a word ("n@z!") and as a
    separator between letters ("n!a!z!i"), and "*", "|" or "1" inside a word
    read as a wildcard letter ("N*zi", "Hit1er": 1 may be an "l" as well as an "i").
    """
    found: dict[str, bool] = {}
    for reading in _ascii_readings(text or ""):
        found.setdefault(_spell(reading), False)
        if "!" in reading:
            found.setdefault(_spell(_BANG_TOUCHING_WORD.sub("i", reading)), False)
            found.setdefault(_spell(_BANG_BETWEEN_LETTERS.sub(".", reading)), False)
        if _INSIDE_WORD_SEPARATORS.search(reading):
            found.setdefault(_spell(reading, split=True), False)
        if "*" in reading or "|" in reading or _ONE_INSIDE_WORD.search(reading):
            spelling = _spell(reading, wildcards=True)
            if WILDCARD in spelling:
                found.setdefault(spelling, True)
    return list(found.items())


