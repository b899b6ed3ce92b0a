"""The GPU benchmark's smoke run: the miniature SD 2 and SDXL architectures on a CPU, in seconds.

The full-size figures need a GPU (docs/performance.md); this proves that the
script builds both families' pipelines, paints with every compared setting,
counts operations and writes every figure it promises.
"""

import json
import subprocess
import sys

import pytest
from django.conf import settings

from benchmarks.gpu_inpaint import (
    OPENCLIP_VIT_H_TEXT,
    SD2_INPAINT_UNET,
    SDXL_INPAINT_UNET,
    compared_settings,
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
    assert "sdpa+channels_last" in completed.stdout and "steps/s" in completed.stdout
    return json.loads(output.read_text(encoding="utf-8"))


def test_both_families_are_measured_with_and_without_channels_last(figures):
    assert list(figures["families"]) == ["sd2", "sdxl"]
    sd2, sdxl = figures["families"]["sd2"]["profiles"], figures["families"]["sdxl"]["profiles"]
    assert list(sd2) == ["prototype", "sdpa", "sdpa+channels_last"]
    assert list(sdxl) == ["sdpa", "sdpa+channels_last"]  # the prototype was SD 2 only
    assert sd2["prototype"]["steps"] == PROTOTYPE_STEPS
    assert sd2["prototype"]["scheduler_class"] == "PNDMScheduler"
    assert sd2["prototype"]["attention"] == "AttnProcessor"
    for profiles in (sd2, sdxl):
        for name in ("sdpa", "sdpa+channels_last"):
            profile = profiles[name]
            assert profile["steps"] == PLATFORM_STEPS
            assert profile["scheduler_class"] == "DPMSolverMultistepScheduler"
            assert profile["attention"] == "AttnProcessor2_0" and profile["compile"] is False
            assert profile["channels_last"] is (name == "sdpa+channels_last")
    for profiles in (sd2, sdxl):
        for profile in profiles.values():
            assert len(profile["runs"]) == 1 and profile["warmup_seconds"] == []
            assert profile["seconds_per_image"] == profile["runs"][0] > 0
            assert profile["images_per_minute"] == pytest.approx(60 / profile["seconds_per_image"])
            assert profile["steps_per_second"] == pytest.approx(
                profile["steps"] / profile["seconds_per_image"]
            )
            assert profile["peak_memory_bytes"] is None  # measured on CUDA devices only


def test_the_compute_floor_follows_from_the_counted_operations(figures):
    assert figures["peak_tflops"] == 0.5 and figures["peak_source"] == "--peak-tflops"
    for family in figures["families"].values():
        flops = family["flops"]
        assert all(count > 0 for count in flops.values())
        for profile in family["profiles"].values():
            assert profile["total_flops"] == total_flops(flops, profile["steps"])
            assert profile["compute_floor_seconds"] == pytest.approx(
                profile["total_flops"] / 0.5e12
            )
            assert profile["share_of_peak"] == pytest.approx(
                profile["compute_floor_seconds"] / profile["seconds_per_image"]
            )


def test_the_run_describes_its_machine_and_models(figures):
    sd2, sdxl = figures["families"]["sd2"], figures["families"]["sdxl"]
    assert (sd2["architecture"], sdxl["architecture"]) == ("tiny sd2", "tiny sdxl")
    assert sd2["size"] == sdxl["size"] == 64
    assert (figures["device"], figures["dtype"]) == ("cpu", "float32")
    assert "text_encoder_2" in sdxl["parameters"] and "text_encoder_2" not in sd2["parameters"]
    assert sd2["parameters"]["unet"] > 0 and figures["torch"] and figures["diffusers"]


def test_compile_adds_the_compiled_settings_and_each_family_has_its_own_size():
    options = parse_arguments(["--compile", "--device", "cuda"])
    names = [chosen.name for chosen in compared_settings(options, "sdxl")]
    assert names == ["sdpa", "sdpa+channels_last", "sdpa+compile", "sdpa+channels_last+compile"]
    assert options.dtype == "float16" and options.steps == settings.OLPE_STEPS
    counted = count_only(parse_arguments(["--flops-only", "--steps", "25"]))["families"]
    assert (counted["sd2"]["size"], counted["sdxl"]["size"]) == (768, 1024)


def test_the_full_architectures_are_sd2_and_sdxl_inpainting():
    """Counted on meta tensors, so the full models cost nothing here."""
    vocabulary = tiny_model.build_vocabulary(tiny_model.build_merges())
    sd2 = pipeline_flops(tiny=False, size=768, vocabulary=vocabulary, family="sd2")
    sdxl = pipeline_flops(tiny=False, size=1024, vocabulary=vocabulary, family="sdxl")

    assert SD2_INPAINT_UNET["in_channels"] == 9 and OPENCLIP_VIT_H_TEXT["hidden_size"] == 1024
    assert SDXL_INPAINT_UNET["in_channels"] == 9
    assert SDXL_INPAINT_UNET["cross_attention_dim"] == 2048  # both text encoders side by side
    # 2.15 TFLOP per SD 2 UNet pass at 768² (96² latents): conv, linear and attention.
    assert 2.0e12 < sd2["unet_forward"] < 2.3e12
    assert sd2["vae_decode"] > sd2["vae_encode"] > sd2["unet_forward"]
    # SDXL at 1024² (128² latents): about three times SD 2's UNet pass.
    assert 2.5 * sd2["unet_forward"] < sdxl["unet_forward"] < 4 * sd2["unet_forward"]
    assert sdxl["text_encoder"] > 2 * sd2["text_encoder"]


def test_the_floors_scale_with_steps_and_peaks():
    figures = count_only(parse_arguments(["--flops-only", "--family", "sd2", "--steps", "25"]))

    floors = figures["families"]["sd2"]["compute_floor_seconds"]
    h100, a100 = floors["H100 SXM"], floors["A100"]
    assert figures["families"]["sd2"]["profiles"]["sdpa"]["steps"] == 25
    assert h100["prototype"] > 7 * h100["sdpa"]  # 200 steps against 25
    assert a100["sdpa"] == pytest.approx(h100["sdpa"] * 989.4 / 312.0)
