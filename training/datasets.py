"""Captioned pictures to train on, checked completely before a GPU hour is spent.

Three sources are understood:

* an *imagefolder* directory, the layout of the prototype's Satbilder dataset
  and of `manage.py export_dataset`: `metadata.csv` (columns `file_name,text`)
  or `metadata.jsonl`, with file names relative to the metadata file;
* a directory of pictures with a caption file beside each (`x.png` + `x.txt`);
* a Hugging Face hub dataset id, read with the `datasets` package.

Every problem found (unreadable or missing pictures, empty captions,
pictures smaller than the training resolution, missing metadata or columns)
is collected, and all of them are reported in one `DatasetProblem`: fixing a
540-picture dataset one error per run would take all afternoon.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from inpainting_core import model_store

METADATA_FILES = ("metadata.csv", "metadata.jsonl")
FILE_COLUMN = "file_name"
DEFAULT_IMAGE_COLUMN = "image"
DEFAULT_CAPTION_COLUMN = "text"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
CAPTION_SUFFIX = ".txt"
# A message lists this many problems; `DatasetProblem.problems` keeps them all.
LISTED_PROBLEMS = 50


class DatasetProblem(Exception):
    """Everything wrong with a dataset, as a list of sentences a curator can act on."""

    def __init__(self, source: str, problems: Sequence[str]):
        self.source = source
        self.problems = list(problems)
        super().__init__(self.describe())

    def describe(self) -> str:
        lines = [
            _("The dataset %(source)s cannot be used for training (%(count)d problems):")
            % {"source": self.source, "count": len(self.problems)}
        ]
        lines += [f"  - {problem}" for problem in self.problems[:LISTED_PROBLEMS]]
        hidden = len(self.problems) - LISTED_PROBLEMS
        if hidden > 0:
            lines.append(_("  … and %(count)d more.") % {"count": hidden})
        return "\n".join(lines)


@dataclass(frozen=True)
class Sample:
    caption: str
    path: Optional[Path] = None  # local pictures
    index: Optional[int] = None  # rows of a hub dataset


class CaptionedImages:
    """A checked, ordered list of pictures with their captions."""

    def __init__(self, source: str, samples: list[Sample], hub_rows=None, image_column=None):
        self.source = source
        self.samples = samples
        self._hub_rows = hub_rows
        self._image_column = image_column

    def __len__(self) -> int:
        return len(self.samples)

    def caption(self, index: int) -> str:
        return self.samples[index].caption

    def image(self, index: int) -> Image.Image:
        sample = self.samples[index]
        if sample.path is not None:
            with Image.open(sample.path) as picture:
                return picture.convert("RGB")
        return self._hub_rows[sample.index][self._image_column].convert("RGB")


# ------------------------------------------------------------------------------
# Loading and checking
# ------------------------------------------------------------------------------


def load_captioned_images(
    source: str,
    resolution: int,
    image_column: str = DEFAULT_IMAGE_COLUMN,
    caption_column: str = DEFAULT_CAPTION_COLUMN,
) -> CaptionedImages:
    """Read and check a dataset; raises DatasetProblem listing every problem found."""
    source = str(source).strip()
    directory = Path(source).expanduser()
    if directory.is_dir():
        return _load_directory(directory, resolution, caption_column)
    if model_store.is_hub_id(source) and not source.startswith("."):
        return _load_hub_dataset(source, resolution, image_column, caption_column)
    raise DatasetProblem(source, [_("%(path)s is not a directory.") % {"path": directory}])


def _load_directory(directory: Path, resolution: int, caption_column: str) -> CaptionedImages:
    metadata_files = sorted(
        path for name in METADATA_FILES for path in directory.rglob(name) if path.is_file()
    )
    if metadata_files:
        samples, problems = _samples_from_metadata(directory, metadata_files, caption_column)
    else:
        samples, problems = _samples_from_caption_files(directory)
    for sample in samples:
        problems += _picture_problems(sample.path, sample.path.relative_to(directory), resolution)
    if not samples and not problems:
        problems.append(_("The dataset holds no pictures."))
    if problems:
        raise DatasetProblem(str(directory), problems)
    return CaptionedImages(str(directory), samples)


def _samples_from_metadata(
    directory: Path, metadata_files: list[Path], caption_column: str
) -> tuple[list[Sample], list[str]]:
    samples: list[Sample] = []
    problems: list[str] = []
    root = directory.resolve()
    for metadata in metadata_files:
        rows, columns, problem = _read_metadata(metadata)
        shown = metadata.relative_to(directory)
        if problem:
            problems.append(problem)
            continue
        missing = [column for column in (FILE_COLUMN, caption_column) if column not in columns]
        if missing:
            problems.append(
                _("%(file)s lacks the column(s) %(missing)s (it has: %(columns)s).")
                % {"file": shown, "missing": ", ".join(missing), "columns": ", ".join(columns)}
            )
            continue
        for line, row in enumerate(rows, start=2):
            sample, problem = _metadata_sample(root, metadata, row, caption_column)
            if problem:
                problems.append(
                    _("%(file)s, row %(row)d: %(problem)s")
                    % {"file": shown, "row": line, "problem": problem}
                )
            if sample:
                samples.append(sample)
    return samples, problems


def _read_metadata(path: Path) -> tuple[list[dict], list[str], Optional[str]]:
    """Rows and column names of metadata.csv or metadata.jsonl, or why it cannot be read."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return [], [], _("%(file)s cannot be read: %(error)s") % {"file": path, "error": error}
    if path.suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        return list(reader), list(reader.fieldnames or []), None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as error:
            return (
                [],
                [],
                _("%(file)s, line %(line)d is not JSON: %(error)s")
                % {
                    "file": path,
                    "line": number,
                    "error": error,
                },
            )
    columns = sorted({key for row in rows if isinstance(row, dict) for key in row})
    return rows, columns, None


def _metadata_sample(
    root: Path, metadata: Path, row: dict, caption_column: str
) -> tuple[Optional[Sample], Optional[str]]:
    file_name = str(row.get(FILE_COLUMN) or "").strip()
    caption = " ".join(str(row.get(caption_column) or "").split())
    if not file_name:
        return None, _("no file name.")
    path = (metadata.parent / file_name).resolve()
    if not path.is_relative_to(root):
        return None, _("%(file)s lies outside the dataset.") % {"file": file_name}
    if not path.is_file():
        return None, _("the picture %(file)s is missing.") % {"file": file_name}
    if not caption:
        return None, _("the caption of %(file)s is empty.") % {"file": file_name}
    return Sample(caption=caption, path=path), None


def _samples_from_caption_files(directory: Path) -> tuple[list[Sample], list[str]]:
    pictures = sorted(
        path
        for path in directory.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    )
    if not any(path.with_suffix(CAPTION_SUFFIX).is_file() for path in pictures):
        return [], [
            _(
                "%(path)s has no metadata.csv (columns file_name,text) and no caption "
                "files (picture.txt beside picture.png)."
            )
            % {"path": directory}
        ]
    samples, problems = [], []
    for picture in pictures:
        shown = picture.relative_to(directory)
        caption_file = picture.with_suffix(CAPTION_SUFFIX)
        caption = _read_caption(caption_file)
        if caption is None:
            problems.append(_("%(file)s has no caption file.") % {"file": shown})
        elif not caption:
            problems.append(_("The caption of %(file)s is empty.") % {"file": shown})
        else:
            samples.append(Sample(caption=caption, path=picture))
    return samples, problems


def _read_caption(path: Path) -> Optional[str]:
    try:
        return " ".join(path.read_text("utf-8-sig").split())
    except (OSError, UnicodeDecodeError):
        return None


def _picture_problems(path: Path, shown, resolution: int) -> list[str]:
    """Decode the whole picture: a truncated file must fail here, not in hour three."""
    try:
        with Image.open(path) as picture:
            picture.load()
            size = picture.size
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as error:
        return [
            _("%(file)s is not a readable picture: %(error)s") % {"file": shown, "error": error}
        ]
    return _size_problems(size, shown, resolution)


def _size_problems(size: tuple[int, int], shown, resolution: int) -> list[str]:
    if min(size) >= resolution:
        return []
    return [
        _(
            "%(file)s is %(width)d×%(height)d pixels, smaller than the training "
            "resolution %(resolution)d."
        )
        % {"file": shown, "width": size[0], "height": size[1], "resolution": resolution}
    ]


def _load_hub_dataset(
    dataset_id: str, resolution: int, image_column: str, caption_column: str
) -> CaptionedImages:
    if importlib.util.find_spec("datasets") is None:
        raise DatasetProblem(
            dataset_id,
            [
                _(
                    "%(source)s is not a local directory, and reading hub datasets needs the "
                    "datasets package: pip install datasets (or download the dataset and "
                    "give its directory)."
                )
                % {"source": dataset_id}
            ],
        )
    from datasets import load_dataset

    try:
        rows = load_dataset(dataset_id, split="train")
    except Exception as error:  # offline, unknown id, gated: all end the same way for the user
        raise DatasetProblem(
            dataset_id,
            [
                _(
                    "The hub dataset %(source)s could not be loaded (offline, unknown, or "
                    "private?): %(error)s"
                )
                % {"source": dataset_id, "error": error}
            ],
        ) from error
    missing = [
        column for column in (image_column, caption_column) if column not in rows.column_names
    ]
    if missing:
        raise DatasetProblem(
            dataset_id,
            [
                _("The dataset lacks the column(s) %(missing)s (it has: %(columns)s).")
                % {"missing": ", ".join(missing), "columns": ", ".join(rows.column_names)}
            ],
        )
    samples, problems = [], []
    for index, row in enumerate(rows):
        shown = _("row %(index)d") % {"index": index}
        caption = " ".join(str(row[caption_column] or "").split())
        picture = row[image_column]
        if not caption:
            problems.append(_("The caption of %(row)s is empty.") % {"row": shown})
        if not isinstance(picture, Image.Image):
            problems.append(_("%(row)s holds no picture.") % {"row": shown})
            continue
        problems += _size_problems(picture.size, shown, resolution)
        if caption:
            samples.append(Sample(caption=caption, index=index))
    if problems:
        raise DatasetProblem(dataset_id, problems)
    return CaptionedImages(dataset_id, samples, hub_rows=rows, image_column=image_column)


# ------------------------------------------------------------------------------
# Training examples
# ------------------------------------------------------------------------------


def training_pixels(
    picture: Image.Image, resolution: int, center_crop: bool, random_flip: bool
) -> np.ndarray:
    """The picture as a CHW float32 array in [-1, 1], as diffusers' training recipes prepare it.

    The short side is scaled to `resolution`, then a square is cut from the
    middle or from a random place; with `random_flip` half the pictures are
    mirrored. Random choices come from torch's generator, which accelerate
    seeds and saves in checkpoints.
    """
    import torch

    scale = resolution / min(picture.size)
    size = (
        max(resolution, round(picture.width * scale)),
        max(resolution, round(picture.height * scale)),
    )
    picture = picture.resize(size, Image.Resampling.BILINEAR)
    if center_crop:
        left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    else:
        left = int(torch.randint(0, size[0] - resolution + 1, ()).item())
        top = int(torch.randint(0, size[1] - resolution + 1, ()).item())
    picture = picture.crop((left, top, left + resolution, top + resolution))
    pixels = np.asarray(picture, dtype=np.float32) / 127.5 - 1.0
    if random_flip and torch.rand(()).item() < 0.5:
        pixels = pixels[:, ::-1]
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


class TrainingExamples:
    """A map-style dataset for torch's DataLoader: pixels and caption tokens per picture."""

    def __init__(
        self,
        images: CaptionedImages,
        tokenizer,
        resolution: int,
        center_crop: bool,
        random_flip: bool,
    ):
        self.images = images
        self.tokenizer = tokenizer
        self.resolution = resolution
        self.center_crop = center_crop
        self.random_flip = random_flip

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        import torch

        pixels = training_pixels(
            self.images.image(index), self.resolution, self.center_crop, self.random_flip
        )
        return {
            "pixel_values": torch.from_numpy(pixels),
            "input_ids": tokenize(self.tokenizer, [self.images.caption(index)])[0],
        }


def tokenize(tokenizer, captions: list[str]):
    return tokenizer(
        captions,
        max_length=tokenizer.model_max_length,
        padding="max_length",
        truncation=True,
        return_tensors="pt",
    ).input_ids
