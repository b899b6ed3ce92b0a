"""Style presets: how a wish is framed for the engine, and what it should avoid."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from inpainting_core.wishes import PromptProblem, tidy_list


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
        return tidy_list(self.template.replace("{subject}", subject))

    def frame(self) -> tuple[list[str], list[str]]:
        """The template's comma-separated phrases before and after the subject."""
        before, after = self.template.split("{subject}", 1)
        return _phrases(before), _phrases(after)

    def negative_phrases(self) -> list[str]:
        return _phrases(self.negative)


def _phrases(text: str) -> list[str]:
    return [phrase.strip() for phrase in text.split(",") if phrase.strip()]


_QUALITY = "high resolution, photorealistic"
# The frame every style shares: when a model's token limit is short, these go
# first (the style's own phrases and the wish stay longer).
_AERIAL = "aerial satellite photo of Olpe"
_TOP_DOWN = "top-down view"
TEMPLATE_PHRASES = frozenset({_AERIAL, _TOP_DOWN, *_QUALITY.split(", ")})

STYLES: dict[str, Style] = {
    style.key: style
    for style in (
        Style(
            "none",
            _("No style"),
            f"{_AERIAL}, {_TOP_DOWN}, {{subject}}, {_QUALITY}",
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

