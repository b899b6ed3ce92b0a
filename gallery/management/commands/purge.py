"""`manage.py purge --older-than 30d [--dry-run]`: forget visitors' pictures after a while.

Visitors paint on a public kiosk; what they made should not be kept longer
than needed. For everything older than the age:

* finished jobs lose their pictures (map, mask, result, preview) and the
  visitor's IP address, unless the job became an approved creation: those
  keep everything. The job rows stay, for statistics of what was wished.
  A job that painted on a World's map or an earlier result by reference loses
  the reference (the World's map is not the job's to delete; a World no job
  refers to may be deleted). A job whose result a kept job still paints on
  keeps its pictures until that job goes too;
* rejected creations are deleted with their pictures (they were never public);
* blocked attempts are deleted (they hold IP addresses and kiosk sessions).

Pending creations are kept: they have their own copies of the pictures and
wait for a curator. Run it daily, e.g. from cron or a django-q2 schedule.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Exists, OuterRef, Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from gallery.creations import creation_files, delete_stored_file, remove_empty_folder
from gallery.models import Creation
from inpainting.models import InpaintJob
from museum.models import BlockedAttempt

JOB_PICTURES = ("input_image", "mask_image", "result_image", "preview_image")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}
_AGE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
CHUNK = 500


def parse_age(text: str) -> timedelta:
    """'30d', '12h' or '90m' as a timedelta."""
    match = _AGE.match(text or "")
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"“{text}” is not an age such as 30d, 12h or 90m.")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@dataclass
class PurgeReport:
    jobs: int = 0
    job_files: int = 0
    job_bytes: int = 0
    creations: int = 0
    creation_bytes: int = 0
    attempts: int = 0


def purge(cutoff, *, dry_run: bool = False) -> PurgeReport:
    report = PurgeReport()
    purge_jobs(cutoff, report, dry_run)
    purge_rejected_creations(cutoff, report, dry_run)
    attempts = BlockedAttempt.objects.filter(created_at__lt=cutoff)
    report.attempts = attempts.count() if dry_run else attempts.delete()[0]
    return report


JOB_REFERENCES = ("painted_world", "base_job")


def _purgeable(cutoff) -> Q:
    return Q(created_at__lt=cutoff, status__in=InpaintJob.FINISHED) & ~Q(
        creation__status=Creation.Status.APPROVED
    )


def jobs_to_purge(cutoff):
    """Finished jobs before `cutoff` that still hold pictures, references or an address,
    minus approved ones and those whose result a kept job paints on."""
    holds_something = Q(client_ip__isnull=False)
    for field in JOB_PICTURES:
        holds_something |= ~Q(**{field: ""})
    for field in JOB_REFERENCES:
        holds_something |= Q(**{f"{field}__isnull": False})
    still_needed = InpaintJob.objects.filter(base_job=OuterRef("pk")).exclude(_purgeable(cutoff))
    return (
        InpaintJob.objects.filter(_purgeable(cutoff))
        .filter(holds_something)
        .exclude(Exists(still_needed))
        .only("pk", *JOB_PICTURES)
    )


def purge_jobs(cutoff, report: PurgeReport, dry_run: bool) -> None:
    """In chunks by primary key: rows are updated between reads, never under an open cursor."""
    last_pk = None
    while True:
        chunk = jobs_to_purge(cutoff).order_by("pk")
        if last_pk is not None:
            chunk = chunk.filter(pk__gt=last_pk)
        chunk = list(chunk[:CHUNK])
        if not chunk:
            return
        for job in chunk:
            _purge_job_pictures(job, report, dry_run)
        if not dry_run:
            InpaintJob.objects.filter(pk__in=[job.pk for job in chunk]).update(
                client_ip=None, **{field: "" for field in JOB_PICTURES},
                **{field: None for field in JOB_REFERENCES},
            )
        last_pk = chunk[-1].pk


def _purge_job_pictures(job, report: PurgeReport, dry_run: bool) -> None:
    report.jobs += 1
    for field in JOB_PICTURES:
        picture = getattr(job, field)
        if not picture:
            continue
        report.job_files += 1
        if dry_run:
            report.job_bytes += _size_of(picture.storage, picture.name)
        else:
            report.job_bytes += _delete_job_picture(picture)


def _delete_job_picture(picture) -> int:
    storage, name = picture.storage, picture.name
    freed = delete_stored_file(storage, name)
    folder = posixpath.dirname(name)  # jobs/<year>/<month>/<day>/<id>
    while folder and folder != "jobs":
        remove_empty_folder(storage, folder)
        folder = posixpath.dirname(folder)
    return freed


def purge_rejected_creations(cutoff, report: PurgeReport, dry_run: bool) -> None:
    rejected = Creation.objects.filter(status=Creation.Status.REJECTED, created_at__lt=cutoff)
    for creation in list(rejected):
        storage = creation.after_image.storage
        report.creations += 1
        report.creation_bytes += sum(_size_of(storage, name) for name in creation_files(creation))
        if not dry_run:
            creation.delete()  # its post_delete receiver removes the files


def _size_of(storage, name: str) -> int:
    try:
        return storage.size(name)
    except OSError:
        return 0


class Command(BaseCommand):
    help = (
        "Delete visitors' pictures and addresses older than an age, except those of approved "
        "creations; delete old rejected creations and blocked attempts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", default="30d", metavar="AGE",
            help="Age such as 30d, 12h or 90m (default: 30d).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only report what would be removed."
        )

    def handle(self, *args, **options):
        try:
            age = parse_age(options["older_than"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        cutoff = timezone.now() - age
        report = purge(cutoff, dry_run=options["dry_run"])
        verb = "Would remove" if options["dry_run"] else "Removed"
        self.stdout.write(
            f"{verb}, from before {timezone.localtime(cutoff):%Y-%m-%d %H:%M}:\n"
            f"  pictures of {report.jobs} jobs: {report.job_files} files, "
            f"{filesizeformat(report.job_bytes)} ({report.job_bytes} bytes)\n"
            f"  {report.creations} rejected creations: "
            f"{filesizeformat(report.creation_bytes)} ({report.creation_bytes} bytes)\n"
            f"  {report.attempts} blocked attempts"
        )
