"""`manage.py inpaint`: repaint a region of a map from the command line.

The same pipeline the workers run, without web server or queue: useful to try
a model, to compare engines, and on a machine where nothing else is set up.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inpainting_core import engines
from inpainting_core.engines.base import EngineError
from inpainting_core.generation import GenerationSettings
from inpainting_core.imaging import ImageProblem
from inpainting_core.pipeline import generate, load_inputs
from inpainting_core.prompts import prepare_prompt
from inpainting_core.styles import STYLES
from inpainting_core.wishes import PromptProblem


class Command(BaseCommand):
    help = "Repaint the masked region of a map according to a wish (German, English or Dutch)."

    def add_arguments(self, parser):
        parser.add_argument("--image", required=True, type=Path, help="The map (PNG or JPEG).")
        parser.add_argument(
            "--mask", required=True, type=Path,
            help="Where to repaint: strokes on transparency, or white on black.",
        )
        parser.add_argument("--prompt", required=True, help='The wish, e.g. "Ein See".')
        parser.add_argument("--out", required=True, type=Path, help="Where to write the PNG.")
        parser.add_argument(
            "--engine", choices=engines.ENGINE_NAMES, default=None,
            help=f"Engine (default: {settings.OLPE_DEFAULT_ENGINE}).",
        )
        parser.add_argument("--model", help="Hub id or directory of the own model (diffusers).")
        parser.add_argument("--style", choices=sorted(STYLES), default="none")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--steps", type=int)
        parser.add_argument("--guidance", type=float, help="Texttreue: how closely to follow the wish.")
        parser.add_argument("--strength", type=float)

    def handle(self, *args, **options):
        engine_name = options["engine"] or settings.OLPE_DEFAULT_ENGINE
        if options["model"]:
            # This process only runs this one command, so changing the setting is safe.
            settings.OLPE_MODEL = options["model"]
            engines.reset()
        self._require_usable(engine_name)

        try:
            image, mask = load_inputs(options["image"], options["mask"])
            # Within the engine's token budget (the own model's tokenizers), as sent.
            budget = engines.get_engine(engine_name).prompt_budget()
            prompt = prepare_prompt(options["prompt"], options["style"], budget, shorten=True)
        except (ImageProblem, PromptProblem) as problem:
            raise CommandError(str(problem.message)) from problem
        except OSError as error:
            raise CommandError(f"{error.filename}: {error.strerror}") from error

        self.stdout.write(f"Wish:        {prompt.original}")
        self.stdout.write(f"Translation: {prompt.translated} ({prompt.translation_source})")
        self.stdout.write(f"Prompt:      {prompt.final}")
        for note in prompt.notes:
            self.stdout.write(self.style.WARNING(str(note)))
        result = self._generate(image, mask, prompt, engine_name, options)

        options["out"].parent.mkdir(parents=True, exist_ok=True)
        result.image.save(options["out"], format="PNG")
        timings = ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in result.seconds.items())
        self.stdout.write(self.style.SUCCESS(f"Wrote {options['out']} ({timings})"))

    def _require_usable(self, engine_name):
        """An engine named explicitly that cannot run is an error, never a silent fallback."""
        status = engines.get_engine(engine_name).status()
        if not status.usable:
            raise CommandError(f"The engine “{engine_name}” cannot run: {status.reason}")

    def _generate(self, image, mask, prompt, engine_name, options):
        generation = GenerationSettings(
            engine=engine_name,
            style=options["style"],
            steps=options["steps"],
            guidance=options["guidance"],
            strength=options["strength"],
            seed=options["seed"],
        )
        with tqdm(desc=engine_name, unit="step", file=self.stderr._out) as bar:

            def progress(step, total, preview=None):
                bar.total = total
                bar.n = step
                bar.refresh()

            try:
                return generate(image, mask, prompt.original, generation, progress=progress, prompt=prompt)
            except EngineError as error:
                raise CommandError(str(error.message)) from error
