"""`manage.py build_tiny_model DIR [--family sdxl]`: write a miniature random-weight model.

For tests and for trying the own-model engine end to end on a machine without
the real model: it loads like the real one (Stable Diffusion 2 by default, or
SDXL with --family sdxl) and runs in a fraction of a second on a CPU, but
paints noise. The engine only accepts it with OLPE_ALLOW_TINY_MODEL = True.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tooling.tiny_model import FAMILIES, FAMILY_SD, write_tiny_model


class Command(BaseCommand):
    help = (
        "Write a miniature Stable Diffusion (2 or XL) inpainting model with random weights "
        "(a test fixture)."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="Where to write the model.")
        parser.add_argument(
            "--unet-channels",
            type=int,
            choices=(9, 4),
            default=9,
            help="9: an inpainting UNet; 4: a text-to-image UNet as plain fine-tuning produces.",
        )
        parser.add_argument(
            "--family",
            choices=FAMILIES,
            default=FAMILY_SD,
            help="sd2: Stable Diffusion 2 layout (default); sdxl: SDXL with two text encoders.",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed for the random weights.")

    def handle(self, *args, **options):
        directory = options["directory"]
        if directory.exists() and not directory.is_dir():
            raise CommandError(f"{directory} exists and is not a directory.")
        try:
            write_tiny_model(
                directory,
                unet_channels=options["unet_channels"],
                seed=options["seed"],
                family=options["family"],
            )
        except OSError as error:
            raise CommandError(f"{error.filename or directory}: {error.strerror}") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote a tiny {options['unet_channels']}-channel {options['family']} test model "
                f"to {directory}. It paints noise; the engine accepts it only with "
                "OLPE_ALLOW_TINY_MODEL = True."
            )
        )
