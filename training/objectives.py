"""What the UNet learns: to predict the noise added to a picture's VAE latents.

Two objectives share that core:

* text-to-image (the prototype's): the UNet sees the noisy latents only
  (4 input channels);
* inpainting: the UNet also sees where the visitor painted and what lies
  around it: noisy latents + the mask at latent size + the latents of the
  picture with the masked region blanked (9 channels), in the order
  StableDiffusionInpaintPipeline concatenates them. Masks are drawn at random
  per sample, shaped like what visitors paint: brush strokes, boxes, blobs.

Randomness is passed in (`NoiseDraw`), so the same code computes the noisy
training loss and a repeatable loss on a fixed batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
from django.utils.translation import gettext

TEXT2IMAGE = "text2image"
INPAINT = "inpaint"
LATENT_CHANNELS = 4
INPAINT_CHANNELS = 2 * LATENT_CHANNELS + 1
# Stable Diffusion's inpainting training masked the whole picture for a quarter
# of the samples, so the model keeps painting a region from the text alone.
FULL_MASK_SHARE = 0.25
MAX_SHAPES = 3


# ------------------------------------------------------------------------------
# Random masks
# ------------------------------------------------------------------------------


def random_masks(rng: np.random.Generator, count: int, size: int) -> np.ndarray:
    """`count` square masks (count, 1, size, size), float32, 1 = repaint."""
    masks = np.zeros((count, 1, size, size), np.float32)
    for index in range(count):
        if rng.random() < FULL_MASK_SHARE:
            masks[index, 0] = 1.0
        else:
            masks[index, 0] = random_mask(rng, size)
    return masks


def random_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """One to three strokes, boxes or ellipses; never empty."""
    canvas = np.zeros((size, size), np.uint8)
    painters = (_brush_stroke, _box, _ellipse)
    for _shape in range(int(rng.integers(1, MAX_SHAPES + 1))):
        painters[int(rng.integers(len(painters)))](rng, canvas)
    if not canvas.any():  # a stroke thinner than a pixel at tiny sizes
        _box(rng, canvas)
    return canvas.astype(np.float32)


def _point(rng: np.random.Generator, size: int) -> tuple[int, int]:
    x, y = rng.integers(0, size, 2)
    return int(x), int(y)


def _brush_stroke(rng: np.random.Generator, canvas: np.ndarray) -> None:
    size = canvas.shape[0]
    points = np.array([_point(rng, size) for _ in range(int(rng.integers(2, 6)))], np.int32)
    width = max(1, int(size * rng.uniform(0.05, 0.18)))
    cv2.polylines(canvas, [points], False, 1, width, cv2.LINE_8)
    for x, y in points:  # round brush ends, as a painted stroke has
        cv2.circle(canvas, (int(x), int(y)), width // 2, 1, -1)


def _box(rng: np.random.Generator, canvas: np.ndarray) -> None:
    size = canvas.shape[0]
    width, height = (np.maximum(1, size * rng.uniform(0.1, 0.6, 2))).astype(int)
    left, top = rng.integers(0, size - width + 1), rng.integers(0, size - height + 1)
    cv2.rectangle(canvas, (int(left), int(top)), (int(left + width), int(top + height)), 1, -1)


def _ellipse(rng: np.random.Generator, canvas: np.ndarray) -> None:
    size = canvas.shape[0]
    axes = tuple(int(axis) for axis in np.maximum(1, size * rng.uniform(0.05, 0.3, 2)))
    cv2.ellipse(canvas, _point(rng, size), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)


# ------------------------------------------------------------------------------
# The loss
# ------------------------------------------------------------------------------


@dataclass
class NoiseDraw:
    """The random parts of one loss evaluation."""

    noise: "torch.Tensor"  # noqa: F821 (B, 4, h, w)
    timesteps: "torch.Tensor"  # noqa: F821 (B,)
    masks: Optional["torch.Tensor"] = None  # noqa: F821 (B, 1, H, W), inpainting only


def objective_for(mode: str, unet_in_channels: int) -> str:
    """Which objective a training mode uses with a UNet of that many input channels.

    LoRA adapts the base as it is: an inpainting base learns with masks, a
    text-to-image base without.
    """
    if mode == "lora":
        return INPAINT if unet_in_channels == INPAINT_CHANNELS else TEXT2IMAGE
    if mode == TEXT2IMAGE and unet_in_channels != LATENT_CHANNELS:
        raise ValueError(
            gettext(
                "The base model's UNet has %(channels)d input channels; text-to-image training "
                "needs a 4-channel UNet. Use --mode inpaint for an inpainting model."
            )
            % {"channels": unet_in_channels}
        )
    return mode


def expand_conv_in(unet, channels: int = INPAINT_CHANNELS) -> None:
    """Give a text-to-image UNet the inpainting UNet's extra inputs, switched off at first.

    The new input channels (mask and masked-picture latents) get zero weights,
    so the expanded UNet starts out painting exactly as the text-to-image one
    did and learns to use the new inputs from there.
    """
    import torch

    old = unet.conv_in
    if old.in_channels == channels:
        return
    new = torch.nn.Conv2d(
        channels,
        old.out_channels,
        old.kernel_size,
        old.stride,
        old.padding,
        device=old.weight.device,
        dtype=old.weight.dtype,
    )
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=channels)


class DiffusionObjective:
    def __init__(self, kind: str, vae, noise_scheduler):
        self.kind = kind
        self.vae = vae
        self.noise_scheduler = noise_scheduler
        self.vae_scale = 2 ** (len(vae.config.block_out_channels) - 1)

    @property
    def inpaint(self) -> bool:
        return self.kind == INPAINT

    def draw(
        self,
        batch_size: int,
        resolution: int,
        device,
        generator=None,
        mask_rng: Optional[np.random.Generator] = None,
    ) -> NoiseDraw:
        """Noise, timesteps and (inpainting) masks; `generator=None` uses torch's global RNG."""
        import torch

        side = resolution // self.vae_scale
        noise = torch.randn((batch_size, LATENT_CHANNELS, side, side), generator=generator)
        timesteps = torch.randint(
            0, self.noise_scheduler.config.num_train_timesteps, (batch_size,), generator=generator
        )
        masks = None
        if self.inpaint:
            rng = mask_rng if mask_rng is not None else np.random.default_rng()
            masks = torch.from_numpy(random_masks(rng, batch_size, resolution)).to(device)
        return NoiseDraw(noise.to(device), timesteps.to(device), masks)

    def loss(self, unet, pixels, text_embeddings, draw: NoiseDraw, sample_latents: bool = True):
        """Mean squared error of the UNet's prediction (noise, or velocity for v-models)."""
        import torch
        import torch.nn.functional as F

        latents = self.encode(pixels, sample_latents)
        noise = draw.noise.to(latents.dtype)
        noisy = self.noise_scheduler.add_noise(latents, noise, draw.timesteps)
        if self.inpaint:
            noisy = torch.cat(
                self.inpaint_conditioning(noisy, pixels, draw.masks, sample_latents), 1
            )
        prediction = unet(noisy, draw.timesteps, text_embeddings, return_dict=False)[0]
        return F.mse_loss(prediction.float(), self.target(latents, noise, draw.timesteps).float())

    def inpaint_conditioning(self, noisy, pixels, masks, sample_latents: bool):
        """(noisy latents, mask at latent size, masked-picture latents), the pipeline's order."""
        import torch.nn.functional as F

        masks = masks.to(pixels.dtype)
        masked_latents = self.encode(pixels * (masks < 0.5), sample_latents)
        latent_masks = F.interpolate(masks, size=noisy.shape[-2:]).to(noisy.dtype)
        return noisy, latent_masks, masked_latents.to(noisy.dtype)

    def encode(self, pixels, sample_latents: bool = True):
        """VAE latents, scaled; a sample as in training, or the mean for repeatable losses."""
        import torch

        with torch.no_grad():
            distribution = self.vae.encode(pixels.to(self.vae.dtype)).latent_dist
            latents = distribution.sample() if sample_latents else distribution.mode()
        return latents * self.vae.config.scaling_factor

    def target(self, latents, noise, timesteps):
        prediction_type = self.noise_scheduler.config.prediction_type
        if prediction_type == "epsilon":
            return noise
        if prediction_type == "v_prediction":
            return self.noise_scheduler.get_velocity(latents, noise, timesteps)
        raise ValueError(f"Unsupported prediction type {prediction_type!r}.")
