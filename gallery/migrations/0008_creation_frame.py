"""The change's frame kept with every creation (inpainting_core/framing.py).

A new creation takes its job's frame; this fills it for the creations made
before: the job's frame where the job is still there, else found from the
creation's own before and after pictures (and the job's mask, if it is kept).
A creation whose pictures cannot be read keeps none and is shown whole.
"""

import logging

from django.db import migrations, models

from inpainting_core import framing
from inpainting_core.imaging import ImageProblem

logger = logging.getLogger(__name__)


def fill_frames(apps, schema_editor):
    Creation = apps.get_model("gallery", "Creation")
    database = schema_editor.connection.alias
    unframed = (
        Creation.objects.using(database).filter(frame__isnull=True).select_related("job")
    )
    for creation in unframed.iterator(chunk_size=100):
        frame = framing.Frame.from_dict(creation.job.frame) if creation.job else None
        if frame is None:
            frame = _found(creation)
        if frame is not None:
            Creation.objects.using(database).filter(pk=creation.pk).update(frame=frame.as_dict())


def _found(creation):
    mask_field = creation.job.mask_image if creation.job else None
    try:
        with creation.before_image.open("rb") as before, \
                creation.after_image.open("rb") as after:
            mask = _open_or_none(mask_field)
            try:
                return framing.frame_from_pictures(before, after, mask)
            finally:
                if mask is not None:
                    mask.close()
    except (OSError, ImageProblem, ValueError) as error:
        logger.warning("Creation %s keeps no frame: %s", creation.pk, error)
        return None


def _open_or_none(field_file):
    """The job's mask if it is still stored; a creation is framed without it otherwise."""
    if not field_file:
        return None
    try:
        return field_file.open("rb")
    except OSError:
        return None


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0007_shared_facts_to_museum"),
        ("inpainting", "0006_job_frame"),
    ]

    operations = [
        migrations.AddField(
            model_name="creation",
            name="frame",
            field=models.JSONField(
                blank=True, editable=False, null=True, verbose_name="frame of the change"
            ),
        ),
        migrations.RunPython(fill_frames, migrations.RunPython.noop, elidable=True),
    ]
