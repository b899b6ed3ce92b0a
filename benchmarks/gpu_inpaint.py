"""Seconds per picture of the own model, with the prototype's settings and the platform's.

The museum's model is a fine-tune of Stable Diffusion 2 inpainting, so its cost
is the cost of that architecture. This benchmark builds the architecture at
full size from its published configuration (a 9-channel UNet of 866 M
parameters, the SD VAE, the OpenCLIP ViT-H text encoder) with random weights:
the same computation as the real model, without a download. It paints one
768×768 picture at a time, as one worker does, and reports for each setting:

* seconds per picture (median of --runs after --warmup runs) and pictures per
  minute for one worker;
* peak GPU memory (torch.cuda.max_memory_allocated, weights included);
* the compute floor: the pipeline's floating-point operations (counted with
  torch.utils.flop_counter on meta tensors: one UNet forward × 2 for
  classifier-free guidance × steps, plus the text encoder and the VAE) divided
  by the GPU's dense fp16/bf16 peak, and the share of that peak reached.

Settings compared:

* prototype: the model's own scheduler (PNDM) at 200 steps in float16,
  otherwise diffusers' defaults;
* platform: DPM-Solver++ at OLPE_STEPS (30), SDPA attention, a channels-last
  UNet and, with --compile, torch.compile (compile time is warm-up, not timed).

    .venv/bin/python benchmarks/gpu_inpaint.py --device cuda [--compile] [--json PATH]
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
from diffusers import AutoencoderKL, StableDiffusionInpaintPipeline, UNet2DConditionModel  # noqa: E402
from diffusers.models.attention_processor import AttnProcessor2_0  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel  # noqa: E402

from tooling import tiny_model  # noqa: E402
from tooling.demo import make_demo_map  # noqa: E402
from inpainting_core.engines.diffusion import SCHEDULERS  # noqa: E402

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

PROMPT = "aerial photograph of a lake between the houses of a small town, satellite view"
NEGATIVE_PROMPT = "blurry, text, watermark"
GUIDANCE = 7.5


@dataclass(frozen=True)
class Settings:
    name: str
    scheduler: str  # a key of inpainting_core.engines.diffusion.SCHEDULERS ("default": the model's own)
    steps: int
    sdpa: bool  # set SDPA attention explicitly (else whatever diffusers chooses)
    channels_last: bool
    compile: bool


@dataclass
class Measurement:
    settings: Settings
    scheduler_class: str
    attention: str
    seconds_per_image: float
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


# --- the architecture --------------------------------------------------------------


def build_components(tiny: bool, vocabulary: dict[str, int]):
    """UNet, VAE and text encoder of the chosen size, on the current default device."""
    if tiny:
        return (
            tiny_model.build_unet(9),
            tiny_model.build_vae(),
            tiny_model.build_text_encoder(vocabulary),
        )
    text_config = CLIPTextConfig(
        **OPENCLIP_VIT_H_TEXT,
        bos_token_id=vocabulary[tiny_model.BOS_TOKEN],
        eos_token_id=vocabulary[tiny_model.EOS_TOKEN],
        pad_token_id=vocabulary[tiny_model.EOS_TOKEN],
    )
    return (
        UNet2DConditionModel(**SD2_INPAINT_UNET),
        AutoencoderKL(**SD_VAE),
        CLIPTextModel(text_config),
    )


def build_pipeline(tiny: bool, device: str, dtype: torch.dtype, work_directory: Path):
    """The inpainting pipeline with random weights, created directly on `device`.

    The tokenizer is the miniature one of tooling/tiny_model.py: prompts
    become token ids the real text encoder accepts; 77 positions are encoded
    whatever the words, so the computation is the real one.
    """
    torch.manual_seed(0)
    tokenizer = tiny_model.build_tokenizer(work_directory / "tokenizer")
    with torch.device(device):
        unet, vae, text_encoder = build_components(tiny, tokenizer.get_vocab())
    pipeline = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
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
        for name in ("unet", "vae", "text_encoder")
    }


# --- counting operations -------------------------------------------------------------


def count_flops(function, *args, **kwargs) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        function(*args, **kwargs)
    return counter.get_total_flops()


def pipeline_flops(tiny: bool, size: int, vocabulary: dict[str, int]) -> dict[str, int]:
    """Operations of each part for one size×size picture, counted on meta tensors.

    Meta tensors carry shapes but no data, so the count costs nothing even for
    the full model on a CPU. The UNet runs at batch 1 here; the benchmark
    doubles it for classifier-free guidance.
    """
    latent = size // 8
    with torch.device("meta"):
        unet, vae, text_encoder = build_components(tiny, vocabulary)
        tokens = torch.zeros((1, tiny_model.MAX_TOKENS), dtype=torch.long)
        width = text_encoder.config.hidden_size
        return {
            "unet_forward": count_flops(
                unet,
                torch.zeros((1, unet.config.in_channels, latent, latent)),
                torch.tensor([500]),
                encoder_hidden_states=torch.zeros((1, tiny_model.MAX_TOKENS, width)),
            ),
            "text_encoder": count_flops(text_encoder, tokens),
            "vae_encode": count_flops(vae.encode, torch.zeros((1, 3, size, size))),
            "vae_decode": count_flops(vae.decode, torch.zeros((1, 4, latent, latent))),
        }


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


def apply_settings(pipeline, chosen: Settings, compile_mode: str) -> None:
    choice = SCHEDULERS[chosen.scheduler]
    if choice is not None:
        class_name, overrides = choice
        scheduler_class = getattr(diffusers, class_name)
        pipeline.scheduler = scheduler_class.from_config(pipeline.scheduler.config, **overrides)
    if chosen.sdpa:
        pipeline.unet.set_attn_processor(AttnProcessor2_0())
        pipeline.vae.set_attn_processor(AttnProcessor2_0())
    if chosen.channels_last:
        pipeline.unet.to(memory_format=torch.channels_last)
        pipeline.vae.to(memory_format=torch.channels_last)
    if chosen.compile:
        pipeline.unet = torch.compile(pipeline.unet, mode=compile_mode, fullgraph=True)


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


def measure(pipeline, chosen: Settings, options, flops, peak) -> Measurement:
    apply_settings(pipeline, chosen, options.compile_mode)
    inputs = wish_inputs(options.size)
    def paint(seed: int) -> float:
        return paint_once(pipeline, inputs, options.size, chosen.steps, options.device, seed)

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
        attention=type(next(iter(pipeline.unet.attn_processors.values()))).__name__,
        seconds_per_image=seconds,
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
    parser.add_argument("--size", type=int, help="picture side in pixels (default 768, --tiny 128)")
    parser.add_argument("--steps", type=int, default=settings.OLPE_STEPS,
                        help="the platform's steps (default OLPE_STEPS: %(default)s)")
    parser.add_argument("--prototype-steps", type=int, default=200,
                        help="the prototype's steps (default %(default)s)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=("float16", "bfloat16", "float32"),
                        help="default float16 on a GPU, float32 on a CPU")
    parser.add_argument("--tiny", action="store_true",
                        help="the miniature architecture of tooling/tiny_model.py (CI, CPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the platform's UNet")
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
    options.size = options.size or (128 if options.tiny else 768)
    options.runs = options.runs or (1 if options.tiny else 3)
    options.dtype = options.dtype or ("float16" if options.device.startswith("cuda") else "float32")
    if options.threads is None and options.tiny and options.device == "cpu":
        options.threads = 1
    if options.size % 8:
        parser.error("--size must be a multiple of 8 (the VAE downsamples by 8)")
    return options


def compared_settings(options) -> list[Settings]:
    return [
        Settings("prototype", "default", options.prototype_steps, sdpa=False,
                 channels_last=False, compile=False),
        Settings("platform", "dpmsolver++", options.steps, sdpa=True,
                 channels_last=True, compile=options.compile),
    ]


def count_only(options) -> dict:
    """The operations of one picture and their floor on every GPU of the table."""
    vocabulary = tiny_model.build_vocabulary(tiny_model.build_merges())
    flops = pipeline_flops(options.tiny, options.size, vocabulary)
    profiles = {
        chosen.name: {"steps": chosen.steps, "total_flops": total_flops(flops, chosen.steps)}
        for chosen in compared_settings(options)
    }
    return {
        "benchmark": "gpu_inpaint (operations only)",
        "architecture": "tiny" if options.tiny else "stable-diffusion-2-inpainting",
        "size": options.size,
        "flops": flops,
        "profiles": profiles,
        "compute_floor_seconds": {
            gpu: {
                name: profile["total_flops"] / (tflops * 1e12) for name, profile in profiles.items()
            }
            for gpu, _marker, tflops in PEAK_TFLOPS
        },
    }


def report_count(figures: dict) -> str:
    flops = figures["flops"]
    names = list(figures["profiles"])
    lines = [
        f"{figures['architecture']}, {figures['size']}×{figures['size']}: "
        + ", ".join(f"{part} {count / 1e12:.3f} TFLOP" for part, count in flops.items()),
        "per picture: " + ", ".join(
            f"{name} ({profile['steps']} steps) {profile['total_flops'] / 1e12:.1f} TFLOP"
            for name, profile in figures["profiles"].items()
        ),
        f"{'compute floor at dense fp16 peak':<34}" + "".join(f"{name:>12}" for name in names),
    ]
    floors_per_gpu = figures["compute_floor_seconds"].values()
    for (gpu, _marker, tflops), floors in zip(PEAK_TFLOPS, floors_per_gpu, strict=True):
        lines.append(f"{gpu:<22} {tflops:>7.1f} TFLOP/s"
                     + "".join(f"{floors[name]:>11.3f}s" for name in names))
    return "\n".join(lines)


def run(options) -> dict:
    dtype = getattr(torch, options.dtype)
    with tempfile.TemporaryDirectory() as work_directory:
        pipeline = build_pipeline(options.tiny, options.device, dtype, Path(work_directory))
    vocabulary = pipeline.tokenizer.get_vocab()
    flops = pipeline_flops(options.tiny, options.size, vocabulary)
    peak, peak_source = peak_tflops(options.device, options.dtype, options.peak_tflops)
    measurements = [measure(pipeline, chosen, options, flops, peak)
                    for chosen in compared_settings(options)]
    prototype, platform_ = measurements
    return {
        "benchmark": "gpu_inpaint",
        "architecture": "tiny" if options.tiny else "stable-diffusion-2-inpainting",
        "parameters": parameter_counts(pipeline),
        "size": options.size,
        "device": options.device,
        "device_name": device_name(options.device),
        "dtype": options.dtype,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_threads": torch.get_num_threads(),
        "peak_tflops": peak,
        "peak_source": peak_source,
        "flops": flops,
        "profiles": {
            measurement.settings.name: measurement.as_dict() for measurement in measurements
        },
        "speedup": prototype.seconds_per_image / platform_.seconds_per_image,
    }


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def report(figures: dict) -> str:
    lines = [
        f"{figures['architecture']} ({sum(figures['parameters'].values()) / 1e6:.1f} M parameters, "
        f"random weights), {figures['size']}×{figures['size']}, {figures['dtype']} on "
        f"{figures['device_name']} ({figures['device']})",
        f"UNet forward: {figures['flops']['unet_forward'] / 1e9:.1f} GFLOP; "
        f"peak: {figures['peak_tflops'] or '-'} TFLOP/s ({figures['peak_source']})",
        f"{'setting':<10} {'scheduler':<28} {'steps':>5} {'s/picture':>10} {'pictures/min':>12} "
        f"{'peak GiB':>9} {'floor s':>8} {'of peak':>8}",
    ]
    for name, profile in figures["profiles"].items():
        memory, floor, share = (
            profile["peak_memory_bytes"], profile["compute_floor_seconds"], profile["share_of_peak"]
        )
        lines.append(
            f"{name:<10} {profile['scheduler_class']:<28} {profile['steps']:>5} "
            f"{profile['seconds_per_image']:>10.3f} {profile['images_per_minute']:>12.1f} "
            f"{_figure(memory and memory / 1024**3, '.2f'):>9} {_figure(floor, '.3f'):>8} "
            f"{_figure(share and share * 100, '.1f', '%'):>8}"
        )
    lines.append(f"speed-up of the platform's settings: {figures['speedup']:.1f}×")
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
