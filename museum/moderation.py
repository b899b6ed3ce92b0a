"""Stop wishes the museum will not paint, before any engine runs.

Curators keep the list of blocked terms in the admin (`BlockedTerm`; the
platform ships a starting list, `museum.blocklist_data`). A wish, a gallery
title and a visitor's first name all pass `check_wish`: a text is refused when
a term occurs in it, compared on spellings that visitors who try to dodge the
list cannot easily escape.

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

Matching (`Matcher`): a term matches inside longer words, because German
builds compounds ("Judenhasser", "Scheißkerl"), unless it is marked
`whole_word_only`; such a term hides in harmless words ("arsch" in "Marsch")
and is matched exactly, as whole words. Every other term also matches:

* with spaces inside it ("Hit ler", "Haken kreuz"), from SPACED_MIN_LETTERS
  letters, where the pieces are whole words: a term must start and end with a
  word, so the end of one harmless word and the start of the next never form
  one ("Uhu rennt" is not "hure", "Sigrun Engel" not "Sig-Rune");
* with its umlauts as plain vowels (above);
* near misses, for the extremist terms (NEAR_MISS_CATEGORIES) of at least
  NEAR_MISS_MIN_LETTERS letters: one vowel or one of a doubled letter left
  out ("Hitlr", "Gaskamer"), or one letter added ("Hakenkreutz"), after the
  first two letters. Not a swapped letter, and not for the other categories:
  measured against German and English word lists, those turn everyday words
  into terms ("folter"/"Falter", "erstechen"/"Würstchen"); see the constants.

Symbols: the swastika characters (卐, 卍, the Tibetan svasti signs) are kept
as they are, so the list can block them like words; `museum.blocklist_data`
explains why 卍 (manji, a temple sign on Japanese maps) is refused as well.

Speed: all active terms, with their looser spellings, are compiled into one
regular expression (a trie; about 0.2 s for the shipped list), kept per
process and rebuilt when a term changes in this process (signals) or, when
the terms in the database differ, after `OLPE_BLOCKLIST_REFRESH_SECONDS`
(other processes: workers, a second web server). A 300-character German or
English wish is checked in about 0.1 ms, one that needs several readings
(look-alikes, wildcards) in under 0.5 ms: benchmarks/bench_moderation.py.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from anyascii import anyascii
from confusable_homoglyphs import categories as unicode_scripts
from confusable_homoglyphs import confusables
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from inpainting_core.wishes import PromptProblem
from museum.models import BlockedAttempt, BlockedTerm

logger = logging.getLogger(__name__)

MAX_RECORDED_CHARS = 2000

# Spaces inside a term ("Hit ler", "Haken kreuz") count for terms of this many letters
# or more, where the pieces are whole words; shorter ones only spaced out letter by
# letter ("n a z i"), so "am ok" stays apart from "amok".
SPACED_MIN_LETTERS = 4
# Near misses (one vowel or one of a doubled letter left out, one letter added: "Hitlr",
# "Gaskamer", "Hakenkreutz") count for terms of these categories with this many letters
# or more. Measured against German and English word lists (Debian's ngerman and
# wamerican, about 430,000 words): for insults, sexual and violent terms, built from
# everyday German, they make hundreds of harmless words into terms ("erstechen" →
# "Würstchen", "erotisch" → "Biertisch", "erschossen" → "erschlossen"); for the
# extremist terms (names, symbols, slogans) three ("Whistler"). Leaving out any letter,
# not just vowels, reaches "Schiller" and "Zwischenlösung"; editing the first two
# letters turns "hitler" into the "htler" of every "Rechtler".
NEAR_MISS_CATEGORIES = frozenset({BlockedTerm.Category.EXTREMISM.value})
NEAR_MISS_MIN_LETTERS = 6

# --- normalising a spelling ------------------------------------------------------------

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
    "kz"), and "*", "|" or "1" inside a word read as a wildcard letter ("N*zi",
    "Hit1er": 1 may be an "l" as well as an "i").
    """
    found: dict[str, bool] = {}
    for reading in _ascii_readings(text or ""):
        found.setdefault(_spell(reading), False)
        if _INSIDE_WORD_SEPARATORS.search(reading):
            found.setdefault(_spell(reading, split=True), False)
        if "*" in reading or "|" in reading or _ONE_INSIDE_WORD.search(reading):
            spelling = _spell(reading, wildcards=True)
            if WILDCARD in spelling:
                found.setdefault(spelling, True)
    return list(found.items())


# --- the matcher -----------------------------------------------------------------------


@dataclass(frozen=True)
class BlockedMatch:
    term: str  # as the curator wrote it
    category: str


# Tokens of a term's spellings, besides its letters (a single letter, which may be
# doubled in a text, or a doubled one, which must be), digits and symbols.
START = "<"  # the term starts a word
END = ">"  # the term ends a word
SPACE = " ?"  # a space may stand here
UMLAUT_E = "e?"  # the "e" of "ae", "oe", "ue" may be left out (an umlaut's plain vowel)
ANY_LETTER = "[a-z]"  # one letter added
_VOWELS = frozenset("aeiouy")
_LETTER_RUNS = re.compile(r"([a-z])\1?|.")


def _letter_tokens(spelling: str, *, loose: bool) -> list[str]:
    """A spelling's letters as tokens: runs of a letter ("s", "ss"), digits, symbols."""
    tokens: list[str] = []
    for run in _LETTER_RUNS.finditer(spelling):
        token = run.group()
        if loose and token == "e" and tokens and tokens[-1] in ("a", "o", "u"):
            token = UMLAUT_E
        tokens.append(token)
    return tokens


def term_spellings(
    normalised_term: str, whole_word_only: bool, *, near_misses: bool = False
) -> tuple[set, set]:
    """A normalised term as token sequences: (its own spellings, its near misses).

    A whole-word term has one spelling, matched as whole words (the words of a
    phrase may be written apart or together). Any other term also matches
    inside longer words, with an umlaut's "e" left out, and, from
    SPACED_MIN_LETTERS letters, with spaces inside it where it makes up whole
    words ("hit ler"). With `near_misses` (see NEAR_MISS_CATEGORIES), a single
    word of NEAR_MISS_MIN_LETTERS or more that is not whole-word also matches
    with one vowel left out or one letter added, after its first two letters.
    """
    words = normalised_term.split()
    letters = "".join(words)
    if not letters:
        return set(), set()
    loose = not whole_word_only

    def anchored(tokens: list[str], *, start: bool, end: bool) -> tuple[str, ...]:
        tokens = list(tokens)
        if start:
            tokens.insert(0, START)
        if end:
            tokens.append(END)
        return tuple(tokens)

    compact: list[str] = []
    for index, word in enumerate(words):
        if index:
            compact.append(SPACE)
        compact.extend(_letter_tokens(word, loose=loose))
    own = {anchored(compact, start=whole_word_only or len(words) > 1, end=whole_word_only)}
    tokens = _letter_tokens(letters, loose=loose)
    if loose and len(letters) >= SPACED_MIN_LETTERS:
        spaced: list[str] = []
        for token in tokens:
            if spaced:
                spaced.append(SPACE)
            spaced.append(token)
        own.add(anchored(spaced, start=True, end=True))

    near: set[tuple[str, ...]] = set()
    if (
        near_misses and loose and len(words) == 1
        and len(letters) >= NEAR_MISS_MIN_LETTERS and letters.isalpha()
    ):
        for index in range(2, len(letters) - 1):
            if letters[index - 1] == letters[index + 1]:
                continue  # a run of three, or one letter doubled ("terror" → "terr")
            if letters[index] in _VOWELS or letters[index] == letters[index - 1]:
                left_out = letters[:index] + letters[index + 1:]
                near.add(tuple(_letter_tokens(left_out, loose=loose)))
        for index in range(2, len(tokens)):
            near.add((*tokens[:index], ANY_LETTER, *tokens[index:]))
        near -= own
    return own, near


_WORD_CHAR = "[a-z0-9*]"


def _render(token: str, wildcards: bool) -> str:
    if token == START:
        return f"(?<!{_WORD_CHAR})"
    if token == END:
        return f"(?!{_WORD_CHAR})"
    if token == SPACE:
        return token
    if token == UMLAUT_E:
        return r"(?:ee?|\*)?" if wildcards else "(?:ee?)?"
    if token == ANY_LETTER:
        return "[a-z*]" if wildcards else token
    if "a" <= token[0] <= "z":
        letter = token[0]
        if token == "ss":  # "ß" is written "ss", and "s" by mistake: "Scheise"
            return r"(?:ss?|\*\*?)" if wildcards else "ss?"
        if len(token) == 2:  # any other doubled letter must be doubled: not "weniger"
            return rf"(?:{letter}{letter}|\*\*?)" if wildcards else letter * 2
        return rf"(?:{letter}{letter}?|\*)" if wildcards else f"{letter}{letter}?"
    return re.escape(token)


def trie_pattern(token_lists: Iterable[tuple[str, ...]], *, wildcards: bool = False) -> str:
    """One regex for many token sequences, with shared prefixes merged.

    A flat alternation of a few thousand spellings makes the regex engine try
    every one at every position of a wish; merged prefixes ("hure",
    "hurensohn") let it give up after one character almost everywhere.
    """
    trie: dict = {}
    for tokens in token_lists:
        node = trie
        for token in tokens:
            node = node.setdefault(token, {})
        node[""] = {}  # a spelling ends here

    def emit(node: dict) -> str:
        branches = [
            _render(token, wildcards) + emit(child) for token, child in node.items() if token
        ]
        if not branches:
            return ""
        group = f"(?:{'|'.join(branches)})"
        return f"{group}?" if "" in node else group  # greedy: the longest spelling wins

    return emit(trie)


class _Term:
    """One active term: what it reports, and its spellings (compiled only on a hit)."""

    def __init__(self, match: BlockedMatch, spelled: str, own: set, near: set):
        self.match = match
        self.spelled = spelled  # normalised
        self.own = sorted(own)
        self.near = sorted(near)
        self.first_letters = {
            (tokens[1] if tokens[0] == START else tokens[0])[0] for tokens in (*own, *near)
        }
        self._patterns: dict[tuple[bool, bool], Optional[re.Pattern]] = {}

    def pattern(self, *, near: bool, wildcards: bool) -> Optional[re.Pattern]:
        key = (near, wildcards)
        if key not in self._patterns:
            spellings_ = self.near if near else self.own
            self._patterns[key] = (
                re.compile(trie_pattern(spellings_, wildcards=wildcards)) if spellings_ else None
            )
        return self._patterns[key]


class Matcher:
    """All active terms as one regular expression, built from a trie of their spellings."""

    def __init__(self, terms):
        # Longest first, so a hit is reported as the most specific term.
        self._terms: list[_Term] = []
        every: dict[tuple[str, ...], None] = {}  # ordered, so the regex is the same every time
        seen_own: set[tuple[str, ...]] = set()
        for term in sorted(terms, key=lambda term: (-len(normalise(term.term)), term.term)):
            normalised = normalise(term.term)
            own, near = term_spellings(
                normalised, term.whole_word_only,
                near_misses=term.category in NEAR_MISS_CATEGORIES,
            )
            own -= seen_own  # two terms spelled alike: the first reports it
            if not own:
                continue
            seen_own |= own
            self._terms.append(
                _Term(BlockedMatch(term.term, term.category), normalised, own, near)
            )
            every.update(dict.fromkeys(sorted(own)))
            every.update(dict.fromkeys(sorted(near)))
        self._spellings = list(every)
        self._regex = re.compile(trie_pattern(self._spellings)) if every else None
        self._wildcard_regex: Optional[re.Pattern] = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._terms)

    def _regex_for(self, wildcards: bool) -> re.Pattern:
        if not wildcards:
            return self._regex
        with self._lock:  # only wishes with "*" or "|" inside a word need it
            if self._wildcard_regex is None:
                self._wildcard_regex = re.compile(trie_pattern(self._spellings, wildcards=True))
            return self._wildcard_regex

    def find(self, text: str) -> Optional[BlockedMatch]:
        if self._regex is None:
            return None
        for spelling, wildcards in spellings(text):
            found = self._regex_for(wildcards).search(spelling)
            if found is not None:
                return self._which(spelling, found.start(), found.end(), wildcards)
        return None

    def _which(self, spelling: str, start: int, end: int, wildcards: bool) -> BlockedMatch:
        """The term behind a hit: only looked up on hits, which are rare.

        A term spelled exactly as the hit comes first, then a term's own
        spellings before near misses, and a hit of the same length before a
        shorter one.
        """
        first = spelling[start]
        candidates = [
            term for term in self._terms
            if first in term.first_letters or (wildcards and first == WILDCARD)
        ]
        hit_text = spelling[start:end]
        for term in candidates:
            if term.spelled == hit_text:
                return term.match
        fallback = None
        for near in (False, True):
            for term in candidates:
                pattern = term.pattern(near=near, wildcards=wildcards)
                hit = pattern.match(spelling, start) if pattern else None
                if hit is None:
                    continue
                if hit.end() == end:
                    return term.match
                fallback = fallback or term.match
        return fallback or candidates[0].match


class _MatcherCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._entry: Optional[tuple[float, tuple, Matcher]] = None

    def get(self) -> Matcher:
        with self._lock:
            if self._entry is None or time.monotonic() - self._entry[0] > refresh_seconds():
                terms = list(
                    BlockedTerm.objects.filter(active=True).only(
                        "term", "category", "whole_word_only"
                    )
                )
                key = tuple(sorted((t.term, t.category, t.whole_word_only) for t in terms))
                if self._entry is not None and self._entry[1] == key:
                    matcher = self._entry[2]  # unchanged: skip compiling the regex again
                else:
                    matcher = Matcher(terms)
                self._entry = (time.monotonic(), key, matcher)
            return self._entry[2]

    def forget(self) -> None:
        with self._lock:
            self._entry = None


_matcher_cache = _MatcherCache()


def refresh_seconds() -> float:
    return float(settings.OLPE_BLOCKLIST_REFRESH_SECONDS)


def current_matcher() -> Matcher:
    return _matcher_cache.get()


def forget_matcher() -> None:
    """Rebuild the matcher on next use (after a bulk update that sends no signals)."""
    _matcher_cache.forget()


@receiver(post_save, sender=BlockedTerm, dispatch_uid="museum.moderation.term_saved")
@receiver(post_delete, sender=BlockedTerm, dispatch_uid="museum.moderation.term_deleted")
def _blocked_term_changed(sender, **kwargs) -> None:
    forget_matcher()


# --- checking a wish -------------------------------------------------------------------


class WishBlocked(PromptProblem):
    """A wish (or title, or name) with a blocked term; the message does not repeat the term."""

    def __init__(self, match: BlockedMatch, *, field: str = "prompt"):
        super().__init__(
            _("Sorry, we cannot paint this idea. Why not try something else?"),
            code="blocked",
            field=field,
        )
        self.term = match.term
        self.category = match.category


def find_blocked_term(text: str) -> Optional[BlockedMatch]:
    """The first blocked term in `text`, or None; records nothing."""
    return current_matcher().find(text or "")


def check_wish(
    wish: str, *, kiosk_session: str = "", client_ip: Optional[str] = None, field: str = "prompt"
) -> None:
    """Raise WishBlocked if `wish` contains a blocked term, and record the attempt.

    Call it outside any transaction the exception rolls back, or the record of
    the attempt is rolled back with it. `field` names the input for the
    error (a title or a visitor's name is checked the same way).
    """
    match = find_blocked_term(wish)
    if match is None:
        return
    BlockedAttempt.objects.create(
        wish=(wish or "")[:MAX_RECORDED_CHARS],
        matched_term=match.term[:80],
        category=match.category,
        kiosk_session=(kiosk_session or "")[:64],
        client_ip=_valid_ip(client_ip),
    )
    logger.info("Blocked a %s (%s term %r)", field, match.category, match.term)
    raise WishBlocked(match, field=field)


def _valid_ip(address: Optional[str]) -> Optional[str]:
    if not address:
        return None
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address
