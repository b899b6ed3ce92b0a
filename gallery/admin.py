"""The curators' admin: moderate creations, edit Worlds, settings and the blocklist.

Curators (the `Curators` group, see migration 0003) are staff without user
management. Every decision on a creation goes through `gallery.creations`, so
the gallery wall hears of it. Pictures are never plain media files: the
admin serves them itself, to staff with view permission only, including
small cached thumbnails for the lists.
"""

from __future__ import annotations

import logging
import posixpath

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
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

from gallery import creations, thumbnails
from gallery.models import Creation
from inpainting_core.engines import statuses as engine_statuses
from museum import engine_choice, moderation
from museum.models import BlockedAttempt, BlockedTerm, OpenAIUsage, SiteSettings, World

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 160
THUMBNAIL_QUALITY = 80
THUMBNAIL_SUFFIX = ".admin-thumb.jpg"
MODERATE_PERMISSION = "gallery.moderate_creation"
ADMIN_CSS = {"all": ["admin/gallery/admin.css"]}


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
        picture = getattr(obj, self.pictures[which])
        if not picture:
            raise Http404
        try:
            if request.GET.get("size") == "thumb":
                response = FileResponse(open_thumbnail(picture), content_type="image/jpeg")
            else:
                response = FileResponse(picture.open("rb"), content_type="image/png")
        except (OSError, UnidentifiedImageError) as error:
            logger.warning(
                "Picture %s of %s %s unreadable: %s", which, obj._meta.model_name, obj.pk, error
            )
            raise Http404 from error
        response["Cache-Control"] = "private, max-age=300"
        return response

    def picture_url(self, obj, which: str, *, thumb: bool = False) -> str:
        opts = self.model._meta
        url = reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_picture",
            args=[obj.pk, which],
        )
        return f"{url}?size=thumb" if thumb else url

    def picture_tag(self, obj, which: str, *, height: int = 64):
        if obj is None or not obj.pk or not getattr(obj, self.pictures[which]):
            return "–"
        return format_html(
            '<img src="{}" alt="{}" height="{}" loading="lazy" class="olpe-thumbnail">',
            self.picture_url(obj, which, thumb=True),
            obj._meta.get_field(self.pictures[which]).verbose_name, height,
        )


# --- creations -----------------------------------------------------------------------------


class CreationForm(forms.ModelForm):
    class Meta:
        model = Creation
        fields = ["title", "visitor_name", "world", "rejection_reason"]

    def clean_visitor_name(self):
        name = self.cleaned_data.get("visitor_name", "")
        if name and not self.instance.consent:
            raise forms.ValidationError(
                _("The visitor did not agree to show a name, so none can be shown.")
            )
        return name


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (for curators only, never shown publicly)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


# Buttons on a creation's page and what they do.
DECISION_BUTTONS = {
    "_approve": lambda creation, user, reason: creations.approve(creation, user),
    "_reject": lambda creation, user, reason: creations.reject(creation, user, reason),
    "_feature": lambda creation, user, reason: creations.set_featured(creation, True, user),
    "_unfeature": lambda creation, user, reason: creations.set_featured(creation, False, user),
}


@admin.register(Creation)
class CreationAdmin(PicturesMixin, admin.ModelAdmin):
    form = CreationForm
    pictures = {"before": "before_image", "after": "after_image"}
    list_display = (
        "before_thumbnail", "after_thumbnail", "wish", "world", "engine", "status", "featured",
        "created_at",
    )
    list_display_links = ("after_thumbnail", "wish")
    list_filter = ("status", "featured", "world", "engine", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("prompt_original", "prompt_translated", "title", "visitor_name", "slug")
    list_select_related = ("world",)
    list_per_page = 48
    actions = ["approve_selected", "reject_selected", "feature_selected", "unfeature_selected"]
    fieldsets = (
        (None, {"fields": ("title", "visitor_name", "consent", "world")}),
        (_("Wish"), {"fields": ("prompt_original", "prompt_translated", "prompt_final")}),
        (_("Generation"), {"fields": ("engine", "settings_summary", "job", "created_at")}),
        (_("Decision"), {"fields": (
            "status", "featured", "moderated_by", "moderated_at", "rejection_reason",
        )}),
    )
    readonly_fields = (
        "consent", "prompt_original", "prompt_translated", "prompt_final", "engine",
        "settings_summary", "job", "created_at", "status", "featured", "moderated_by",
        "moderated_at",
    )

    class Media:
        css = ADMIN_CSS
        # the before/after slider of a creation's page (static/js/shared/compare.js)
        js = [forms.Script("js/gallery-compare.js", type="module")]

    def has_add_permission(self, request):
        return False  # creations come from visitors' jobs

    def has_moderate_permission(self, request):
        return request.user.has_perm(MODERATE_PERMISSION)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not self.has_moderate_permission(request):
            readonly.append("rejection_reason")
        return readonly

    # --- columns and fields

    @admin.display(description=_("before"))
    def before_thumbnail(self, creation):
        return self.picture_tag(creation, "before")

    @admin.display(description=_("after"))
    def after_thumbnail(self, creation):
        return self.picture_tag(creation, "after")

    @admin.display(description=_("wish"), ordering="prompt_original")
    def wish(self, creation):
        return format_html(
            "{}<br><small class=\"quiet\">{}</small>",
            Truncator(creation.title or creation.prompt_original).chars(80),
            Truncator(creation.prompt_translated).chars(80),
        )

    @admin.display(description=_("settings"))
    def settings_summary(self, creation):
        shown = {
            key: value
            for key, value in creation.generation_settings.items()
            if value not in (None, "")
        }
        if not shown:
            return "–"
        return format_html(
            "<dl class=\"olpe-settings\">{}</dl>",
            format_html_join("", "<dt>{}</dt><dd>{}</dd>", sorted(shown.items())),
        )

    # --- the page of one creation

    def change_view(self, request, object_id, form_url="", extra_context=None):
        creation = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if creation is not None:
            context.update(
                before_url=self.picture_url(creation, "before") if creation.before_image else "",
                after_url=self.picture_url(creation, "after") if creation.after_image else "",
                may_moderate=self.has_moderate_permission(request),
                creation_status=creation.status,
                creation_featured=creation.featured,
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def response_change(self, request, obj):
        button = next((name for name in DECISION_BUTTONS if name in request.POST), None)
        if button is None:
            return super().response_change(request, obj)
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        try:
            DECISION_BUTTONS[button](obj, request.user, obj.rejection_reason)
        except creations.CreationProblem as problem:
            self.message_user(request, problem.message, messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("“%(creation)s” is now %(status)s.")
                % {"creation": obj, "status": self._state_label(obj)},
                messages.SUCCESS,
            )
        return HttpResponseRedirect(request.path)

    @staticmethod
    def _state_label(creation) -> str:
        status = creation.get_status_display()
        if creation.featured:
            return gettext("%(status)s and featured") % {"status": status}
        return status

    # --- bulk decisions

    @admin.action(description=_("Approve selected creations"), permissions=["moderate"])
    def approve_selected(self, request, queryset):
        count = self._decide_each(
            queryset, lambda creation: creations.approve(creation, request.user)
        )
        self.message_user(
            request,
            ngettext("%(count)d creation approved.", "%(count)d creations approved.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reject selected creations…"), permissions=["moderate"])
    def reject_selected(self, request, queryset):
        """Asks for an optional reason on an intermediate page first."""
        form = RejectForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            return self._reject_page(request, queryset, form)
        reason = form.cleaned_data["reason"]
        count = self._decide_each(
            queryset, lambda creation: creations.reject(creation, request.user, reason)
        )
        self.message_user(
            request,
            ngettext("%(count)d creation rejected.", "%(count)d creations rejected.", count)
            % {"count": count},
            messages.SUCCESS,
        )
        return None

    def _reject_page(self, request, queryset, form):
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reject creations"),
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "reject_selected",
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/gallery/creation/reject_selected.html", context)

    @admin.action(description=_("Feature selected creations"), permissions=["moderate"])
    def feature_selected(self, request, queryset):
        approved = queryset.filter(status=Creation.Status.APPROVED)
        skipped = queryset.count() - approved.count()
        count = self._decide_each(
            approved, lambda creation: creations.set_featured(creation, True, request.user)
        )
        self.message_user(
            request,
            ngettext("%(count)d creation featured.", "%(count)d creations featured.", count)
            % {"count": count},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d creation was skipped: only approved creations can be featured.",
                    "%(count)d creations were skipped: only approved creations can be featured.",
                    skipped,
                ) % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Stop featuring selected creations"), permissions=["moderate"])
    def unfeature_selected(self, request, queryset):
        count = self._decide_each(
            queryset.filter(featured=True),
            lambda creation: creations.set_featured(creation, False, request.user),
        )
        self.message_user(
            request,
            ngettext("%(count)d creation no longer featured.",
                     "%(count)d creations no longer featured.", count) % {"count": count},
            messages.SUCCESS,
        )

    @staticmethod
    def _decide_each(queryset, decide) -> int:
        """Decide one by one, so every change sends its own signal; counts real changes."""
        changed = 0
        for creation in queryset:
            before = (creation.status, creation.featured, creation.rejection_reason)
            decide(creation)
            changed += before != (creation.status, creation.featured, creation.rejection_reason)
        return changed


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
        "name", "slug", "kind", "description", "map_date", "metres_per_pixel", "image", "large_preview",
        "visible", "editable", "order", "created_at",
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
            "openai_daily_budget", "openai_usage_today",
        )}),
        (_("Gallery"), {"fields": ("auto_approve",)}),
        (_("Kiosk"), {"fields": (
            "idle_reset_seconds", "prompt_suggestions_de", "prompt_suggestions_en",
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
        normalised = moderation.normalise(term).replace(" ", "")
        if len(normalised) < 2 and normalised not in moderation.SYMBOLS:  # "卐" may stand alone
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
        normalised = moderation.normalise(term.term)
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
                "normalised": moderation.normalise(text),
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
