"""Stop wishes the museum will not paint, before any engine runs.

Curators keep the list of blocked terms in the admin (`BlockedTerm`; the
platform ships a starting list, `museum.blocklist_data`). A wish, a gallery
title and a visitor's first name all pass `check_wish`: a text is refused when
a term occurs in it, compared on spellings that visitors who try to dodge the
list cannot easily escape.

How a text is spelled for the comparison is `museum.spelling`; how the terms
become one regular expression, and which spellings of a term count, is
`museum.matcher`. This module keeps the curators' active terms compiled per
process (rebuilt when a term changes in this process, or after
`OLPE_BLOCKLIST_REFRESH_SECONDS` when another process changed them) and
records what it stopped (`BlockedAttempt`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Optional

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from inpainting_core.wishes import PromptProblem
from museum.matcher import BlockedMatch, Matcher
from museum.models import BlockedAttempt, BlockedTerm

logger = logging.getLogger(__name__)

MAX_RECORDED_CHARS = 2000


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
