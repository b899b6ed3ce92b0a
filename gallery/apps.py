from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GalleryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "gallery"
    verbose_name = _("Gallery")

    def ready(self):
        # Curators' decisions reach the gallery walls (gallery.wall explains how).
        from gallery import wall
        from gallery.creations import creation_changed
        from gallery.models import Creation

        creation_changed.connect(
            wall.on_creation_changed, sender=Creation,
            dispatch_uid="gallery.wall.on_creation_changed",
        )
