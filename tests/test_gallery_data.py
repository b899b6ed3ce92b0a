"""Creations from jobs, curators' decisions, purging, the dataset export and the data migrations.

Jobs are made as a worker leaves them (a row with its pictures on disk), so
no worker runs here.
"""

import csv
import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image

from gallery import creations
from gallery.management.commands.purge import parse_age
from gallery.models import Creation
from inpainting.models import InpaintJob
from museum.models import BlockedAttempt, BlockedTerm, SiteSettings, World
from tooling.demo import make_demo_map

pytestmark = pytest.mark.django_db

Status = Creation.Status
JOB_PICTURES = ("input_image", "mask_image", "result_image", "preview_image")


# --- making jobs and creations -------------------------------------------------------------


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_job(
    status=InpaintJob.Status.SUCCEEDED, *, age=timedelta(0), seed=5, **fields
) -> InpaintJob:
    """A job with all four pictures stored, as a worker leaves a finished one."""
    before = make_demo_map(width=96, height=64, seed=seed)
    after = before.copy()
    after.paste((40, 90, 140), (24, 16, 72, 48))  # a "lake"
    values = {
        "engine": "classic",
        "requested_engine": "classic",
        "style": "none",
        "steps": 20,
        "guidance": 6.5,
        "strength": 0.9,
        "seed": 42,
        "prompt_original": "Was wäre, wenn hier ein See wäre?",
        "prompt_translated": "What if there were a lake here?",
        "prompt_final": "aerial satellite photo of Olpe, top-down view, a lake, calm blue water",
        "negative_prompt": "blurry, text",
        "kiosk_session": "kiosk-1",
        "client_ip": "192.0.2.7",
        "created_at": timezone.now() - age,
        **fields,
    }
    job = InpaintJob(status=status, **values)
    job.input_image.save("input.png", ContentFile(png_bytes(before)), save=False)
    job.mask_image.save(
        "mask.png", ContentFile(png_bytes(Image.new("L", before.size, 0))), save=False
    )
    if status == InpaintJob.Status.SUCCEEDED:
        job.result_image.save("result.png", ContentFile(png_bytes(after)), save=False)
        job.preview_image.save("preview.jpg", ContentFile(b"\xff\xd8preview"), save=False)
    job.save()
    return job


def make_world(name="Olpe 1830") -> World:
    world = World(name=name, slug=name.lower().replace(" ", "-"), kind=World.Kind.HISTORIC)
    world.image.save(
        "map.png", ContentFile(png_bytes(make_demo_map(width=64, height=48))), save=False
    )
    world.save()
    return world


def stored(field_file) -> bool:
    return bool(field_file) and default_storage.exists(field_file.name)


@pytest.fixture
def changes():
    """Every `creation_changed` sent, as (slug, action).

    It is sent on commit: tests run their changes inside
    `django_capture_on_commit_callbacks(execute=True)`, which stands for the commit.
    """
    sent = []

    def listener(sender, creation, action, **kwargs):
        sent.append((creation.slug, action))

    creations.creation_changed.connect(listener)
    yield sent
    creations.creation_changed.disconnect(listener)


# --- create_creation -----------------------------------------------------------------------


def test_a_creation_keeps_its_own_copies_of_the_pictures_and_the_prompts():
    job = make_job()
    world = make_world()

    creation = creations.create_creation(job, title="  Der   Olpe-See ", world=world)

    assert creation.status == Status.PENDING and creation.moderated_at is None
    assert creation.world == world and creation.title == "Der Olpe-See"
    assert creation.before_image.name != job.input_image.name
    assert creation.before_image.read() == job.input_image.open("rb").read()
    assert creation.after_image.read() == job.result_image.open("rb").read()
    assert (creation.prompt_original, creation.prompt_translated, creation.prompt_final) == (
        job.prompt_original,
        job.prompt_translated,
        job.prompt_final,
    )
    assert creation.engine == "classic"
    assert creation.generation_settings == {
        "style": "none",
        "steps": 20,
        "guidance": 6.5,
        "strength": 0.9,
        "seed": 42,
        "negative_prompt": "blurry, text",
    }
    # Purging the job's files later leaves the creation whole.
    job.result_image.delete(save=False)
    job.input_image.delete(save=False)
    assert stored(creation.before_image) and stored(creation.after_image)


def test_the_name_is_kept_only_with_consent():
    without = creations.create_creation(make_job(seed=1), visitor_name="Mira", consent=False)
    with_consent = creations.create_creation(make_job(seed=2), visitor_name=" Mira ", consent=True)

    assert (without.visitor_name, without.consent) == ("", False)
    assert (with_consent.visitor_name, with_consent.consent) == ("Mira", True)


def test_a_job_has_one_creation_and_a_second_submission_returns_it():
    job = make_job()
    first = creations.create_creation(job, title="Erster")
    second = creations.create_creation(job, title="Zweiter")

    assert second.pk == first.pk and second.title == "Erster"
    assert Creation.objects.count() == 1


@pytest.mark.parametrize(
    "status",
    [
        InpaintJob.Status.QUEUED,
        InpaintJob.Status.RUNNING,
        InpaintJob.Status.FAILED,
        InpaintJob.Status.CANCELLED,
    ],
)
def test_only_a_succeeded_job_becomes_a_creation(status):
    with pytest.raises(creations.CreationProblem) as problem:
        creations.create_creation(make_job(status))
    assert problem.value.code == "job_not_finished" and str(problem.value.message)
    assert not Creation.objects.exists()


def test_a_job_whose_pictures_are_gone_cannot_become_a_creation():
    job = make_job()
    default_storage.delete(job.result_image.name)

    with pytest.raises(creations.CreationProblem) as problem:
        creations.create_creation(job)
    assert problem.value.code == "pictures_missing"
    assert not Creation.objects.exists()
    assert not default_storage.exists("creations") or not default_storage.listdir("creations")[0]


def test_auto_approve_publishes_at_once_and_tells_the_wall(
    changes, django_capture_on_commit_callbacks
):
    site = SiteSettings.load()
    site.auto_approve = True
    site.save()

    with django_capture_on_commit_callbacks(execute=True):
        creation = creations.create_creation(make_job())

    assert creation.status == Status.APPROVED and creation.moderated_at is not None
    assert changes == [(creation.slug, "approved")]


def test_a_pending_creation_is_not_announced(changes, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        creations.create_creation(make_job())
    assert changes == []


@pytest.mark.parametrize("field", ["title", "visitor_name"])
def test_titles_and_names_pass_the_blocklist(field):
    job = make_job()
    with pytest.raises(creations.CreationProblem) as problem:
        creations.create_creation(job, **{field: "H1tl3r"}, consent=True)
    assert (problem.value.code, problem.value.field) == ("blocked", field)
    assert not Creation.objects.exists()
    attempt = BlockedAttempt.objects.get()
    assert (attempt.matched_term, attempt.kiosk_session, attempt.client_ip) == (
        "hitler",
        "kiosk-1",
        "192.0.2.7",
    )


def test_a_too_long_title_is_refused():
    with pytest.raises(creations.CreationProblem) as problem:
        creations.create_creation(make_job(), title="See" * 41)
    assert (problem.value.code, problem.value.field) == ("too_long", "title")


# --- decisions -----------------------------------------------------------------------------


def test_approve_feature_unfeature_reject_record_who_and_tell_the_wall(
    changes, curator, django_capture_on_commit_callbacks
):
    creation = creations.create_creation(make_job())

    with django_capture_on_commit_callbacks(execute=True):
        creations.approve(creation, curator)
        creations.set_featured(creation, True, curator)
        creations.set_featured(creation, False, curator)
        creations.set_featured(creation, True, curator)
        creations.reject(creation, curator, reason="  Personen erkennbar ")

    creation.refresh_from_db()
    assert creation.status == Status.REJECTED and not creation.featured
    assert creation.rejection_reason == "Personen erkennbar"
    assert creation.moderated_by == curator and creation.moderated_at is not None
    assert [action for _slug, action in changes] == [
        "approved",
        "featured",
        "unfeatured",
        "featured",
        "rejected",
    ]


def test_decisions_that_change_nothing_send_nothing(
    changes, curator, django_capture_on_commit_callbacks
):
    creation = creations.create_creation(make_job())
    with django_capture_on_commit_callbacks(execute=True):
        creations.approve(creation, curator)
        creations.approve(creation, curator)
        creations.set_featured(creation, False, curator)

    assert [action for _slug, action in changes] == ["approved"]


def test_only_approved_creations_can_be_featured(curator):
    creation = creations.create_creation(make_job())
    with pytest.raises(creations.CreationProblem) as problem:
        creations.set_featured(creation, True, curator)
    assert problem.value.code == "not_approved"
    creation.refresh_from_db()
    assert not creation.featured


def test_approving_a_rejected_creation_clears_the_reason(curator):
    creation = creations.create_creation(make_job())
    creations.reject(creation, curator, reason="unscharf")
    creations.approve(creation, curator)
    creation.refresh_from_db()
    assert (creation.status, creation.rejection_reason) == (Status.APPROVED, "")


def test_deleting_a_creation_removes_its_files_and_tells_the_wall(
    changes, curator, django_capture_on_commit_callbacks
):
    creation = creations.create_creation(make_job())
    creations.approve(creation, curator)
    folder = creations.creation_folder(creation)
    default_storage.save(f"{folder}/thumb.jpg", ContentFile(b"thumbnail"))
    names = creations.creation_files(creation)
    assert len(names) == 3

    with django_capture_on_commit_callbacks(execute=True):
        creation.delete()

    assert not any(default_storage.exists(name) for name in names)
    assert not os.path.exists(default_storage.path(folder))
    assert changes[-1] == (creation.slug, "deleted")


# --- purge ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        (" 7 d ", timedelta(days=7)),
    ],
)
def test_ages_are_parsed(text, expected):
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["30", "0d", "3w", "-1d", "d", ""])
def test_unclear_ages_are_refused(text):
    with pytest.raises(ValueError):
        parse_age(text)
    with pytest.raises(CommandError):
        call_command("purge", "--older-than", text or "x")


@pytest.fixture
def purge_fixture(curator):
    """Old jobs in every state, a recent one, old and new rejected creations, blocked attempts."""
    old = timedelta(days=40)
    jobs = {
        "plain": make_job(age=old, seed=1),
        "failed": make_job(InpaintJob.Status.FAILED, age=old, seed=2),
        "approved": make_job(age=old, seed=3),
        "pending": make_job(age=old, seed=4),
        "rejected": make_job(age=old, seed=5),
        "recent": make_job(seed=6),
        "running": make_job(InpaintJob.Status.RUNNING, age=old, seed=7),
    }
    made = {
        name: creations.create_creation(jobs[name]) for name in ("approved", "pending", "rejected")
    }
    creations.approve(made["approved"], curator)
    creations.reject(made["rejected"], curator)
    Creation.objects.filter(pk=made["rejected"].pk).update(created_at=timezone.now() - old)
    recent_rejected = creations.create_creation(make_job(seed=8))
    creations.reject(recent_rejected, curator)
    made["recent_rejected"] = recent_rejected
    BlockedAttempt.objects.create(wish="alt", matched_term="x", created_at=timezone.now() - old)
    BlockedAttempt.objects.create(wish="neu", matched_term="x")
    return jobs, made


def job_files(job) -> list[str]:
    job.refresh_from_db()
    return [getattr(job, field).name for field in JOB_PICTURES if getattr(job, field)]


def test_purge_dry_run_reports_and_removes_nothing(purge_fixture):
    jobs, made = purge_fixture
    before = {name: job_files(job) for name, job in jobs.items()}
    output = io.StringIO()

    call_command("purge", "--older-than", "30d", "--dry-run", stdout=output)

    assert "Would remove" in output.getvalue()
    # plain (4 files), failed (2), pending (4), rejected (4): 4 jobs, 14 files
    assert "pictures of 4 jobs: 14 files" in output.getvalue()
    assert "1 rejected creations" in output.getvalue() and "1 blocked attempts" in output.getvalue()
    assert {name: job_files(job) for name, job in jobs.items()} == before
    assert Creation.objects.count() == 4 and BlockedAttempt.objects.count() == 2


def test_purge_forgets_old_pictures_but_keeps_approved_ones(
    purge_fixture, django_capture_on_commit_callbacks
):
    jobs, made = purge_fixture
    purged_names = [
        name for job in ("plain", "failed", "pending", "rejected") for name in job_files(jobs[job])
    ]
    expected_bytes = sum(default_storage.size(name) for name in purged_names)
    rejected_files = creations.creation_files(made["rejected"])
    output = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):  # a command runs outside transactions
        call_command("purge", "--older-than", "30d", stdout=output)

    assert "pictures of 4 jobs: 14 files" in output.getvalue()
    assert f"({expected_bytes} bytes)" in output.getvalue()
    assert not any(default_storage.exists(name) for name in purged_names)
    for name in ("plain", "failed", "pending", "rejected"):
        assert job_files(jobs[name]) == [] and jobs[name].client_ip is None
        assert InpaintJob.objects.filter(pk=jobs[name].pk).exists()  # the row stays
    assert len(job_files(jobs["approved"])) == 4 and jobs["approved"].client_ip == "192.0.2.7"
    assert len(job_files(jobs["recent"])) == 4
    assert len(job_files(jobs["running"])) == 2  # never finished: not touched
    # The pending creation keeps its own copies; the old rejected one is gone with its files.
    assert stored(made["pending"].after_image) and stored(made["approved"].after_image)
    assert not Creation.objects.filter(pk=made["rejected"].pk).exists()
    assert not any(default_storage.exists(name) for name in rejected_files)
    assert Creation.objects.filter(pk=made["recent_rejected"].pk).exists()
    assert list(BlockedAttempt.objects.values_list("wish", flat=True)) == ["neu"]
    # Empty job folders are removed too.
    assert not os.path.exists(os.path.dirname(default_storage.path(purged_names[0])))

    again = io.StringIO()
    call_command("purge", "--older-than", "30d", stdout=again)
    assert "pictures of 0 jobs" in again.getvalue()


# --- export_dataset ------------------------------------------------------------------------


def read_metadata(directory: Path) -> list[dict]:
    with open(directory / "metadata.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_export_writes_an_imagefolder_dataset_of_approved_creations(tmp_path, curator):
    approved = [creations.create_creation(make_job(seed=seed)) for seed in (1, 2)]
    for creation in approved:
        creations.approve(creation, curator)
    creations.create_creation(make_job(seed=3))  # pending: not exported
    rejected = creations.create_creation(make_job(seed=4))
    creations.reject(rejected, curator)
    old = creations.create_creation(make_job(seed=5))
    Creation.objects.filter(pk=old.pk).update(
        prompt_final="", prompt_translated='a "castle", with towers', status=Status.APPROVED
    )
    target = tmp_path / "satbilder"

    call_command("export_dataset", str(target), stdout=io.StringIO())

    rows = read_metadata(target)
    assert list(rows[0]) == ["file_name", "text"]
    assert [row["file_name"] for row in rows] == [
        f"data/{creation.slug}.png" for creation in (*approved, old)
    ]
    assert rows[0]["text"] == approved[0].prompt_final
    assert rows[2]["text"] == (
        'aerial satellite photo of Olpe, top-down view, a "castle", with towers, '
        "high resolution, photorealistic"
    )
    for row, creation in zip(rows[:2], approved, strict=True):
        assert (target / row["file_name"]).read_bytes() == creation.after_image.open("rb").read()
    assert sorted(path.name for path in (target / "data").iterdir()) == sorted(
        Path(row["file_name"]).name for row in rows
    )


def test_exporting_again_brings_the_dataset_up_to_date(tmp_path, curator):
    kept, withdrawn = (creations.create_creation(make_job(seed=seed)) for seed in (1, 2))
    creations.approve(kept, curator)
    creations.approve(withdrawn, curator)
    target = tmp_path / "satbilder"
    call_command("export_dataset", str(target), stdout=io.StringIO())
    (target / "README.md").write_text("notes")

    creations.reject(withdrawn, curator)
    call_command("export_dataset", str(target), stdout=io.StringIO())

    assert [row["file_name"] for row in read_metadata(target)] == [f"data/{kept.slug}.png"]
    assert [path.name for path in (target / "data").iterdir()] == [f"{kept.slug}.png"]
    assert (target / "README.md").read_text() == "notes"


def test_export_refuses_a_file_as_directory(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(CommandError):
        call_command("export_dataset", str(target))


# --- data migrations and the curator command -------------------------------------------------


def test_the_shipped_blocklist_is_installed():
    from museum.blocklist_data import SHIPPED_TERMS

    installed = set(BlockedTerm.objects.values_list("term", "category", "whole_word_only"))
    assert set(SHIPPED_TERMS) <= installed
    assert len(SHIPPED_TERMS) >= 150


def test_the_curators_group_has_just_what_curators_need():
    group = Group.objects.get(name="Curators")
    granted = {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }
    assert granted == {
        "gallery.view_creation",
        "gallery.change_creation",
        "gallery.moderate_creation",
        # gallery's 0009: the reasons for rejection curators keep
        "gallery.add_rejectionreason",
        "gallery.change_rejectionreason",
        "gallery.delete_rejectionreason",
        "gallery.view_rejectionreason",
        "museum.add_world",
        "museum.change_world",
        "museum.view_world",
        "museum.change_sitesettings",
        "museum.view_sitesettings",
        "museum.add_blockedterm",
        "museum.change_blockedterm",
        "museum.delete_blockedterm",
        "museum.view_blockedterm",
        "museum.view_blockedattempt",
        "museum.view_openaiusage",
        "inpainting.view_inpaintjob",
        "inpainting.view_jobevent",
        # The training app's migration: curators register and switch models and styles.
        "training.add_diffusionmodel",
        "training.change_diffusionmodel",
        "training.delete_diffusionmodel",
        "training.view_diffusionmodel",
        "training.add_styleadapter",
        "training.change_styleadapter",
        "training.delete_styleadapter",
        "training.view_styleadapter",
    }


def test_create_curator_makes_a_staff_member_of_the_group(monkeypatch):
    monkeypatch.setenv("OLPE_CURATOR_PASSWORD", "Stadtmuseum-Olpe-2024")
    call_command(
        "create_curator", "anna", "--email", "anna@example.org", "--no-input", stdout=io.StringIO()
    )
    anna = get_user_model().objects.get(username="anna")
    assert anna.is_staff and not anna.is_superuser and anna.check_password("Stadtmuseum-Olpe-2024")
    assert anna.has_perm("gallery.moderate_creation") and not anna.has_perm("auth.view_user")

    monkeypatch.setenv("OLPE_CURATOR_PASSWORD", "123")
    with pytest.raises(CommandError):
        call_command("create_curator", "ben", "--no-input")
    assert not get_user_model().objects.filter(username="ben").exists()


def test_purge_runs_every_night_from_a_schedule():
    import ast

    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="olpe: purge old pictures")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "django.core.management.call_command",
        Schedule.DAILY,
        -1,
    )
    assert timezone.localtime(schedule.next_run).hour == 3
    old_job = make_job(age=timedelta(days=31))
    output = io.StringIO()
    call_command(*ast.literal_eval(schedule.args), stdout=output)
    assert "pictures of 1 jobs" in output.getvalue() and job_files(old_job) == []
