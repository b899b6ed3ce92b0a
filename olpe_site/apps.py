from django.apps import AppConfig


class OlpeSiteConfig(AppConfig):
    """The project itself as an app: process-wide set-up that belongs to no feature."""

    name = "olpe_site"
    verbose_name = "Olpe"

    def ready(self):
        # django-q2 forks its workers: each must open its own database pool.
        from olpe_site.dbpool import install_fork_handler

        install_fork_handler()
