"""The model families the own-model engine runs, and how to tell them apart from files.

Every fact that differs between Stable Diffusion 1.x, 2.x and XL lives here:
the size the model was trained at, the width of the text features its UNet
attends to (which is also what a LoRA made for it expects), how many text
encoders it has, the token limit of its prompt and the matrix that previews
its latents. The rest of the code asks `family_of_model(path)` and reads the
answer, never a hard-coded 768.

Detection reads only small JSON files (model_index.json, unet/config.json) or a
safetensors header, so the web tier and the admin may call it: nothing here
imports torch or diffusers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from django.utils.translation import gettext_lazy as _

from inpainting_core.model_store import MODEL_INDEX, TINY_MODEL_MARKER

logger = logging.getLogger(__name__)

# CLIP's context: 77 positions including the start and end tokens (all three families).
CLIP_TOKEN_LIMIT = 77

# Linear maps from the four latent channels to RGB in [-1, 1], a stand-in for the
# VAE decoder for live previews (the SD 1/2 autoencoder and SDXL's differ).
SD_LATENT_RGB = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)
SDXL_LATENT_RGB = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)


@dataclass(frozen=True)
class ModelFamily:
    key: str
    label: str  # lazy, translated
    default_size: int  # the side the family was trained at
    cross_attention_dim: int  # the text features its UNet (and its LoRAs) attend to
    text_encoders: int
    latent_rgb: tuple
    token_limit: int = CLIP_TOKEN_LIMIT

    def __str__(self):
        return str(self.label)


SD15 = ModelFamily("sd15", _("Stable Diffusion 1.x"), 512, 768, 1, SD_LATENT_RGB)
SD2 = ModelFamily("sd2", _("Stable Diffusion 2.x"), 768, 1024, 1, SD_LATENT_RGB)
SDXL = ModelFamily("sdxl", _("Stable Diffusion XL"), 1024, 2048, 2, SDXL_LATENT_RGB)
FAMILIES = {family.key: family for family in (SD15, SD2, SDXL)}
DEFAULT_FAMILY = SD2  # the museum's own model is a Stable Diffusion 2 fine-tune


def family_for_cross_attention(dim: Optional[int]) -> Optional[ModelFamily]:
    return next((f for f in FAMILIES.values() if f.cross_attention_dim == dim), None)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def family_of_model(path) -> ModelFamily:
    """The family of the pipeline directory `path` (from its files, no weights read)."""
    path = Path(path)
    index_file = path / MODEL_INDEX
    try:
        stamp = index_file.stat().st_mtime_ns
    except OSError:
        stamp = None
    return _family_of_model(str(path), stamp)


@lru_cache(maxsize=64)
def _family_of_model(path: str, stamp) -> ModelFamily:
    directory = Path(path)
    marker = _read_json(directory / TINY_MODEL_MARKER)  # a test fixture says what it imitates
    if marker.get("family") in FAMILIES:
        return FAMILIES[marker["family"]]
    index = _read_json(directory / MODEL_INDEX)
    unet = _read_json(directory / "unet" / "config.json")
    if (
        "XL" in str(index.get("_class_name", ""))
        or "text_encoder_2" in index
        or unet.get("addition_embed_type") == "text_time"
    ):
        return SDXL
    return family_for_cross_attention(unet.get("cross_attention_dim")) or DEFAULT_FAMILY


def unet_cross_attention_dim(path) -> Optional[int]:
    value = _read_json(Path(path) / "unet" / "config.json").get("cross_attention_dim")
    return value if isinstance(value, int) else None


# --- LoRA adapters ------------------------------------------------------------------------

_LORA_DOWN_SUFFIXES = (".lora_A.weight", ".lora.down.weight", ".lora_down.weight")


def lora_weight_file(source) -> Optional[Path]:
    """The LoRA's weights file: the path itself or the one .safetensors in its directory."""
    path = Path(source)
    if path.is_file():
        return path
    if path.is_dir():
        preferred = path / "pytorch_lora_weights.safetensors"
        if preferred.is_file():
            return preferred
        files = sorted(path.glob("*.safetensors"))
        return files[0] if files else None
    return None


def lora_cross_attention_dim(source) -> Optional[int]:
    """The text-feature width a LoRA's cross-attention keys expect, from its header only.

    The key projection of the cross-attention (attn2.to_k) reads the text
    encoder's features, so its LoRA "down" matrix is rank × that width: 768 for
    SD 1.x, 1024 for SD 2.x, 2048 for SDXL. None: unknown (no UNet weights, or
    not a file here).
    """
    weights = lora_weight_file(source)
    if weights is None:
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(weights), framework="numpy") as handle:
            for key in handle.keys():
                normal = key.replace("_", ".")
                if "attn2.to.k" in normal and key.endswith(_LORA_DOWN_SUFFIXES):
                    return int(handle.get_slice(key).get_shape()[-1])
    except Exception:  # a broken file is the loader's problem, reported there
        logger.warning("Cannot read the LoRA header of %s", weights, exc_info=True)
    return None


def describe_width(dim: Optional[int]):
    """The family a text-feature width belongs to, for curators and notices."""
    family = family_for_cross_attention(dim)
    if family is not None:
        return family.label
    return _("a model with %(width)s-wide text features") % {"width": dim}
