"""The curators' review desk: pending creations one at a time, decided by keyboard.

A page in the admin (`admin/gallery/creation/desk/`, CreationAdmin's URLs),
for staff with the `moderate_creation` permission, like the admin's decision
buttons. Its script (static/js/admin/desk.js) holds a few pending creations
ahead, oldest first, with their pictures loaded and decoded before they are
shown, and talks to three JSON endpoints here:

* `GET desk/queue/?exclude=1,2&limit=6`: the oldest pending creations but
  those the desk holds already, and how many wait in all;
* `POST desk/decide/` {id, action: approve|reject|feature, reason}: the
  decision, through `gallery.creations` (so walls hear of it), on a creation
  that is still pending; 409 when another curator decided it first. The answer
  carries `undo`, a signed token of the state before;
* `POST desk/undo/` {undo}: puts that state back within UNDO_SECONDS, unless
  the creation was decided again since (409).

`GET desk/<id>/outline/` gives the painted outline of one creation (polygons
in map pixels), found once and kept beside its pictures.
"""

from __future__ import annotations

import json
import logging

from django.core import signing
from django.db import transaction
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from inpainting_core.problems import error_body
from gallery import creations, pictures
from gallery.models import Creation, RejectionReason
from inpainting_core import engines
from inpainting_core.imaging import ImageProblem
from museum.models import BlockedAttempt

logger = logging.getLogger(__name__)

Status = Creation.Status

# How long after a decision the desk offers to undo it; the signed token is honoured a
# little longer, so a key pressed at the last moment still arrives in time.
UNDO_SECONDS = 10
UNDO_GRACE_SECONDS = 20
UNDO_SALT = "gallery.desk.undo"
QUEUE_LIMIT = 6
MAX_QUEUE_LIMIT = 20
MAX_REASON_CHARS = 1000

APPROVE, REJECT, FEATURE = "approve", "reject", "feature"
ACTIONS = (APPROVE, REJECT, FEATURE)


# --- what the desk shows ----------------------------------------------------------------


def pending_creations():
    """Pending creations, the longest waiting first: the desk's queue."""
    return (
        Creation.objects.filter(status=Status.PENDING)
        .select_related("world")
        .order_by("created_at", "pk")
    )


def entry(creation: Creation, admin) -> dict:
    """One creation as the desk shows it (JSON); `admin` is the CreationAdmin serving it."""
    frame = pictures.frame_of(creation)
    now = timezone.now()
    return {
        "id": creation.pk,
        "slug": creation.slug,
        "wish": creation.prompt_original,
        "translation": creation.prompt_translated,
        "prompt": creation.prompt_final,
        "title": creation.title,
        "name": creation.visitor_name,
        "consent": creation.consent,
        "world": creation.world.name if creation.world_id else "",
        "engine": engines.short_label(creation.engine) if creation.engine else "",
        "created": creation.created_at.isoformat(),
        "created_text": date_format(timezone.localtime(creation.created_at), "DATETIME_FORMAT"),
        "waiting_text": gettext("waiting for %(time)s") % {
            "time": timesince(creation.created_at, now)
        },
        "frame": frame.as_dict(),
        "framed": not frame.is_whole,
        "urls": {
            "before": admin.picture_url(creation, "before", size="frame"),
            "after": admin.picture_url(creation, "after", size="frame"),
            "overview": admin.picture_url(creation, "after", size="overview"),
            "outline": reverse(f"{admin.admin_site.name}:gallery_creation_desk_outline",
                               args=[creation.pk]),
            "change": reverse(f"{admin.admin_site.name}:gallery_creation_change",
                              args=[creation.pk]),
            "page": reverse("gallery:creation", args=[creation.slug]),
        },
    }


def queue(admin, *, exclude=(), limit: int = QUEUE_LIMIT) -> dict:
    waiting = pending_creations()
    shown = waiting.exclude(pk__in=list(exclude))[: max(1, min(limit, MAX_QUEUE_LIMIT))]
    return {"pending": waiting.count(), "creations": [entry(c, admin) for c in shown]}


def config(admin, request) -> dict:
    """Everything the desk's script starts with: the first creations, the reasons, the URLs."""
    name = admin.admin_site.name
    return {
        **queue(admin),
        "reasons": list(RejectionReason.objects.filter(active=True).values_list("text", flat=True)),
        "undo_seconds": UNDO_SECONDS,
        "urls": {
            "queue": reverse(f"{name}:gallery_creation_desk_queue"),
            "decide": reverse(f"{name}:gallery_creation_desk_decide"),
            "undo": reverse(f"{name}:gallery_creation_desk_undo"),
            "changelist": reverse(f"{name}:gallery_creation_changelist"),
        },
    }


# --- the admin's home ----------------------------------------------------------------------


def overview(user) -> dict | None:
    """What the admin's home shows a curator: what waits, and today's figures (local day)."""
    if not user.has_perm("gallery.view_creation"):
        return None
    now = timezone.localtime()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    waiting = pending_creations()
    oldest = waiting.first()
    decided_today = Creation.objects.filter(moderated_at__gte=today)
    return {
        "pending": waiting.count(),
        "oldest": oldest,
        "oldest_waiting": timesince(oldest.created_at, now) if oldest else "",
        "created": Creation.objects.filter(created_at__gte=today).count(),
        "approved": decided_today.filter(status=Status.APPROVED).count(),
        "rejected": decided_today.filter(status=Status.REJECTED).count(),
        "blocked": BlockedAttempt.objects.filter(created_at__gte=today).count(),
        "may_moderate": user.has_perm("gallery.moderate_creation"),
        "may_see_blocked": user.has_perm("museum.view_blockedattempt"),
    }


# --- endpoints --------------------------------------------------------------------------


def page_view(request, admin):
    context = {
        **admin.admin_site.each_context(request),
        "title": _("Review desk"),
        "opts": admin.model._meta,
        "desk_config": config(admin, request),
        "media": admin.media,
    }
    request.current_app = admin.admin_site.name
    return TemplateResponse(request, "admin/gallery/creation/desk.html", context)



def queue_view(request, admin):
    exclude = [int(part) for part in request.GET.get("exclude", "").split(",") if part.isdigit()]
    try:
        limit = int(request.GET.get("limit", QUEUE_LIMIT))
    except ValueError:
        limit = QUEUE_LIMIT
    response = JsonResponse(queue(admin, exclude=exclude, limit=limit))
    response["Cache-Control"] = "private, no-store"
    return response


def outline_view(request, admin, pk):
    creation = Creation.objects.filter(pk=pk).first()
    if creation is None:
        return problem(_("This creation no longer exists."), code="not_found", status=404)
    try:
        polygons = pictures.outline(creation)
    except (OSError, ImageProblem) as error:
        logger.warning("No outline for creation %s: %s", pk, error)
        polygons = []
    response = JsonResponse({"id": creation.pk, "polygons": polygons})
    response["Cache-Control"] = "private, max-age=300"
    return response


def decide_view(request, admin):
    data = _json_body(request)
    if data is None:
        return problem(_("The request could not be read."), code="unreadable", status=400)
    action, reason = data.get("action"), str(data.get("reason") or "").strip()
    if action not in ACTIONS:
        return problem(_("Unknown decision."), code="unknown_decision", status=400)
    if len(reason) > MAX_REASON_CHARS:
        return problem(_("The reason is too long."), code="too_long", status=400)
    with transaction.atomic():
        creation = (
            Creation.objects.select_for_update().filter(pk=_int(data.get("id"))).first()
        )
        if creation is None:
            return problem(_("This creation no longer exists."), code="not_found", status=404)
        if creation.status != Status.PENDING:
            return _already_decided(creation)
        before = creations.decision_state(creation)
        try:
            _decide(creation, action, reason, request.user)
        except creations.CreationProblem as error:
            return problem(error.message, code=error.code, status=409)
        token = signing.dumps(
            {"id": creation.pk, "before": before, "after": creations.decision_state(creation)},
            salt=UNDO_SALT,
        )
    return JsonResponse({
        "id": creation.pk, "status": creation.status, "featured": creation.featured,
        "undo": token, "pending": pending_creations().count(),
    })


def undo_view(request, admin):
    data = _json_body(request)
    if data is None:
        return problem(_("The request could not be read."), code="unreadable", status=400)
    try:
        undo = signing.loads(str(data.get("undo", "")), salt=UNDO_SALT,
                             max_age=UNDO_SECONDS + UNDO_GRACE_SECONDS)
    except signing.SignatureExpired:
        return problem(_("It is too late to undo this decision."), code="too_late", status=409)
    except signing.BadSignature:
        return problem(_("This decision cannot be undone."), code="bad_state", status=400)
    with transaction.atomic():
        creation = Creation.objects.select_for_update().filter(pk=undo["id"]).first()
        if creation is None:
            return problem(_("This creation no longer exists."), code="not_found", status=404)
        if creations.decision_state(creation) != undo["after"]:
            return problem(_("Someone has decided on this creation since."), code="decided", status=409)
        creations.restore(creation, undo["before"])
    return JsonResponse({
        "creation": entry(creation, admin) if creation.status == Status.PENDING else None,
        "pending": pending_creations().count(),
    })


def _decide(creation: Creation, action: str, reason: str, user) -> None:
    if action == APPROVE:
        creations.approve(creation, user)
    elif action == REJECT:
        creations.reject(creation, user, reason)
    else:  # featured creations are approved ones, first in the gallery and on the wall
        creations.approve(creation, user)
        creations.set_featured(creation, True, user)


def _already_decided(creation: Creation):
    who = creation.moderated_by.get_username() if creation.moderated_by else ""
    message = (
        gettext("%(user)s has already decided on this creation: %(status)s.")
        % {"user": who, "status": creation.get_status_display()}
        if who else
        gettext("This creation has already been decided: %(status)s.")
        % {"status": creation.get_status_display()}
    )
    return problem(message, code="decided", status=409)


def problem(message, *, code: str, status: int):
    return JsonResponse(error_body(message, code=code), status=status)


def _json_body(request):
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
