from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MuseumConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "museum"
    verbose_name = _("Museum")

    def ready(self):
        from museum import tasks

        tasks.connect()  # a World's new map is cut into regions on a worker
