"""Fine-tune the museum's own model: the prototype's recipe, as a resumable command.

The loop follows diffusers' `train_text_to_image` example, which the
prototype ran from a notebook (768 px, centre crop, random flip, EMA, 8-bit
Adam, fp16, gradient checkpointing, lr 1e-5), and adds what that notebook
lacked: an inpainting objective, LoRA style adapters, a dataset check before
the first step, and a loss on a fixed batch that shows whether training helps.

`accelerate` runs the same code on one CPU (the tests), one GPU, or several
(`accelerate launch manage.py train_model ...`).

Output in `--out`:

* full modes: a complete pipeline (`save_pretrained`, EMA weights with
  --use-ema) that the diffusers engine loads as it is;
* LoRA mode: `pytorch_lora_weights.safetensors`, for `load_lora_weights`;
* `training_log.jsonl`: the loss and learning rate of every step, and the
  fixed-batch loss at the start, at each checkpoint and at the end;
* `checkpoint-N/`: the full training state every N steps (the last few kept);
* `olpe_training.json`: what was trained from what, and how it went.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from django.utils.translation import gettext as _

from inpainting_core import model_store
from inpainting_core.model_store import TINY_MODEL_MARKER, is_tiny_model
from training import datasets, objectives

logger = logging.getLogger(__name__)

MODES = ("text2image", "inpaint", "lora")
MIXED_PRECISIONS = ("no", "fp16", "bf16")
LR_SCHEDULERS = (
    "constant",
    "constant_with_warmup",
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
)
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
# AdamW settings of diffusers' training examples.
ADAM_BETAS = (0.9, 0.999)
ADAM_WEIGHT_DECAY = 1e-2
ADAM_EPSILON = 1e-8
FIXED_BATCH_SIZE = 4
FIXED_SEED = 20240607
CHECKPOINT_PREFIX = "checkpoint-"
LOG_FILE = "training_log.jsonl"
SUMMARY_FILE = "olpe_training.json"


class TrainingProblem(Exception):
    """A reason training cannot start, in words the person at the console can act on."""


@dataclass
class TrainingConfig:
    data: str
    base: str
    out: Path
    mode: str = "inpaint"
    resolution: int = 768
    center_crop: bool = False
    random_flip: bool = False
    train_batch_size: int = 1
    gradient_accumulation_steps: int = 1
    gradient_checkpointing: bool = False
    mixed_precision: str = "no"
    max_train_steps: int = 10_000
    learning_rate: float = 1e-5
    lr_scheduler: str = "constant"
    lr_warmup_steps: int = 0
    max_grad_norm: float = 1.0
    use_ema: bool = False
    use_8bit_adam: bool = False
    checkpointing_steps: int = 500
    checkpoints_total_limit: int = 3
    resume_from_checkpoint: Optional[str] = None
    seed: Optional[int] = None
    lora_rank: int = 4
    validation_prompt: Optional[str] = None
    image_column: str = datasets.DEFAULT_IMAGE_COLUMN
    caption_column: str = datasets.DEFAULT_CAPTION_COLUMN
    dataloader_num_workers: int = 0

    def problems(self) -> list[str]:
        checks = [
            (
                self.mode in MODES,
                _("--mode must be one of %(choices)s.") % {"choices": ", ".join(MODES)},
            ),
            (
                self.mixed_precision in MIXED_PRECISIONS,
                _("--mixed-precision must be one of %(choices)s.")
                % {"choices": ", ".join(MIXED_PRECISIONS)},
            ),
            (
                self.lr_scheduler in LR_SCHEDULERS,
                _("--lr-scheduler must be one of %(choices)s.")
                % {"choices": ", ".join(LR_SCHEDULERS)},
            ),
            (
                self.resolution >= 8 and self.resolution % 8 == 0,
                _("--resolution must be a positive multiple of 8."),
            ),
            (self.train_batch_size >= 1, _("--train-batch-size must be at least 1.")),
            (
                self.gradient_accumulation_steps >= 1,
                _("--gradient-accumulation-steps must be at least 1."),
            ),
            (self.max_train_steps >= 1, _("--max-train-steps must be at least 1.")),
            (self.learning_rate > 0, _("--learning-rate must be positive.")),
            (self.lr_warmup_steps >= 0, _("--lr-warmup-steps cannot be negative.")),
            (self.max_grad_norm > 0, _("--max-grad-norm must be positive.")),
            (self.checkpointing_steps >= 0, _("--checkpointing-steps cannot be negative.")),
            (self.checkpoints_total_limit >= 1, _("--checkpoints-total-limit must be at least 1.")),
            (self.lora_rank >= 1, _("--lora-rank must be at least 1.")),
            (
                not (self.use_ema and self.mode == "lora"),
                _("--use-ema is for full fine-tuning; a LoRA trains too few weights to need it."),
            ),
        ]
        return [message for passed, message in checks if not passed]


@dataclass
class TrainingResult:
    out: Path
    mode: str
    objective: str
    first_step: int
    steps: int
    seconds: float
    fixed_loss_start: float
    fixed_loss_end: float
    samples: int
    log_file: Path
    checkpoints: list[Path] = field(default_factory=list)

    @property
    def steps_per_second(self) -> float:
        return (self.steps - self.first_step) / self.seconds if self.seconds > 0 else 0.0


def train(config: TrainingConfig, show_progress: bool = True) -> TrainingResult:
    """Train as configured; raises DatasetProblem or TrainingProblem before any step runs."""
    return Trainer(config, show_progress).run()


# ------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------


@dataclass
class ModelParts:
    path: Path
    tokenizer: object
    text_encoder: object
    vae: object
    unet: object
    noise_scheduler: object


def base_model_path(base: str) -> Path:
    """A local pipeline directory for --base; a hub id is fetched first, as fetch_model does."""
    location = model_store.locate(base)
    if location.found:
        return location.path
    if not location.is_hub_id:
        raise TrainingProblem(location.problem)
    logger.info("Fetching the base model %s from the hub", base)
    try:
        return model_store.fetch(base)
    except model_store.ModelStoreError as error:
        raise TrainingProblem(str(error.message)) from error


def load_parts(base: str) -> ModelParts:
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    path = base_model_path(base)
    variant = model_store.weights_variant(path)
    return ModelParts(
        path=path,
        tokenizer=CLIPTokenizer.from_pretrained(path, subfolder="tokenizer"),
        text_encoder=CLIPTextModel.from_pretrained(path, subfolder="text_encoder", variant=variant),
        vae=AutoencoderKL.from_pretrained(path, subfolder="vae", variant=variant),
        unet=UNet2DConditionModel.from_pretrained(path, subfolder="unet", variant=variant),
        noise_scheduler=DDPMScheduler.from_pretrained(path, subfolder="scheduler"),
    )


def checkpoint_step(path: Path) -> int:
    return int(path.name.removeprefix(CHECKPOINT_PREFIX))


def list_checkpoints(out: Path) -> list[Path]:
    """checkpoint-N folders in `out`, oldest first."""
    folders = [
        path
        for path in out.glob(f"{CHECKPOINT_PREFIX}*")
        if path.is_dir() and path.name.removeprefix(CHECKPOINT_PREFIX).isdigit()
    ]
    return sorted(folders, key=checkpoint_step)


def find_checkpoint(out: Path, wanted: str) -> Optional[Path]:
    """The checkpoint --resume-from-checkpoint names: "latest" (None if there is none) or a path."""
    if wanted == "latest":
        checkpoints = list_checkpoints(out)
        return checkpoints[-1] if checkpoints else None
    path = Path(wanted).expanduser()
    if not path.is_dir() and (out / wanted).is_dir():
        path = out / wanted
    if not path.is_dir() or not path.name.removeprefix(CHECKPOINT_PREFIX).isdigit():
        raise TrainingProblem(
            _("%(path)s is not a checkpoint-N folder of an earlier run.") % {"path": wanted}
        )
    return path


# ------------------------------------------------------------------------------
# The trainer
# ------------------------------------------------------------------------------


class Trainer:
    def __init__(self, config: TrainingConfig, show_progress: bool = True):
        problems = config.problems()
        if problems:
            raise TrainingProblem("\n".join(problems))
        self.config = config
        self.out = Path(config.out)
        self.show_progress = show_progress
        # The dataset is checked before a model is loaded: its problems are the likely ones.
        self.images = datasets.load_captioned_images(
            config.data, config.resolution, config.image_column, config.caption_column
        )
        self.accelerator = self._make_accelerator()
        self.weight_dtype = self._weight_dtype()
        self.parts = load_parts(config.base)
        self.objective_kind = self._objective_kind()
        self.objective = objectives.DiffusionObjective(
            self.objective_kind, self.parts.vae, self.parts.noise_scheduler
        )
        self._prepare_models()
        self.ema = self._make_ema()
        self.dataloader = self._make_dataloader()
        self.optimizer = self._make_optimizer()
        self.lr_scheduler = self._make_lr_scheduler()
        self.unet, self.optimizer, self.dataloader, self.lr_scheduler = self.accelerator.prepare(
            self.parts.unet, self.optimizer, self.dataloader, self.lr_scheduler
        )
        self._register_checkpoint_state()
        self.fixed_batch = self._make_fixed_batch()
        self.global_step = 0

    # --- setup ---------------------------------------------------------------------------

    def _make_accelerator(self):
        import torch
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        if self.config.mixed_precision == "fp16" and not torch.cuda.is_available():
            raise TrainingProblem(
                _("--mixed-precision fp16 needs a CUDA GPU; use bf16 or no on this computer.")
            )
        accelerator = Accelerator(
            gradient_accumulation_steps=self.config.gradient_accumulation_steps,
            mixed_precision=self.config.mixed_precision,
        )
        if self.config.seed is not None:
            set_seed(self.config.seed)
        if accelerator.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
        return accelerator

    def _weight_dtype(self):
        """Frozen parts run in half precision with mixed precision; trained ones stay float32."""
        import torch

        return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(
            self.accelerator.mixed_precision, torch.float32
        )

    def _objective_kind(self) -> str:
        try:
            return objectives.objective_for(self.config.mode, self.parts.unet.config.in_channels)
        except ValueError as error:
            raise TrainingProblem(str(error)) from error

    def _prepare_models(self) -> None:
        parts = self.parts
        parts.vae.requires_grad_(False)
        parts.text_encoder.requires_grad_(False)
        self._place(parts.vae)
        self._place(parts.text_encoder)
        if self.config.mode == "lora":
            self._add_lora()
        else:
            if self.objective_kind == objectives.INPAINT:
                objectives.expand_conv_in(parts.unet)
            parts.unet.train()
        if self.config.gradient_checkpointing:
            parts.unet.enable_gradient_checkpointing()

    def _place(self, module) -> None:
        """Move a frozen part to the device, in half precision when mixed precision is on."""
        import torch

        if self.weight_dtype == torch.float32:
            module.to(self.accelerator.device)
        else:
            module.to(self.accelerator.device, dtype=self.weight_dtype)

    def _add_lora(self) -> None:
        import torch
        from diffusers.training_utils import cast_training_params
        from peft import LoraConfig

        unet = self.parts.unet
        unet.requires_grad_(False)
        self._place(unet)
        unet.add_adapter(
            LoraConfig(
                r=self.config.lora_rank,
                lora_alpha=self.config.lora_rank,
                init_lora_weights="gaussian",
                target_modules=LORA_TARGETS,
            )
        )
        # Only the adapter learns, in float32 even when the UNet runs in half precision.
        cast_training_params(unet, dtype=torch.float32)

    def _make_ema(self):
        if not self.config.use_ema:
            return None
        from diffusers import UNet2DConditionModel
        from diffusers.training_utils import EMAModel

        unet = self.parts.unet
        ema = EMAModel(unet.parameters(), model_cls=UNet2DConditionModel, model_config=unet.config)
        ema.to(self.accelerator.device)
        return ema

    def _trainable_parameters(self, unet=None) -> list:
        unet = unet if unet is not None else self.parts.unet
        return [parameter for parameter in unet.parameters() if parameter.requires_grad]

    def _make_optimizer(self):
        import torch

        optimizer_class = torch.optim.AdamW
        if self.config.use_8bit_adam:
            try:
                import bitsandbytes
            except ImportError:
                logger.warning(
                    "--use-8bit-adam needs the bitsandbytes package, which is not installed "
                    "(it also needs a CUDA GPU). Training with the ordinary AdamW, which "
                    "keeps its optimizer state in 32 bits and needs more GPU memory."
                )
            else:
                optimizer_class = bitsandbytes.optim.AdamW8bit
        return optimizer_class(
            self._trainable_parameters(),
            lr=self.config.learning_rate,
            betas=ADAM_BETAS,
            weight_decay=ADAM_WEIGHT_DECAY,
            eps=ADAM_EPSILON,
        )

    def _make_dataloader(self):
        import torch

        examples = datasets.TrainingExamples(
            self.images,
            self.parts.tokenizer,
            self.config.resolution,
            self.config.center_crop,
            self.config.random_flip,
        )
        return torch.utils.data.DataLoader(
            examples,
            batch_size=self.config.train_batch_size,
            shuffle=True,
            num_workers=self.config.dataloader_num_workers,
        )

    def _make_lr_scheduler(self):
        from diffusers.optimization import get_scheduler

        # The prepared scheduler steps once per process and step, as in diffusers' examples.
        processes = self.accelerator.num_processes
        return get_scheduler(
            self.config.lr_scheduler,
            optimizer=self.optimizer,
            num_warmup_steps=self.config.lr_warmup_steps * processes,
            num_training_steps=self.config.max_train_steps * processes,
        )

    def _register_checkpoint_state(self) -> None:
        if self.ema is not None:
            self.accelerator.register_for_checkpointing(self.ema)
        if self.config.mode == "lora":
            # A checkpoint of a LoRA run holds the adapter, not another copy of the UNet.
            self.accelerator.register_save_state_pre_hook(self._save_lora_state)
            self.accelerator.register_load_state_pre_hook(self._load_lora_state)

    def _save_lora_state(self, models, weights, output_dir) -> None:
        from diffusers import StableDiffusionInpaintPipeline

        if self.accelerator.is_main_process:
            StableDiffusionInpaintPipeline.save_lora_weights(
                output_dir, unet_lora_layers=self._lora_state_dict(), safe_serialization=True
            )
        while weights:
            weights.pop()

    def _load_lora_state(self, models, input_dir) -> None:
        import torch
        from diffusers import StableDiffusionInpaintPipeline
        from diffusers.training_utils import cast_training_params
        from diffusers.utils import convert_unet_state_dict_to_peft
        from peft.utils import set_peft_model_state_dict

        while models:
            models.pop()
        state, _alphas = StableDiffusionInpaintPipeline.lora_state_dict(input_dir)
        unet_state = {
            key.removeprefix("unet."): value
            for key, value in state.items()
            if key.startswith("unet.")
        }
        unet = self.accelerator.unwrap_model(self.unet)
        result = set_peft_model_state_dict(
            unet, convert_unet_state_dict_to_peft(unet_state), adapter_name="default"
        )
        unexpected = getattr(result, "unexpected_keys", None)
        if unexpected:
            raise TrainingProblem(
                _("The checkpoint %(path)s does not fit this LoRA: %(keys)s")
                % {"path": input_dir, "keys": ", ".join(unexpected[:5])}
            )
        cast_training_params(unet, dtype=torch.float32)

    def _lora_state_dict(self) -> dict:
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        unet = self.accelerator.unwrap_model(self.unet)
        return convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))

    # --- the fixed batch ----------------------------------------------------------------

    def _make_fixed_batch(self) -> dict:
        """The first pictures, centre-cropped, with fixed noise, timesteps and masks.

        The training loss jumps with every random timestep; the loss on this
        batch changes only when the model does, so it shows progress.
        """
        import torch

        count = min(FIXED_BATCH_SIZE, len(self.images))
        examples = datasets.TrainingExamples(
            self.images, self.parts.tokenizer, self.config.resolution, True, False
        )
        items = [examples[index] for index in range(count)]
        device = self.accelerator.device
        pixels = torch.stack([item["pixel_values"] for item in items]).to(device)
        input_ids = torch.stack([item["input_ids"] for item in items]).to(device)
        draw = self.objective.draw(
            count,
            self.config.resolution,
            device,
            generator=torch.Generator().manual_seed(FIXED_SEED),
            mask_rng=np.random.default_rng(FIXED_SEED),
        )
        return {"pixels": pixels, "embeddings": self._text_embeddings(input_ids), "draw": draw}

    def fixed_loss(self) -> float:
        """The loss of the weights the output would have now (EMA weights with --use-ema)."""
        import torch

        unet = self.accelerator.unwrap_model(self.unet)
        was_training = unet.training
        unet.eval()
        try:
            with torch.no_grad(), self._ema_weights(unet), self.accelerator.autocast():
                loss = self.objective.loss(
                    unet,
                    self.fixed_batch["pixels"],
                    self.fixed_batch["embeddings"],
                    self.fixed_batch["draw"],
                    sample_latents=False,
                )
        finally:
            unet.train(was_training)
        return float(loss.item())

    @contextmanager
    def _ema_weights(self, unet):
        if self.ema is None:
            yield
            return
        self.ema.store(unet.parameters())
        self.ema.copy_to(unet.parameters())
        try:
            yield
        finally:
            self.ema.restore(unet.parameters())

    def _text_embeddings(self, input_ids):
        import torch

        with torch.no_grad():
            return self.parts.text_encoder(input_ids, return_dict=False)[0]

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> TrainingResult:
        first_step = self._resume()
        self.global_step = first_step
        fixed_loss_start = self.fixed_loss()
        self._log({"step": first_step, "fixed_loss": fixed_loss_start})
        started = time.perf_counter()
        self._train_until_done()
        seconds = time.perf_counter() - started
        if self.config.checkpointing_steps and self.global_step % self.config.checkpointing_steps:
            self._save_checkpoint()  # so a finished run can go on with more steps
        fixed_loss_end = self.fixed_loss()
        self._log({"step": self.global_step, "fixed_loss": fixed_loss_end})
        self.accelerator.wait_for_everyone()
        result = TrainingResult(
            out=self.out,
            mode=self.config.mode,
            objective=self.objective_kind,
            first_step=first_step,
            steps=self.global_step,
            seconds=seconds,
            fixed_loss_start=fixed_loss_start,
            fixed_loss_end=fixed_loss_end,
            samples=len(self.images),
            log_file=self.out / LOG_FILE,
            checkpoints=list_checkpoints(self.out),
        )
        if self.accelerator.is_main_process:
            self._save_output()
            self._write_summary(result)
        self.accelerator.wait_for_everyone()
        self.accelerator.end_training()
        return result

    def _resume(self) -> int:
        wanted = self.config.resume_from_checkpoint
        if not wanted:
            return 0
        checkpoint = find_checkpoint(self.out, wanted)
        if checkpoint is None:
            logger.warning("No checkpoint in %s to resume from; starting a new run.", self.out)
            return 0
        self.accelerator.load_state(str(checkpoint))
        step = checkpoint_step(checkpoint)
        logger.info("Resumed from %s at step %d", checkpoint, step)
        return step

    def _train_until_done(self) -> None:
        from tqdm.auto import tqdm

        steps_per_epoch = max(
            1, math.ceil(len(self.dataloader) / self.config.gradient_accumulation_steps)
        )
        first_epoch = self.global_step // steps_per_epoch
        skip_batches = (
            self.global_step % steps_per_epoch
        ) * self.config.gradient_accumulation_steps
        epochs = math.ceil(self.config.max_train_steps / steps_per_epoch)
        progress = tqdm(
            total=self.config.max_train_steps,
            initial=self.global_step,
            desc=_("Training"),
            disable=not (self.show_progress and self.accelerator.is_local_main_process),
        )
        for epoch in range(first_epoch, epochs):
            batches = self.dataloader
            if epoch == first_epoch and skip_batches:
                batches = self.accelerator.skip_first_batches(self.dataloader, skip_batches)
            if self._train_epoch(batches, progress):
                break
        progress.close()

    def _train_epoch(self, batches, progress) -> bool:
        """One pass over the data; True once max_train_steps is reached."""
        accumulated = 0.0
        for micro_step, batch in enumerate(batches):
            with self.accelerator.accumulate(self.unet):
                loss = self._micro_step(batch, micro_step)
            accumulated += loss / self.config.gradient_accumulation_steps
            if not self.accelerator.sync_gradients:
                continue
            self.global_step += 1
            if self.ema is not None:
                self.ema.step(self.accelerator.unwrap_model(self.unet).parameters())
            learning_rate = self.lr_scheduler.get_last_lr()[0]
            self._log({"step": self.global_step, "loss": accumulated, "lr": learning_rate})
            progress.update(1)
            progress.set_postfix(loss=f"{accumulated:.4f}", lr=f"{learning_rate:.2e}")
            accumulated = 0.0
            if (
                self.config.checkpointing_steps
                and self.global_step % self.config.checkpointing_steps == 0
            ):
                self._save_checkpoint()
                self._log({"step": self.global_step, "fixed_loss": self.fixed_loss()})
            if self.global_step >= self.config.max_train_steps:
                return True
        return False

    def _micro_step(self, batch, micro_step: int) -> float:
        pixels = batch["pixel_values"]
        draw = self.objective.draw(
            pixels.shape[0],
            self.config.resolution,
            self.accelerator.device,
            mask_rng=self._mask_rng(micro_step),
        )
        with self.accelerator.autocast():
            loss = self.objective.loss(
                self.unet, pixels, self._text_embeddings(batch["input_ids"]), draw
            )
        self.accelerator.backward(loss)
        if self.accelerator.sync_gradients:
            self.accelerator.clip_grad_norm_(
                self._trainable_parameters(self.unet), self.config.max_grad_norm
            )
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad()
        # The mean over all processes, so the log shows the loss of the whole batch.
        return float(self.accelerator.gather(loss.detach().reshape(1)).mean().item())

    def _mask_rng(self, micro_step: int) -> np.random.Generator:
        """Masks depend on seed, process and position only, so a resumed run draws new ones."""
        return np.random.default_rng(
            [self.config.seed or 0, self.accelerator.process_index, self.global_step, micro_step]
        )

    # --- saving --------------------------------------------------------------------------

    def _save_checkpoint(self) -> None:
        if self.accelerator.is_main_process:
            self._prune_checkpoints()
        self.accelerator.wait_for_everyone()
        path = self.out / f"{CHECKPOINT_PREFIX}{self.global_step}"
        self.accelerator.save_state(str(path))
        if self.accelerator.is_main_process and self.config.validation_prompt:
            self._save_validation_image()
        logger.info("Saved %s", path)

    def _prune_checkpoints(self) -> None:
        """Keep room for the new checkpoint within --checkpoints-total-limit."""
        checkpoints = list_checkpoints(self.out)
        excess = len(checkpoints) - self.config.checkpoints_total_limit + 1
        for old in checkpoints[: max(0, excess)]:
            shutil.rmtree(old)

    def _save_output(self) -> None:
        if self.config.mode == "lora":
            from diffusers import StableDiffusionInpaintPipeline

            StableDiffusionInpaintPipeline.save_lora_weights(
                self.out, unet_lora_layers=self._lora_state_dict(), safe_serialization=True
            )
        else:
            self._save_pipeline()
        if self.config.validation_prompt:
            self._save_validation_image()

    def _save_pipeline(self) -> None:
        from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

        unet = self.accelerator.unwrap_model(self.unet)
        if self.ema is not None:
            self.ema.copy_to(unet.parameters())
        pipeline_class = (
            StableDiffusionInpaintPipeline
            if self.objective_kind == objectives.INPAINT
            else StableDiffusionPipeline
        )
        # The frozen parts come again from the base, in their own precision.
        pipeline = pipeline_class.from_pretrained(
            self.parts.path,
            unet=unet,
            variant=model_store.weights_variant(self.parts.path),
            safety_checker=None,
            requires_safety_checker=False,
            local_files_only=True,
        )
        pipeline.save_pretrained(self.out, safe_serialization=True)
        if is_tiny_model(self.parts.path):
            # Fine-tuned noise is still noise: the engine keeps refusing it for visitors.
            shutil.copy2(self.parts.path / TINY_MODEL_MARKER, self.out / TINY_MODEL_MARKER)

    def _save_validation_image(self) -> None:
        from training.evaluate import validation_picture

        unet = self.accelerator.unwrap_model(self.unet)
        with self._ema_weights(unet), self.accelerator.autocast():
            picture = validation_picture(
                self.parts,
                unet,
                self.config.validation_prompt,
                self.config.resolution,
                seed=self.config.seed or 0,
            )
        folder = self.out / "validation"
        folder.mkdir(exist_ok=True)
        picture.save(folder / f"step-{self.global_step:06d}.png")

    def _log(self, record: dict) -> None:
        if not self.accelerator.is_main_process:
            return
        with (self.out / LOG_FILE).open("a", encoding="utf-8") as log:
            log.write(json.dumps({**record, "time": round(time.time(), 3)}) + "\n")

    def _write_summary(self, result: TrainingResult) -> None:
        summary = {
            "mode": result.mode,
            "objective": result.objective,
            "base": self.config.base,
            "base_path": str(self.parts.path),
            "data": self.config.data,
            "samples": result.samples,
            "first_step": result.first_step,
            "steps": result.steps,
            "steps_per_second": round(result.steps_per_second, 4),
            "fixed_loss_start": result.fixed_loss_start,
            "fixed_loss_end": result.fixed_loss_end,
            "config": {
                key: str(value) if isinstance(value, Path) else value
                for key, value in asdict(self.config).items()
            },
        }
        (self.out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", "utf-8")


def read_log(out: Path) -> list[dict]:
    """The records of training_log.jsonl, oldest first (all runs into `out`, resumed ones too)."""
    path = Path(out) / LOG_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


__all__ = [
    "MODES",
    "TrainingConfig",
    "TrainingProblem",
    "TrainingResult",
    "Trainer",
    "train",
    "list_checkpoints",
    "find_checkpoint",
    "read_log",
]
