"""The one small interface every inpainting engine implements.

An engine receives a crop of the map that compositing.py has already cut out and
resized to the size the engine asked for (`target_size`), plus a mask of the
same size, and returns a picture of that size. Everything around it (mask
normalisation, cropping, compositing back, prompt translation) is shared, so an
engine only knows how to fill a region.

Engines report progress through a callback and check a cancel function
between steps, so workers can show live progress and stop a job early.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, ClassVar, Optional

from django.utils.translation import gettext_lazy as _
from PIL import Image

# step, total, optional small preview picture
ProgressCallback = Callable[[int, int, Optional[Image.Image]], None]
CancelCheck = Callable[[], bool]


class EngineError(Exception):
    """A failure a visitor or curator can read; the message is translated."""

    def __init__(self, message, *, retryable: bool = False):
        super().__init__(str(message))
        self.message = message
        self.retryable = retryable


class EngineUnavailable(EngineError):
    """The engine cannot run here (no model, no key, no GPU); the reason says why."""


class Cancelled(Exception):
    """Raised between steps when the job was cancelled."""


@dataclass(frozen=True)
class EngineStatus:
    name: str
    label: str
    usable: bool
    reason: str = ""


@dataclass
class EngineRequest:
    """What an engine gets: a crop, its mask, and the prepared prompt.

    `image` is RGB and `mask` is mode "L" of the same size (255 = repaint,
    soft edges allowed). `context` is the whole map and `crop_box` where the
    crop lies in it, for engines that borrow texture from elsewhere on the map.
    """

    image: Image.Image
    mask: Image.Image
    prompt: str
    negative_prompt: str = ""
    land_covers: tuple[str, ...] = ()
    style: str = "none"
    steps: int = 30
    guidance: float = 7.5
    strength: float = 1.0
    seed: Optional[int] = None
    context: Optional[Image.Image] = None
    crop_box: Optional[tuple[int, int, int, int]] = None
    # The curators' choice (SiteSettings.safety_checker, read by the service layer):
    # run the model's safety checker on the picture, where the model ships one.
    safety_check: bool = False
    # The map's ground resolution (metres per map pixel), None when unknown, and
    # its kind ("historic" for drawn and old maps); the classic engine sizes
    # and styles what it paints by them.
    metres_per_pixel: Optional[float] = None
    map_kind: str = ""
    subject: str = ""  # what the wish asks for, without its phrasing ("a castle on the hill")
    wish: str = ""  # the wish as the visitor typed it, for notes in the visitor's words


@dataclass(frozen=True)
class EngineResult:
    """What an engine gives back: the repainted crop, the seed it painted with
    (None where the engine has none, e.g. OpenAI's service), and notes for the
    visitor about what it did differently from what was asked (translated
    strings, shown as the job's notice)."""

    image: Image.Image
    seed: Optional[int] = None
    notes: tuple[str, ...] = ()


class Engine(abc.ABC):
    name: ClassVar[str]
    label: ClassVar[str]

    @abc.abstractmethod
    def status(self) -> EngineStatus:
        """Whether the engine can run now, and if not, why (cheap: no model load)."""

    @abc.abstractmethod
    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """The size a crop of `width` x `height` should be resized to for this engine."""

    def prompt_budget(self):
        """The model's token budget (prompts.PromptBudget), or None: no limit to keep."""
        return None

    @abc.abstractmethod
    def inpaint(
        self,
        request: EngineRequest,
        progress: Optional[ProgressCallback] = None,
        should_cancel: Optional[CancelCheck] = None,
    ) -> EngineResult:
        """Fill the masked region; the result's image is RGB and the size of request.image."""

    def _unusable(self, reason) -> EngineStatus:
        return EngineStatus(self.name, str(self.label), False, str(reason))

    def _usable(self) -> EngineStatus:
        return EngineStatus(self.name, str(self.label), True, "")


def check_cancel(should_cancel: Optional[CancelCheck]) -> None:
    if should_cancel is not None and should_cancel():
        raise Cancelled(_("The job was cancelled."))


def fit_to_multiple(width: int, height: int, long_side: int, multiple: int = 8) -> tuple[int, int]:
    """Scale so the long side is `long_side`, keep the aspect, round to `multiple`."""
    scale = long_side / max(width, height)
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    return w, h
