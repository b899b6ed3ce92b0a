"""`manage.py export_dataset DIR`: approved creations as a Hugging Face "imagefolder" dataset.

The layout of the prototype's Satbilder dataset, which the own model was
fine-tuned on:

    DIR/metadata.csv      file_name,text
    DIR/data/<slug>.png   the after picture of each approved creation

`datasets.load_dataset("imagefolder", data_dir=DIR)` reads it as is.

`text` is the creation's final prompt: the exact English text the engine was
given ("aerial satellite photo of Olpe, top-down view, a lake, ..."), so a
model fine-tuned on the export learns from the same kind of text it gets when
visitors use it. A creation without one (made before prompts were kept) gets
its translated wish in the plain satellite-photo template instead.

Exporting again brings DIR up to date: pictures are rewritten, pictures of
creations that are no longer approved are removed from DIR/data, and
metadata.csv is replaced in one step. Nothing else in DIR is touched.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from PIL import Image

from gallery.models import Creation
from inpainting_core.styles import STYLES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_FOLDER = "data"
METADATA = "metadata.csv"


def caption(creation: Creation) -> str:
    if creation.prompt_final:
        return creation.prompt_final
    return STYLES["none"].render(creation.prompt_translated or creation.prompt_original)


def png_bytes(picture) -> bytes:
    with picture.open("rb") as source:
        data = source.read()
    if data.startswith(PNG_SIGNATURE):
        return data
    with Image.open(io.BytesIO(data)) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def metadata_csv(rows: list[tuple[str, str]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["file_name", "text"])
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def export(directory: Path) -> int:
    """Write the dataset; returns how many creations it holds."""
    data_folder = directory / DATA_FOLDER
    data_folder.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    approved = Creation.objects.filter(status=Creation.Status.APPROVED).order_by("created_at", "pk")
    for creation in approved.iterator():
        if not creation.after_image:
            continue
        file_name = f"{DATA_FOLDER}/{creation.slug}.png"
        write_atomically(directory / file_name, png_bytes(creation.after_image))
        rows.append((file_name, caption(creation)))
    exported = {Path(file_name).name for file_name, _text in rows}
    for stale in data_folder.glob("*.png"):
        if stale.name not in exported:
            stale.unlink()
    write_atomically(directory / METADATA, metadata_csv(rows))
    return len(rows)


class Command(BaseCommand):
    help = (
        "Write approved creations as a Hugging Face imagefolder dataset "
        "(data/*.png, metadata.csv)."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="Where to write the dataset.")

    def handle(self, *args, **options):
        directory = options["directory"]
        if directory.exists() and not directory.is_dir():
            raise CommandError(f"{directory} exists and is not a directory.")
        try:
            count = export(directory)
        except OSError as error:
            raise CommandError(f"{error.filename or directory}: {error.strerror}") from error
        self.stdout.write(
            self.style.SUCCESS(f"Exported {count} approved creations to {directory}.")
        )
