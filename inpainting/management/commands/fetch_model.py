"""`manage.py fetch_model`: make the own model available offline.

Jobs never download (see inpainting_core.model_store), so this is the one step
that needs the network: run it once when setting up a museum PC, or after the
model was retrained. It copies only what a diffusers pipeline loads (one set
of weights per component) into OLPE_MODEL_DIR, then checks that the copy
loads. Given a local directory instead of a hub id, it only checks it.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from inpainting_core import model_store
from inpainting_core.model_store import is_tiny_model


class Command(BaseCommand):
    help = "Download the own model (OLPE_MODEL) for offline use, or check a local model directory."

    def add_arguments(self, parser):
        parser.add_argument(
            "--model",
            help=f"Hub id or local directory (default: OLPE_MODEL = {settings.OLPE_MODEL}).",
        )
        parser.add_argument(
            "--revision", help="Branch, tag or commit of a hub model (default: main)."
        )
        parser.add_argument(
            "--with-safety-checker",
            action="store_true",
            help="Also download the model's safety checker, if it ships one (for curators who "
            "turn on the site setting that checks pictures with it).",
        )
        parser.add_argument(
            "--no-load-check",
            action="store_true",
            help="Do not load the model afterwards (saves memory and time on a small machine).",
        )

    def handle(self, *args, **options):
        model = (options["model"] or settings.OLPE_MODEL).strip()
        if model_store.looks_like_path(model):
            path = Path(model).expanduser()
            self._check(path, load=not options["no_load_check"])
            self.stdout.write(
                self.style.SUCCESS(
                    _("%(path)s is a complete pipeline; nothing to download.") % {"path": path}
                )
            )
        else:
            path = self._fetch_model(model, options["revision"], options["with_safety_checker"])
            self._check(path, load=not options["no_load_check"])
            self.stdout.write(
                self.style.SUCCESS(
                    _("%(model)s is ready in %(path)s.") % {"model": model, "path": path}
                )
            )
        if not options["model"]:
            self._fetch_style_adapters()
        if options["model"] and options["model"] != settings.OLPE_MODEL:
            self.stdout.write(_("To use it, set OLPE_MODEL=%(model)s") % {"model": model})

    def _fetch_model(self, hub_id: str, revision, with_safety_checker: bool = False) -> Path:
        self.stdout.write(
            _("Downloading %(model)s (%(revision)s) into %(path)s …")
            % {
                "model": hub_id,
                "revision": revision or "main",
                "path": model_store.local_copy_directory(hub_id),
            }
        )
        try:
            return model_store.fetch(
                hub_id, revision=revision, with_safety_checker=with_safety_checker
            )
        except model_store.ModelStoreError as error:
            raise CommandError(str(error.message)) from error

    def _check(self, path: Path, load: bool) -> None:
        problem = (
            model_store.pipeline_problem(path)
            if path.is_dir()
            else _("The model directory %(path)s does not exist.") % {"path": path}
        )
        if problem:
            raise CommandError(problem)
        if is_tiny_model(path):
            self.stdout.write(
                self.style.WARNING(
                    _(
                        "%(path)s is a miniature test model with random weights; "
                        "the engine uses it only with OLPE_ALLOW_TINY_MODEL = True."
                    )
                    % {"path": path}
                )
            )
        if not load:
            return
        self.stdout.write(_("Loading %(path)s to check it …") % {"path": path})
        from inpainting_core.engines.diffusion import load_inpaint_pipeline

        try:
            pipeline = load_inpaint_pipeline(path, "cpu")
        except Exception as error:  # report any broken checkpoint as a message, not a traceback
            raise CommandError(
                _("%(path)s does not load: %(error)s") % {"path": path, "error": error}
            ) from error
        self.stdout.write(
            _("Loaded: %(channels)d-channel UNet, scheduler %(scheduler)s.")
            % {
                "channels": pipeline.unet.config.in_channels,
                "scheduler": type(pipeline.scheduler).__name__,
            }
        )

    def _fetch_style_adapters(self) -> None:
        """Fetch the configured LoRA styles that are hub ids, so styles work offline too."""
        for style, configured in sorted((settings.OLPE_LORA_STYLES or {}).items()):
            if model_store.looks_like_path(configured):
                continue
            self.stdout.write(
                _("Downloading the LoRA of style “%(style)s”: %(model)s …")
                % {
                    "style": style,
                    "model": configured,
                }
            )
            try:
                path = model_store.fetch_adapter(configured)
            except model_store.ModelStoreError as error:
                raise CommandError(str(error.message)) from error
            self.stdout.write(
                self.style.SUCCESS(
                    _("Style “%(style)s” is ready in %(path)s.") % {"style": style, "path": path}
                )
            )
