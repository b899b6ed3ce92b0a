"""Admin for inpainting jobs: look, cancel, delete; never edit what a visitor asked for."""

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from inpainting import jobs, protocol
from inpainting.models import InpaintJob, JobEvent


class JobEventInline(admin.TabularInline):
    model = JobEvent
    fields = ("created_at", "kind", "summary")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("id",)

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("details"))
    def summary(self, event):
        # Preview pictures are long data URLs: name them, do not print them.
        return ", ".join(
            f"{key}={'…' if key == 'data_url' else value}" for key, value in event.payload.items()
        )

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(kind="progress")


@admin.register(InpaintJob)
class InpaintJobAdmin(admin.ModelAdmin):
    list_display = ("thumbnail", "short_wish", "status", "engine", "created_at", "attempts")
    list_display_links = ("thumbnail", "short_wish")
    list_filter = ("status", "engine", "requested_engine", "style", "created_at")
    search_fields = ("id", "prompt_original", "prompt_translated", "kiosk_session")
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ["cancel_jobs"]
    inlines = [JobEventInline]
    fieldsets = (
        (None, {"fields": ("id", "status", "result", "notice", "error_message")}),
        (_("Wish"), {"fields": (
            "prompt_original", "prompt_translated", "prompt_final", "negative_prompt",
            "translation_source",
        )}),
        (_("Generation"), {"fields": (
            "requested_engine", "engine", "style", "steps", "guidance", "strength", "seed",
            "input_image", "painted_world", "base_job", "mask_image",
        )}),
        (_("Processing"), {"fields": (
            "created_at", "enqueued_at", "started_at", "finished_at", "heartbeat_at", "worker",
            "attempts", "progress_step", "progress_total", "cancel_requested",
        )}),
        (_("Origin"), {"fields": ("kiosk_session", "api_user", "client_ip")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [field for fieldset in self.fieldsets for field in fieldset[1]["fields"]]

    def has_add_permission(self, request):
        return False  # jobs come from visitors, through the service layer

    @admin.display(description=_("wish"), ordering="prompt_original")
    def short_wish(self, job):
        return Truncator(job.prompt_original).chars(60)

    @admin.display(description=_("result"))
    def thumbnail(self, job):
        return self._picture(job, height=48)

    @admin.display(description=_("result"))
    def result(self, job):
        return self._picture(job, height=320)

    @staticmethod
    def _picture(job, height: int):
        url = protocol.result_url(job) or protocol.preview_url(job)
        if not url:
            return "–"
        return format_html('<img src="{}" alt="" height="{}">', url, height)

    @admin.action(description=_("Cancel selected jobs"))
    def cancel_jobs(self, request, queryset):
        waiting = queryset.filter(status__in=[InpaintJob.Status.QUEUED, InpaintJob.Status.RUNNING])
        count = 0
        for job in waiting:
            jobs.cancel_job(job)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d job cancelled or asked to stop.",
                     "%(count)d jobs cancelled or asked to stop.", count) % {"count": count},
            messages.SUCCESS,
        )
