"""What a visitor may choose at the kiosk, in the visitor's words.

Visitors do not think in guidance scales. "Texttreue" (faithfulness to the
wish) offers three levels instead, each mapped to the classifier-free guidance
the diffusion engine gets:

* free (frei) – 4: the model paints loosely and blends more with the map;
* balanced (ausgewogen) – the server's OLPE_GUIDANCE (7.5 unless configured),
  so the museum's tuning of its own model stays the default;
* exact (genau) – 12: the model follows the words closely, at the price of
  harsher edges and less natural texture.

The classic engine and OpenAI ignore guidance; the control still shows so
the kiosk looks the same whichever engine the curators chose.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from inpainting_core import engines
from inpainting_core.styles import style_choices
from museum.models import SiteSettings

FREE_GUIDANCE = 4.0
EXACT_GUIDANCE = 12.0
DEFAULT_FIDELITY = "balanced"

# Brush widths in CSS pixels on screen (the painter converts them to map pixels,
# so a brush looks the same on every map and screen), with the default.
BRUSH_SIZES = ((12, _("Small")), (28, _("Medium")), (56, _("Large")), (96, _("Very large")))
DEFAULT_BRUSH_SIZE = 28


def brush_size_choices() -> list[tuple[int, str, int]]:
    """(width, label, diameter of its dot on the button in CSS pixels) for each brush size.

    The dot is drawn with SVG attributes, not a style attribute, which the
    Content-Security-Policy would refuse.
    """
    return [(size, label, round(size * 0.3 + 6)) for size, label in BRUSH_SIZES]

# How long the "Still there?" countdown runs once the kiosk has been idle,
# as a share of the idle time, within these bounds (seconds).
COUNTDOWN_SHARE = 0.25
COUNTDOWN_RANGE = (5, 30)


@dataclass(frozen=True)
class Fidelity:
    key: str
    label: str
    hint: str
    guidance: float


def fidelity_levels() -> list[Fidelity]:
    """The three levels, loosest first; read per request because OLPE_GUIDANCE is a setting."""
    return [
        Fidelity("free", _("Free"), _("The AI paints loosely"), FREE_GUIDANCE),
        Fidelity("balanced", _("Balanced"), _("A good mix"), float(settings.OLPE_GUIDANCE)),
        Fidelity("exact", _("Exact"), _("Sticks closely to your words"), EXACT_GUIDANCE),
    ]


def countdown_seconds(idle_seconds: int) -> int:
    """Seconds the "Still there?" question stays before the kiosk resets."""
    low, high = COUNTDOWN_RANGE
    return int(min(max(round(idle_seconds * COUNTDOWN_SHARE), low), high))


def visitor_engines(site: SiteSettings) -> list[engines.EngineStatus]:
    """The engines a visitor may pick, or none when the curators decide alone.

    Only engines that can run right now are offered: a visitor cannot act on
    "no API key configured".
    """
    if not site.visitors_choose_engine:
        return []
    return [status for status in engines.statuses() if status.usable]


def preselected_engine(site: SiteSettings, offered: list[engines.EngineStatus]) -> str:
    """The curators' engine when it is offered, else the first one offered."""
    names = [status.name for status in offered]
    if site.visitor_engine in names:
        return site.visitor_engine
    return names[0] if names else ""


def offered_styles() -> list[tuple[str, str]]:
    """The style presets visitors may pick: curators withdraw a style by withdrawing its LoRA."""
    choices = style_choices()
    if not settings.OLPE_MODEL_REGISTRY:
        return choices
    from training.registry import kiosk_styles

    offered = set(kiosk_styles())
    return [(key, label) for key, label in choices if key in offered]
