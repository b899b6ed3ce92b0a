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

A model with a token limit (CLIP's 77 positions, start and end included; SDXL
has two tokenizers and both must fit) gets a prompt built within it, counted
with the model's own tokenizers (`PromptBudget`, from the engine's
`prompt_budget()`): the wish first and whole, then the style's own phrases,
then the tags, then the template every style shares, dropping the least
important phrases first. A wish that alone is too long is refused at
submission, or in the worker and the `inpaint` command shortened with a note;
the text encoders never cut a prompt silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from inpainting_core import glossary, vocabulary, wish_language

# The training app's first migration names the style choices here.
from inpainting_core.styles import (
    BASE_NEGATIVE,
    TEMPLATE_PHRASES,
    Style,
    get_style,
    style_choices,  # noqa: F401
)
from inpainting_core.translation import SOURCE_ENGLISH, translate_to_english
from inpainting_core.wishes import PromptProblem, clean_wish, normalise, tidy_list


@dataclass(frozen=True)
class PreparedPrompt:
    original: str  # the wish as typed, cleaned of control characters and extra spaces
    translated: str  # English
    final: str  # the prompt the engine gets
    negative: str
    style: str
    translation_source: str  # SOURCE_ENGLISH, SOURCE_GOOGLE or SOURCE_GLOSSARY
    land_covers: tuple[str, ...] = ()  # inpainting_core.landcover names, in order of mention
    subject: str = ""  # what the wish asks for, without its phrasing ("a lake")
    # What the model's token limit left out (phrases of the template, style or tags),
    # and notes for the visitor when the wish itself had to be shortened.
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromptBudget:
    """How much text a model reads: `count` gives a text's tokens with the start and
    end tokens (for a model with two tokenizers, the larger count), `limit` how many
    positions its text encoders have (77 for CLIP)."""

    limit: int
    count: Callable[[str], int]

    def fits(self, text: str) -> bool:
        return self.count(text) <= self.limit


# How long a phrase survives a short token budget: higher ranks are dropped
# first, and within a rank the last phrase first. The wish itself is never dropped.
WISH, STYLE, TAGS, TEMPLATE = 0, 1, 2, 3

WISH_TOO_LONG = _(
    "This wish is too long for the model (%(tokens)d of %(limit)d words and word parts). "
    "Please say it in fewer words."
)
WISH_SHORTENED = _(
    "Your wish was too long for the model; it painted “{kept}” and left out “{left}”."
)


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
    text = tidy_list(re.sub(r"[.;:!?]+", ",", text))
    text = _TRAILING_FILLERS.sub("", _LEADING_FILLERS.sub("", text)).strip(" ,")
    first, _, rest = text.partition(" ")
    if first in _SENTENCE_CASE_WORDS:
        text = f"{first.lower()} {rest}".strip()
    return Subject(text=glossary.tidy(text), avoided=tuple(a for a in avoided if a))


# --- Land covers, tags and the negative prompt -------------------------------------------


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(item for item in items if item))


def detect_land_covers(text: str) -> tuple[str, ...]:
    """Land covers a German, English or Dutch wish asks for, in order of mention.

    Only what should appear counts: "Wald statt Parkplatz" is forest, not road.
    """
    text = normalise(text)
    english = wish_language.offline_english(text, wish_language.identify(text))
    return _unique(glossary.english_land_covers(extract_subject(english).text))


def _tags(keywords: list[str], land_covers: tuple[str, ...]) -> str:
    """How the first few things named look from above; land covers where no keyword is known."""
    groups = [
        vocabulary.KEYWORD_TAGS.get(keyword)
        or vocabulary.LAND_COVER_TAGS.get(vocabulary.ENGLISH_KEYWORDS.get(keyword, ""))
        for keyword in keywords[:3]
    ]
    if not any(groups):
        groups = [vocabulary.LAND_COVER_TAGS[cover] for cover in land_covers[:3]]
    return ", ".join(_unique(tag.strip() for group in groups if group for tag in group.split(",")))


def _mentioned_words(text: str) -> set[str]:
    return {glossary.singular(word) for word in re.findall(r"[\w'-]+", text.lower())}


def _negative_phrases(style: Style, subject: Subject) -> list[tuple[str, int]]:
    """The negative prompt's phrases with their ranks: what the wish replaces lasts
    longest, then the style's, then the base list (its last terms go first)."""
    wished = _mentioned_words(subject.text)
    base, own, avoided = TEMPLATE, TAGS, STYLE  # ranks: the base list goes first
    ranked = [(term, base) for term in _phrases(BASE_NEGATIVE)]
    ranked += [(term, own) for term in style.negative_phrases()]
    ranked += [(term, avoided) for term in subject.avoided]
    seen, phrases = set(), []
    for term, rank in ranked:
        if term in seen or (
            rank != avoided and glossary.singular(term.split()[0].lower()) in wished
        ):
            continue
        seen.add(term)
        phrases.append((term, rank))
    return phrases


def _phrases(text: str) -> list[str]:
    return [phrase.strip() for phrase in text.split(",") if phrase.strip()]


def _join(phrases) -> str:
    return tidy_list(", ".join(text for text, _rank in phrases))


def _fit(phrases: list[tuple[str, int]], budget: Optional[PromptBudget]):
    """Drop phrases (highest rank first, later ones first) until the text fits the budget.

    Returns the kept phrases and the dropped ones; the wish's phrases (rank
    WISH) are never dropped here.
    """
    kept, dropped = list(phrases), []
    if budget is None:
        return kept, dropped
    while not budget.fits(_join(kept)):
        droppable = [i for i, (_text, rank) in enumerate(kept) if rank != WISH]
        if not droppable:
            break
        victim = max(droppable, key=lambda i: (kept[i][1], i))
        dropped.append(kept.pop(victim)[0])
    return kept, dropped


def _shorten_wish(phrases, budget: PromptBudget):
    """The wish's words from the start that fit the budget, and what was left out."""
    text = _join(phrases)
    words = text.split(" ")
    keep = len(words)
    while keep > 1 and not budget.fits(" ".join(words[:keep]).rstrip(",")):
        keep -= 1
    kept = " ".join(words[:keep]).rstrip(",")
    while len(kept) > 1 and not budget.fits(kept):  # one endless word: cut it, visibly
        kept = kept[:-1]
    return kept, text[len(kept):].strip(" ,")


def prepare_prompt(
    wish: str,
    style: str = "none",
    budget: Optional[PromptBudget] = None,
    *,
    shorten: bool = False,
) -> PreparedPrompt:
    """Everything an engine needs from a wish; raises PromptProblem for an unusable one.

    With a `budget` (a model with a token limit) the final and negative prompts
    fit it: see `compose_prompt`.
    """
    original = clean_wish(wish)
    chosen = get_style(style)
    translated, source = translate_to_english(original)
    return compose_prompt(original, translated, source, chosen.key, budget, shorten=shorten)


def compose_prompt(
    original: str,
    translated: str,
    source: str,
    style: str,
    budget: Optional[PromptBudget] = None,
    *,
    shorten: bool = False,
) -> PreparedPrompt:
    """The prompts for an already translated wish, within the model's token budget.

    The final prompt keeps the wish first and whole, then the style's own
    phrases, then the tags that say how the subject looks from above, then the
    template shared by all styles (aerial photo, top-down view, quality); the
    least important phrases go first. A wish that alone exceeds the budget is
    refused (PromptProblem "wish_too_long"), or with `shorten` cut at a word
    boundary with a note saying what was left out: never cut silently.
    """
    chosen = get_style(style)
    subject = extract_subject(translated)
    if not subject.text and not subject.avoided:
        subject = Subject(text=tidy_list(re.sub(r"[.;:!?]+", ",", translated)))
    keywords = glossary.find_english_keywords(subject.text)
    land_covers = _unique(vocabulary.ENGLISH_KEYWORDS.get(keyword) for keyword in keywords)
    if not land_covers and source != SOURCE_ENGLISH:
        land_covers = detect_land_covers(original)  # Google chose a word the keywords lack
    wish_phrases = [(text, WISH) for text in _phrases(subject.text)]
    tag_phrases = [(text, TAGS) for text in _phrases(_tags(keywords, land_covers))]
    before, after = chosen.frame()

    def ranked(phrases):
        return [(text, TEMPLATE if text in TEMPLATE_PHRASES else STYLE) for text in phrases]

    kept, dropped = _fit([*ranked(before), *wish_phrases, *tag_phrases, *ranked(after)], budget)
    final, notes = _join(kept), ()
    if budget is not None and not budget.fits(final):
        tokens = budget.count(_join(wish_phrases))
        if not shorten:
            raise PromptProblem(
                WISH_TOO_LONG % {"tokens": tokens, "limit": budget.limit},
                code="wish_too_long",
                field="prompt",
            )
        final, left_out = _shorten_wish(wish_phrases, budget)
        notes = (format_lazy(WISH_SHORTENED, kept=final, left=left_out),)
        dropped.append(left_out)
    negative, negative_dropped = _fit(_negative_phrases(chosen, subject), budget)
    return PreparedPrompt(
        original=original,
        translated=translated,
        final=final,
        negative=_join(negative),
        style=chosen.key,
        translation_source=source,
        land_covers=land_covers,
        subject=subject.text,
        dropped=tuple(dropped + negative_dropped),
        notes=notes,
    )
