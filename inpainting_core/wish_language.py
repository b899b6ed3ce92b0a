"""Which language a wish is written in: German, English or Dutch.

py3langid (a naive Bayes model over byte n-grams, shipped with the package,
no network) tells the three apart well in a sentence ("Wat als hier een meer
was?"), but a wish of one or two words ("See", "Bos", "lake") is too short
for it. There the glossaries decide: the language with the most known words
wins when the model is unsure, and a tie goes to German, which a museum in
Olpe hears most (`inpainting_core.glossary.looks_english` says the same for
German against English). Without py3langid (an install that lacks it) the
glossaries decide alone, so a wish is never lost to a missing package.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Optional

from inpainting_core import glossary, glossary_nl, vocabulary

logger = logging.getLogger(__name__)

GERMAN, ENGLISH, DUTCH = "de", "en", "nl"
WISH_LANGUAGES = (GERMAN, ENGLISH, DUTCH)
# Below this probability (among the three) the model's answer is a guess.
CONFIDENT = 0.9

_GERMAN_LETTERS = re.compile(r"[äöüßÄÖÜ]")
_DUTCH_LETTERS = re.compile(r"ij|[ëï]", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")

_identifier = None
_identifier_lock = threading.Lock()
_MISSING = object()


def _model():
    """py3langid's identifier limited to the three languages, loaded once (about 1 s)."""
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                try:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier
                except ImportError:
                    logger.warning("py3langid is not installed; wishes' languages are "
                                   "told apart by the glossaries alone")
                    _identifier = _MISSING
                else:
                    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                    identifier.set_languages(list(WISH_LANGUAGES))
                    _identifier = identifier
    return None if _identifier is _MISSING else _identifier


def model_guess(text: str) -> Optional[tuple[str, float]]:
    """(language, probability among the three) from py3langid, or None without it."""
    model = _model()
    if model is None:
        return None
    language, probability = model.classify(text)
    return language, float(probability)


def glossary_votes(text: str) -> dict[str, int]:
    """How many of the wish's words each language's glossary knows."""
    words = [word.lower() for word in _WORD.findall(text)]
    return {
        GERMAN: sum(vocabulary.fold(word) in vocabulary.GERMAN_WORDS
                    or glossary.lookup_noun(word) is not None for word in words),
        ENGLISH: sum(word in vocabulary.ENGLISH_WORDS or glossary.singular(word) in vocabulary.ENGLISH_WORDS
                     for word in words),
        DUTCH: sum(glossary_nl.fold_dutch(word) in glossary_nl.DUTCH_WORDS
                   or glossary_nl.lookup_noun(word) is not None for word in words),
    }


def identify(text: str) -> str:
    """GERMAN, ENGLISH or DUTCH for a wish (German when nothing tells)."""
    if not _WORD.search(text):
        return GERMAN
    if _GERMAN_LETTERS.search(text):
        return GERMAN
    guess = model_guess(text)
    if guess and guess[1] >= CONFIDENT:
        return guess[0]
    votes = glossary_votes(text)
    if _DUTCH_LETTERS.search(text):
        votes[DUTCH] += 1
    best = max(votes.values())
    leaders = [language for language in WISH_LANGUAGES if votes[language] == best]
    if best:
        if len(leaders) == 1:
            return leaders[0]
        if GERMAN in leaders:  # "See", "Park": German, as the museum hears most
            return GERMAN
        return guess[0] if guess and guess[0] in leaders else leaders[0]
    return guess[0] if guess and guess[1] >= 0.5 else GERMAN

def offline_english(text: str, language: str) -> str:
    """The glossary's English for a wish in `language` ("" when it knows no word)."""
    if language == ENGLISH:
        return text
    if language == DUTCH:
        return glossary_nl.translate(text)
    return glossary.translate(text)
