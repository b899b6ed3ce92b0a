"""Compare models and style adapters on the same wishes, side by side.

Each case is the synthetic demo map, a painted region, a German wish and a
seed; every column paints every case through the same path visitors' jobs
take (`inpainting_core.pipeline.generate` with the diffusers engine). The result
is a grid a curator can judge at a glance (rows: cases; columns: the map, the
painted region, then one result per model or adapter), and a report with the
time per picture and a few numbers:

* `unchanged_outside`: the share of pixels away from the painted region
  that kept their exact bytes (should be 1.0: the compositing guarantee);
* `mean_change_inside`: how much the painted region changed (0–255); a
  model that paints almost nothing scores near 0;
* `clip_score`: agreement of the repainted region with the prompt (100 ×
  cosine similarity, as in the CLIP score metric), only when a CLIP model is
  present on this computer; otherwise the report says that no scoring model
  was available.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from django.conf import settings
from django.test.utils import override_settings
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from PIL import Image, ImageDraw, ImageFont

from inpainting_core import engines, landcover, masks
from inpainting_core.engines.base import EngineError
from inpainting_core.generation import GenerationSettings
from inpainting_core.pipeline import generate
from tooling.demo import make_demo_map, make_demo_mask_example

logger = logging.getLogger(__name__)

MAP_SIZE = (768, 512)
MAP_SEED = 57462
CELL = 256
LABEL_WIDTH = 170
HEADER_HEIGHT = 44
PADDING = 4
FONT_SIZE = 13
OVERLAY_RGB = (230, 40, 40)
OVERLAY_ALPHA = 0.45
BACKGROUND = (255, 255, 255)
DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
GRID_FILE = "evaluation_grid.png"
JSON_FILE = "evaluation.json"
MARKDOWN_FILE = "evaluation.md"


class EvaluationProblem(Exception):
    """Why an evaluation cannot run (a model the engine cannot load, an unknown style)."""


@dataclass(frozen=True)
class EvaluationCase:
    name: str
    wish: str
    seed: int
    region: str  # how the mask is drawn, see `case_mask`


DEFAULT_CASES = (
    EvaluationCase("lake", "Ein See", 11, "shore"),
    EvaluationCase("forest", "Wald", 12, "fields"),
    EvaluationCase("castle", "Burg", 13, "forest"),
    EvaluationCase("snow", "Schnee", 14, "town"),
)


@dataclass(frozen=True)
class Column:
    title: str
    model: str
    style: str = "none"
    lora: Optional[str] = None


@dataclass
class CaseResult:
    case: str
    column: str
    seconds: float
    unchanged_outside: float
    mean_change_inside: float
    clip_score: Optional[float]
    prompt: str


@dataclass
class EvaluationReport:
    columns: list[Column]
    cases: list[EvaluationCase]
    results: list[CaseResult]
    engine_steps: int
    resolution: int
    scoring: str
    clip_model: Optional[str]
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    grid: Optional[Path] = None

    def summary(self) -> list[dict]:
        """Per column: mean time and scores over the cases."""
        rows = []
        for column in self.columns:
            mine = [result for result in self.results if result.column == column.title]
            clip = [result.clip_score for result in mine if result.clip_score is not None]
            rows.append(
                {
                    "column": column.title,
                    "seconds_per_image": _mean([result.seconds for result in mine]),
                    "unchanged_outside": _mean([result.unchanged_outside for result in mine]),
                    "mean_change_inside": _mean([result.mean_change_inside for result in mine]),
                    "clip_score": _mean(clip) if clip else None,
                }
            )
        return rows

    def as_json(self) -> dict:
        return {
            "created": self.created,
            "map": {"width": MAP_SIZE[0], "height": MAP_SIZE[1], "seed": MAP_SEED},
            "engine_steps": self.engine_steps,
            "resolution": self.resolution,
            "scoring": {"clip_model": self.clip_model, "note": self.scoring},
            "columns": [asdict(column) for column in self.columns],
            "cases": [asdict(case) for case in self.cases],
            "results": [asdict(result) for result in self.results],
            "summary": self.summary(),
        }

    def as_markdown(self) -> str:
        lines = [
            "# " + _("Model evaluation"),
            "",
            _("%(cases)d cases, %(steps)d engine steps, resolution %(resolution)d, %(created)s.")
            % {
                "cases": len(self.cases),
                "steps": self.engine_steps,
                "resolution": self.resolution,
                "created": self.created,
            },
            "",
            _("Scoring") + f": {self.scoring}",
            "",
            "| "
            + " | ".join(
                [
                    _("Column"),
                    _("s/image"),
                    _("unchanged outside"),
                    _("change inside"),
                    _("CLIP score"),
                ]
            )
            + " |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in self.summary():
            clip = "–" if row["clip_score"] is None else f"{row['clip_score']:.1f}"
            lines.append(
                f"| {row['column']} | {row['seconds_per_image']:.2f} | "
                f"{row['unchanged_outside']:.4f} | {row['mean_change_inside']:.1f} | {clip} |"
            )
        lines += [
            "",
            "## " + _("Per case"),
            "",
            "| "
            + " | ".join(
                [_("Case"), _("Column"), pgettext("seconds", "s"), _("change inside"),
                 _("CLIP score"), _("Prompt")]
            )
            + " |",
            "|---|---|---:|---:|---:|---|",
        ]
        for result in self.results:
            clip = "–" if result.clip_score is None else f"{result.clip_score:.1f}"
            prompt = result.prompt.replace("|", "/")
            lines.append(
                f"| {result.case} | {result.column} | {result.seconds:.2f} | "
                f"{result.mean_change_inside:.1f} | {clip} | {prompt} |"
            )
        if self.grid is not None:
            lines += ["", "![" + _("Evaluation grid") + f"]({self.grid.name})"]
        return "\n".join(lines) + "\n"


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


# ------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------


def demo_map() -> tuple[Image.Image, np.ndarray]:
    return make_demo_map(*MAP_SIZE, seed=MAP_SEED, return_labels=True)


def case_mask(region: str, labels: np.ndarray) -> np.ndarray:
    """A painted region (float32 H×W, 1 = repaint) placed on the demo map's land covers."""
    height, width = labels.shape
    if region == "shore":
        return masks.normalise_mask(
            make_demo_mask_example(width, height, seed=MAP_SEED, stroke=36)
        )
    canvas = np.zeros((height, width), np.uint8)
    centre = _centre_of(
        labels,
        {"fields": landcover.FIELD, "forest": landcover.FOREST, "town": landcover.BUILDINGS}[
            region
        ],
    )
    unit = min(width, height)
    if region == "fields":
        cv2.ellipse(canvas, centre, (unit // 7, unit // 10), 20, 0, 360, 255, -1)
    elif region == "forest":
        cv2.rectangle(
            canvas,
            (centre[0] - unit // 10, centre[1] - unit // 10),
            (centre[0] + unit // 10, centre[1] + unit // 10),
            255,
            -1,
        )
    else:  # brush strokes across the town, as a visitor paints
        points = np.array(
            [
                (centre[0] - unit // 6, centre[1] - unit // 12),
                centre,
                (centre[0] + unit // 6, centre[1] + unit // 14),
            ],
            np.int32,
        )
        cv2.polylines(canvas, [points], False, 255, unit // 14, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0


def _centre_of(labels: np.ndarray, cover: str) -> tuple[int, int]:
    """The pixel of that land cover nearest to its centroid (a centroid may lie outside it)."""
    from tooling.demo import LABELS

    ys, xs = np.nonzero(labels == LABELS.index(cover))
    if len(xs) == 0:
        return labels.shape[1] // 2, labels.shape[0] // 2
    nearest = np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2)
    return int(xs[nearest]), int(ys[nearest])


# ------------------------------------------------------------------------------
# Columns
# ------------------------------------------------------------------------------


def build_columns(models: list[str], loras: list[tuple[str, str]]) -> list[Column]:
    """One column per model, and per LoRA two more: the style's prompt alone, then with its LoRA.

    The prompt-only column shows what the LoRA adds beyond the style's words.
    """
    columns = []
    for model in models:
        name = _short_name(model, models)
        columns.append(Column(name, model))
        for style, lora in loras:
            columns.append(Column(f"{name} · {style}", model, style))
            columns.append(Column(f"{name} · {style} + LoRA", model, style, lora))
    return columns


def _short_name(source: str, all_sources: list[str]) -> str:
    """The last path part, or the whole source when two models would share it."""
    name = Path(source.rstrip("/")).name or source
    names = [Path(other.rstrip("/")).name for other in all_sources]
    return name if names.count(name) == 1 else source


# ------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------


def evaluate(
    models: list[str],
    out: Path,
    loras: Optional[list[tuple[str, str]]] = None,
    engine_steps: Optional[int] = None,
    resolution: Optional[int] = None,
    clip_model: Optional[str] = DEFAULT_CLIP_MODEL,
    cases: tuple[EvaluationCase, ...] = DEFAULT_CASES,
) -> EvaluationReport:
    """Paint every case with every column; write the grid, JSON and Markdown into `out`."""
    from inpainting_core.styles import STYLES

    loras = list(loras or [])
    unknown = [style for style, _path in loras if style not in STYLES]
    if unknown:
        raise EvaluationProblem(
            _("Unknown style(s) %(styles)s; styles are %(choices)s.")
            % {"styles": ", ".join(unknown), "choices": ", ".join(STYLES)}
        )
    engine_steps = int(engine_steps or settings.OLPE_STEPS)
    resolution = int(resolution or settings.OLPE_MODEL_RESOLUTION)
    columns = build_columns(list(models), loras)
    picture, labels = demo_map()
    masks = {case.name: case_mask(case.region, labels) for case in cases}
    scorer, scoring = ClipScorer.load(clip_model)
    results, pictures = [], {}
    for model in models:
        mine = [column for column in columns if column.model == model]
        for column, case, result, seconds in _paint_with_model(
            model, mine, cases, picture, masks, engine_steps, resolution
        ):
            pictures[(case.name, column.title)] = result.image
            results.append(
                _measure(case, column, picture, masks[case.name], result, seconds, scorer)
            )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = EvaluationReport(
        columns,
        list(cases),
        results,
        engine_steps,
        resolution,
        scoring,
        clip_model if scorer else None,
    )
    report.grid = out / GRID_FILE
    comparison_grid(picture, masks, cases, columns, pictures).save(report.grid)
    (out / JSON_FILE).write_text(
        json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n", "utf-8"
    )
    (out / MARKDOWN_FILE).write_text(report.as_markdown(), "utf-8")
    return report


def _paint_with_model(model, columns, cases, picture, masks, engine_steps, resolution):
    """Yield (column, case, GenerationResult, seconds); the model is loaded once, untimed.

    The engine reads its model and adapters from settings; these are pinned
    for the evaluation (and the curators' registry is bypassed), so the
    columns show exactly the models named on the command line.
    """
    pinned = {
        "OLPE_MODEL": model,
        "OLPE_MODEL_RESOLUTION": resolution,
        "OLPE_LORA_STYLES": {},
        "OLPE_MODEL_REGISTRY": False,
    }
    with override_settings(**pinned):
        engines.reset()
        try:
            engine = engines.get_engine(engines.OWN_MODEL)
            status = engine.status()
            if not status.usable:
                raise EvaluationProblem(
                    _("The model %(model)s cannot be used: %(reason)s")
                    % {"model": model, "reason": status.reason}
                )
            engine.load()
            for column in columns:
                styles = {column.style: column.lora} if column.lora else {}
                with override_settings(OLPE_LORA_STYLES=styles):
                    for case in cases:
                        yield column, case, *_paint(case, column, picture, masks, engine_steps)
        except EngineError as error:
            raise EvaluationProblem(
                _("The model %(model)s failed: %(reason)s")
                % {"model": model, "reason": error.message}
            ) from error
        finally:
            engines.reset()


def _paint(case, column, picture, masks, engine_steps):
    options = GenerationSettings(
        engine=engines.OWN_MODEL, style=column.style, steps=engine_steps, seed=case.seed
    )
    started = time.perf_counter()
    result = generate(picture, masks[case.name], case.wish, options)
    return result, time.perf_counter() - started


def _measure(case, column, before, mask, result, seconds, scorer) -> CaseResult:
    before_pixels = np.asarray(before, dtype=np.int16)
    after_pixels = np.asarray(result.image, dtype=np.int16)
    far = _far_from_paint(mask, int(settings.OLPE_FEATHER_PX))
    inside = mask >= masks.PAINTED
    unchanged = np.all(before_pixels == after_pixels, axis=-1)
    return CaseResult(
        case=case.name,
        column=column.title,
        seconds=round(seconds, 4),
        unchanged_outside=float(unchanged[far].mean()) if far.any() else 1.0,
        mean_change_inside=float(np.abs(after_pixels - before_pixels)[inside].mean()),
        clip_score=scorer.score(result.image.crop(masks.mask_bbox(mask)), result.prompt.final)
        if scorer
        else None,
        prompt=result.prompt.final,
    )


def _far_from_paint(mask: np.ndarray, feather: int) -> np.ndarray:
    """Pixels that compositing must leave exactly as they were (unpainted, beyond the feather)."""
    unpainted = np.ascontiguousarray(mask < masks.PAINTED).view(np.uint8)
    distance = cv2.distanceTransform(unpainted, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (distance > feather + 1) & (mask == 0)


# ------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------


class ClipScorer:
    """CLIP score of a picture against its prompt, from a CLIP model on this computer only."""

    def __init__(self, model, processor):
        self.model = model
        self.processor = processor

    @classmethod
    def load(cls, source: Optional[str]) -> tuple[Optional["ClipScorer"], str]:
        """(scorer, note); never downloads: an evaluation must not depend on the network."""
        if not source:
            return None, _("no scoring model requested")
        try:
            from transformers import CLIPModel, CLIPProcessor

            model = CLIPModel.from_pretrained(source, local_files_only=True)
            processor = CLIPProcessor.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError, ImportError) as error:
            logger.info("No CLIP model for scoring: %s", error)
            return None, _(
                "no scoring model available (the CLIP model %(model)s is not on this computer)"
            ) % {"model": source}
        model.eval()
        return cls(model, processor), _("CLIP score with %(model)s") % {"model": source}

    def score(self, picture: Image.Image, prompt: str) -> float:
        import torch

        inputs = self.processor(
            text=[prompt],
            images=[picture.convert("RGB")],
            return_tensors="pt",
            padding=True,
            truncation=True,
        )
        with torch.no_grad():
            output = self.model(**inputs)
        image = torch.nn.functional.normalize(output.image_embeds, dim=-1)
        text = torch.nn.functional.normalize(output.text_embeds, dim=-1)
        return round(max(100.0 * float((image * text).sum()), 0.0), 3)


# ------------------------------------------------------------------------------
# The grid
# ------------------------------------------------------------------------------


def comparison_grid(picture, masks, cases, columns, pictures) -> Image.Image:
    """Rows: cases; columns: before, painted region, then each column's result, all zoomed alike."""
    titles = [_("before"), _("painted region")] + [column.title for column in columns]
    width = LABEL_WIDTH + len(titles) * (CELL + PADDING) + PADDING
    height = HEADER_HEIGHT + len(cases) * (CELL + PADDING) + PADDING
    grid = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default(size=FONT_SIZE)
    for index, title in enumerate(titles):
        _write(draw, font, title, (LABEL_WIDTH + PADDING + index * (CELL + PADDING), PADDING), CELL)
    for row, case in enumerate(cases):
        top = HEADER_HEIGHT + row * (CELL + PADDING)
        _write(
            draw,
            font,
            f"{case.name}: “{case.wish}” (seed {case.seed})",
            (PADDING, top),
            LABEL_WIDTH - 2 * PADDING,
        )
        mask = masks[case.name]
        box = zoom_box(mask)
        cells = [picture, mask_overlay(picture, mask)] + [
            pictures[(case.name, column.title)] for column in columns
        ]
        for index, cell in enumerate(cells):
            left = LABEL_WIDTH + PADDING + index * (CELL + PADDING)
            grid.paste(cell.crop(box).resize((CELL, CELL), Image.Resampling.LANCZOS), (left, top))
    return grid


def zoom_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """A square around the painted region with some of its surroundings, inside the map."""
    x0, y0, x1, y1 = masks.mask_bbox(mask)
    height, width = mask.shape
    side = min(int(max(x1 - x0, y1 - y0) * 1.5) + 16, width, height)
    left = int(np.clip((x0 + x1) // 2 - side // 2, 0, width - side))
    top = int(np.clip((y0 + y1) // 2 - side // 2, 0, height - side))
    return left, top, left + side, top + side


def mask_overlay(picture: Image.Image, mask: np.ndarray) -> Image.Image:
    pixels = np.asarray(picture.convert("RGB"), dtype=np.float32)
    alpha = (mask * OVERLAY_ALPHA)[..., np.newaxis]
    tinted = pixels * (1 - alpha) + np.float32(OVERLAY_RGB) * alpha
    return Image.fromarray(np.clip(tinted, 0, 255).astype(np.uint8))


def _write(draw, font, text: str, origin: tuple[int, int], width: int) -> None:
    """Text wrapped into `width` pixels (at most three lines, the rest cut)."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    lines.append(line)
    if len(lines) > 3:
        lines = lines[:2] + [lines[2] + " …"]
    draw.multiline_text(origin, "\n".join(lines), fill=(0, 0, 0), font=font, spacing=2)


# ------------------------------------------------------------------------------
# A validation picture during training
# ------------------------------------------------------------------------------


def validation_picture(
    parts, unet, prompt: str, resolution: int, seed: int = 0, steps: int = 25
) -> Image.Image:
    """The model being trained repaints the middle of the demo map: before | after.

    Built from the training's own components, so nothing is saved or loaded.
    """
    import torch
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionInpaintPipeline

    pipeline = StableDiffusionInpaintPipeline(
        vae=parts.vae,
        text_encoder=parts.text_encoder,
        tokenizer=parts.tokenizer,
        unet=unet,
        scheduler=DPMSolverMultistepScheduler.from_config(parts.noise_scheduler.config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.set_progress_bar_config(disable=True)
    picture, labels = demo_map()
    mask = case_mask("fields", labels)
    box = zoom_box(mask)
    before = picture.crop(box).resize((resolution, resolution), Image.Resampling.LANCZOS)
    mask_picture = (
        Image.fromarray((mask * 255).astype(np.uint8)).crop(box).resize((resolution, resolution))
    )
    was_training = unet.training
    unet.eval()
    try:
        with torch.no_grad():
            after = pipeline(
                prompt=prompt,
                image=before,
                mask_image=mask_picture,
                height=resolution,
                width=resolution,
                num_inference_steps=steps,
                generator=torch.Generator(device=unet.device).manual_seed(seed),
            ).images[0]
    finally:
        unet.train(was_training)
    side_by_side = Image.new("RGB", (2 * resolution, resolution))
    side_by_side.paste(before, (0, 0))
    side_by_side.paste(after, (resolution, 0))
    return side_by_side
