"""Cleaning a visitor's wish: one spelling, no invisible characters, within the length limit.

`PromptProblem` is the one error for a wish that cannot become a prompt (empty,
too long, blocked, an unknown style), with a `message` for the visitor.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from inpainting_core.problems import Problem


class PromptProblem(Problem):
    """A wish that cannot become a prompt."""

    field = "prompt"



# C0/C1 controls, soft hyphen, zero-width and bidirectional marks, BOM: invisible
# characters that would reach the engine and the curators' screens.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\xad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def normalise(text: str) -> str:
    """One spelling of a text: composed umlauts, no invisible characters, single spaces."""
    text = unicodedata.normalize("NFC", text or "")
    return " ".join(_INVISIBLE.sub(" ", text).split())


def max_wish_chars() -> int:
    return int(settings.OLPE_MAX_WISH_CHARS)


def clean_wish(wish: Optional[str]) -> str:
    """The normalised wish; raises PromptProblem if it is empty or too long."""
    text = normalise(wish or "")
    if not text:
        raise PromptProblem(_("Please describe what should appear here."), code="empty")
    limit = max_wish_chars()
    if len(text) > limit:
        raise PromptProblem(
            format_lazy(_("Please keep your wish to at most {limit} characters."), limit=limit),
            code="too_long",
        )
    return text


def tidy_list(text: str) -> str:
    """Single spaces and no empty items in a comma-separated list."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*,(?:\s*,)*\s*", ", ", text)
    return text.strip(" ,")
