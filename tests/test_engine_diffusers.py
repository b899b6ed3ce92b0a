"""The own-model engine on miniature random-weight models built by `build_tiny_model`.

The tiny models have the real models' structure and geometry (SD 2 or SDXL
layout, 9- or 4-channel UNet, VAE scale 8, CLIP text encoders and tokenizers),
so loading by pipeline class, scheduling, progress, cancellation, seeding,
sizing per family, LoRA styles, the safety checker and the prompt budget run
through the real diffusers code paths in well under a second per generation.
"""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from inpainting_core.engines.base import Cancelled, EngineError, EngineRequest, EngineUnavailable
from inpainting_core.engines.diffusion import SCHEDULERS, DiffusersEngine, load_inpaint_pipeline

WIDTH, HEIGHT = 128, 96
LATENT_SIZE = (WIDTH // 8, HEIGHT // 8)
MASK_BOX = (32, 24, 96, 72)


def build_model(directory: Path, channels: int) -> Path:
    call_command(
        "build_tiny_model",
        str(directory),
        "--unet-channels",
        str(channels),
        "--seed",
        "1",
        stdout=io.StringIO(),
    )
    return directory


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """The tiny model's work is too small to split; on a busy machine torch's
    spinning worker threads make it ten times slower instead."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-models")
    return {channels: build_model(root / f"unet{channels}", channels) for channels in (9, 4)}


@pytest.fixture
def use_model(settings):
    """Configure the engine for a tiny model, as a test would on a museum PC."""
    settings.OLPE_ALLOW_TINY_MODEL = True
    settings.OLPE_MODEL_RESOLUTION = 128
    settings.OLPE_SCHEDULER = "dpmsolver++"
    settings.OLPE_LORA_STYLES = {}

    def use(path):
        settings.OLPE_MODEL = str(path)
        return DiffusersEngine()

    return use


@pytest.fixture
def engine(use_model, tiny_models):
    return use_model(tiny_models[9])


def map_crop(size=(WIDTH, HEIGHT)) -> Image.Image:
    """A structured picture (gradients and stripes) so changes are measurable."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [
            x * 255 // max(width - 1, 1),
            y * 255 // max(height - 1, 1),
            ((x // 8 + y // 8) % 2) * 200,
        ],
        axis=-1,
    )
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def mask_for(size=(WIDTH, HEIGHT), box=MASK_BOX) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def make_request(size=(WIDTH, HEIGHT), **fields) -> EngineRequest:
    fields.setdefault("steps", 6)
    fields.setdefault("seed", 11)
    fields.setdefault("prompt", "a lake in the forest")
    return EngineRequest(image=map_crop(size), mask=mask_for(size), **fields)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


# ------------------------------------------------------------------------------
# Loading both kinds of checkpoint
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [9, 4])
def test_both_unet_kinds_load_from_pretrained_and_repaint_the_masked_region(
    use_model, tiny_models, channels
):
    engine = use_model(tiny_models[channels])
    assert engine.status().usable
    assert not engine.loaded

    request = make_request()
    result = engine.inpaint(request).image

    assert engine.loaded
    pipeline = engine.load()
    assert pipeline.unet.config.in_channels == channels
    assert type(pipeline).__name__ == "StableDiffusionInpaintPipeline"
    assert pipeline.safety_checker is None
    assert result.mode == "RGB" and result.size == request.image.size
    left, top, right, bottom = MASK_BOX
    inside = pixels(result)[top:bottom, left:right]
    assert np.abs(inside - pixels(request.image)[top:bottom, left:right]).mean() > 10


def test_four_channel_model_keeps_the_original_latents_outside_the_mask(use_model, tiny_models):
    """A text-to-image UNet inpaints by blending: after the last step, the latents
    outside the mask are the original's, whatever the wish (seen in the preview)."""
    engine = use_model(tiny_models[4])

    def final_preview(prompt):
        previews = []
        engine.inpaint(make_request(prompt=prompt), progress=lambda s, t, p: previews.append(p)).image
        return pixels(previews[-1])

    lake, snow = final_preview("a lake"), final_preview("snow on the field")
    left, top, right, bottom = (value // 8 for value in MASK_BOX)
    outside = np.ones(lake.shape[:2], dtype=bool)
    outside[top:bottom, left:right] = False
    assert np.array_equal(lake[outside], snow[outside])
    assert not np.array_equal(lake[~outside], snow[~outside])


@pytest.mark.parametrize("size", [(128, 96), (100, 70), (64, 128)])
def test_output_has_the_request_size(engine, size):
    request = make_request(size=size)
    assert engine.inpaint(request).image.size == size


def test_target_size_scales_the_long_side_to_the_model_resolution(engine, settings):
    settings.OLPE_MODEL_RESOLUTION = 768
    assert engine.target_size(400, 300) == (768, 576)
    width, height = engine.target_size(333, 1000)
    assert height == 768 and width % 8 == 0 and abs(width / height - 0.333) < 0.01


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_setting_chooses_the_scheduler(use_model, tiny_models, settings, name):
    settings.OLPE_SCHEDULER = name
    engine = use_model(tiny_models[9])
    engine.inpaint(make_request(steps=4)).image
    scheduler = engine.load().scheduler
    expected = "PNDMScheduler" if name == "default" else SCHEDULERS[name][0]
    assert type(scheduler).__name__ == expected
    if name == "dpmsolver++":
        assert scheduler.config.algorithm_type == "dpmsolver++"


# ------------------------------------------------------------------------------
# Progress, cancellation, seeds
# ------------------------------------------------------------------------------


def test_progress_reports_every_step_and_previews_every_fifth_and_the_last(engine):
    events = []
    engine.inpaint(make_request(steps=12), progress=lambda *event: events.append(event)).image

    assert [(step, total) for step, total, _ in events] == [(step, 12) for step in range(1, 13)]
    with_preview = {step: preview for step, _, preview in events if preview is not None}
    assert sorted(with_preview) == [5, 10, 12]
    for preview in with_preview.values():
        assert preview.mode == "RGB" and preview.size == LATENT_SIZE
        assert np.asarray(preview).std() > 0


def test_progress_total_counts_the_steps_that_strength_leaves(engine):
    events = []
    engine.inpaint(
        make_request(steps=10, strength=0.5), progress=lambda *event: events.append(event)
    ).image
    assert [step for step, _, _ in events] == [1, 2, 3, 4, 5]
    assert {total for _, total, _ in events} == {5}


def test_cancel_between_steps_raises_and_leaves_the_engine_usable(engine):
    reference = pixels(engine.inpaint(make_request(steps=8)).image)
    steps_seen = []

    with pytest.raises(Cancelled):
        engine.inpaint(
            make_request(steps=8),
            progress=lambda step, total, preview: steps_seen.append(step),
            should_cancel=lambda: len(steps_seen) >= 3,
        ).image
    assert steps_seen == [1, 2, 3]

    again = pixels(engine.inpaint(make_request(steps=8)).image)
    assert np.array_equal(again, reference)


def test_cancel_before_start_runs_no_step(engine):
    steps_seen = []
    with pytest.raises(Cancelled):
        engine.inpaint(
            make_request(),
            progress=lambda *event: steps_seen.append(event),
            should_cancel=lambda: True,
        ).image
    assert steps_seen == []


def test_the_seed_makes_results_reproducible(engine):
    first = pixels(engine.inpaint(make_request(seed=5)).image)
    second = pixels(engine.inpaint(make_request(seed=5)).image)
    other = pixels(engine.inpaint(make_request(seed=6)).image)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_without_a_seed_the_engine_picks_one_and_tells_which(engine):
    painted = engine.inpaint(make_request(seed=None))
    assert isinstance(painted.seed, int)
    again = engine.inpaint(make_request(seed=painted.seed))
    assert again.seed == painted.seed
    assert np.array_equal(pixels(again.image), pixels(painted.image))


def test_cuda_out_of_memory_is_a_retryable_engine_error(engine, monkeypatch):
    import torch

    pipeline = engine.load()

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(type(pipeline), "__call__", out_of_memory)
    with pytest.raises(EngineError) as raised:
        engine.inpaint(make_request()).image
    assert raised.value.retryable
    assert "memory" in str(raised.value)


# ------------------------------------------------------------------------------
# Status
# ------------------------------------------------------------------------------


def test_status_for_a_hub_model_that_was_not_fetched(settings, tmp_path):
    settings.OLPE_MODEL = "GP-Alternativweltgeschichten/OlpeAI"
    settings.OLPE_MODEL_DIR = tmp_path / "models"
    status = DiffusersEngine().status()
    assert not status.usable
    assert "GP-Alternativweltgeschichten/OlpeAI" in status.reason
    assert "fetch_model" in status.reason


def test_status_for_a_missing_directory_and_an_incomplete_model(settings, tmp_path, tiny_models):
    settings.OLPE_ALLOW_TINY_MODEL = True
    settings.OLPE_MODEL = str(tmp_path / "nowhere")
    assert "does not exist" in DiffusersEngine().status().reason

    partial = tmp_path / "partial"
    shutil.copytree(tiny_models[9], partial)
    (partial / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    settings.OLPE_MODEL = str(partial)
    status = DiffusersEngine().status()
    assert not status.usable and "unet" in status.reason


def test_status_is_usable_for_a_present_model_without_loading_it(engine):
    status = engine.status()
    assert status.usable and status.name == "diffusers" and status.reason == ""
    assert not engine.loaded


def test_status_imports_no_machine_learning_library(tiny_models):
    """The web tier calls status() for every page; it must not pull in torch."""
    script = (
        "import sys, django\n"
        "django.setup()\n"
        "from inpainting_core.engines.diffusion import DiffusersEngine\n"
        "status = DiffusersEngine().status()\n"
        "assert status.usable, status\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
        # The platform's own settings, so every setting has its one default from there.
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "olpe_site.settings",
            "OLPE_MODEL": str(tiny_models[9]),
            "OLPE_ALLOW_TINY_MODEL": "true",
            "OLPE_MODEL_REGISTRY": "false",  # no database in this process
        },
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_the_tiny_model_is_refused_unless_allowed(settings, tiny_models):
    settings.OLPE_MODEL = str(tiny_models[9])
    settings.OLPE_ALLOW_TINY_MODEL = False
    engine = DiffusersEngine()
    status = engine.status()
    assert not status.usable and "test model" in status.reason
    with pytest.raises(EngineUnavailable):
        engine.inpaint(make_request()).image
    assert not engine.loaded

    settings.OLPE_ALLOW_TINY_MODEL = True
    assert engine.status().usable


def test_unknown_scheduler_makes_the_engine_unavailable(settings, tiny_models, use_model):
    settings.OLPE_SCHEDULER = "warp-drive"
    engine = use_model(tiny_models[9])
    assert "warp-drive" in engine.status().reason
    with pytest.raises(EngineUnavailable):
        engine.load()


def test_a_model_that_fails_to_load_is_unavailable_with_the_reason_until_replaced(
    use_model, tiny_models, tmp_path
):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_models[9], broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a tensor file")
    engine = use_model(broken)
    assert engine.status().usable  # the cheap check cannot see inside the weights

    with pytest.raises(EngineUnavailable) as raised:
        engine.load()
    assert "could not be loaded" in str(raised.value)
    status = engine.status()
    assert not status.usable and "could not be loaded" in status.reason

    shutil.rmtree(broken)
    build_model(broken, 9)  # fetching again replaces model_index.json
    assert engine.status().usable
    assert engine.inpaint(make_request()).image.size == (WIDTH, HEIGHT)


# ------------------------------------------------------------------------------
# LoRA styles
# ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_lora(tiny_models, tmp_path_factory):
    """A LoRA for the tiny UNet, saved the way training scripts save one."""
    pytest.importorskip("peft")
    import torch
    from diffusers import StableDiffusionInpaintPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipeline = load_inpaint_pipeline(tiny_models[9])
    torch.manual_seed(3)
    # init_lora_weights=False: random non-zero weights, so the adapter visibly changes pictures.
    config = LoraConfig(
        r=4,
        lora_alpha=4,
        init_lora_weights=False,
        target_modules=["to_q", "to_k", "to_v", "to_out.0"],
    )
    pipeline.unet.add_adapter(config)
    directory = tmp_path_factory.mktemp("lora") / "watercolour"
    StableDiffusionInpaintPipeline.save_lora_weights(
        directory,
        unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(pipeline.unet)),
    )
    return directory


def test_a_style_with_a_lora_changes_the_picture_and_other_styles_do_not_use_it(
    engine, settings, tiny_lora
):
    plain = pixels(engine.inpaint(make_request(style="none")).image)
    settings.OLPE_LORA_STYLES = {"watercolour": str(tiny_lora)}

    styled = pixels(engine.inpaint(make_request(style="watercolour")).image)
    assert not np.array_equal(styled, plain)
    assert engine.load().get_active_adapters() == ["watercolour"]

    after = pixels(engine.inpaint(make_request(style="none")).image)
    assert np.array_equal(after, plain)
    assert np.array_equal(pixels(engine.inpaint(make_request(style="watercolour")).image), styled)


def test_a_style_whose_lora_is_missing_runs_without_it(engine, settings, tmp_path):
    plain = pixels(engine.inpaint(make_request(style="none")).image)
    settings.OLPE_LORA_STYLES = {"watercolour": str(tmp_path / "no-such-lora")}
    assert np.array_equal(pixels(engine.inpaint(make_request(style="watercolour")).image), plain)


# ------------------------------------------------------------------------------
# Through the shared pipeline
# ------------------------------------------------------------------------------


def test_generate_with_the_own_model_repaints_only_the_painted_region(
    settings, tiny_models, reset_engines
):
    from inpainting_core.generation import GenerationSettings
    from inpainting_core.pipeline import generate
    from tooling.demo import make_demo_map

    settings.OLPE_MODEL = str(tiny_models[9])
    settings.OLPE_ALLOW_TINY_MODEL = True
    settings.OLPE_MODEL_RESOLUTION = 128
    settings.OLPE_LORA_STYLES = {}
    demo = make_demo_map(width=320, height=240, seed=4)
    painted = np.zeros((240, 320), dtype=np.float32)
    painted[90:150, 120:200] = 1.0
    events = []

    result = generate(
        demo,
        painted,
        "Ein See mitten in der Stadt",
        GenerationSettings(engine="diffusers", steps=5, seed=9),
        progress=lambda *event: events.append(event),
    )

    assert result.engine == "diffusers" and result.image.size == demo.size
    assert [(step, total) for step, total, _ in events] == [(step, 5) for step in range(1, 6)]
    before, after = pixels(demo), pixels(result.image)
    assert np.abs(after[100:140, 130:190] - before[100:140, 130:190]).mean() > 10
    far = np.ones(painted.shape, dtype=bool)
    far[50:190, 80:240] = False  # the painted region plus padding and feather
    assert np.array_equal(after[far], before[far])
    assert reset_engines.get_engine("diffusers").loaded


# ------------------------------------------------------------------------------
# Model families: SD 2 and SDXL, loaded by their pipeline class
# ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_sdxl_models(tmp_path_factory):
    """Built by the management command, as a curator or CI would."""
    root = tmp_path_factory.mktemp("tiny-sdxl")
    models = {}
    for channels in (9, 4):
        models[channels] = root / f"sdxl{channels}"
        call_command(
            "build_tiny_model", str(models[channels]), "--family", "sdxl",
            "--unet-channels", str(channels), "--seed", "1", stdout=io.StringIO(),
        )
    return models


def test_build_tiny_model_writes_an_sdxl_inpainting_model_offline(tiny_sdxl_models):
    import json

    from inpainting_core import model_families, model_store

    directory = tiny_sdxl_models[9]
    index = json.loads((directory / "model_index.json").read_text())
    unet = json.loads((directory / "unet" / "config.json").read_text())
    assert index["_class_name"] == "StableDiffusionXLInpaintPipeline"
    assert index["text_encoder"][1] == "CLIPTextModel"
    assert index["text_encoder_2"][1] == "CLIPTextModelWithProjection"
    assert index["tokenizer_2"][1] == "CLIPTokenizer"
    assert unet["in_channels"] == 9 and unet["addition_embed_type"] == "text_time"
    assert model_store.is_tiny_model(directory) and model_store.pipeline_problem(directory) is None
    assert model_families.family_of_model(directory) is model_families.SDXL
    four = json.loads((tiny_sdxl_models[4] / "model_index.json").read_text())
    assert four["_class_name"] == "StableDiffusionXLPipeline"


@pytest.mark.parametrize(
    "family, channels, pipeline_class",
    [
        ("sd2", 9, "StableDiffusionInpaintPipeline"),
        ("sd2", 4, "StableDiffusionInpaintPipeline"),
        ("sdxl", 9, "StableDiffusionXLInpaintPipeline"),
        ("sdxl", 4, "StableDiffusionXLInpaintPipeline"),
    ],
)
def test_the_pipeline_class_follows_model_index_and_paints_the_masked_region(
    use_model, tiny_models, tiny_sdxl_models, family, channels, pipeline_class
):
    directory = (tiny_models if family == "sd2" else tiny_sdxl_models)[channels]
    engine = use_model(directory)

    result = engine.inpaint(make_request(steps=3))

    pipeline = engine.load()
    assert type(pipeline).__name__ == pipeline_class
    assert pipeline.unet.config.in_channels == channels
    assert engine.model_family().key == family
    if family == "sdxl":
        assert type(pipeline.text_encoder_2).__name__ == "CLIPTextModelWithProjection"
    before, after = pixels(map_crop()), pixels(result.image)
    x0, y0, x1, y1 = MASK_BOX
    assert np.abs(after[y0:y1, x0:x1] - before[y0:y1, x0:x1]).mean() > 5


def test_each_family_has_its_default_size(settings, tiny_models, tiny_sdxl_models, tmp_path):
    import json

    from inpainting_core import model_families

    settings.OLPE_MODEL_RESOLUTION = 0  # follow the family
    settings.OLPE_ALLOW_TINY_MODEL = True
    sizes = {}
    for name, directory in (("sd2", tiny_models[9]), ("sdxl", tiny_sdxl_models[9])):
        settings.OLPE_MODEL = str(directory)
        sizes[name] = DiffusersEngine().target_size(1600, 800)
    assert sizes == {"sd2": (768, 384), "sdxl": (1024, 512)}
    settings.OLPE_MODEL_RESOLUTION = 640  # a curator's choice wins
    assert DiffusersEngine().target_size(1600, 800) == (640, 320)

    # Real models are told apart by their configuration files alone.
    def model(name, index, unet):
        directory = tmp_path / name
        (directory / "unet").mkdir(parents=True)
        (directory / "model_index.json").write_text(json.dumps(index))
        (directory / "unet" / "config.json").write_text(json.dumps(unet))
        return model_families.family_of_model(directory)

    sd = {"_class_name": "StableDiffusionInpaintPipeline"}
    assert model("sd15", sd, {"cross_attention_dim": 768}).default_size == 512
    assert model("sd2", sd, {"cross_attention_dim": 1024}).default_size == 768
    xl = {"_class_name": "StableDiffusionXLInpaintPipeline"}
    assert model("sdxl", xl, {"cross_attention_dim": 2048}).default_size == 1024


def test_sdxl_gets_the_prompt_and_the_negative_prompt_for_both_text_encoders(
    use_model, tiny_sdxl_models
):
    engine = use_model(tiny_sdxl_models[9])
    pipeline = engine.load()
    seen = {}
    encode = pipeline.encode_prompt

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return encode(*args, **kwargs)

    pipeline.encode_prompt = spy
    engine.inpaint(make_request(steps=2, prompt="a lake", negative_prompt="blurry, text"))

    assert (seen["prompt"], seen["prompt_2"]) == ("a lake", "a lake")
    assert (seen["negative_prompt"], seen["negative_prompt_2"]) == ("blurry, text",) * 2


def test_a_lora_made_for_another_family_is_not_loaded_and_the_notice_says_so(
    use_model, tiny_sdxl_models, tiny_lora, settings
):
    from inpainting_core import model_families

    assert model_families.lora_cross_attention_dim(tiny_lora) == 32  # the tiny SD 2's width
    engine = use_model(tiny_sdxl_models[9])  # whose text features are 64 wide
    plain = engine.inpaint(make_request(style="none", steps=2))
    assert plain.notes == ()
    settings.OLPE_LORA_STYLES = {"watercolour": str(tiny_lora)}

    styled = engine.inpaint(make_request(style="watercolour", steps=2))

    assert np.array_equal(pixels(styled.image), pixels(plain.image))
    assert engine.load().get_active_adapters() == []
    assert len(styled.notes) == 1
    assert "was made for" in str(styled.notes[0]) and "Stable Diffusion XL" in str(styled.notes[0])
    assert engine.inpaint(make_request(style="none", steps=2)).notes == ()


# ------------------------------------------------------------------------------
# The model's safety checker
# ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def checked_models(tiny_models, tmp_path_factory):
    """Copies of the tiny model with a safety checker that flags everything / nothing."""
    from tooling.tiny_model import write_tiny_safety_checker

    root = tmp_path_factory.mktemp("checked")
    models = {}
    for flags in (True, False):
        models[flags] = root / ("flags-all" if flags else "flags-none")
        shutil.copytree(tiny_models[9], models[flags])
        write_tiny_safety_checker(models[flags], flag_everything=flags)
    return models


def test_a_flagged_picture_fails_with_a_readable_reason_only_when_checks_are_on(
    use_model, checked_models
):
    from inpainting_core.engines.diffusion import SAFETY_FLAGGED

    engine = use_model(checked_models[True])
    assert engine.load().safety_checker is None  # never inside the pipeline
    assert engine.inpaint(make_request(steps=2, safety_check=False)).image.size == (WIDTH, HEIGHT)

    with pytest.raises(EngineError) as raised:
        engine.inpaint(make_request(steps=2, safety_check=True))
    assert raised.value.message == SAFETY_FLAGGED and not raised.value.retryable


def test_an_unflagged_picture_and_a_model_without_a_checker_pass(
    use_model, checked_models, tiny_models
):
    clean = use_model(checked_models[False]).inpaint(make_request(steps=2, safety_check=True))
    assert clean.image.size == (WIDTH, HEIGHT)
    without = use_model(tiny_models[9]).inpaint(make_request(steps=2, safety_check=True))
    assert without.image.size == (WIDTH, HEIGHT)


# ------------------------------------------------------------------------------
# The prompt budget and the whole job path with an SDXL model
# ------------------------------------------------------------------------------

LONG_WISH = (
    "A lake with many little sailing boats beside a wooden pier, an old stone castle on a "
    "hill with four towers, a church with a bell tower, a bridge over the river, a vineyard "
    "on the slope, a harbour with fishing boats and a big park with a pond and old trees"
)


def spy_on_prompts(pipeline) -> list[dict]:
    """Record what the pipeline's text encoders are given."""
    calls = []
    encode = pipeline.encode_prompt

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return encode(*args, **kwargs)

    pipeline.encode_prompt = spy
    return calls


def test_a_stored_prompt_too_long_for_the_model_is_fitted_and_the_result_says_what_was_sent(
    settings, tiny_sdxl_models, reset_engines
):
    """A job submitted for another model: generate fits its prompt to the SDXL tokenizers."""
    from inpainting_core.engines.diffusion import tokenizer_budget
    from inpainting_core.generation import GenerationSettings
    from inpainting_core.pipeline import generate
    from inpainting_core.prompts import prepare_prompt
    from tooling.demo import make_demo_map

    settings.OLPE_MODEL = str(tiny_sdxl_models[9])
    settings.OLPE_ALLOW_TINY_MODEL = True
    settings.OLPE_MODEL_RESOLUTION = 128
    settings.OLPE_LORA_STYLES = {}
    budget = tokenizer_budget(tiny_sdxl_models[9])
    stored = prepare_prompt("a lake in the forest", "medieval")  # no budget: the whole template
    assert budget.count(stored.final) > 77
    engine = reset_engines.get_engine("diffusers")
    calls = spy_on_prompts(engine.load())
    painted = np.zeros((96, 128), dtype=np.float32)
    painted[30:70, 40:90] = 1.0

    result = generate(make_demo_map(width=128, height=96, seed=2), painted, stored.original,
                      GenerationSettings(engine="diffusers", steps=2, seed=1), prompt=stored)

    sent = result.prompt
    assert calls[0]["prompt"] == calls[0]["prompt_2"] == sent.final
    assert calls[0]["negative_prompt"] == sent.negative
    assert budget.count(sent.final) <= 77 and budget.count(sent.negative) <= 77
    assert sent.final.startswith("medieval town from above")
    assert "a lake in the forest" in sent.final
    assert "photorealistic" not in sent.final and "photorealistic" in sent.dropped
    assert result.notes == ()  # the wish itself was whole


@pytest.fixture
def sdxl_for_visitors(settings, tiny_sdxl_models, reset_engines, monkeypatch):
    from django_q.conf import Conf

    from museum.models import SiteSettings

    monkeypatch.setattr(Conf, "SYNC", False)  # the test runs the worker task itself
    settings.OLPE_MODEL = str(tiny_sdxl_models[9])
    settings.OLPE_ALLOW_TINY_MODEL = True
    settings.OLPE_MODEL_RESOLUTION = 128
    settings.OLPE_STEPS = 2
    settings.OLPE_LORA_STYLES = {}
    settings.LANGUAGE_CODE = "en"
    SiteSettings.objects.update_or_create(pk=1, defaults={"visitor_engine": "diffusers"})
    SiteSettings.forget_cached()
    return reset_engines


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def painted_mask_png(size=(192, 128)) -> bytes:
    paint = np.zeros((size[1], size[0], 4), dtype=np.uint8)
    paint[30:90, 50:140] = (255, 0, 0, 255)
    return png_of(Image.fromarray(paint, "RGBA"))


@pytest.mark.django_db(transaction=True)
def test_an_sdxl_job_stores_the_prompt_its_text_encoders_got(sdxl_for_visitors, tiny_sdxl_models):
    from inpainting import jobs, tasks
    from inpainting.models import InpaintJob
    from inpainting_core.engines.diffusion import tokenizer_budget
    from inpainting_core.generation import GenerationSettings
    from tooling.demo import make_demo_map

    job = jobs.submit_job(
        image=png_of(make_demo_map(width=192, height=128, seed=4)), mask=painted_mask_png(),
        wish="Ein See mitten im Wald", generation=GenerationSettings(style="medieval", seed=5),
    )
    assert job.engine == "diffusers"
    budget = tokenizer_budget(tiny_sdxl_models[9])
    assert budget.count(job.prompt_final) <= 77 and "photorealistic" not in job.prompt_final
    calls = spy_on_prompts(sdxl_for_visitors.get_engine("diffusers").load())

    assert tasks.run_job(str(job.pk)) == InpaintJob.Status.SUCCEEDED

    job.refresh_from_db()
    assert job.engine == "diffusers" and job.result_image
    assert calls[-1]["prompt"] == calls[-1]["prompt_2"] == job.prompt_final
    assert calls[-1]["negative_prompt"] == job.negative_prompt


@pytest.mark.django_db
@pytest.mark.parametrize("language, words", [("en", "too long"), ("de", "zu lang")])
def test_a_wish_too_long_for_the_model_is_refused_by_the_api(
    sdxl_for_visitors, language, words
):
    import base64

    from django.urls import reverse
    from rest_framework.test import APIClient

    from inpainting.models import InpaintJob
    from tooling.demo import make_demo_map

    def b64(data):
        return base64.b64encode(data).decode()

    response = APIClient().post(
        reverse("inpainting:api:job-list"),
        {"image": b64(png_of(make_demo_map(width=192, height=128, seed=4))),
         "mask": b64(painted_mask_png()), "prompt": LONG_WISH},
        format="json", HTTP_ACCEPT_LANGUAGE=language,
    )

    assert response.status_code == 400
    assert words in json_text(response)
    assert not InpaintJob.objects.exists()


def json_text(response) -> str:
    import json

    return json.dumps(response.json(), ensure_ascii=False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("checks_on", [True, False])
def test_the_curators_safety_setting_reaches_the_engine_through_the_worker(
    sdxl_for_visitors, checked_models, settings, checks_on
):
    from inpainting import jobs, tasks
    from inpainting.models import InpaintJob
    from inpainting_core.engines.diffusion import SAFETY_FLAGGED
    from inpainting_core.generation import GenerationSettings
    from museum.models import SiteSettings
    from tooling.demo import make_demo_map

    settings.OLPE_MODEL = str(checked_models[True])  # an SD model whose checker flags everything
    SiteSettings.objects.filter(pk=1).update(safety_checker=checks_on)
    SiteSettings.forget_cached()
    job = jobs.submit_job(
        image=png_of(make_demo_map(width=192, height=128, seed=4)), mask=painted_mask_png(),
        wish="Ein See", generation=GenerationSettings(seed=5),
    )

    outcome = tasks.run_job(str(job.pk))

    job.refresh_from_db()
    if checks_on:
        assert outcome == InpaintJob.Status.FAILED and not job.result_image
        assert job.error_message == str(SAFETY_FLAGGED)
    else:
        assert outcome == InpaintJob.Status.SUCCEEDED and job.engine == "diffusers"


def test_a_broken_safety_checker_shows_no_picture(use_model, checked_models, tmp_path):
    from inpainting_core.engines.diffusion import SAFETY_CHECKER_BROKEN

    broken = tmp_path / "broken-checker"
    shutil.copytree(checked_models[False], broken)
    for weights in (broken / "safety_checker").glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    engine = use_model(broken)

    with pytest.raises(EngineError) as raised:
        engine.inpaint(make_request(steps=2, safety_check=True))
    assert raised.value.message == SAFETY_CHECKER_BROKEN
    assert engine.inpaint(make_request(steps=2, safety_check=False)).image.size == (WIDTH, HEIGHT)
