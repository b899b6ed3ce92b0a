"""The regions of the maps a visitor paints on, for the select tool (one tap, one field).

A World's regions are made once per map by the museum's worker task
(`museum.tasks.segment_world`) and served here from `World.segmentation`. A
result that a visitor keeps painting on is a new map: its regions are made on
demand, on a worker, the first time the kiosk asks (`segment_result`), and kept
beside the job's result (`…/result-<attempt>.regions.png`, so the job's folder
and the clean-up of lost attempts take them along). On demand rather than
after every job: most results go to the gallery or are left, and a worker
should not spend a second or two per job on regions nobody taps.
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile

from inpainting.models import InpaintJob
from museum.tasks import queue_once, regions_png

log = logging.getLogger(__name__)

SEGMENT_RESULT_TASK = "kiosk.regions.segment_result"


def result_regions_name(job: InpaintJob) -> str:
    name = job.result_image.name
    return (name.removesuffix(".png")) + ".regions.png"


def result_regions_ready(job: InpaintJob) -> bool:
    return job.result_image.storage.exists(result_regions_name(job))


def request_result_regions(job: InpaintJob) -> None:
    """Queue the result's regions on a worker, once while a request is pending."""
    queue_once(f"kiosk:regions:{job.pk}:{job.result_image.name}", SEGMENT_RESULT_TASK,
               str(job.pk), task_name=f"regions of job {job.pk}")


def segment_result(job_id: str) -> bool:
    """Cut a finished job's result into regions; returns whether a label picture was stored."""
    job = InpaintJob.objects.filter(pk=job_id).first()
    if job is None or job.status != InpaintJob.Status.SUCCEEDED or not job.result_image:
        return False
    storage = job.result_image.storage
    name = result_regions_name(job)
    if storage.exists(name):
        return False
    png = regions_png(job.result_image, f"the result of job {job_id}")
    if png is None:
        return False
    stored = storage.save(name, ContentFile(png))
    if stored != name:  # another worker was quicker: keep its file
        storage.delete(stored)
    return True
