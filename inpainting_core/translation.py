"""Translating a wish to English: Google Translate when it answers, else the glossary.

A wish may be German, English or Dutch; `inpainting_core.wish_language` tells
which (py3langid, with the glossaries for one-word wishes), and an English wish
is not translated. Translation never fails a wish. Google Translate (through
deep-translator) is tried when enabled, told the wish's language; when it is
off, slow, failing or offline, the built-in glossary of that language
(German or Dutch) translates instead. The answer says which way was taken
(SOURCE_ENGLISH, SOURCE_GOOGLE or SOURCE_GLOSSARY; see `inpainting_core.prompts`).
Google's answers are remembered in this process and in the shared cache; after
a failure the glossary is used for OLPE_TRANSLATION_RETRY_AFTER seconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from typing import Callable, Optional

from deep_translator import GoogleTranslator
from django.conf import settings
from django.core.cache import cache

from inpainting_core import wish_language
from inpainting_core.wishes import normalise

logger = logging.getLogger(__name__)

SOURCE_ENGLISH = "english"
SOURCE_GOOGLE = "google"
SOURCE_GLOSSARY = "glossary"

# Google is told the language `wish_language` found, not "auto": Google detects
# one-word wishes such as "See" or "Park" as English and returns them untranslated.
MAX_REQUESTS_IN_FLIGHT = 2
LOCAL_CACHE_SIZE = 512
SHARED_CACHE_SECONDS = 30 * 24 * 3600


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


def _ask_google(text: str, language: str, base_url: Optional[str]) -> str:
    translator = GoogleTranslator(source=language, target="en")
    if base_url:
        # deep-translator takes no URL argument; its base URL is this attribute.
        translator._base_url = base_url
    english = normalise(translator.translate(text) or "")
    if not english:
        raise ValueError("Google Translate answered without a translation.")
    return english


def _shared_cache_key(text: str) -> str:
    """`text` is "<language>:<wish>"."""
    digest = hashlib.sha256(f"{text.replace(':', ':en:', 1)}".encode()).hexdigest()
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


def _google_translation(text: str, language: str) -> Optional[str]:
    """Google's English for `text` in `language`, or None when Google cannot answer in time."""
    key = f"{language}:{text}"
    remembered = _remembered(key)
    if remembered is not None:
        return remembered
    if not _breaker.allows():
        return None
    timeout = float(settings.OLPE_TRANSLATION_TIMEOUT)
    base_url = settings.OLPE_TRANSLATOR_URL
    try:
        english = _request_slots.run(_ask_google, text, language, base_url, timeout=timeout)
    except Exception as error:  # any failure, from timeouts to a changed page: use the glossary
        retry_after = float(settings.OLPE_TRANSLATION_RETRY_AFTER)
        _breaker.trip(retry_after)
        logger.warning(
            "Google Translate unavailable (%s: %s); using the glossary for the next %.0f s",
            type(error).__name__, error, retry_after,
        )
        return None
    _breaker.close()
    _translations.put(key, english)
    _shared_cache_set(key, english)
    return english


def translate_to_english(text: str) -> tuple[str, str]:
    """(English, source) for a wish; never raises because a translator failed."""
    text = normalise(text)
    language = wish_language.identify(text) if text else wish_language.ENGLISH
    if language == wish_language.ENGLISH:
        return text, SOURCE_ENGLISH
    if settings.OLPE_TRANSLATION_ENABLED:
        english = _google_translation(text, language)
        if english:
            return english, SOURCE_GOOGLE
    return wish_language.offline_english(text, language) or text, SOURCE_GLOSSARY
