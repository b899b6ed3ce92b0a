from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InpaintingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inpainting"
    verbose_name = _("Inpainting")

    def ready(self):
        # Workers report their loaded engines and GPU memory for /health/workers/.
        from inpainting.worker_reports import connect_worker_signals

        connect_worker_signals()
