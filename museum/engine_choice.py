"""Which engine paints a visitor's picture, and the day's OpenAI budget.

Curators decide in the site settings which engine visitors get, and whether
visitors may pick one themselves; API clients with a staff token may always
pick. The choice then walks down the engine registry's fallback chain
(`inpainting_core.engines.fallback_chain`: OpenAI → own model → classic) whenever
an engine cannot take the job:

* OpenAI pictures cost money, so once the day's images reach
  `SiteSettings.openai_daily_budget`, jobs go to the next engine;
* an engine that cannot run here (no API key, no model) is skipped too.

A job that does not get the engine it wanted carries a notice saying so.
Engine status checks are cheap (settings and files, no model loading).

Counting is separate from choosing: `choose_engine` has no side effects, and
the caller calls `record_openai_use()` once a job for OpenAI is stored. Two
visitors choosing at the same instant may therefore both get the last image
of the budget: the budget may be overshot by the number of simultaneous
submissions, never more, and the count itself is exact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Optional

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from inpainting_core.engines import ENGINE_NAMES, OPENAI, fallback_chain, get_engine
from inpainting_core.problems import Problem
from museum.models import OpenAIUsage, SiteSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineChoice:
    engine: str
    # For the visitor, translated when displayed; empty when the wanted engine runs.
    notice: str | Promise = ""


class EngineChoiceProblem(Problem):
    """A client asked for an engine that does not exist."""

    code = "unknown_engine"
    field = "engine"


def choose_engine(requested: Optional[str] = None, *, may_choose: bool = False) -> EngineChoice:
    """The engine for a new job.

    `requested` is honoured when the site settings let visitors choose, or
    when `may_choose` (an API client with a staff token); otherwise the site's
    visitor engine is used. Raises EngineChoiceProblem for an unknown name
    that would have been honoured.
    """
    site = SiteSettings.cached()
    wanted = site.visitor_engine
    if requested and (may_choose or site.visitors_choose_engine):
        if requested not in ENGINE_NAMES:
            raise EngineChoiceProblem(
                format_lazy(_("Unknown engine “{name}”."), name=requested)
            )
        wanted = requested
    return _first_available(wanted, site)


def default_engine() -> str:
    """The engine a visitor gets right now, when nobody asks for one."""
    return choose_engine().engine


def _first_available(wanted: str, site: SiteSettings) -> EngineChoice:
    """The first engine of the chain from `wanted` on that can take a job now."""
    chain = fallback_chain(wanted)
    wanted_problem = None
    for engine in chain:
        problem = _problem(engine, site)
        if problem is None:
            if engine == wanted:
                return EngineChoice(engine)
            return EngineChoice(engine, _fallback_notice(wanted, wanted_problem, engine))
        logger.info("Engine %s cannot take a job: %s", engine, problem)
        wanted_problem = wanted_problem or problem
    # Unreachable while the classic engine runs everywhere; the job then fails with a reason.
    return EngineChoice(chain[-1], _fallback_notice(wanted, wanted_problem, chain[-1]))


# What `_problem` says when the day's OpenAI images are used up.
BUDGET_USED_UP = "the daily OpenAI budget is used up"


def _problem(engine: str, site: SiteSettings) -> Optional[str]:
    """Why `engine` cannot take a job now (for the log), or None if it can."""
    if engine == OPENAI and openai_budget_left(site) <= 0:
        return BUDGET_USED_UP
    status = get_engine(engine).status()
    return None if status.usable else (status.reason or "unavailable")


def _fallback_notice(wanted: str, problem: Optional[str], engine: str) -> Promise:
    """What a visitor reads; the technical reason stays in the log."""
    if problem == BUDGET_USED_UP:
        return format_lazy(
            _("Today’s OpenAI pictures are used up, so {engine} paints your picture."),
            engine=get_engine(engine).label,
        )
    return format_lazy(
        _("{wanted} is not available right now, so {engine} paints your picture."),
        wanted=get_engine(wanted).label,
        engine=get_engine(engine).label,
    )


# --- the daily OpenAI budget -----------------------------------------------------------


def today() -> date:
    """Budgets are per local calendar day (TIME_ZONE), resetting at the museum's midnight."""
    return timezone.localdate()


def openai_images_today(day: Optional[date] = None) -> int:
    usage = OpenAIUsage.objects.filter(day=day or today()).values_list("images", flat=True).first()
    return usage or 0


def openai_budget_left(site: Optional[SiteSettings] = None) -> int:
    site = site or SiteSettings.cached()
    return max(0, site.openai_daily_budget - openai_images_today())


def record_openai_use(images: int = 1, *, day: Optional[date] = None) -> int:
    """Count `images` more OpenAI images for `day` (today); returns the day's new total.

    The increment is one UPDATE with an F expression, so concurrent workers
    never lose a count; the day's row is created on first use, and a
    concurrent creation of the same row is ignored (the day is unique).
    """
    day = day or today()
    with transaction.atomic():
        counted = OpenAIUsage.objects.filter(day=day).update(images=F("images") + images)
        if not counted:
            OpenAIUsage.objects.bulk_create([OpenAIUsage(day=day)], ignore_conflicts=True)
            OpenAIUsage.objects.filter(day=day).update(images=F("images") + images)
        # Our update holds the row's lock until commit, so this reads our total.
        return OpenAIUsage.objects.values_list("images", flat=True).get(day=day)
