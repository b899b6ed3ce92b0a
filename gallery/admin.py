"""The curators' admin for creations: review, approve, reject, feature.

Curators (the `Curators` group, see migration 0003) are staff without user
management. Every decision on a creation goes through `gallery.creations`, so
the gallery wall hears of it. Pictures are never plain media files: the
admin serves them itself, to staff with view permission only, including
small cached thumbnails for the lists.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from gallery import creations, desk, pictures
from gallery.models import Creation, RejectionReason
from museum.admin import ADMIN_CSS, PicturesMixin

logger = logging.getLogger(__name__)

MODERATE_PERMISSION = "gallery.moderate_creation"

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
    kept_reason = forms.ModelChoiceField(
        RejectionReason.objects.filter(active=True), required=False, to_field_name="text",
        label=_("Reason from the list"), empty_label=_("– none –"),
    )
    reason = forms.CharField(
        label=_("Reason (for curators only, never shown publicly)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )

    def clean(self):
        """The kept reason and the free text together, as the desk writes them."""
        data = super().clean()
        kept = data.get("kept_reason")
        data["reason"] = joined_reason(kept.text if kept else "", data.get("reason", ""))
        return data


def joined_reason(kept: str, free_text: str) -> str:
    return " – ".join(part.strip() for part in (kept, free_text) if part and part.strip())


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
    change_list_template = "admin/gallery/creation/change_list.html"
    list_display_links = ("after_thumbnail", "wish")
    list_filter = ("status", "featured", "world", "engine", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("prompt_original", "prompt_translated", "title", "visitor_name", "slug")
    list_select_related = ("world",)
    list_per_page = 48
    actions = ["approve_selected", "reject_selected", "feature_selected", "unfeature_selected"]
    fieldsets = (  # the visitor's own words first
        (_("Wish"), {"fields": ("prompt_original", "prompt_translated", "prompt_final")}),
        (None, {"fields": ("title", "visitor_name", "consent", "world")}),
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

    # The pictures the list and the page show: the change's frame (gallery/pictures.py).
    PICTURE_SIZES = {
        "thumb": {"before": "small-before", "after": "small-after"},
        "frame": {"before": "frame-before", "after": "frame-after"},
        "overview": {"before": "whole-before", "after": "overview"},
        "whole": {"before": "whole-before", "after": "whole-after"},
    }

    def open_picture(self, creation, which, size):
        kind = self.PICTURE_SIZES.get(size, {}).get(which)
        if kind is None:
            return super().open_picture(creation, which, size)
        return pictures.open_picture(creation, kind), pictures.KINDS[kind].content_type

    @admin.display(description=_("before"))
    def before_thumbnail(self, creation):
        return self.picture_tag(creation, "before", height=75)

    @admin.display(description=_("after"))
    def after_thumbnail(self, creation):
        return self.picture_tag(creation, "after", height=75)

    @admin.display(description=_("wish"), ordering="prompt_original")
    def wish(self, creation):
        """The visitor's own words first; the title and the translation under them."""
        return format_html(
            '<span class="olpe-wish">„{}“</span>{}{}',
            Truncator(creation.prompt_original).chars(120),
            format_html('<br><strong class="olpe-title">{}</strong>',
                        Truncator(creation.title).chars(80)) if creation.title else "",
            format_html('<br><small class="quiet" lang="en">{}</small>',
                        Truncator(creation.prompt_translated).chars(80))
            if creation.prompt_translated and creation.prompt_translated != creation.prompt_original
            else "",
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
        if creation is not None and creation.before_image and creation.after_image:
            frame = pictures.frame_of(creation)
            context.update(
                before_url=self.picture_url(creation, "before", size="frame"),
                after_url=self.picture_url(creation, "after", size="frame"),
                whole_before_url=self.picture_url(creation, "before"),
                whole_after_url=self.picture_url(creation, "after"),
                overview_url=self.picture_url(creation, "after", size="overview"),
                frame=frame,
                frame_percent=frame.percent(),
            )
        if creation is not None:
            context.update(
                may_moderate=self.has_moderate_permission(request),
                creation_status=creation.status,
                creation_featured=creation.featured,
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def changelist_view(self, request, extra_context=None):
        context = {"may_moderate": self.has_moderate_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    # --- the review desk (gallery/desk.py)

    def get_urls(self):
        def moderating(view, method):
            def checked(request, *args, **kwargs):
                if not self.has_moderate_permission(request):
                    raise PermissionDenied
                return view(request, self, *args, **kwargs)
            return self.admin_site.admin_view(method(checked))

        return [
            path("desk/", moderating(desk.page_view, require_GET), name="gallery_creation_desk"),
            path("desk/queue/", moderating(desk.queue_view, require_GET),
                 name="gallery_creation_desk_queue"),
            path("desk/decide/", moderating(desk.decide_view, require_POST),
                 name="gallery_creation_desk_decide"),
            path("desk/undo/", moderating(desk.undo_view, require_POST),
                 name="gallery_creation_desk_undo"),
            path("desk/<int:pk>/outline/", moderating(desk.outline_view, require_GET),
                 name="gallery_creation_desk_outline"),
            *super().get_urls(),
        ]

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


@admin.register(RejectionReason)
class RejectionReasonAdmin(admin.ModelAdmin):
    """The reasons curators give often: offered on the desk and when rejecting in bulk."""

    list_display = ("text", "order", "active")
    list_editable = ("order", "active")
    search_fields = ("text",)
