"""Stop wishes the museum will not paint, before any engine runs.

Curators keep the list of blocked terms in the admin (`BlockedTerm`; the
platform ships a starting list, `gallery.blocklist_data`). A wish is blocked
when a term occurs in it, compared on a normalised spelling, so the obvious
disguises do not get through:

* case, accents and look-alike letters from other alphabets ("Nаzi" with a
  Cyrillic а), full-width and other compatibility forms;
* umlauts: "ä", "ae" and a decomposed "a" + diaeresis all read "ae", "ß" reads "ss";
* digits and signs used as letters: 0→o, 1→i, 3→e, 4→a, 5→s, 7→t, @→a, $→s;
* repeated letters ("fiiiick"), and punctuation inside a word ("n.a.z.i",
  "arsch-loch") or single letters spaced out ("n a z i");
* German compounds: a term also matches inside a longer word ("Judenhasser",
  "Scheißkerl"), unless the term is marked `whole_word_only` because it hides
  in harmless words ("arsch" in "Marsch").

Terms are normalised the same way as wishes, so a curator types a term as it
is spelled. All active terms are compiled into one regular expression (a
trie of their spellings, so a check takes microseconds), kept
per process and rebuilt when a term changes in this process (signals) or
after `OLPE_BLOCKLIST_REFRESH_SECONDS` (other processes: workers, a second
web server).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Optional

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from gallery.models import BlockedAttempt, BlockedTerm
from inpainting.prompts import PromptProblem

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 60.0
MAX_RECORDED_CHARS = 2000

# --- normalising a spelling ------------------------------------------------------------

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})

# Letters from other alphabets that look like Latin ones, and digits and signs
# used as letters. Applied after NFKD, so full-width forms are already ASCII.
_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "г": "r", "е": "e", "і": "i", "ј": "j", "к": "k", "м": "m",
        "н": "h", "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x",
        "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
        # Greek
        "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x",
        # digits and signs for letters
        "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
        "€": "e",
    }
)

# Written inside a word to disguise it: "n.a.z.i", "f-u-c-k", "arsch_loch".
_INSIDE_WORD_SEPARATORS = re.compile(r"(?<=[a-z0-9])[.\-_*'`´’~+|/\\:]+(?=[a-z0-9])")
_NOT_LETTER_OR_DIGIT = re.compile(r"[^a-z0-9]+")
# Three or more single letters in a row: "n a z i".
_SPACED_LETTERS = re.compile(r"\b[a-z0-9](?: [a-z0-9]\b){2,}")
_REPEATS = re.compile(r"(.)\1+")


def normalise(text: str) -> str:
    """The spelling terms and wishes are compared in: a-z, 0-9 and single spaces."""
    text = unicodedata.normalize("NFC", text or "").casefold().translate(_UMLAUTS)
    text = "".join(
        char for char in unicodedata.normalize("NFKD", text)
        if unicodedata.category(char) not in ("Mn", "Cf")
    )
    text = _INSIDE_WORD_SEPARATORS.sub("", text.translate(_LOOKALIKES))
    text = _NOT_LETTER_OR_DIGIT.sub(" ", text).strip()
    text = _SPACED_LETTERS.sub(lambda match: match.group().replace(" ", ""), text)
    return _REPEATS.sub(r"\1", text)


# --- the matcher -----------------------------------------------------------------------


@dataclass(frozen=True)
class BlockedMatch:
    term: str  # as the curator wrote it
    category: str


def term_tokens(normalised_term: str, whole_word_only: bool) -> tuple[str, ...]:
    """A term as regex pieces; its words may be written apart or together ("heil hitler")."""
    tokens: list[str] = [r"\b"] if whole_word_only else []
    for index, word in enumerate(normalised_term.split()):
        if index:
            tokens.append(r"\s?")
        tokens.extend(re.escape(char) for char in word)
    if whole_word_only:
        tokens.append(r"\b")
    return tuple(tokens)


def trie_pattern(token_lists) -> str:
    """One regex for many terms, with shared prefixes merged.

    A flat alternation of a few hundred terms makes the regex engine try every
    term at every position of a wish; merged prefixes ("hure", "hurensohn")
    let it give up after one character almost everywhere.
    """
    trie: dict = {}
    for tokens in token_lists:
        node = trie
        for token in tokens:
            node = node.setdefault(token, {})
        node[""] = {}  # a term ends here

    def emit(node: dict) -> str:
        branches = [token + emit(child) for token, child in node.items() if token]
        if not branches:
            return ""
        group = f"(?:{'|'.join(branches)})"
        return f"{group}?" if "" in node else group  # greedy: the longest term wins

    return emit(trie)


class Matcher:
    """All active terms as one regular expression, built from a trie of their spellings."""

    def __init__(self, terms):
        # Longest first, so a hit is reported as the most specific term.
        self._terms: list[tuple[BlockedMatch, re.Pattern]] = []
        seen: dict[tuple[str, ...], None] = {}  # ordered, so the regex is the same every time
        for term in sorted(terms, key=lambda term: (-len(normalise(term.term)), term.term)):
            tokens = term_tokens(normalise(term.term), term.whole_word_only)
            if tokens and tokens not in seen:
                seen[tokens] = None
                self._terms.append(
                    (BlockedMatch(term.term, term.category), re.compile("".join(tokens)))
                )
        self._regex = re.compile(trie_pattern(seen)) if seen else None

    def __len__(self) -> int:
        return len(self._terms)

    def find(self, text: str) -> Optional[BlockedMatch]:
        if self._regex is None:
            return None
        normalised = normalise(text)
        found = self._regex.search(normalised)
        if found is None:
            return None
        return self._which(normalised, found.start(), found.end())

    def _which(self, normalised: str, start: int, end: int) -> BlockedMatch:
        """The term behind a hit: only looked up on hits, which are rare."""
        candidates = [
            (match, hit.end())
            for match, pattern in self._terms
            if (hit := pattern.match(normalised, start))
        ]
        return next((match for match, hit_end in candidates if hit_end == end), candidates[0][0])


class _MatcherCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._entry: Optional[tuple[float, Matcher]] = None

    def get(self) -> Matcher:
        with self._lock:
            if self._entry is None or time.monotonic() - self._entry[0] > refresh_seconds():
                terms = BlockedTerm.objects.filter(active=True).only(
                    "term", "category", "whole_word_only"
                )
                self._entry = (time.monotonic(), Matcher(list(terms)))
            return self._entry[1]

    def forget(self) -> None:
        with self._lock:
            self._entry = None


_matcher_cache = _MatcherCache()


def refresh_seconds() -> float:
    return float(getattr(settings, "OLPE_BLOCKLIST_REFRESH_SECONDS", DEFAULT_REFRESH_SECONDS))


def current_matcher() -> Matcher:
    return _matcher_cache.get()


def forget_matcher() -> None:
    """Rebuild the matcher on next use (after a bulk update that sends no signals)."""
    _matcher_cache.forget()


@receiver(post_save, sender=BlockedTerm, dispatch_uid="gallery.moderation.term_saved")
@receiver(post_delete, sender=BlockedTerm, dispatch_uid="gallery.moderation.term_deleted")
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
