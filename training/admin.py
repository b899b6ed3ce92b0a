"""Curators choose the visitors' model and the kiosk's styles here.

Switching takes effect on each worker's next job (training.registry). The
admin runs on the web server, which in a scaled installation is not the
computer that holds the models: "present here" says whether this computer
has the files, as a hint, not as a condition.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from inpainting_core import model_families, model_store
from museum.admin import PicturesMixin
from training import registry
from training.models import (
    DiffusionModel,
    StyleAdapter,
    adapter_text_width,
    model_family,
    model_text_width,
)


def model_present_here(source: str) -> bool:
    return model_store.locate(source).found


def adapter_present_here(source: str) -> bool:
    return Path(model_store.adapter_source(source)).exists()


class EvaluationGridMixin(PicturesMixin):
    pictures = {"grid": "evaluation_grid"}

    @admin.display(description=_("evaluation grid"))
    def grid_preview(self, obj):
        return self.picture_tag(obj, "grid", height=320)


@admin.register(DiffusionModel)
class DiffusionModelAdmin(EvaluationGridMixin, admin.ModelAdmin):
    list_display = ("name", "active", "family", "kind", "source", "present_here", "created")
    list_filter = ("active", "kind")
    search_fields = ("name", "source", "notes")
    readonly_fields = ("family", "grid_preview", "created", "updated")
    fields = (
        "name",
        "source",
        "family",
        "kind",
        "active",
        "notes",
        "evaluation_grid",
        "grid_preview",
        "created",
        "updated",
    )
    actions = ("make_active", "use_configured_model")
    change_list_template = "admin/training/diffusionmodel/change_list.html"

    @admin.display(boolean=True, description=_("present here"))
    def present_here(self, model):
        return model_present_here(model.source)

    @admin.display(description=_("family"))
    def family(self, model):
        """SD 1.x, 2.x or XL, read from the model's files where this computer has them."""
        family = model_family(model.source)
        return family.label if family else gettext("unknown (not on this computer)")

    @admin.action(description=_("Make active (visitors get this model)"), permissions=["change"])
    def make_active(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, gettext("Select exactly one model to make active."), messages.ERROR
            )
            return
        model = queryset.get()
        model.active = True
        model.save()
        self.message_user(
            request,
            gettext("Visitors now get “%(name)s”, from each worker's next picture on.")
            % {"name": model.name},
            messages.SUCCESS,
        )
        if not model_present_here(model.source):
            self.message_user(
                request,
                gettext(
                    "This computer has no copy of %(source)s. Make sure the computers that "
                    "paint pictures have it, or they fall back to the classic engine."
                )
                % {"source": model.source},
                messages.WARNING,
            )

    @admin.action(
        description=_("Deactivate (visitors get the configured model)"), permissions=["change"]
    )
    def use_configured_model(self, request, queryset):
        deactivated = 0
        for model in queryset.filter(active=True):
            model.active = False
            model.save()
            deactivated += 1
        if deactivated:
            self.message_user(
                request,
                gettext("Visitors now get the configured model %(source)s.")
                % {"source": settings.OLPE_MODEL},
                messages.SUCCESS,
            )

    def changelist_view(self, request, extra_context=None):
        active = DiffusionModel.objects.filter(active=True).first()
        extra_context = {
            **(extra_context or {}),
            "active_model": active,
            "configured_model": settings.OLPE_MODEL,
        }
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(StyleAdapter)
class StyleAdapterAdmin(EvaluationGridMixin, admin.ModelAdmin):
    list_display = (
        "__str__", "style", "offered_in_kiosk", "made_for", "source", "present_here", "created"
    )
    list_filter = ("offered_in_kiosk", "style")
    search_fields = ("source", "notes")
    readonly_fields = ("made_for", "grid_preview", "created", "updated")
    fields = (
        "style",
        "source",
        "made_for",
        "offered_in_kiosk",
        "notes",
        "evaluation_grid",
        "grid_preview",
        "created",
        "updated",
    )
    actions = ("offer_in_kiosk", "withdraw_from_kiosk")

    @admin.display(boolean=True, description=_("present here"))
    def present_here(self, adapter):
        return adapter_present_here(adapter.source)

    @admin.display(description=_("made for"))
    def made_for(self, adapter):
        """The model family the LoRA fits, and whether that is the visitors' model's."""
        width = adapter_text_width(adapter.source)
        if width is None:
            return gettext("unknown (not on this computer)")
        made_for = model_families.describe_width(width)
        visitors = registry.active_model_source() or settings.OLPE_MODEL
        model_width = model_text_width(visitors)
        if model_width is not None and model_width != width:
            return gettext(
                "%(family)s: does not fit the visitors' model (%(model)s), "
                "so the style is painted without it"
            ) % {"family": made_for, "model": model_family(visitors).label}
        return made_for

    @admin.action(description=_("Offer in the kiosk"), permissions=["change"])
    def offer_in_kiosk(self, request, queryset):
        styles = list(queryset.values_list("style", flat=True))
        if len(styles) != len(set(styles)):
            self.message_user(
                request,
                gettext("Only one adapter per style can be offered; select one for each style."),
                messages.ERROR,
            )
            return
        for adapter in queryset:
            adapter.offered_in_kiosk = True
            adapter.save()
        self.message_user(
            request,
            ngettext(
                "%(count)d style adapter is now offered in the kiosk.",
                "%(count)d style adapters are now offered in the kiosk.",
                len(styles),
            )
            % {"count": len(styles)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Withdraw from the kiosk"), permissions=["change"])
    def withdraw_from_kiosk(self, request, queryset):
        withdrawn = 0
        for adapter in queryset.filter(offered_in_kiosk=True):
            adapter.offered_in_kiosk = False
            adapter.save()
            withdrawn += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d style adapter was withdrawn; the kiosk offers: %(styles)s.",
                "%(count)d style adapters were withdrawn; the kiosk offers: %(styles)s.",
                withdrawn,
            )
            % {"count": withdrawn, "styles": ", ".join(registry.kiosk_styles())},
            messages.SUCCESS,
        )
