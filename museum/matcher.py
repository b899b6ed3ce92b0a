"""The blocklist as one regular expression: which term, if any, a text contains.

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
  first two letters; from EDIT_MIN_LETTERS letters also one letter changed
  ("Swaztika") or swapped with its neighbour ("Hakenkruez") where the term
  starts a word. Not for the other categories: measured against German and
  English word lists, those turn everyday words into terms
  ("folter"/"Falter", "erstechen"/"Würstchen"); see the constants.

Speed: all active terms, with their looser spellings, are compiled into one
regular expression (a trie; about 0.2 s for the shipped list), kept per
process and rebuilt when a term changes in this process (signals) or, when
the terms in the database differ, after `OLPE_BLOCKLIST_REFRESH_SECONDS`
(other processes: workers, a second web server). A 300-character German or
English wish is checked in about 0.1 ms, one that needs several readings
(look-alikes, wildcards) in under 0.5 ms: benchmarks/bench_moderation.py.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Iterable, Optional

from museum.blocklist_data import EXTREMISM
from museum.spelling import WILDCARD, normalise, spellings

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
NEAR_MISS_CATEGORIES = frozenset({EXTREMISM})
NEAR_MISS_MIN_LETTERS = 6
# One letter changed or swapped with its neighbour ("Swaztika", "Hakenkruez") counts
# for those terms with this many letters or more, and only where the term starts a
# word. Measured the same way: from 7 letters, and anchored, it blocks six words of the
# two lists that the other spellings do not, all "judenfeindlich…" (as "judenrein"),
# which the list refuses like "Judenhass"; inside words it turned "Patentlösung" into
# "Endlösung", and at 6 letters "hitler" into "hither" and "Hitter".
EDIT_MIN_LETTERS = 7


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
        if len(letters) >= EDIT_MIN_LETTERS:
            # one letter swapped with its neighbour ("Hakenkruez") or put in place of
            # another ("Swaztika"), still after the first two letters
            for index in range(2, len(tokens)):
                single = tokens[index][0]
                changed = [(ANY_LETTER,)] if len(tokens[index]) == 1 else [
                    (single, ANY_LETTER), (ANY_LETTER, single)  # one of a doubled letter
                ]
                for change in changed:
                    near.add((START, *tokens[:index], *change, *tokens[index + 1:]))
                if index + 1 < len(tokens) and tokens[index] != tokens[index + 1]:
                    near.add((START, *tokens[:index], tokens[index + 1], tokens[index],
                              *tokens[index + 2:]))
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


