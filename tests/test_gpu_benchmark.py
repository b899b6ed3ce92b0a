"""The GPU benchmark's smoke run: the miniature architecture on a CPU, in seconds.

The full-size figures need a GPU (docs/performance.md); this proves that the
script builds the pipeline, paints with both settings, counts operations and
writes every figure it promises.
"""

import json
import subprocess
import sys

import pytest
from django.conf import settings

from benchmarks.gpu_inpaint import (
    OPENCLIP_VIT_H_TEXT,
    SD2_INPAINT_UNET,
    count_only,
    parse_arguments,
    pipeline_flops,
    total_flops,
)
from tooling import tiny_model

PROTOTYPE_STEPS, PLATFORM_STEPS = 12, 4


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    output = tmp_path_factory.mktemp("benchmark") / "figures.json"
    completed = subprocess.run(
        [
            sys.executable, "benchmarks/gpu_inpaint.py", "--tiny", "--device", "cpu",
            "--size", "64", "--prototype-steps", str(PROTOTYPE_STEPS),
            "--steps", str(PLATFORM_STEPS), "--warmup", "0", "--peak-tflops", "0.5",
            "--json", str(output),
        ],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "speed-up of the platform's settings" in completed.stdout
    return json.loads(output.read_text(encoding="utf-8"))


def test_both_settings_are_measured(figures):
    prototype, platform = figures["profiles"]["prototype"], figures["profiles"]["platform"]
    assert (prototype["steps"], platform["steps"]) == (PROTOTYPE_STEPS, PLATFORM_STEPS)
    assert prototype["scheduler_class"] == "PNDMScheduler"
    assert platform["scheduler_class"] == "DPMSolverMultistepScheduler"
    assert platform["attention"] == "AttnProcessor2_0" and platform["channels_last"] is True
    for profile in (prototype, platform):
        assert len(profile["runs"]) == 1 and profile["warmup_seconds"] == []
        assert profile["seconds_per_image"] == profile["runs"][0] > 0
        assert profile["images_per_minute"] == pytest.approx(60 / profile["seconds_per_image"])
        assert profile["peak_memory_bytes"] is None  # measured on CUDA devices only
    assert figures["speedup"] == pytest.approx(
        prototype["seconds_per_image"] / platform["seconds_per_image"]
    )


def test_the_compute_floor_follows_from_the_counted_operations(figures):
    flops = figures["flops"]
    assert all(count > 0 for count in flops.values())
    assert figures["peak_tflops"] == 0.5 and figures["peak_source"] == "--peak-tflops"
    for profile in figures["profiles"].values():
        assert profile["total_flops"] == total_flops(flops, profile["steps"])
        assert profile["compute_floor_seconds"] == pytest.approx(profile["total_flops"] / 0.5e12)
        assert profile["share_of_peak"] == pytest.approx(
            profile["compute_floor_seconds"] / profile["seconds_per_image"]
        )


def test_the_run_describes_its_machine(figures):
    assert figures["architecture"] == "tiny" and figures["size"] == 64
    assert (figures["device"], figures["dtype"]) == ("cpu", "float32")
    assert figures["parameters"]["unet"] > 0 and figures["torch"] and figures["diffusers"]


def test_the_full_architecture_is_stable_diffusion_2_inpainting():
    """Counted on meta tensors, so the full model costs nothing here."""
    vocabulary = tiny_model.build_vocabulary(tiny_model.build_merges())
    flops = pipeline_flops(tiny=False, size=768, vocabulary=vocabulary)

    assert SD2_INPAINT_UNET["in_channels"] == 9 and OPENCLIP_VIT_H_TEXT["hidden_size"] == 1024
    # 2.15 TFLOP per UNet pass at 768² (96² latents): conv, linear and attention.
    assert 2.0e12 < flops["unet_forward"] < 2.3e12
    assert flops["vae_decode"] > flops["vae_encode"] > flops["unet_forward"]


def test_the_floors_scale_with_steps_and_peaks():
    figures = count_only(parse_arguments(["--flops-only", "--steps", "25"]))

    floors = figures["compute_floor_seconds"]
    h100, a100 = floors["H100 SXM"], floors["A100"]
    assert figures["profiles"]["platform"]["steps"] == 25
    assert h100["prototype"] > 7 * h100["platform"]  # 200 steps against 25
    assert a100["platform"] == pytest.approx(h100["platform"] * 989.4 / 312.0)
