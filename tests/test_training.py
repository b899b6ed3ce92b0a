"""Training the own model, on the miniature model from build_tiny_model and eight small pictures.

Every mode really trains (a few dozen steps on a CPU), and what it writes is
then loaded by the diffusers engine the way a worker would load it. Progress
is judged on a fixed batch (fixed pictures, noise, timesteps and masks), not
on the noisy training loss.
"""

import csv
import io
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from tooling.demo import make_demo_map
from training import datasets, objectives
from training.train import TrainingConfig, list_checkpoints, read_log, train

RESOLUTION = 64
CAPTIONS = (
    "aerial photo of a lake",
    "aerial photo of a forest",
    "a small town with red roofs",
    "green meadow and a road",
    "a field with trees",
    "a road and houses",
    "a river in the forest",
    "blue water near the shore",
)


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in their English source text; the site's language is German."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Work this small does not split well; spinning threads on a busy machine cost more."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build_model(directory: Path, channels: int) -> Path:
    call_command(
        "build_tiny_model",
        str(directory),
        "--unet-channels",
        str(channels),
        "--seed",
        "2",
        stdout=io.StringIO(),
    )
    return directory


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("bases")
    return {channels: build_model(root / f"unet{channels}", channels) for channels in (9, 4)}


def write_dataset(directory: Path, count: int = len(CAPTIONS), side: int = RESOLUTION) -> Path:
    """Crops of the demo map in the imagefolder layout export_dataset writes."""
    demo = make_demo_map(512, 256, seed=3)
    (directory / "data").mkdir(parents=True)
    rows = []
    for index in range(count):
        left, top = (index % 4) * 128, (index // 4 % 2) * 128
        picture = demo.crop((left, top, left + 128, top + 128)).resize((side, side))
        picture.save(directory / "data" / f"crop{index}.png")
        rows.append((f"data/crop{index}.png", CAPTIONS[index % len(CAPTIONS)]))
    write_metadata(directory, ["file_name", "text"], rows)
    return directory


def write_metadata(directory: Path, header, rows) -> None:
    with open(directory / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("dataset") / "satbilder")


def config(dataset, base, out, mode, **overrides) -> TrainingConfig:
    settings = dict(
        data=str(dataset),
        base=str(base),
        out=out,
        mode=mode,
        resolution=RESOLUTION,
        center_crop=True,
        random_flip=True,
        train_batch_size=4,
        max_train_steps=40,
        learning_rate=5e-3 if mode == "lora" else 1e-3,
        checkpointing_steps=20,
        seed=0,
        lora_rank=8,
    )
    settings.update(overrides)
    return TrainingConfig(**settings)


@pytest.fixture(scope="module")
def trained(bases, dataset, tmp_path_factory):
    """Each mode trained once for the whole module: {mode: TrainingResult}."""
    results = {}

    def get(mode):
        if mode not in results:
            base = bases[4] if mode == "text2image" else bases[9]
            out = tmp_path_factory.mktemp(f"trained-{mode}")
            results[mode] = train(config(dataset, base, out, mode), show_progress=False)
        return results[mode]

    return get


# ------------------------------------------------------------------------------
# Learning
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, objective, at_most",
    # A LoRA on the attention projections of a UNet this small can only move the loss a little.
    [("text2image", "text2image", 0.5), ("inpaint", "inpaint", 0.5), ("lora", "inpaint", 0.95)],
)
def test_each_mode_lowers_the_loss_on_a_fixed_batch(trained, mode, objective, at_most):
    result = trained(mode)

    assert result.objective == objective
    assert (result.first_step, result.steps) == (0, 40)
    assert result.fixed_loss_end < at_most * result.fixed_loss_start
    records = read_log(result.out)
    assert [record["step"] for record in records if "loss" in record] == list(range(1, 41))
    assert all(np.isfinite(record["loss"]) for record in records if "loss" in record)
    fixed = [(record["step"], record["fixed_loss"]) for record in records if "fixed_loss" in record]
    assert fixed[0] == (0, result.fixed_loss_start) and fixed[-1] == (40, result.fixed_loss_end)
    summary = json.loads((result.out / "olpe_training.json").read_text())
    assert summary["steps"] == 40 and summary["config"]["mode"] == mode


def test_full_modes_save_a_pipeline_and_lora_mode_saves_only_the_adapter(trained):
    text2image, inpaint, lora = trained("text2image"), trained("inpaint"), trained("lora")

    index = json.loads((text2image.out / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert json.loads((text2image.out / "unet" / "config.json").read_text())["in_channels"] == 4
    index = json.loads((inpaint.out / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionInpaintPipeline"
    assert (lora.out / "pytorch_lora_weights.safetensors").is_file()
    assert not (lora.out / "model_index.json").exists()
    # The base was a test fixture, so the result is one too.
    assert (inpaint.out / "olpe_tiny_model.json").is_file()


def test_random_masks_look_like_painting_and_are_never_empty():
    rng = np.random.default_rng(5)
    masks = objectives.random_masks(rng, 200, RESOLUTION)

    assert masks.shape == (200, 1, RESOLUTION, RESOLUTION)
    assert set(np.unique(masks)) <= {0.0, 1.0}
    coverage = masks.mean(axis=(1, 2, 3))
    assert coverage.min() > 0
    full = np.isclose(coverage, 1.0).mean()
    assert 0.15 < full < 0.35  # Stable Diffusion inpainting's quarter of whole-picture masks
    partial = coverage[coverage < 1]
    assert 0.02 < np.median(partial) < 0.6


def test_expanding_a_text_to_image_unet_keeps_its_predictions(bases):
    import torch
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(bases[4], subfolder="unet")
    latents = torch.randn(1, 4, 8, 8)
    text = torch.randn(1, 77, 32)
    with torch.no_grad():
        before = unet(latents, 500, text).sample
        objectives.expand_conv_in(unet)
        conditioning = torch.randn(1, 5, 8, 8)
        after = unet(torch.cat([latents, conditioning], 1), 500, text).sample

    assert unet.config.in_channels == 9
    torch.testing.assert_close(after, before)


@pytest.mark.django_db
def test_inpaint_mode_turns_a_text_to_image_base_into_a_registered_inpainting_model(
    bases, dataset, tmp_path, caplog
):
    from training.models import DiffusionModel

    out = tmp_path / "from-text2image"
    stdout = io.StringIO()
    with caplog.at_level(logging.WARNING, logger="training.train"):
        call_command(
            "train_model",
            "--data",
            str(dataset),
            "--base",
            str(bases[4]),
            "--out",
            str(out),
            "--mode",
            "inpaint",
            "--resolution",
            str(RESOLUTION),
            "--train-batch-size",
            "4",
            "--max-train-steps",
            "4",
            "--checkpointing-steps",
            "0",
            "--use-8bit-adam",
            "--use-ema",
            "--register",
            "Olpe v2",
            stdout=stdout,
            verbosity=0,
        )

    assert "bitsandbytes" in caplog.text  # no 8-bit Adam here: a warning, then plain AdamW
    assert json.loads((out / "unet" / "config.json").read_text())["in_channels"] == 9
    assert "Trained inpaint" in stdout.getvalue()
    model = DiffusionModel.objects.get(name="Olpe v2")
    assert (model.source, model.kind, model.active) == (str(out.resolve()), "inpaint9", False)
    assert not list_checkpoints(out)


# ------------------------------------------------------------------------------
# Checkpoints
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, extra", [("inpaint", {"use_ema": True}), ("lora", {})])
def test_training_resumes_from_the_latest_checkpoint(bases, dataset, tmp_path, mode, extra):
    out = tmp_path / mode
    common = dict(checkpointing_steps=5, checkpoints_total_limit=2, **extra)
    first = train(config(dataset, bases[9], out, mode, max_train_steps=10, **common), False)
    assert [path.name for path in list_checkpoints(out)] == ["checkpoint-5", "checkpoint-10"]

    resumed = train(
        config(
            dataset,
            bases[9],
            out,
            mode,
            max_train_steps=16,
            resume_from_checkpoint="latest",
            **common,
        ),
        False,
    )

    assert (resumed.first_step, resumed.steps) == (10, 16)
    # The resumed weights (EMA ones with --use-ema, the adapter in LoRA mode) are those saved.
    assert resumed.fixed_loss_start == first.fixed_loss_end
    steps = [record["step"] for record in read_log(out) if "loss" in record]
    assert steps == list(range(1, 17))
    assert [path.name for path in list_checkpoints(out)] == ["checkpoint-15", "checkpoint-16"]
    if mode == "lora":  # a LoRA checkpoint holds the adapter, not another UNet
        assert (out / "checkpoint-15" / "pytorch_lora_weights.safetensors").is_file()
        assert not (out / "checkpoint-15" / "model.safetensors").exists()


def test_resuming_from_a_folder_that_is_no_checkpoint_fails_clearly(bases, dataset, tmp_path):
    with pytest.raises(CommandError, match="not a checkpoint-N folder"):
        call_command(
            "train_model",
            "--data",
            str(dataset),
            "--base",
            str(bases[9]),
            "--out",
            str(tmp_path / "out"),
            "--resolution",
            str(RESOLUTION),
            "--resume-from-checkpoint",
            str(tmp_path),
            verbosity=0,
        )


# ------------------------------------------------------------------------------
# The engine loads what training wrote
# ------------------------------------------------------------------------------


@pytest.fixture
def own_model(settings, reset_engines):
    settings.OLPE_ALLOW_TINY_MODEL = True
    settings.OLPE_MODEL_RESOLUTION = RESOLUTION
    settings.OLPE_LORA_STYLES = {}

    def use(path):
        settings.OLPE_MODEL = str(path)
        reset_engines.reset()

    return use


def painted_demo():
    demo = make_demo_map(width=256, height=192, seed=4)
    mask = np.zeros((192, 256), np.float32)
    mask[70:130, 90:170] = 1.0
    return demo, mask


@pytest.mark.parametrize("mode", ["text2image", "inpaint"])
def test_a_trained_model_inpaints_in_the_diffusers_engine(trained, own_model, mode):
    from inpainting_core.generation import GenerationSettings
    from inpainting_core.pipeline import generate

    own_model(trained(mode).out)
    demo, mask = painted_demo()

    result = generate(demo, mask, "Ein See", GenerationSettings(engine="diffusers", steps=3, seed=1))

    before, after = np.asarray(demo, np.int16), np.asarray(result.image, np.int16)
    assert result.image.size == demo.size
    assert np.abs(after - before)[mask > 0].mean() > 5
    assert np.array_equal(after[:, :40], before[:, :40])


def test_a_trained_lora_is_a_style_of_the_engine(trained, own_model, bases, settings):
    from inpainting_core.engines import get_engine
    from inpainting_core.engines.base import EngineRequest

    own_model(bases[9])
    demo, mask = painted_demo()

    def paint():
        request = EngineRequest(
            image=demo.resize((RESOLUTION, RESOLUTION)),
            mask=Image.fromarray((mask * 255).astype(np.uint8)).resize((RESOLUTION, RESOLUTION)),
            prompt="a medieval town",
            style="medieval",
            steps=3,
            seed=2,
        )
        return np.asarray(get_engine("diffusers").inpaint(request).image, np.int16)

    without = paint()
    settings.OLPE_LORA_STYLES = {"medieval": str(trained("lora").out)}
    styled = paint()

    assert get_engine("diffusers").load().get_active_adapters() == ["medieval"]
    assert not np.array_equal(styled, without)


# ------------------------------------------------------------------------------
# Datasets
# ------------------------------------------------------------------------------


def test_a_broken_dataset_fails_before_training_with_every_problem_listed(bases, tmp_path):
    data = write_dataset(tmp_path / "broken", count=4)
    (data / "data" / "crop1.png").unlink()
    (data / "data" / "crop2.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    Image.new("RGB", (32, 48)).save(data / "data" / "small.png")
    write_metadata(
        data,
        ["file_name", "text"],
        [
            ("data/crop0.png", "a lake"),
            ("data/crop1.png", "a forest"),
            ("data/crop2.png", "a town"),
            ("data/crop3.png", "   "),
            ("data/small.png", "a field"),
            ("../outside.png", "escape"),
        ],
    )

    with pytest.raises(CommandError) as failure:
        call_command(
            "train_model",
            "--data",
            str(data),
            "--base",
            str(bases[9]),
            "--out",
            str(tmp_path / "out"),
            "--resolution",
            str(RESOLUTION),
            verbosity=0,
        )

    message = str(failure.value)
    assert "5 problems" in message
    for expected in (
        "row 3: the picture data/crop1.png is missing",
        "data/crop2.png is not a readable picture",
        "row 5: the caption of data/crop3.png is empty",
        "data/small.png is 32×48 pixels, smaller than the training resolution 64",
        "row 7: ../outside.png lies outside the dataset",
    ):
        assert expected in message
    assert not (tmp_path / "out").exists()  # nothing was loaded or written


def test_metadata_with_other_columns_is_named_with_the_columns_it_has(tmp_path):
    data = write_dataset(tmp_path / "columns", count=2)
    write_metadata(data, ["file", "caption"], [("data/crop0.png", "a lake")])

    with pytest.raises(datasets.DatasetProblem) as failure:
        datasets.load_captioned_images(str(data), RESOLUTION)

    assert failure.value.problems == [
        "metadata.csv lacks the column(s) file_name, text (it has: file, caption)."
    ]


def test_pictures_without_metadata_or_captions_are_one_problem(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index in range(3):
        Image.new("RGB", (RESOLUTION, RESOLUTION)).save(folder / f"{index}.png")

    with pytest.raises(datasets.DatasetProblem) as failure:
        datasets.load_captioned_images(str(folder), RESOLUTION)

    assert len(failure.value.problems) == 1
    assert "no metadata.csv" in failure.value.problems[0]


def test_a_folder_with_caption_files_is_a_dataset_too(tmp_path):
    folder = tmp_path / "captioned"
    folder.mkdir()
    for index, caption in enumerate(["a lake", "a castle on a hill"]):
        Image.new("RGB", (80, RESOLUTION), (index * 100, 90, 40)).save(folder / f"{index}.jpg")
        (folder / f"{index}.txt").write_text(f"  {caption}\n", "utf-8")

    images = datasets.load_captioned_images(str(folder), RESOLUTION)

    assert [images.caption(index) for index in range(len(images))] == [
        "a lake",
        "a castle on a hill",
    ]
    pixels = datasets.training_pixels(
        images.image(1), RESOLUTION, center_crop=True, random_flip=False
    )
    assert pixels.shape == (3, RESOLUTION, RESOLUTION)
    assert -1.0 <= pixels.min() and pixels.max() <= 1.0


def test_a_hub_dataset_offline_or_without_the_datasets_package_fails_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")

    with pytest.raises(datasets.DatasetProblem) as failure:
        datasets.load_captioned_images("GP-Alternativweltgeschichten/Satbilder", RESOLUTION)

    problem = failure.value.problems[0]
    assert "pip install datasets" in problem or "could not be loaded" in problem


def test_options_that_cannot_work_are_refused_before_loading(bases, dataset, tmp_path):
    arguments = [
        "train_model",
        "--data",
        str(dataset),
        "--out",
        str(tmp_path / "out"),
        "--resolution",
        str(RESOLUTION),
    ]
    with pytest.raises(CommandError, match="fp16 needs a CUDA GPU"):
        call_command(*arguments, "--base", str(bases[9]), "--mixed-precision", "fp16", verbosity=0)
    with pytest.raises(CommandError, match="--use-ema is for full fine-tuning"):
        call_command(
            *arguments, "--base", str(bases[9]), "--mode", "lora", "--use-ema", verbosity=0
        )
    with pytest.raises(CommandError, match="needs a 4-channel UNet"):
        call_command(*arguments, "--base", str(bases[9]), "--mode", "text2image", verbosity=0)


# ------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_evaluation_compares_models_and_a_lora_in_a_grid_and_a_report(
    trained, bases, settings, reset_engines, tmp_path
):
    from training.evaluate import CELL, DEFAULT_CASES
    from training.models import DiffusionModel, StyleAdapter

    settings.OLPE_ALLOW_TINY_MODEL = True
    inpaint, lora = trained("inpaint"), trained("lora")
    registered = DiffusionModel.objects.create(name="trained", source=str(inpaint.out))
    adapter = StyleAdapter.objects.create(style="medieval", source=str(lora.out))
    out = tmp_path / "evaluation"
    stdout = io.StringIO()

    call_command(
        "evaluate_model",
        "--model",
        str(bases[9]),
        "--model",
        str(inpaint.out),
        "--lora",
        f"medieval={lora.out}",
        "--engine-steps",
        "2",
        "--resolution",
        str(RESOLUTION),
        "--clip-model",
        str(tmp_path / "no-clip-here"),
        "--out",
        str(out),
        "--save-to-registry",
        stdout=stdout,
    )

    report = json.loads((out / "evaluation.json").read_text())
    titles = [column["title"] for column in report["columns"]]
    assert titles == [
        "unet9",
        "unet9 · medieval",
        "unet9 · medieval + LoRA",
        inpaint.out.name,
        f"{inpaint.out.name} · medieval",
        f"{inpaint.out.name} · medieval + LoRA",
    ]
    assert len(report["results"]) == len(DEFAULT_CASES) * len(titles)
    assert all(result["unchanged_outside"] == 1.0 for result in report["results"])
    assert all(result["mean_change_inside"] > 0 for result in report["results"])
    assert all(result["clip_score"] is None for result in report["results"])
    assert "no scoring model available" in report["scoring"]["note"]
    with Image.open(out / "evaluation_grid.png") as grid:
        assert grid.width > (2 + len(titles)) * CELL and grid.height > len(DEFAULT_CASES) * CELL
    markdown = (out / "evaluation.md").read_text()
    assert "no scoring model available" in markdown and "unet9 · medieval + LoRA" in markdown
    registered.refresh_from_db()
    adapter.refresh_from_db()
    assert registered.evaluation_grid and adapter.evaluation_grid
    assert "Attached the grid to 2 registry entries" in stdout.getvalue()


def test_evaluation_scores_with_a_local_clip_model(bases, settings, reset_engines, tmp_path):
    """A random-weight CLIP saved locally stands in for a real one: the score is computed."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    from training.evaluate import DEFAULT_CASES, evaluate

    clip = tmp_path / "clip"
    shutil.copytree(bases[9] / "tokenizer", clip)
    tokenizer = CLIPTokenizer.from_pretrained(clip)
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "eos_token_id": tokenizer.eos_token_id,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(clip)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(clip)
    settings.OLPE_ALLOW_TINY_MODEL = True

    report = evaluate(
        [str(bases[9])],
        tmp_path / "out",
        engine_steps=1,
        resolution=RESOLUTION,
        clip_model=str(clip),
        cases=DEFAULT_CASES[:1],
    )

    assert report.clip_model == str(clip)
    assert 0.0 <= report.results[0].clip_score <= 100.0


def test_evaluating_a_model_the_engine_refuses_names_the_reason(bases, settings, tmp_path):
    settings.OLPE_ALLOW_TINY_MODEL = False
    with pytest.raises(CommandError, match="miniature test model"):
        call_command(
            "evaluate_model",
            "--model",
            str(bases[9]),
            "--out",
            str(tmp_path),
            "--engine-steps",
            "1",
            "--resolution",
            str(RESOLUTION),
        )
