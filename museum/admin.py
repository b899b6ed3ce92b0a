"""The curators' admin for the museum's shared facts: Worlds, the site settings,
OpenAI usage and the blocklist; and `PicturesMixin`, which serves pictures to
staff only, for every admin of the project (creations in `gallery`, evaluation
grids in `training`).

Pictures are never plain media files: the admin serves them itself, to staff
with view permission only, including small cached thumbnails for the lists.
"""

from __future__ import annotations

import logging
import posixpath

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from PIL import UnidentifiedImageError

from inpainting_core.engines import statuses as engine_statuses
from inpainting_core.imaging import ImageProblem
from museum import engine_choice, moderation, thumbnails
from museum.models import BlockedAttempt, BlockedTerm, OpenAIUsage, SiteSettings, World
from museum.spelling import SYMBOLS, normalise

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 160
THUMBNAIL_QUALITY = 80
THUMBNAIL_SUFFIX = ".admin-thumb.jpg"
ADMIN_CSS = {"all": ["admin/gallery/admin.css"]}


# The admin is the curators' tool: its header and its pages' titles name the museum.
admin.site.site_header = _("Stadtmuseum Olpe · Alternative World Histories")
admin.site.site_title = _("Stadtmuseum Olpe · curators")
admin.site.index_title = _("Overview")


# --- pictures, for staff only ------------------------------------------------------------


def thumbnail_name(picture_name: str) -> str:
    """Beside the picture, so it goes with it (a creation's folder is deleted with it)."""
    return posixpath.splitext(picture_name)[0] + THUMBNAIL_SUFFIX


def open_thumbnail(picture):
    return thumbnails.open_cached(
        picture, thumbnail_name(picture.name), side=THUMBNAIL_SIDE, quality=THUMBNAIL_QUALITY
    )


class PicturesMixin:
    """Serves an object's pictures at `<id>/picture/<which>/` to staff who may view the object.

    `pictures` maps the name used in URLs to the image field. `?size=thumb`
    gives a small JPEG, made on first use and kept beside the picture.
    """

    pictures: dict[str, str] = {}

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/picture/<str:which>/",
                self.admin_site.admin_view(self.picture_view),
                name=f"{opts.app_label}_{opts.model_name}_picture",
            ),
            *super().get_urls(),
        ]

    def picture_view(self, request, object_id, which):
        if which not in self.pictures:
            raise Http404
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        if not getattr(obj, self.pictures[which]):
            raise Http404
        try:
            handle, content_type = self.open_picture(obj, which, request.GET.get("size"))
            response = FileResponse(handle, content_type=content_type)
        except (OSError, UnidentifiedImageError, ImageProblem) as error:
            logger.warning(
                "Picture %s of %s %s unreadable: %s", which, obj._meta.model_name, obj.pk, error
            )
            raise Http404 from error
        response["Cache-Control"] = "private, max-age=300"
        return response

    def open_picture(self, obj, which: str, size: str | None):
        """The open picture `which` of `obj` at `size` ("thumb", or None for the picture as
        stored) and its content type; admins of models with more sizes add theirs."""
        picture = getattr(obj, self.pictures[which])
        if size == "thumb":
            return open_thumbnail(picture), "image/jpeg"
        return picture.open("rb"), "image/png"

    def picture_url(self, obj, which: str, *, thumb: bool = False, size: str = "") -> str:
        opts = self.model._meta
        url = reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_picture",
            args=[obj.pk, which],
        )
        size = "thumb" if thumb else size
        return f"{url}?size={size}" if size else url

    def picture_tag(self, obj, which: str, *, height: int = 64):
        if obj is None or not obj.pk or not getattr(obj, self.pictures[which]):
            return "–"
        return format_html(
            '<img src="{}" alt="{}" height="{}" loading="lazy" class="olpe-thumbnail">',
            self.picture_url(obj, which, thumb=True),
            obj._meta.get_field(self.pictures[which]).verbose_name, height,
        )


# --- Worlds --------------------------------------------------------------------------------


@admin.register(World)
class WorldAdmin(PicturesMixin, admin.ModelAdmin):
    pictures = {"image": "image"}
    list_display = ("preview", "name", "kind", "map_date", "visible", "editable", "order")
    list_display_links = ("preview", "name")
    list_editable = ("visible", "editable", "order")
    list_filter = ("kind", "visible", "editable")
    search_fields = ("name", "description", "map_date")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("large_preview", "created_at")
    fields = (
        "name", "slug", "kind", "description", "map_date", "metres_per_pixel", "image",
        "large_preview", "visible", "editable", "order", "created_at",
    )

    class Media:
        css = ADMIN_CSS

    @admin.display(description=_("map"))
    def preview(self, world):
        return self.picture_tag(world, "image", height=48)

    @admin.display(description=_("preview"))
    def large_preview(self, world):
        if world is None or not world.pk or not world.image:
            return "–"
        return format_html(
            '<a href="{0}" target="_blank" rel="noopener">'
            '<img src="{0}" alt="" class="olpe-large-preview"></a>',
            self.picture_url(world, "image"),
        )


# --- site settings: one row ----------------------------------------------------------------


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin):
    fieldsets = (
        (_("Engine"), {"fields": (
            "visitor_engine", "visitors_choose_engine", "engine_status",
            "openai_daily_budget", "openai_usage_today", "safety_checker",
        )}),
        (_("Gallery"), {"fields": ("auto_approve",)}),
        (_("Kiosk"), {"fields": (
            "idle_reset_seconds", "prompt_suggestions_de", "prompt_suggestions_en",
            "prompt_suggestions_nl",
        )}),
    )
    readonly_fields = ("engine_status", "openai_usage_today")

    class Media:
        css = ADMIN_CSS

    def has_add_permission(self, request):
        return False  # the one row is created on first visit

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """There is nothing to list: go to the one row."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = SiteSettings.load()
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                args=[row.pk],
            )
        )

    @admin.display(description=_("OpenAI images today"))
    def openai_usage_today(self, site):
        used = engine_choice.openai_images_today()
        return gettext("%(used)d of %(budget)d used today (%(left)d left)") % {
            "used": used, "budget": site.openai_daily_budget,
            "left": max(0, site.openai_daily_budget - used),
        }

    @admin.display(description=_("engines on this server"))
    def engine_status(self, site):
        return format_html(
            "<ul class=\"olpe-engines\">{}</ul>",
            format_html_join(
                "", "<li><strong>{}</strong>: {}</li>",
                ((status.label, gettext("ready") if status.usable else status.reason)
                 for status in engine_statuses()),
            ),
        )


@admin.register(OpenAIUsage)
class OpenAIUsageAdmin(admin.ModelAdmin):
    list_display = ("day", "images")
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # counted by the platform only

    def has_delete_permission(self, request, obj=None):
        return False


# --- the blocklist -------------------------------------------------------------------------


class BlockedTermForm(forms.ModelForm):
    class Meta:
        model = BlockedTerm
        fields = ["term", "category", "whole_word_only", "active"]

    def clean_term(self):
        term = " ".join(self.cleaned_data["term"].split())
        normalised = normalise(term).replace(" ", "")
        if len(normalised) < 2 and normalised not in SYMBOLS:  # "卐" may stand alone
            raise forms.ValidationError(
                _(
                    "A term needs at least two letters or digits; "
                    "a shorter one would block almost every wish."
                )
            )
        return term


class TryWishForm(forms.Form):
    text = forms.CharField(label=_("Wish"), max_length=500)


@admin.register(BlockedTerm)
class BlockedTermAdmin(admin.ModelAdmin):
    form = BlockedTermForm
    list_display = ("term", "matches_as", "category", "whole_word_only", "active")
    list_editable = ("whole_word_only", "active")
    list_filter = ("category", "active", "whole_word_only")
    search_fields = ("term",)
    actions = ["activate", "deactivate"]
    list_per_page = 100

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "try/",
                self.admin_site.admin_view(self.try_wish_view),
                name=f"{opts.app_label}_{opts.model_name}_try",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("compared as"))
    def matches_as(self, term):
        normalised = normalise(term.term)
        return f"{normalised} …" if not term.whole_word_only else normalised

    @admin.action(description=_("Activate selected terms"), permissions=["change"])
    def activate(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description=_("Deactivate selected terms"), permissions=["change"])
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, False)

    def _set_active(self, request, queryset, active: bool):
        count = queryset.update(active=active)
        moderation.forget_matcher()  # update() sends no signals
        self.message_user(
            request,
            ngettext("%(count)d term changed.", "%(count)d terms changed.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    def try_wish_view(self, request):
        """Let curators check a wish against the current list, without recording anything."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TryWishForm(request.GET or None)
        result = None
        if form.is_valid():
            text = form.cleaned_data["text"]
            result = {
                "normalised": normalise(text),
                "match": moderation.find_blocked_term(text),
            }
        context = {
            **self.admin_site.each_context(request),
            "title": _("Try a wish"),
            "opts": self.model._meta,
            "form": form,
            "result": result,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/museum/blockedterm/try_wish.html", context)


@admin.register(BlockedAttempt)
class BlockedAttemptAdmin(admin.ModelAdmin):
    list_display = ("created_at", "short_wish", "matched_term", "category", "kiosk_session")
    list_filter = ("category", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("wish", "matched_term", "kiosk_session")
    readonly_fields = (
        "wish", "matched_term", "category", "kiosk_session", "client_ip", "created_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a record of what happened

    @admin.display(description=_("wish"), ordering="wish")
    def short_wish(self, attempt):
        return Truncator(attempt.wish).chars(80)
