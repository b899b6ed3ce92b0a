"""`manage.py evaluate_model`: paint fixed wishes with models and LoRAs, side by side.

manage.py evaluate_model --model DIR [--model OTHER] [--lora STYLE=PATH ...] --out DIR
"""

from __future__ import annotations

from pathlib import Path

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError

from training.evaluate import DEFAULT_CLIP_MODEL, EvaluationProblem, evaluate


def style_and_path(value: str) -> tuple[str, str]:
    style, separator, path = value.partition("=")
    if not separator or not style.strip() or not path.strip():
        raise CommandError(f"--lora expects STYLE=PATH, not {value!r}.")
    return style.strip(), path.strip()


class Command(BaseCommand):
    help = (
        "Render a comparison grid and a report (time, sanity metrics, CLIP score) "
        "for models and LoRAs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--model",
            action="append",
            required=True,
            help="A model directory or hub id; give it twice to compare two.",
        )
        parser.add_argument(
            "--lora",
            action="append",
            default=[],
            metavar="STYLE=PATH",
            help="A style adapter to compare, with and without it.",
        )
        parser.add_argument(
            "--engine-steps",
            type=int,
            default=None,
            help="Denoising steps per picture (default OLPE_STEPS).",
        )
        parser.add_argument(
            "--resolution",
            type=int,
            default=None,
            help="The engine's working size (default OLPE_MODEL_RESOLUTION).",
        )
        parser.add_argument(
            "--clip-model",
            default=DEFAULT_CLIP_MODEL,
            help="A CLIP model on this computer for the score ('' for none).",
        )
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument(
            "--save-to-registry",
            action="store_true",
            help="Attach the grid to registered models and adapters with these sources.",
        )

    def handle(self, *args, **options):
        loras = [style_and_path(value) for value in options["lora"]]
        try:
            report = evaluate(
                options["model"],
                options["out"],
                loras=loras,
                engine_steps=options["engine_steps"],
                resolution=options["resolution"],
                clip_model=options["clip_model"] or None,
            )
        except EvaluationProblem as error:
            raise CommandError(str(error)) from error
        for row in report.summary():
            clip = "–" if row["clip_score"] is None else f"{row['clip_score']:.1f}"
            self.stdout.write(
                f"{row['column']}: {row['seconds_per_image']:.2f} s/image, unchanged outside "
                f"{row['unchanged_outside']:.4f}, change inside {row['mean_change_inside']:.1f}, "
                f"CLIP {clip}"
            )
        self.stdout.write(f"Scoring: {report.scoring}")
        if options["save_to_registry"]:
            attached = attach_grid(report.grid, options["model"], [path for _style, path in loras])
            self.stdout.write(f"Attached the grid to {attached} registry entries.")
        self.stdout.write(self.style.SUCCESS(f"Wrote {report.grid} and the report beside it."))


def _spellings(source: str) -> set[str]:
    return {source, str(Path(source).expanduser().resolve())}


def attach_grid(grid: Path, models: list[str], loras: list[str]) -> int:
    from training.models import DiffusionModel, StyleAdapter

    data = grid.read_bytes()
    model_sources = {spelling for source in models for spelling in _spellings(source)}
    lora_sources = {spelling for source in loras for spelling in _spellings(source)}
    entries = [
        *DiffusionModel.objects.filter(source__in=model_sources),
        *StyleAdapter.objects.filter(source__in=lora_sources),
    ]
    for entry in entries:
        entry.evaluation_grid.save(grid.name, ContentFile(data), save=True)
    return len(entries)
