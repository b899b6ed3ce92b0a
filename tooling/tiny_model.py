"""Miniature Stable Diffusion (2.x or XL) inpainting pipelines with random weights.

The real models are several gigabytes and need a download; the tests and a
fresh checkout need neither. This module builds a pipeline with the same
structure and geometry as Stable Diffusion 2 inpainting (4 latent channels, a
VAE that downsamples by 8, a CLIP text encoder and tokenizer, a 9- or
4-channel UNet) or as SDXL inpainting (two text encoders, the second with a
projection, two tokenizers, a UNet with "text_time" added conditioning) but
only a few thousand parameters, so it loads and runs a few steps on a CPU in a
fraction of a second. Its pictures are noise: it proves the plumbing, not the
art.

The tokenizer learns every word of the prompt templates, the negative prompt
and the glossary's tags as one token, as CLIP's real vocabulary does, so
prompts cost about as many tokens as with the real model and the prompt
budget behaves alike.

Everything is built offline, including the tokenizer's vocabulary. A marker
file (`TINY_MODEL_MARKER`) labels the directory as a test fixture, and the
diffusers engine refuses such a model unless `OLPE_ALLOW_TINY_MODEL` is set,
so visitors are never offered noise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from inpainting_core import model_families
from inpainting_core.model_store import TINY_MODEL_MARKER, is_tiny_model  # noqa: F401  (the marker is the core's fact)

# Latent and text geometry shared by the parts so that they fit together.
LATENT_CHANNELS = 4
TEXT_WIDTH = 32
MAX_TOKENS = 77
BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"

# Words whose merges the tiny vocabulary learns, so the BPE model has real
# merge rules to apply (the rest of a prompt falls back to single bytes).
MERGE_WORDS = (
    "a",
    "the",
    "lake",
    "forest",
    "meadow",
    "field",
    "road",
    "river",
    "town",
    "water",
    "tree",
    "house",
    "snow",
    "sand",
    "rock",
    "lava",
    "map",
    "aerial",
    "photo",
    "of",
    "with",
    "in",
    "and",
    "green",
    "blue",
)


# The families' keys are inpainting_core.model_families' (the marker file names one).
FAMILY_SD = model_families.SD2.key
FAMILY_SDXL = model_families.SDXL.key
FAMILIES = (FAMILY_SD, FAMILY_SDXL)
# SDXL: six size numbers (original size, crop corner, target size) each embedded
# in ADDED_TIME_WIDTH values, plus the second encoder's pooled projection.
ADDED_TIME_WIDTH = 8
TIME_IDS = 6


def prompt_words() -> tuple[str, ...]:
    """The English words the platform's prompts are made of, for the vocabulary."""
    from inpainting_core import vocabulary
    from inpainting_core.styles import BASE_NEGATIVE, STYLES

    texts = [BASE_NEGATIVE, *vocabulary.KEYWORD_TAGS.values(), *vocabulary.LAND_COVER_TAGS.values()]
    texts += list(vocabulary.ENGLISH_KEYWORDS) + list(vocabulary.KEYWORD_TAGS)
    for style in STYLES.values():
        texts += [style.template, style.negative]
    words = re.findall(r"[a-z]+", " ".join(texts).lower())
    return tuple(dict.fromkeys([*MERGE_WORDS, *words]))


def bytes_to_unicode() -> dict[int, str]:
    """The byte-level BPE alphabet: every byte mapped to a printable character.

    This is the mapping GPT-2 and CLIP use, so our vocabulary is written in the
    same alphabet the tokenizer's ByteLevel pre-tokenizer produces.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    characters = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            characters.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, characters), strict=True))


def build_merges(words=None) -> list[tuple[str, str]]:
    """Left-to-right merge rules that assemble each word into one token."""
    merges: list[tuple[str, str]] = []
    for word in prompt_words() if words is None else words:
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        while len(symbols) > 1:
            pair = (symbols[0], symbols[1])
            if pair not in merges:
                merges.append(pair)
            symbols = ["".join(pair)] + symbols[2:]
    return merges


def build_vocabulary(merges: list[tuple[str, str]]) -> dict[str, int]:
    """CLIP's vocabulary layout: bytes, bytes ending a word, merges, then specials."""
    alphabet = list(bytes_to_unicode().values())
    tokens = alphabet + [character + "</w>" for character in alphabet]
    tokens += ["".join(pair) for pair in merges]
    tokens += [BOS_TOKEN, EOS_TOKEN]
    return {token: index for index, token in enumerate(tokens)}


def write_tokenizer_files(directory: Path) -> dict[str, int]:
    """Write vocab.json and merges.txt in the format CLIPTokenizer reads."""
    directory.mkdir(parents=True, exist_ok=True)
    merges = build_merges()
    vocabulary = build_vocabulary(merges)
    (directory / "vocab.json").write_text(json.dumps(vocabulary, ensure_ascii=False), "utf-8")
    lines = ["#version: 0.2"] + [f"{left} {right}" for left, right in merges]
    (directory / "merges.txt").write_text("\n".join(lines) + "\n", "utf-8")
    return vocabulary


def build_tokenizer(directory: Path):
    from transformers import CLIPTokenizer

    write_tokenizer_files(directory)
    return CLIPTokenizer(
        vocab=str(directory / "vocab.json"),
        merges=str(directory / "merges.txt"),
        model_max_length=MAX_TOKENS,
    )


def build_text_encoder(vocabulary: dict[str, int], with_projection: bool = False):
    """CLIP's text tower; SDXL's second encoder also projects its pooled output."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=len(vocabulary),
        hidden_size=TEXT_WIDTH,
        intermediate_size=2 * TEXT_WIDTH,
        projection_dim=TEXT_WIDTH,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS,
        hidden_act="gelu",
        bos_token_id=vocabulary[BOS_TOKEN],
        eos_token_id=vocabulary[EOS_TOKEN],
        pad_token_id=vocabulary[EOS_TOKEN],
    )
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def build_unet(in_channels: int, family: str = FAMILY_SD):
    """A two-level UNet with cross-attention, laid out like SD 2 (linear projections).

    The SDXL one attends to both encoders' features side by side and adds the
    "text_time" conditioning (pooled text and the six size numbers).
    """
    from diffusers import UNet2DConditionModel

    if family == FAMILY_SDXL:
        return UNet2DConditionModel(
            sample_size=16,
            in_channels=in_channels,
            out_channels=LATENT_CHANNELS,
            layers_per_block=1,
            block_out_channels=(32, 64),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=2 * TEXT_WIDTH,
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            norm_num_groups=16,
            addition_embed_type="text_time",
            addition_time_embed_dim=ADDED_TIME_WIDTH,
            projection_class_embeddings_input_dim=TIME_IDS * ADDED_TIME_WIDTH + TEXT_WIDTH,
        )
    return UNet2DConditionModel(
        sample_size=16,
        in_channels=in_channels,
        out_channels=LATENT_CHANNELS,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        norm_num_groups=16,
    )


def build_vae():
    """Four levels, so the pipeline's vae_scale_factor is 2**3 = 8 as in the real model."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=8,
        sample_size=128,
    )


def build_scheduler():
    """The scheduler configuration Stable Diffusion 2 inpainting ships with."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        prediction_type="epsilon",
        set_alpha_to_one=False,
        skip_prk_steps=True,
        steps_offset=1,
    )


def build_sdxl_scheduler():
    """The scheduler configuration SDXL inpainting ships with."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        prediction_type="epsilon",
        steps_offset=1,
        timestep_spacing="leading",
    )


def build_tiny_sdxl_pipeline(work_directory: Path, unet_channels: int = 9, seed: int = 0):
    """An SDXL inpainting pipeline (9 channels) or an SDXL text-to-image one (4)."""
    import torch
    from diffusers import StableDiffusionXLInpaintPipeline, StableDiffusionXLPipeline

    torch.manual_seed(seed)
    tokenizer = build_tokenizer(Path(work_directory) / "tokenizer")
    tokenizer_2 = build_tokenizer(Path(work_directory) / "tokenizer_2")
    parts = dict(
        vae=build_vae(),
        text_encoder=build_text_encoder(tokenizer.get_vocab()),
        text_encoder_2=build_text_encoder(tokenizer_2.get_vocab(), with_projection=True),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=build_unet(unet_channels, FAMILY_SDXL),
        scheduler=build_sdxl_scheduler(),
        force_zeros_for_empty_prompt=True,
    )
    if unet_channels == 9:
        return StableDiffusionXLInpaintPipeline(**parts, requires_aesthetics_score=False)
    return StableDiffusionXLPipeline(**parts, add_watermarker=False)


def build_tiny_pipeline(
    work_directory: Path, unet_channels: int = 9, seed: int = 0, family: str = FAMILY_SD
):
    """Assemble the pipeline in memory; `work_directory` receives the tokenizer files.

    A 4-channel model is saved as a text-to-image StableDiffusionPipeline,
    which is what fine-tuning a text-to-image checkpoint (the prototype's
    training) produces; the engine must load that as an inpainting pipeline.
    """
    import torch
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

    if unet_channels not in (4, 9):
        raise ValueError("A Stable Diffusion inpainting UNet has 9 or 4 input channels.")
    if family not in FAMILIES:
        raise ValueError(f"Unknown model family {family!r}; choose one of {FAMILIES}.")
    if family == FAMILY_SDXL:
        return build_tiny_sdxl_pipeline(work_directory, unet_channels, seed)
    pipeline_class = (
        StableDiffusionInpaintPipeline if unet_channels == 9 else StableDiffusionPipeline
    )
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(Path(work_directory))
    return pipeline_class(
        vae=build_vae(),
        text_encoder=build_text_encoder(tokenizer.get_vocab()),
        tokenizer=tokenizer,
        unet=build_unet(unet_channels),
        scheduler=build_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def write_tiny_model(
    directory: Path, unet_channels: int = 9, seed: int = 0, family: str = FAMILY_SD
) -> Path:
    """Build the miniature pipeline and save it where `from_pretrained` can load it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pipeline = build_tiny_pipeline(
        # The tokenizer files are written where save_pretrained puts them anyway.
        directory / "tokenizer" if family == FAMILY_SD else directory,
        unet_channels=unet_channels,
        seed=seed,
        family=family,
    )
    pipeline.save_pretrained(directory, safe_serialization=True)
    marker = {
        "purpose": "test fixture: random weights, never offered to visitors",
        "family": family,
        "unet_in_channels": unet_channels,
        "seed": seed,
    }
    (directory / TINY_MODEL_MARKER).write_text(json.dumps(marker, indent=2) + "\n", "utf-8")
    return directory



def write_tiny_safety_checker(directory: Path, flag_everything: bool) -> Path:
    """Give a tiny model a miniature safety checker, as Stable Diffusion 1.x models ship one.

    It is diffusers' real StableDiffusionSafetyChecker (a CLIP vision tower and
    concept embeddings) at toy size, with its image processor, registered in
    model_index.json. Its thresholds decide alone: cosine similarities lie in
    [-1, 1], so -2 flags every picture and 2 none, whatever the random weights.
    """
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import (
        StableDiffusionSafetyChecker,
    )
    from transformers import CLIPConfig, CLIPImageProcessor

    directory = Path(directory)
    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "vocab_size": 64, "bos_token_id": 0,
                     "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(0)
    checker = StableDiffusionSafetyChecker(config)
    threshold = -2.0 if flag_everything else 2.0
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(threshold)
        checker.special_care_embeds_weights.fill_(threshold)
    checker.save_pretrained(directory / "safety_checker", safe_serialization=True)
    CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(directory / "feature_extractor")
    index_file = directory / "model_index.json"
    index = json.loads(index_file.read_text("utf-8"))
    index["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
    index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
    index_file.write_text(json.dumps(index, indent=2) + "\n", "utf-8")
    return directory
