"""`manage.py train_model`: fine-tune the own model, or train a style LoRA.

    manage.py train_model --data DIR --base MODEL --out DIR --mode inpaint ...

Several GPUs: `accelerate launch manage.py train_model ...` (docs/training.md).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inpainting_core.styles import STYLES
from training.datasets import DatasetProblem
from training.train import (
    LR_SCHEDULERS,
    MIXED_PRECISIONS,
    MODES,
    TrainingConfig,
    TrainingProblem,
    train,
)

# diffusers' examples: 1e-5 for the whole UNet (the prototype's), 1e-4 for a LoRA.
DEFAULT_LEARNING_RATES = {"text2image": 1e-5, "inpaint": 1e-5, "lora": 1e-4}


class Command(BaseCommand):
    help = (
        "Fine-tune the museum's Stable Diffusion model or train a style LoRA on captioned pictures."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--data",
            required=True,
            help="Dataset: a directory (metadata.csv with file_name,text, or "
            "caption .txt files) or a hub dataset id.",
        )
        parser.add_argument(
            "--base",
            required=True,
            help="The model to start from: a pipeline directory or a hub id.",
        )
        parser.add_argument(
            "--out",
            required=True,
            type=Path,
            help="Where the model (or LoRA), checkpoints and logs go.",
        )
        parser.add_argument(
            "--mode",
            choices=MODES,
            default="inpaint",
            help="text2image: the prototype's objective (4-channel UNet); "
            "inpaint: random masks, 9-channel UNet; lora: a style adapter.",
        )
        parser.add_argument("--resolution", type=int, default=768)
        parser.add_argument(
            "--center-crop",
            action="store_true",
            help="Cut the middle square instead of a random one.",
        )
        parser.add_argument("--random-flip", action="store_true", help="Mirror half the pictures.")
        parser.add_argument("--train-batch-size", type=int, default=1)
        parser.add_argument("--gradient-accumulation-steps", type=int, default=1)
        parser.add_argument(
            "--gradient-checkpointing",
            action="store_true",
            help="Less GPU memory for about 20%% more time.",
        )
        parser.add_argument("--mixed-precision", choices=MIXED_PRECISIONS, default="no")
        parser.add_argument("--max-train-steps", type=int, default=10_000)
        parser.add_argument(
            "--learning-rate",
            type=float,
            default=None,
            help="Default: 1e-5 for full fine-tuning, 1e-4 for LoRA.",
        )
        parser.add_argument("--lr-scheduler", choices=LR_SCHEDULERS, default="constant")
        parser.add_argument("--lr-warmup-steps", type=int, default=0)
        parser.add_argument("--max-grad-norm", type=float, default=1.0)
        parser.add_argument(
            "--use-ema",
            action="store_true",
            help="Save an exponential moving average of the weights.",
        )
        parser.add_argument(
            "--use-8bit-adam",
            action="store_true",
            help="bitsandbytes' 8-bit AdamW (CUDA only); plain AdamW if missing.",
        )
        parser.add_argument(
            "--checkpointing-steps",
            type=int,
            default=500,
            help="Save the training state every N steps (0: never).",
        )
        parser.add_argument(
            "--checkpoints-total-limit", type=int, default=3, help="Keep this many checkpoints."
        )
        parser.add_argument(
            "--resume-from-checkpoint", default=None, help='"latest" or a checkpoint-N folder.'
        )
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--lora-rank", type=int, default=4)
        parser.add_argument(
            "--validation-prompt",
            default=None,
            help="Repaint the demo map with this prompt at every checkpoint (out/validation/).",
        )
        parser.add_argument("--image-column", default="image", help="Hub datasets only.")
        parser.add_argument("--caption-column", default="text")
        parser.add_argument("--dataloader-num-workers", type=int, default=0)
        parser.add_argument(
            "--register",
            metavar="NAME",
            default=None,
            help="Afterwards, add the result to the curators' registry "
            "(inactive): a diffusion model of that name, or with "
            "--mode lora a style adapter for --style.",
        )
        parser.add_argument(
            "--style",
            choices=list(STYLES),
            default=None,
            help="The style a LoRA is for (with --register).",
        )

    def handle(self, *args, **options):
        if options["register"] and options["mode"] == "lora" and not options["style"]:
            raise CommandError("--register with --mode lora needs --style.")
        config = self.config_from(options)
        try:
            result = train(config, show_progress=options["verbosity"] > 0)
        except (DatasetProblem, TrainingProblem) as error:
            raise CommandError(str(error)) from error
        if not _is_main_process():
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Trained {result.mode} ({result.objective} objective) on {result.samples} "
                f"pictures: steps {result.first_step}→{result.steps} at "
                f"{result.steps_per_second:.2f} steps/s; fixed-batch loss "
                f"{result.fixed_loss_start:.4f} → {result.fixed_loss_end:.4f}. "
                f"Output in {result.out}."
            )
        )
        if options["register"]:
            self.stdout.write(register(result, options["register"], options["style"]))

    @staticmethod
    def config_from(options) -> TrainingConfig:
        learning_rate = options["learning_rate"] or DEFAULT_LEARNING_RATES[options["mode"]]
        names = [name for name in TrainingConfig.__dataclass_fields__ if name != "learning_rate"]
        return TrainingConfig(
            learning_rate=learning_rate, **{name: options[name] for name in names}
        )


def _is_main_process() -> bool:
    from accelerate import PartialState

    return PartialState().is_main_process


def register(result, name: str, style: str | None) -> str:
    """Add the trained model or LoRA to the registry, inactive: curators decide after evaluating."""
    from training.models import DiffusionModel, StyleAdapter
    from training.objectives import INPAINT

    source = str(Path(result.out).resolve())
    notes = (
        f"Trained with manage.py train_model ({result.mode}), {result.steps} steps on "
        f"{result.samples} pictures; fixed-batch loss {result.fixed_loss_start:.4f} → "
        f"{result.fixed_loss_end:.4f}."
    )
    if result.mode == "lora":
        adapter = StyleAdapter.objects.create(style=style, source=source, notes=f"{name}: {notes}")
        return f"Registered the style adapter “{adapter}” (not offered in the kiosk yet)."
    kind = (
        DiffusionModel.Kind.INPAINT9
        if result.objective == INPAINT
        else DiffusionModel.Kind.TEXT2IMAGE4
    )
    model, _created = DiffusionModel.objects.update_or_create(
        name=name, defaults={"source": source, "kind": kind, "notes": notes}
    )
    return f"Registered the model “{model}” (inactive; make it active in the admin)."
