"""From a visitor's wish to the prompts an engine gets.

A wish is typed on a kiosk, mostly in German and mostly as a question ("Was
wäre, wenn hier ein See wäre?"). Diffusion models understand English
descriptions of what to paint, so a wish is cleaned, translated, reduced to its
subject ("a lake"), enriched with tags that say how the subject looks in an
aerial photo, and framed by the chosen style's template. The original, the
translation and the final prompt are all kept, so curators can see what the
engine was asked.

Translation never fails a wish. Google Translate (through deep-translator) is
tried when enabled; when it is off, slow, failing or offline, the built-in
glossary translates instead. `translation_source` tells which way was taken:

* ``"english"``: the wish already was English and was not translated;
* ``"google"``: Google Translate translated it (also when the answer came from
  the cache: the cache only remembers what Google said);
* ``"glossary"``: the built-in glossary translated it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable, Optional

from deep_translator import GoogleTranslator
from django.conf import settings
from django.core.cache import cache
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from inpainting import glossary

logger = logging.getLogger(__name__)

SOURCE_ENGLISH = "english"
SOURCE_GOOGLE = "google"
SOURCE_GLOSSARY = "glossary"

# German, not "auto": Google detects one-word wishes such as "See" or "Park" as
# English and returns them untranslated; visitors here write German.
SOURCE_LANGUAGE = "de"
MAX_REQUESTS_IN_FLIGHT = 2
LOCAL_CACHE_SIZE = 512
SHARED_CACHE_SECONDS = 30 * 24 * 3600


class PromptProblem(ValueError):
    """A wish that cannot become a prompt; `message` is for the visitor, `code` for programs."""

    def __init__(self, message, *, code: str, field: str = "prompt"):
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.field = field


@dataclass(frozen=True)
class PreparedPrompt:
    original: str  # the wish as typed, cleaned of control characters and extra spaces
    translated: str  # English
    final: str  # the prompt the engine gets
    negative: str
    style: str
    translation_source: str  # SOURCE_ENGLISH, SOURCE_GOOGLE or SOURCE_GLOSSARY
    land_covers: tuple[str, ...] = ()  # inpainting.landcover names, in order of mention
    subject: str = ""  # what the wish asks for, without its phrasing ("a lake")


# --- Styles --------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """How a wish is framed: the subject comes first so a 77-token encoder keeps it."""

    key: str
    label: str
    template: str
    negative: str = ""

    def __post_init__(self):
        if "{subject}" not in self.template:
            raise ValueError(f"The template of style {self.key!r} has no {{subject}}.")

    def render(self, subject: str) -> str:
        return _tidy_list(self.template.replace("{subject}", subject))


_QUALITY = "high resolution, photorealistic"

STYLES: dict[str, Style] = {
    style.key: style
    for style in (
        Style(
            "none",
            _("No style"),
            f"aerial satellite photo of Olpe, top-down view, {{subject}}, {_QUALITY}",
        ),
        Style(
            "medieval",
            _("Middle Ages"),
            "medieval town from above, top-down view, {subject}, timber-framed houses, "
            f"slate roofs, narrow cobblestone lanes, town wall, {_QUALITY}",
            "modern buildings, cars, asphalt, power lines, solar panels",
        ),
        Style(
            "wild_west",
            _("Wild West"),
            "wild west frontier town from above, top-down view, {subject}, dusty dirt roads, "
            f"wooden false-front buildings, corrals, dry prairie, {_QUALITY}",
            "modern buildings, asphalt, lush green lawns",
        ),
        Style(
            "futuristic",
            _("Future"),
            "aerial satellite photo of a futuristic Olpe, top-down view, {subject}, "
            f"sleek glass architecture, solar roofs, rooftop gardens, maglev lines, {_QUALITY}",
            "old ruins, decay, historic buildings",
        ),
        Style(
            "flooded",
            _("Flood"),
            "aerial satellite photo of flooded Olpe, top-down view, {subject}, muddy floodwater, "
            f"submerged streets, rooftops above water, {_QUALITY}",
            "dry streets",
        ),
        Style(
            "winter",
            _("Winter"),
            "aerial satellite photo of Olpe in deep winter, top-down view, {subject}, "
            f"snow-covered roofs and fields, frozen ground, bare trees, {_QUALITY}",
            "green foliage, summer",
        ),
        Style(
            "autumn",
            _("Autumn"),
            "aerial satellite photo of Olpe in autumn, top-down view, {subject}, "
            f"orange and red foliage, harvested fields, {_QUALITY}",
            "snow, fresh spring green",
        ),
        Style(
            "japanese",
            _("Japan"),
            "traditional Japanese town from above, top-down view, {subject}, curved tiled "
            f"temple roofs, zen gardens, cherry trees, {_QUALITY}",
            "western buildings",
        ),
        Style(
            "baroque",
            _("Baroque"),
            "baroque residence town from above, top-down view, {subject}, formal geometric "
            f"gardens, palace wings, tree-lined avenues, {_QUALITY}",
            "modern buildings, cars",
        ),
    )
}

BASE_NEGATIVE = (
    "blurry, low resolution, text, watermark, logo, signature, map labels, frame, border, "
    "people, cars close-up, perspective view, oblique angle, horizon, sky, clouds, "
    "distorted, deformed"
)


def style_choices() -> list[tuple[str, str]]:
    """(key, translated label) pairs for forms and serializers, "none" first."""
    return [(style.key, style.label) for style in STYLES.values()]


def get_style(key: str) -> Style:
    try:
        return STYLES[key]
    except KeyError:
        raise PromptProblem(
            format_lazy(_("Unknown style “{style}”."), style=key),
            code="unknown_style",
            field="style",
        ) from None


# --- Cleaning a wish ---------------------------------------------------------------------

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


# --- Translation -------------------------------------------------------------------------


class _LruCache:
    """Translations this process has already asked Google for."""

    def __init__(self, size: int):
        self._size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Optional[str]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class _CircuitBreaker:
    """After a failure, skip the translator for a while: the next visitor must not wait too."""

    def __init__(self):
        self._closed_again_at = 0.0

    def allows(self) -> bool:
        return time.monotonic() >= self._closed_again_at

    def trip(self, seconds: float) -> None:
        self._closed_again_at = time.monotonic() + seconds

    def close(self) -> None:
        self._closed_again_at = 0.0


class _TranslatorBusy(Exception):
    """Every request slot is taken by a request that has not ended yet."""


class _BoundedRequests:
    """Runs a blocking call in a daemon thread and waits for it at most `timeout` seconds.

    deep-translator calls `requests.get` without a timeout, so a call may hang
    far longer than a visitor waits. The caller stops waiting after its
    timeout; the thread keeps its slot until the request ends, and when every
    slot is taken new calls fail at once, so hanging requests never pile up.
    Daemon threads (not an executor's) so that a hanging request never holds
    up the shutdown of a server or worker.
    """

    def __init__(self, slots: int):
        self._slot_count = slots
        self._slots = threading.BoundedSemaphore(slots)

    def run(self, function: Callable[..., str], *args, timeout: float) -> str:
        if not self._slots.acquire(blocking=False):
            raise _TranslatorBusy()
        future: Future = Future()
        worker = threading.Thread(
            target=self._work, args=(future, function, args), name="olpe-translate", daemon=True
        )
        try:
            worker.start()
        except BaseException:
            self._slots.release()
            raise
        return future.result(timeout=timeout)

    def _work(self, future: Future, function: Callable[..., str], args: tuple) -> None:
        try:
            future.set_result(function(*args))
        except BaseException as error:  # handed to the waiting caller, if it still waits
            future.set_exception(error)
        finally:
            self._slots.release()

    def forget_slots(self) -> None:
        """In a forked child the parent's request threads do not exist: free their slots."""
        self._slots = threading.BoundedSemaphore(self._slot_count)


_translations = _LruCache(LOCAL_CACHE_SIZE)
_breaker = _CircuitBreaker()
_request_slots = _BoundedRequests(MAX_REQUESTS_IN_FLIGHT)
os.register_at_fork(after_in_child=_request_slots.forget_slots)


def forget_translations() -> None:
    """Forget remembered translations and failures (tests, changed translation settings)."""
    _translations.clear()
    _breaker.close()


def _ask_google(text: str, base_url: Optional[str]) -> str:
    translator = GoogleTranslator(source=SOURCE_LANGUAGE, target="en")
    if base_url:
        # deep-translator takes no URL argument; its base URL is this attribute.
        translator._base_url = base_url
    english = normalise(translator.translate(text) or "")
    if not english:
        raise ValueError("Google Translate answered without a translation.")
    return english


def _shared_cache_key(text: str) -> str:
    digest = hashlib.sha256(f"{SOURCE_LANGUAGE}:en:{text}".encode()).hexdigest()
    return f"olpe:translation:{digest}"


def _shared_cache_get(text: str) -> Optional[str]:
    try:
        return cache.get(_shared_cache_key(text))
    except Exception:  # a cache outage (Redis down) must not cost the wish
        logger.warning("Translation cache unavailable", exc_info=True)
        return None


def _shared_cache_set(text: str, english: str) -> None:
    try:
        cache.set(_shared_cache_key(text), english, SHARED_CACHE_SECONDS)
    except Exception:
        logger.warning("Translation cache unavailable", exc_info=True)


def _remembered(text: str) -> Optional[str]:
    english = _translations.get(text)
    if english is None:
        english = _shared_cache_get(text)
        if english is not None:
            _translations.put(text, english)
    return english


def _google_translation(text: str) -> Optional[str]:
    """Google's English for `text`, or None when Google cannot answer in time."""
    remembered = _remembered(text)
    if remembered is not None:
        return remembered
    if not _breaker.allows():
        return None
    timeout = float(settings.OLPE_TRANSLATION_TIMEOUT)
    base_url = settings.OLPE_TRANSLATOR_URL
    try:
        english = _request_slots.run(_ask_google, text, base_url, timeout=timeout)
    except Exception as error:  # any failure, from timeouts to a changed page: use the glossary
        retry_after = float(settings.OLPE_TRANSLATION_RETRY_AFTER)
        _breaker.trip(retry_after)
        logger.warning(
            "Google Translate unavailable (%s: %s); using the glossary for the next %.0f s",
            type(error).__name__, error, retry_after,
        )
        return None
    _breaker.close()
    _translations.put(text, english)
    _shared_cache_set(text, english)
    return english


def translate_to_english(text: str) -> tuple[str, str]:
    """(English, source) for a wish; never raises because a translator failed."""
    text = normalise(text)
    if not text or glossary.looks_english(text):
        return text, SOURCE_ENGLISH
    if settings.OLPE_TRANSLATION_ENABLED:
        english = _google_translation(text)
        if english:
            return english, SOURCE_GOOGLE
    return glossary.translate(text) or text, SOURCE_GLOSSARY


# --- From an English sentence to the subject of the picture --------------------------------

# What to leave out, after "instead of", "without", ...: it goes to the negative
# prompt, because a diffusion model paints every noun it reads, negated or not.
_AVOIDED = re.compile(
    r"\b(?:instead of|rather than|in place of|without|with no|no)\s+"
    r"(?P<what>.+?)(?=\s*[,;.!?]|\s+(?:(?:and|or|but) )?(?:a|an)\s|\s+but\s|$)",
    re.IGNORECASE,
)

# How visitors phrase a wish in English (and how Google renders the German phrasing).
_WISH_PHRASING = re.compile(
    r"\b(?:"
    r"what (?:would|will) (?:it|this|that|the \w+) (?:be|look) like(?: if)?"
    r"|what (?:would happen )?if|what about|how about"
    r"|wouldn'?t it be (?:nice|great|cool|beautiful|fun) if"
    r"|(?:just )?imagine(?: that| if)?"
    r"|i(?:'d| would)? (?:really )?(?:wish|want|like|love|hope)"
    r"(?: for| to (?:have|see|get|build|make))?(?: that)?"
    r"|(?:could|can|would) (?:you|we)(?: please)?"
    r"(?: (?:make|build|put|paint|create|turn|add|place|get|have))?"
    r"|let'?s(?: (?:make|build|put|have|add))?"
    r"|please"
    r"|(?:there|it|this|that|here) (?:was|were|is|are|would be|could be|will be|should be|'d be)"
    r"|there'?s"
    r"|(?:make|build|put|paint|create|turn|add|place|show)(?: (?:this|that|it|here|there))?"
    r"(?: (?:into|to))?"
    r"|out of (?:it|this|that)"
    r"|(?:in|at|on) this (?:place|spot|area|location)"
    r"|would be|were|was|here|there|instead|but"
    r")\b",
    re.IGNORECASE,
)
_LEADING_FILLERS = re.compile(r"^(?:(?:and|or|that|if|then|so|but)\b[\s,]*)+", re.IGNORECASE)
_TRAILING_FILLERS = re.compile(r"(?:[\s,]+(?:and|or|with|of|that|but))+$", re.IGNORECASE)
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an|some)\s+", re.IGNORECASE)
_SENTENCE_CASE_WORDS = frozenset({"A", "An", "The", "Some", "Many", "Several", "No"})


@dataclass(frozen=True)
class Subject:
    text: str  # what to paint ("a forest")
    avoided: tuple[str, ...] = ()  # what the wish replaces or excludes ("parking lot")


def extract_subject(english: str) -> Subject:
    """The part of an English wish that describes the picture."""
    avoided = tuple(
        _TRAILING_FILLERS.sub("", _LEADING_ARTICLE.sub("", match.group("what").strip()))
        for match in _AVOIDED.finditer(english)
    )
    text = _AVOIDED.sub(" ", english)
    text = _WISH_PHRASING.sub(" ", text)
    text = _tidy_list(re.sub(r"[.;:!?]+", ",", text))
    text = _TRAILING_FILLERS.sub("", _LEADING_FILLERS.sub("", text)).strip(" ,")
    first, _, rest = text.partition(" ")
    if first in _SENTENCE_CASE_WORDS:
        text = f"{first.lower()} {rest}".strip()
    return Subject(text=glossary.tidy(text), avoided=tuple(a for a in avoided if a))


def _tidy_list(text: str) -> str:
    """Single spaces and no empty items in a comma-separated list."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*,(?:\s*,)*\s*", ", ", text)
    return text.strip(" ,")


# --- Land covers, tags and the negative prompt -------------------------------------------


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(item for item in items if item))


def detect_land_covers(text: str) -> tuple[str, ...]:
    """Land covers a German or English wish asks for, in order of mention.

    Only what should appear counts: "Wald statt Parkplatz" is forest, not road.
    """
    text = normalise(text)
    english = text if glossary.looks_english(text) else glossary.translate(text)
    return _unique(glossary.english_land_covers(extract_subject(english).text))


def _tags(keywords: list[str], land_covers: tuple[str, ...]) -> str:
    """How the first few things named look from above; land covers where no keyword is known."""
    groups = [
        glossary.KEYWORD_TAGS.get(keyword)
        or glossary.LAND_COVER_TAGS.get(glossary.ENGLISH_KEYWORDS.get(keyword, ""))
        for keyword in keywords[:3]
    ]
    if not any(groups):
        groups = [glossary.LAND_COVER_TAGS[cover] for cover in land_covers[:3]]
    return ", ".join(_unique(tag.strip() for group in groups if group for tag in group.split(",")))


def _mentioned_words(text: str) -> set[str]:
    return {glossary.singular(word) for word in re.findall(r"[\w'-]+", text.lower())}


def _negative(style: Style, subject: Subject) -> str:
    """Base and style negatives, minus what the wish asks for, plus what it replaces."""
    wished = _mentioned_words(subject.text)
    terms = [
        term.strip()
        for term in f"{BASE_NEGATIVE}, {style.negative}".split(",")
        if term.strip() and glossary.singular(term.split()[0].lower()) not in wished
    ]
    return ", ".join(_unique([*terms, *subject.avoided]))


def prepare_prompt(wish: str, style: str = "none") -> PreparedPrompt:
    """Everything an engine needs from a wish; raises PromptProblem for an unusable one."""
    original = clean_wish(wish)
    chosen = get_style(style)
    translated, source = translate_to_english(original)
    subject = extract_subject(translated)
    if not subject.text and not subject.avoided:
        subject = Subject(text=_tidy_list(re.sub(r"[.;:!?]+", ",", translated)))
    keywords = glossary.find_english_keywords(subject.text)
    land_covers = _unique(glossary.ENGLISH_KEYWORDS.get(keyword) for keyword in keywords)
    if not land_covers and source != SOURCE_ENGLISH:
        land_covers = detect_land_covers(original)  # Google chose a word the keywords lack
    description = _tidy_list(f"{subject.text}, {_tags(keywords, land_covers)}")
    return PreparedPrompt(
        original=original,
        translated=translated,
        final=chosen.render(description),
        negative=_negative(chosen, subject),
        style=chosen.key,
        translation_source=source,
        land_covers=land_covers,
        subject=subject.text,
    )
