"""The change's frame kept with every succeeded job (inpainting_core/framing.py).

Workers store it with each new result; this fills it for the results made
before, from the map the job painted on, its result and its mask. A job whose
pictures are gone (purged, lost) keeps none, and is shown whole.
"""

import logging

from django.db import migrations, models

from inpainting_core import framing
from inpainting_core.imaging import ImageProblem

logger = logging.getLogger(__name__)


def _map_of(job):
    """The picture the job painted on: its upload, its base job's result, or its World's map."""
    if job.input_image:
        return job.input_image
    if job.base_job_id is not None:
        return job.base_job.result_image
    if job.painted_world_id is not None:
        return job.painted_world.image
    return None


def _open_or_none(field_file):
    """The mask if it is still stored; the frame is found without it otherwise."""
    if not field_file:
        return None
    try:
        return field_file.open("rb")
    except OSError:
        return None


def fill_frames(apps, schema_editor):
    InpaintJob = apps.get_model("inpainting", "InpaintJob")
    succeeded = (
        InpaintJob.objects.using(schema_editor.connection.alias)
        .filter(status="succeeded", frame__isnull=True)
        .exclude(result_image="")
        .select_related("base_job", "painted_world")
    )
    for job in succeeded.iterator(chunk_size=100):
        source = _map_of(job)
        if not source:
            continue
        try:
            with source.open("rb") as before, job.result_image.open("rb") as after:
                mask = _open_or_none(job.mask_image)
                try:
                    frame = framing.frame_from_pictures(before, after, mask)
                finally:
                    if mask is not None:
                        mask.close()
        except (OSError, ImageProblem, ValueError) as error:
            logger.warning("Job %s keeps no frame: %s", job.pk, error)
            continue
        InpaintJob.objects.using(schema_editor.connection.alias).filter(pk=job.pk).update(
            frame=frame.as_dict()
        )


class Migration(migrations.Migration):

    dependencies = [
        ("inpainting", "0005_job_map_by_reference"),
    ]

    operations = [
        migrations.AddField(
            model_name="inpaintjob",
            name="frame",
            field=models.JSONField(
                blank=True, editable=False, null=True, verbose_name="frame of the change"
            ),
        ),
        migrations.RunPython(fill_frames, migrations.RunPython.noop, elidable=True),
    ]
