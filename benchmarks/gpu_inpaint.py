"""Seconds per picture of the own model's families on a GPU: SD 2 at 768², SDXL at 1024².

The museum's model is a fine-tune of Stable Diffusion 2 inpainting, and SDXL
inpainting (diffusers/stable-diffusion-xl-1.0-inpainting-0.1) is the usual
upgrade, so their cost is the cost of those architectures. This benchmark
builds each at full size from its published configuration with random
weights: the same computation as the real model, without a download.

* SD 2: a 9-channel UNet of 866 M parameters, the SD VAE, the OpenCLIP ViT-H
  text encoder; 768×768.
* SDXL: a 9-channel UNet of 2.6 G parameters, the SDXL VAE (run in float32 as
  its configuration asks, `force_upcast`), CLIP ViT-L and OpenCLIP ViT-bigG;
  1024×1024.

It paints one picture at a time, as one worker does, and reports for each
family and setting: seconds per picture (median of --runs after --warmup
runs), pipeline steps per second (steps / seconds per picture, so text
encoders and VAE are included), pictures per minute, peak GPU memory
(torch.cuda.max_memory_allocated, weights included) and the compute floor:
the pipeline's operations (counted with torch.utils.flop_counter on meta
tensors: one UNet forward × 2 for classifier-free guidance × steps, plus the
text encoders and the VAE) divided by the GPU's dense fp16/bf16 peak.

Settings compared, each at OLPE_STEPS (30) with DPM-Solver++ and SDPA
attention in float16: plain, channels-last, and with --compile the same two
with torch.compile of the UNet (compile time is warm-up, not timed). For SD 2
also the prototype: the model's own scheduler (PNDM) at 200 steps, diffusers'
default attention (--prototype-steps 0 leaves it out).

    .venv/bin/python benchmarks/gpu_inpaint.py --device cuda --compile --json PATH
    .venv/bin/python benchmarks/gpu_inpaint.py --family sdxl --device cuda
    .venv/bin/python benchmarks/gpu_inpaint.py --tiny --device cpu   # CI smoke run, seconds
    .venv/bin/python benchmarks/gpu_inpaint.py --flops-only          # the floors, any machine

Random weights give noise, not pictures: this measures time and memory only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")

import django  # noqa: E402

django.setup()

import diffusers  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import (  # noqa: E402
    AutoencoderKL,
    StableDiffusionInpaintPipeline,
    StableDiffusionXLInpaintPipeline,
    UNet2DConditionModel,
)
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from transformers import (  # noqa: E402
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
)

from inpainting_core import model_families  # noqa: E402
from inpainting_core.engines.diffusion import SCHEDULERS  # noqa: E402
from tooling import tiny_model  # noqa: E402
from tooling.demo import make_demo_map  # noqa: E402

FAMILIES = ("sd2", "sdxl")
ARCHITECTURES = {
    "sd2": "stable-diffusion-2-inpainting",
    "sdxl": "stable-diffusion-xl-1.0-inpainting-0.1",
}

# stabilityai/stable-diffusion-2-inpainting, unet/config.json.
SD2_INPAINT_UNET = {
    "sample_size": 64,
    "in_channels": 9,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    "cross_attention_dim": 1024,
    "attention_head_dim": (5, 10, 20, 20),
    "use_linear_projection": True,
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "act_fn": "silu",
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "center_input_sample": False,
}
# The same repository's vae/config.json (the SD 1/2 autoencoder).
SD_VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "act_fn": "silu",
    "sample_size": 768,
    "scaling_factor": 0.18215,
}
# Its text_encoder/config.json: OpenCLIP ViT-H/14's text tower without its last layer.
OPENCLIP_VIT_H_TEXT = {
    "vocab_size": 49408,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 512,
}

# Dense fp16/bf16 tensor-core peaks (TFLOP/s) from the vendors' data sheets:
# (name, what torch.cuda.get_device_name() contains, peak), matched in this order.
PEAK_TFLOPS = (
    ("H100 PCIe", "H100 PCIe", 756.0),
    ("H100 NVL", "H100 NVL", 835.0),
    ("H100 SXM", "H100", 989.4),  # "NVIDIA H100 80GB HBM3"
    ("H200", "H200", 989.4),
    ("A100", "A100", 312.0),
    ("L40S", "L40S", 362.1),
    ("L40", "L40", 181.0),
    ("L4", "L4", 121.0),
    ("RTX 4090", "RTX 4090", 165.2),
    ("A10", "A10", 125.0),
    ("T4", "T4", 65.0),
)
TENSOR_CORE_DTYPES = ("float16", "bfloat16")

# diffusers/stable-diffusion-xl-1.0-inpainting-0.1, unet/config.json.
SDXL_INPAINT_UNET = {
    "sample_size": 128,
    "in_channels": 9,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "transformer_layers_per_block": (1, 2, 10),
    "cross_attention_dim": 2048,
    "attention_head_dim": (5, 10, 20),
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "act_fn": "silu",
    "flip_sin_to_cos": True,
    "freq_shift": 0,
}
# Its vae/config.json: the SD autoencoder at 1024, its own scale, float32 decoding.
SDXL_VAE = {**SD_VAE, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True}
# Its text_encoder (CLIP ViT-L/14) and text_encoder_2 (OpenCLIP ViT-bigG/14) configs.
CLIP_VIT_L_TEXT = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
}
OPENCLIP_BIGG_TEXT = {
    "vocab_size": 49408,
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "projection_dim": 1280,
}
# Six size numbers (original size, crop corner, target size) condition the SDXL UNet.
SDXL_TIME_IDS = 6

PROMPT = "aerial photograph of a lake between the houses of a small town, satellite view"
NEGATIVE_PROMPT = "blurry, text, watermark"
GUIDANCE = 7.5


@dataclass(frozen=True)
class Settings:
    name: str
    scheduler: str  # a key of inpainting_core.engines.diffusion.SCHEDULERS ("default": the model's own)
    steps: int
    sdpa: bool  # SDPA attention (else diffusers' plain attention processor)
    channels_last: bool
    compile: bool


@dataclass
class Measurement:
    settings: Settings
    scheduler_class: str
    attention: str
    seconds_per_image: float
    steps_per_second: float
    runs: list[float]
    warmup_seconds: list[float]
    images_per_minute: float
    peak_memory_bytes: Optional[int]
    total_flops: int
    compute_floor_seconds: Optional[float]
    share_of_peak: Optional[float]

    def as_dict(self) -> dict:
        answer = asdict(self)
        answer.update(answer.pop("settings"))
        return answer


# --- the architectures ------------------------------------------------------------


def text_config(published: dict, vocabulary: dict[str, int]) -> CLIPTextConfig:
    return CLIPTextConfig(
        **published,
        bos_token_id=vocabulary[tiny_model.BOS_TOKEN],
        eos_token_id=vocabulary[tiny_model.EOS_TOKEN],
        pad_token_id=vocabulary[tiny_model.EOS_TOKEN],
    )


def build_components(family: str, tiny: bool, vocabulary: dict[str, int]) -> dict:
    """UNet, VAE and text encoder(s) of the family at the chosen size, on the default device."""
    if tiny:
        parts = {
            "unet": tiny_model.build_unet(9, family),
            "vae": tiny_model.build_vae(),
            "text_encoder": tiny_model.build_text_encoder(vocabulary),
        }
        if family == "sdxl":
            parts["text_encoder_2"] = tiny_model.build_text_encoder(
                vocabulary, with_projection=True
            )
        return parts
    if family == "sdxl":
        return {
            "unet": UNet2DConditionModel(**SDXL_INPAINT_UNET),
            "vae": AutoencoderKL(**SDXL_VAE),
            "text_encoder": CLIPTextModel(text_config(CLIP_VIT_L_TEXT, vocabulary)),
            "text_encoder_2": CLIPTextModelWithProjection(
                text_config(OPENCLIP_BIGG_TEXT, vocabulary)
            ),
        }
    return {
        "unet": UNet2DConditionModel(**SD2_INPAINT_UNET),
        "vae": AutoencoderKL(**SD_VAE),
        "text_encoder": CLIPTextModel(text_config(OPENCLIP_VIT_H_TEXT, vocabulary)),
    }


def build_pipeline(family: str, tiny: bool, device: str, dtype: torch.dtype, work: Path):
    """The family's inpainting pipeline with random weights, created directly on `device`.

    The tokenizer is the miniature one of tooling/tiny_model.py: prompts
    become token ids the real text encoders accept; 77 positions are encoded
    whatever the words, so the computation is the real one.
    """
    torch.manual_seed(0)
    tokenizer = tiny_model.build_tokenizer(work / family / "tokenizer")
    with torch.device(device):
        parts = build_components(family, tiny, tokenizer.get_vocab())
    if family == "sdxl":
        pipeline = StableDiffusionXLInpaintPipeline(
            **parts,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            scheduler=tiny_model.build_sdxl_scheduler(),  # SDXL's own configuration
            requires_aesthetics_score=False,
            force_zeros_for_empty_prompt=True,
        )
    else:
        pipeline = StableDiffusionInpaintPipeline(
            **parts,
            tokenizer=tokenizer,
            scheduler=tiny_model.build_scheduler(),  # SD 2's own scheduler configuration
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipeline.to(device=device, dtype=dtype)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def parameter_counts(pipeline) -> dict[str, int]:
    return {
        name: sum(parameter.numel() for parameter in getattr(pipeline, name).parameters())
        for name in ("unet", "vae", "text_encoder", "text_encoder_2")
        if getattr(pipeline, name, None) is not None
    }


# --- counting operations -------------------------------------------------------------


def count_flops(function, *args, **kwargs) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        function(*args, **kwargs)
    return counter.get_total_flops()


def pipeline_flops(
    tiny: bool, size: int, vocabulary: dict[str, int], family: str = "sd2"
) -> dict[str, int]:
    """Operations of each part for one size×size picture, counted on meta tensors.

    Meta tensors carry shapes but no data, so the count costs nothing even for
    the full model on a CPU. The UNet runs at batch 1 here; the benchmark
    doubles it for classifier-free guidance.
    """
    latent = size // 8
    with torch.device("meta"):
        parts = build_components(family, tiny, vocabulary)
        unet, vae = parts["unet"], parts["vae"]
        tokens = torch.zeros((1, tiny_model.MAX_TOKENS), dtype=torch.long)
        encoders = [parts["text_encoder"], parts.get("text_encoder_2")]
        width = sum(encoder.config.hidden_size for encoder in encoders if encoder is not None)
        extra = {}
        if family == "sdxl":
            pooled = parts["text_encoder_2"].config.projection_dim
            extra["added_cond_kwargs"] = {
                "text_embeds": torch.zeros((1, pooled)),
                "time_ids": torch.zeros((1, SDXL_TIME_IDS)),
            }
        flops = {
            "unet_forward": count_flops(
                unet,
                torch.zeros((1, unet.config.in_channels, latent, latent)),
                torch.tensor([500]),
                encoder_hidden_states=torch.zeros((1, tiny_model.MAX_TOKENS, width)),
                **extra,
            ),
            "text_encoder": sum(
                count_flops(encoder, tokens) for encoder in encoders if encoder is not None
            ),
            "vae_encode": count_flops(vae.encode, torch.zeros((1, 3, size, size))),
            "vae_decode": count_flops(vae.decode, torch.zeros((1, 4, latent, latent))),
        }
    return flops


def total_flops(flops: dict[str, int], steps: int) -> int:
    """One picture: prompt and negative prompt, the masked map encoded, 2 UNet passes a step."""
    return (
        2 * flops["text_encoder"]
        + flops["vae_encode"]
        + 2 * steps * flops["unet_forward"]
        + flops["vae_decode"]
    )


def peak_tflops(device: str, dtype: str, override: Optional[float]) -> tuple[Optional[float], str]:
    """The GPU's dense peak for `dtype` and where the figure comes from."""
    if override:
        return override, "--peak-tflops"
    if not device.startswith("cuda") or dtype not in TENSOR_CORE_DTYPES:
        return None, "unknown (give --peak-tflops)"
    name = torch.cuda.get_device_name(torch.device(device))
    for label, marker, tflops in PEAK_TFLOPS:
        if marker in name:
            return tflops, f"data sheet: {label}"
    return None, f"unknown GPU {name!r} (give --peak-tflops)"


# --- painting ------------------------------------------------------------------------------


def wish_inputs(size: int) -> tuple[Image.Image, Image.Image]:
    """A synthetic map of Olpe and a mask over its middle third."""
    image = make_demo_map(width=size, height=size, seed=7).convert("RGB")
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[size // 3: 2 * size // 3, size // 3: 2 * size // 3] = 255
    return image, Image.fromarray(mask, "L")


class Painter:
    """One family's pipeline, switched between the compared settings in place."""

    def __init__(self, pipeline, compile_mode: str):
        self.pipeline = pipeline
        self.unet = pipeline.unet  # the uncompiled module, kept to undo torch.compile
        self.scheduler = pipeline.scheduler  # the model's own
        self.compile_mode = compile_mode

    def apply(self, chosen: Settings) -> None:
        pipeline = self.pipeline
        choice = SCHEDULERS[chosen.scheduler]
        pipeline.scheduler = self.scheduler
        if choice is not None:
            class_name, overrides = choice
            scheduler_class = getattr(diffusers, class_name)
            pipeline.scheduler = scheduler_class.from_config(self.scheduler.config, **overrides)
        processor = AttnProcessor2_0 if chosen.sdpa else AttnProcessor
        self.unet.set_attn_processor(processor())
        pipeline.vae.set_attn_processor(processor())
        layout = torch.channels_last if chosen.channels_last else torch.contiguous_format
        self.unet.to(memory_format=layout)
        pipeline.vae.to(memory_format=layout)
        torch._dynamo.reset()
        pipeline.unet = (
            torch.compile(self.unet, mode=self.compile_mode, fullgraph=True)
            if chosen.compile else self.unet
        )


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


def paint_once(pipeline, inputs, size: int, steps: int, device: str, seed: int) -> float:
    image, mask = inputs
    synchronize(device)
    started = time.perf_counter()
    pipeline(
        prompt=PROMPT,
        negative_prompt=NEGATIVE_PROMPT,
        image=image,
        mask_image=mask,
        width=size,
        height=size,
        num_inference_steps=steps,
        guidance_scale=GUIDANCE,
        strength=1.0,
        generator=torch.Generator(device=device).manual_seed(seed),
        output_type="np",  # random weights may give NaNs; no conversion to a picture
    )
    synchronize(device)
    return time.perf_counter() - started


def measure(painter: Painter, chosen: Settings, options, size: int, flops, peak) -> Measurement:
    painter.apply(chosen)
    pipeline = painter.pipeline
    inputs = wish_inputs(size)

    def paint(seed: int) -> float:
        return paint_once(pipeline, inputs, size, chosen.steps, options.device, seed)

    warmup = [paint(seed) for seed in range(options.warmup)]
    if options.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(torch.device(options.device))
    runs = [paint(seed) for seed in range(options.warmup, options.warmup + options.runs)]
    seconds = statistics.median(runs)
    work = total_flops(flops, chosen.steps)
    floor = work / (peak * 1e12) if peak else None
    return Measurement(
        settings=chosen,
        scheduler_class=type(pipeline.scheduler).__name__,
        attention=type(next(iter(painter.unet.attn_processors.values()))).__name__,
        seconds_per_image=seconds,
        steps_per_second=chosen.steps / seconds,
        runs=runs,
        warmup_seconds=warmup,
        images_per_minute=60.0 / seconds,
        peak_memory_bytes=(
            torch.cuda.max_memory_allocated(torch.device(options.device))
            if options.device.startswith("cuda") else None
        ),
        total_flops=work,
        compute_floor_seconds=floor,
        share_of_peak=floor / seconds if floor else None,
    )


# --- command line --------------------------------------------------------------------------


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=(*FAMILIES, "all"), default="all",
                        help="sd2 (768²), sdxl (1024²) or all (default)")
    parser.add_argument("--size", type=int,
                        help="picture side in pixels (default: the family's own, --tiny 128)")
    parser.add_argument("--steps", type=int, default=settings.OLPE_STEPS,
                        help="the platform's steps (default OLPE_STEPS: %(default)s)")
    parser.add_argument("--prototype-steps", type=int, default=200,
                        help="the SD 2 prototype's steps; 0 leaves it out (default %(default)s)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=("float16", "bfloat16", "float32"),
                        help="default float16 on a GPU, float32 on a CPU")
    parser.add_argument("--tiny", action="store_true",
                        help="the miniature architectures of tooling/tiny_model.py (CI, CPU)")
    parser.add_argument("--compile", action="store_true",
                        help="also measure with torch.compile of the UNet")
    parser.add_argument("--compile-mode", default="max-autotune",
                        help="torch.compile mode (default %(default)s)")
    parser.add_argument("--runs", type=int, help="timed runs per setting (default 3, --tiny 1)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--threads", type=int,
                        help="CPU threads for PyTorch (default 1 with --tiny on a CPU, whose "
                             "small kernels only lose by threads; else PyTorch's default)")
    parser.add_argument("--peak-tflops", type=float,
                        help="the device's dense peak in TFLOP/s (default: from a table of GPUs)")
    parser.add_argument("--flops-only", action="store_true",
                        help="count operations and print the compute floor on each GPU of the "
                             "table, without building or running the model (any machine)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args(argv)
    options.families = FAMILIES if options.family == "all" else (options.family,)
    options.runs = options.runs or (1 if options.tiny else 3)
    options.dtype = options.dtype or ("float16" if options.device.startswith("cuda") else "float32")
    if options.threads is None and options.tiny and options.device == "cpu":
        options.threads = 1
    if options.size and options.size % 8:
        parser.error("--size must be a multiple of 8 (the VAE downsamples by 8)")
    return options


def family_size(options, family: str) -> int:
    """--size, or the family's own size (model_families), or 128 for the tiny models."""
    if options.size:
        return options.size
    return 128 if options.tiny else model_families.FAMILIES[family].default_size


def compared_settings(options, family: str = "sd2") -> list[Settings]:
    compared = []
    if family == "sd2" and options.prototype_steps:
        compared.append(Settings("prototype", "default", options.prototype_steps, sdpa=False,
                                 channels_last=False, compile=False))
    for compiled in (False, True) if options.compile else (False,):
        for channels_last in (False, True):
            name = "sdpa" + ("+channels_last" if channels_last else "")
            name += "+compile" if compiled else ""
            compared.append(Settings(name, "dpmsolver++", options.steps, sdpa=True,
                                     channels_last=channels_last, compile=compiled))
    return compared


def count_only(options) -> dict:
    """The operations of one picture and their floor on every GPU of the table, per family."""
    vocabulary = tiny_model.build_vocabulary(tiny_model.build_merges())
    families = {}
    for family in options.families:
        size = family_size(options, family)
        flops = pipeline_flops(options.tiny, size, vocabulary, family)
        profiles = {
            chosen.name: {"steps": chosen.steps, "total_flops": total_flops(flops, chosen.steps)}
            for chosen in compared_settings(options, family)
        }
        families[family] = {
            "architecture": f"tiny {family}" if options.tiny else ARCHITECTURES[family],
            "size": size,
            "flops": flops,
            "profiles": profiles,
            "compute_floor_seconds": {
                gpu: {
                    name: profile["total_flops"] / (tflops * 1e12)
                    for name, profile in profiles.items()
                }
                for gpu, _marker, tflops in PEAK_TFLOPS
            },
        }
    return {"benchmark": "gpu_inpaint (operations only)", "families": families}


def report_count(figures: dict) -> str:
    lines = []
    for figures_of in figures["families"].values():
        flops = figures_of["flops"]
        names = list(figures_of["profiles"])
        lines += [
            f"{figures_of['architecture']}, {figures_of['size']}×{figures_of['size']}: "
            + ", ".join(f"{part} {count / 1e12:.3f} TFLOP" for part, count in flops.items()),
            "per picture: " + ", ".join(
                f"{name} ({profile['steps']} steps) {profile['total_flops'] / 1e12:.1f} TFLOP"
                for name, profile in figures_of["profiles"].items()
            ),
            f"{'compute floor at dense fp16 peak':<34}" + "".join(f"{name:>22}" for name in names),
        ]
        floors_per_gpu = figures_of["compute_floor_seconds"].values()
        for (gpu, _marker, tflops), floors in zip(PEAK_TFLOPS, floors_per_gpu, strict=True):
            lines.append(f"{gpu:<22} {tflops:>7.1f} TFLOP/s"
                         + "".join(f"{floors[name]:>21.3f}s" for name in names))
        lines.append("")
    return "\n".join(lines).rstrip()


def run_family(family: str, options, work: Path, peak) -> dict:
    dtype = getattr(torch, options.dtype)
    size = family_size(options, family)
    pipeline = build_pipeline(family, options.tiny, options.device, dtype, work)
    flops = pipeline_flops(options.tiny, size, pipeline.tokenizer.get_vocab(), family)
    painter = Painter(pipeline, options.compile_mode)
    measurements = [measure(painter, chosen, options, size, flops, peak)
                    for chosen in compared_settings(options, family)]
    answer = {
        "architecture": f"tiny {family}" if options.tiny else ARCHITECTURES[family],
        "parameters": parameter_counts(pipeline),
        "size": size,
        "flops": flops,
        "profiles": {m.settings.name: m.as_dict() for m in measurements},
    }
    del pipeline, painter
    if options.device.startswith("cuda"):
        torch.cuda.empty_cache()
    return answer


def run(options) -> dict:
    peak, peak_source = peak_tflops(options.device, options.dtype, options.peak_tflops)
    with tempfile.TemporaryDirectory() as work_directory:
        families = {family: run_family(family, options, Path(work_directory), peak)
                    for family in options.families}
    return {
        "benchmark": "gpu_inpaint",
        "device": options.device,
        "device_name": device_name(options.device),
        "dtype": options.dtype,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_threads": torch.get_num_threads(),
        "compile_mode": options.compile_mode if options.compile else None,
        "peak_tflops": peak,
        "peak_source": peak_source,
        "families": families,
    }


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def report(figures: dict) -> str:
    lines = [
        f"{figures['dtype']} on {figures['device_name']} ({figures['device']}), "
        f"torch {figures['torch']}, diffusers {figures['diffusers']}; "
        f"peak: {figures['peak_tflops'] or '-'} TFLOP/s ({figures['peak_source']})",
    ]
    for figures_of in figures["families"].values():
        size = figures_of["size"]
        lines += [
            "",
            f"{figures_of['architecture']} ({sum(figures_of['parameters'].values()) / 1e6:.1f} M "
            f"parameters, random weights), {size}×{size}, UNet forward "
            f"{figures_of['flops']['unet_forward'] / 1e9:.1f} GFLOP",
            f"{'setting':<28} {'scheduler':<28} {'steps':>5} {'s/picture':>10} {'steps/s':>8} "
            f"{'pictures/min':>12} {'peak GiB':>9} {'floor s':>8} {'of peak':>8}",
        ]
        for name, profile in figures_of["profiles"].items():
            memory, floor, share = (
                profile["peak_memory_bytes"], profile["compute_floor_seconds"],
                profile["share_of_peak"],
            )
            lines.append(
                f"{name:<28} {profile['scheduler_class']:<28} {profile['steps']:>5} "
                f"{profile['seconds_per_image']:>10.3f} {profile['steps_per_second']:>8.1f} "
                f"{profile['images_per_minute']:>12.1f} "
                f"{_figure(memory and memory / 1024**3, '.2f'):>9} {_figure(floor, '.3f'):>8} "
                f"{_figure(share and share * 100, '.1f', '%'):>8}"
            )
    return "\n".join(lines)


def _figure(value: Optional[float], spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def main(argv=None) -> int:
    options = parse_arguments(argv)
    torch.backends.cuda.matmul.allow_tf32 = True  # only matters for --dtype float32 on a GPU
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.flops_only:
        figures = count_only(options)
        print(report_count(figures))
    else:
        figures = run(options)
        print(report(figures))
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
