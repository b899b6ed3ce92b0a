from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrainingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training"
    verbose_name = _("Models and styles")

    def ready(self):
        # Every change to the registry bumps its version, so workers reload without a restart.
        from inpainting_core.model_registry import use_model_registry
        from training import models, registry

        for model in (models.DiffusionModel, models.StyleAdapter):
            registry.connect_version_bumps(model)
        # The diffusers engine asks the registry before each job; it is handed down from
        # here, so the core imports nothing above it.
        use_model_registry(registry)
