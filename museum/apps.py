from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MuseumConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "museum"
    verbose_name = _("Museum")
