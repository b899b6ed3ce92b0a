"""How a picture is to be painted: one shape from the API to the engine and back.

`GenerationSettings` is what a wish asks for besides its words and pictures:
the style, the engine and the diffusion parameters. The API's serializer makes
one, `jobs.submit_job` checks it and stores it on the job row, the worker reads
it back from the row (`from_job`) and hands it to `pipeline.generate`, and the
gallery keeps it with a creation so the picture can be made again.

None means "the engine's default" (the OLPE_STEPS, OLPE_GUIDANCE and
OLPE_STRENGTH settings); an engine of None means "the curators' choice" when
submitting, and the classic engine when painting directly (the `inpaint`
command, tests).

This module is part of the inpainting core: it imports no Django models and
nothing of the web or worker tiers.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from django.utils.translation import gettext_lazy as _

from inpainting_core.problems import Problem


class GenerationProblem(Problem):
    """A setting out of its range; `field` names it."""

    code = "out_of_range"


@dataclass(frozen=True)
class GenerationSettings:
    style: str = "none"
    steps: Optional[int] = None
    guidance: Optional[float] = None
    strength: Optional[float] = None
    seed: Optional[int] = None
    engine: Optional[str] = None

    # The ranges a client may ask for (inclusive); the API's serializer and schema take
    # them from here, and the engines paint with any value in them.
    STEPS_RANGE: ClassVar[tuple[int, int]] = (1, 150)
    GUIDANCE_RANGE: ClassVar[tuple[float, float]] = (0.0, 30.0)
    STRENGTH_RANGE: ClassVar[tuple[float, float]] = (0.01, 1.0)
    # A seed fits 32 bits: every engine's generator takes it (torch, numpy), other image
    # tools show seeds of this size, and a JavaScript client holds it exactly (JSON
    # numbers beyond 2**53 lose digits there). An engine that picks a seed itself picks
    # one of these (`random_seed`), so every result can be asked for again.
    SEED_RANGE: ClassVar[tuple[int, int]] = (0, 2**32 - 1)

    def check(self) -> "GenerationSettings":
        """Raise GenerationProblem for the first value out of its range; else return self."""
        ranges = {"steps": self.STEPS_RANGE, "guidance": self.GUIDANCE_RANGE,
                  "strength": self.STRENGTH_RANGE, "seed": self.SEED_RANGE}
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise GenerationProblem(
                    _("%(name)s must be between %(low)s and %(high)s.")
                    % {"name": name, "low": low, "high": high},
                    field=name,
                )
        return self

    def replace(self, **changes) -> "GenerationSettings":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The settings by field name: the job row's columns of the same names."""
        return dataclasses.asdict(self)

    @classmethod
    def from_job(cls, job) -> "GenerationSettings":
        """The settings stored on a job row (an InpaintJob or anything with those attributes)."""
        return cls(**{field.name: getattr(job, field.name) for field in dataclasses.fields(cls)})


def random_seed() -> int:
    """A seed for an engine that was given none: any of GenerationSettings.SEED_RANGE."""
    low, high = GenerationSettings.SEED_RANGE
    return low + secrets.randbelow(high - low + 1)
