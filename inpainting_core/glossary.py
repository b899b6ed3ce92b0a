"""German wishes without a network: finding the words of a wish and translating it.

Google Translate is the first choice for a German wish, but the museum must keep
working when the network is down, so this module translates the words a visitor
is likely to use for a landscape or a town, with the tables of
inpainting_core.vocabulary: nouns with their land cover (what the classic engine
paints), adjectives, and the function words and wish phrasing ("Was wäre, wenn
hier ein ... wäre?") that must vanish rather than become word salad. It also
finds the English keywords, because English wishes need land covers and prompt
tags too.

Every German word is looked up in a folded spelling (lowercase, ä -> ae, ö -> oe,
ü -> ue, ß -> ss), so "Brücke", "Bruecke" and "BRÜCKE" are the same word.
Inflected forms and compounds are reduced to a known word by stripping endings,
undoing a plural umlaut and splitting off the longest known tail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Optional

from inpainting_core.vocabulary import (
    COMPOUND_MODIFIERS,
    ENGLISH_KEYWORDS,
    ENGLISH_WORDS,
    GERMAN_ADJECTIVES,
    GERMAN_FUNCTION_WORDS,
    GERMAN_NOUNS,
    GERMAN_WORDS,
    KEYWORD_TAGS,
    PLURAL_DETERMINERS,
    SINGULAR_DETERMINERS,
    Noun,
    fold,
)


@dataclass(frozen=True)
class Match:
    """A German word recognised as a noun: the noun, its number, and a compound's front part."""

    noun: Noun
    plural: bool
    modifier: str = ""

    @property
    def land_cover(self) -> Optional[str]:
        return self.noun.land_cover

    def english(self, plural: Optional[bool] = None) -> str:
        """English in the number the word was written in, or in the number a determiner asks for."""
        words = self.noun.in_number(self.plural if plural is None else plural)
        return f"{self.modifier} {words}" if self.modifier else words


# --- Looking up German words --------------------------------------------------------

_ENDINGS = ("ern", "en", "er", "es", "em", "e", "n", "s")
_PLURAL_ENDINGS = frozenset({"ern", "en", "er", "e", "n", "s"})
_ADJECTIVE_ENDINGS = ("en", "er", "es", "em", "e")
_LINKING_ENDINGS = ("en", "es", "er", "n", "s", "e")
_MIN_STEM = 3
_MIN_COMPOUND_HEAD = 4
_SHORT_COMPOUND_HEADS = frozenset({"see", "hof"})  # Badesee, Innenhof; "eis" would split "Kreis"


def _without_last_umlaut(folded: str) -> str:
    """Undo the umlaut a German plural adds to the stem ("haeus" -> "haus")."""
    position = max(folded.rfind(pair) for pair in ("ae", "oe", "ue"))
    if position < 0:
        return folded
    return folded[:position] + folded[position] + folded[position + 2:]


def _candidate_stems(folded: str) -> Iterator[tuple[str, bool]]:
    """The word itself, then its possible stems, each with whether the form was plural."""
    yield folded, False
    unlauted = _without_last_umlaut(folded)
    if unlauted != folded:
        yield unlauted, True
    for ending in _ENDINGS:
        if folded.endswith(ending) and len(folded) - len(ending) >= _MIN_STEM:
            stem = folded[: -len(ending)]
            plural = ending in _PLURAL_ENDINGS
            yield stem, plural
            unlauted = _without_last_umlaut(stem)
            if unlauted != stem:
                yield unlauted, True


def _modifier_english(modifier: str) -> str:
    """English for the front part of a compound, or "" if unknown ("Fichten" -> "spruce")."""
    candidates = [modifier, modifier + "e"]
    candidates += [modifier[: -len(end)] for end in _LINKING_ENDINGS if modifier.endswith(end)]
    for candidate in candidates:
        if candidate in COMPOUND_MODIFIERS:
            return COMPOUND_MODIFIERS[candidate]
        if candidate in GERMAN_NOUNS:
            return GERMAN_NOUNS[candidate].english
        if candidate in GERMAN_ADJECTIVES:
            return GERMAN_ADJECTIVES[candidate][0]
    return ""


def _split_compound(stem: str) -> Optional[tuple[str, Noun]]:
    """The longest known noun at the end of `stem`, with the English of what precedes it."""
    for start in range(_MIN_STEM, len(stem) - 2):
        head = stem[start:]
        if head not in GERMAN_NOUNS:
            continue
        if len(head) < _MIN_COMPOUND_HEAD and head not in _SHORT_COMPOUND_HEADS:
            continue
        return _modifier_english(stem[:start]), GERMAN_NOUNS[head]
    return None


def lookup_noun(word: str) -> Optional[Match]:
    """Recognise a German noun in any case, number, spelling or as the tail of a compound."""
    stems = list(_candidate_stems(fold(word)))
    for stem, plural in stems:
        if stem in GERMAN_NOUNS:
            return Match(GERMAN_NOUNS[stem], plural)
    for stem, plural in stems:
        compound = _split_compound(stem)
        if compound:
            modifier, noun = compound
            return Match(noun, plural, modifier)
    return None


def lookup_adjective(word: str) -> Optional[tuple[str, Optional[str]]]:
    """English and land cover of a German adjective in any declension ("verschneiten")."""
    folded = fold(word)
    candidates = [folded] + [
        folded[: -len(end)]
        for end in _ADJECTIVE_ENDINGS
        if folded.endswith(end) and len(folded) - len(end) >= _MIN_STEM
    ]
    for candidate in candidates:
        if candidate in GERMAN_ADJECTIVES:
            return GERMAN_ADJECTIVES[candidate]
    return None


# --- Translating a German wish word by word -----------------------------------------

_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*|\d+|[,.;:!?]")


@dataclass
class _Sentence:
    """English words so far, and the number the last determiner asked for."""

    words: list[str]
    number: Optional[bool] = None  # True plural, False singular, None not set

    def add_determiner(self, english: str) -> None:
        if english in PLURAL_DETERMINERS or (english.isdigit() and english != "1"):
            self.number = True
        elif english in SINGULAR_DETERMINERS:
            self.number = False
        self.words.append(english)

    def add_noun(self, match: Match) -> None:
        self.words.append(match.english(self.number))
        self.number = None


def _translate_token(token: str, sentence: _Sentence) -> None:
    if token.isdigit():
        sentence.add_determiner(token)
        return
    folded = fold(token)
    if token[0].isupper() and folded in GERMAN_NOUNS:  # "Weg" the path, not "weg" (away)
        sentence.add_noun(Match(GERMAN_NOUNS[folded], plural=False))
    elif folded in GERMAN_FUNCTION_WORDS:
        if GERMAN_FUNCTION_WORDS[folded]:
            sentence.add_determiner(GERMAN_FUNCTION_WORDS[folded])
    elif match := lookup_noun(token):
        sentence.add_noun(match)
    elif adjective := lookup_adjective(token):
        sentence.words.append(adjective[0])
    elif token[0].isupper() or _known_keyword([token.lower()]):
        # An unknown noun (a name, a "Dinosaurier") or an English word in a German
        # wish ("ein lake") is better kept than lost; unknown lowercase words are
        # mostly verbs and particles, and dropping them avoids word salad.
        sentence.words.append(token)


def translate(text: str) -> str:
    """English for a German wish, word by word; unknown lowercase words are dropped."""
    sentence = _Sentence(words=[])
    for token in _TOKEN.findall(text):
        if token in ",.;:!?":
            sentence.words.append(",")
            sentence.number = None
        else:
            _translate_token(token, sentence)
    return tidy(" ".join(sentence.words))


def tidy(english: str) -> str:
    """Commas, articles and spacing of English assembled from pieces."""
    english = re.sub(r"\s*,(?:\s*,)*\s*", ", ", english)
    english = re.sub(r"\bof of\b", "of", english)
    english = re.sub(r"\ba (?=[aeiouAEIOU])", "an ", english)
    english = re.sub(r"\s+", " ", english)
    return english.strip(" ,")


# --- Which language, which land covers ----------------------------------------------

_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_GERMAN_LETTERS = re.compile(r"[äöüßÄÖÜ]")


def singular(english: str) -> str:
    if english.endswith("ies") and len(english) > 4:
        return english[:-3] + "y"
    if re.search(r"(ss|x|z|ch|sh)es$", english):
        return english[:-2]
    if english.endswith("s") and not english.endswith("ss"):
        return english[:-1]
    return english


def looks_english(text: str) -> bool:
    """More known English than German words, and no umlauts; ties count as German.

    Words like "See", "Park" or "Hotel" exist in both languages; a museum in
    Olpe hears German more often, so a tie goes to German.
    """
    if _GERMAN_LETTERS.search(text):
        return False
    words = [word.lower() for word in _WORD.findall(text)]
    english = sum(word in ENGLISH_WORDS or singular(word) in ENGLISH_WORDS for word in words)
    german = sum(fold(word) in GERMAN_WORDS for word in words)
    return english > german


_ADJECTIVE_KEYWORDS = frozenset({"snowy", "icy", "frozen", "flooded", "wooded", "sandy", "rocky"})


def find_english_keywords(text: str) -> list[str]:
    """Keywords (ENGLISH_KEYWORDS and KEYWORD_TAGS) in order of mention, longest phrase first.

    A noun keyword right before another one only qualifies it: a "mountain
    lake" is a lake and a "village church" a church.
    """
    spans = _keyword_spans([word.lower() for word in _WORD.findall(text)])
    starts = {start for start, _, _ in spans}
    return [
        keyword
        for _, end, keyword in spans
        if keyword in _ADJECTIVE_KEYWORDS or end not in starts
    ]


def _keyword_spans(words: list[str]) -> list[tuple[int, int, str]]:
    spans, position = [], 0
    while position < len(words):
        for length in (3, 2, 1):
            keyword = _known_keyword(words[position : position + length])
            if keyword and len(keyword.split()) == length:
                spans.append((position, position + length, keyword))
                position += length
                break
        else:
            position += 1
    return spans


def _known_keyword(words: list[str]) -> Optional[str]:
    phrase = " ".join(words)
    phrase_in_singular = " ".join([*words[:-1], singular(words[-1])])
    for candidate in (phrase, phrase_in_singular):
        if candidate in ENGLISH_KEYWORDS or candidate in KEYWORD_TAGS:
            return candidate
    return None


def english_land_covers(text: str) -> list[str]:
    return [ENGLISH_KEYWORDS[k] for k in find_english_keywords(text) if k in ENGLISH_KEYWORDS]
