"""The job service and the worker task, in process, against the real database.

Jobs run through the real `run_job` task on the offline classic engine,
either called directly or inline through django-q2's sync mode; jobs that
must stay queued go to the ORM broker's table, where no cluster picks them up.
"""

import importlib
import io
import json
import time
from datetime import timedelta

import numpy as np
import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from PIL import Image

from inpainting import events, jobs, protocol, tasks
from inpainting.models import InpaintJob, JobEvent
from inpainting_core.engines.base import EngineError
from inpainting_core.generation import GenerationSettings
from inpainting_core.imaging import ImageProblem
from inpainting_core.masks import EmptyMask
from inpainting_core.wishes import PromptProblem
from museum.models import SiteSettings
from tooling.demo import make_demo_map

Status = InpaintJob.Status
WIDTH, HEIGHT = 192, 128
PAINTED = (slice(30, 90), slice(50, 140))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def map_png():
    return png_bytes(make_demo_map(width=WIDTH, height=HEIGHT, seed=4))


@pytest.fixture
def mask_png():
    paint = np.zeros((HEIGHT, WIDTH, 4), dtype=np.uint8)
    paint[PAINTED] = (255, 0, 0, 255)  # a red stroke on transparency, like the kiosk
    return png_bytes(Image.fromarray(paint, "RGBA"))


@pytest.fixture
def submit(map_png, mask_png):
    def submit(engine_is_a_wish=False, **generation):
        return jobs.submit_job(
            image=map_png, mask=mask_png, wish="Was wäre, wenn hier ein See wäre?",
            generation=GenerationSettings(**{"engine": "classic", "seed": 3, **generation}),
            engine_is_a_wish=engine_is_a_wish,
        )
    return submit


@pytest.fixture(autouse=True)
def queue_without_running(monkeypatch, settings):
    """Tasks go to the ORM broker's table; tests that want them run switch on sync mode."""
    monkeypatch.setattr(Conf, "SYNC", False)
    settings.LANGUAGE_CODE = "en"  # reasons stored on jobs are in the site's language
    settings.OLPE_JOB_MAX_ATTEMPTS = 2
    settings.OLPE_JOB_STALE_SECONDS = 30


@pytest.fixture
def run_inline(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


def queued_task_ids():
    return [task.task["args"][0] for task in OrmQ.objects.all()]


def kinds(job):
    return list(JobEvent.objects.filter(job=job).values_list("kind", flat=True))


def make_running(job, *, attempts=1, silent_for=timedelta(0), cancel_requested=False):
    """Put a job in the state a worker leaves it in, `silent_for` after its last heartbeat."""
    beat = timezone.now() - silent_for
    InpaintJob.objects.filter(pk=job.pk).update(
        status=Status.RUNNING, attempts=attempts, worker="elsewhere:1", started_at=beat,
        heartbeat_at=beat, cancel_requested=cancel_requested,
    )
    job.refresh_from_db()
    return job


# --- submitting --------------------------------------------------------------------------


@pytest.mark.django_db
def test_submit_stores_the_job_and_its_pictures_before_queueing(
    submit, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = submit(style="none")
        # Stored, with normalised pictures, while nothing is queued yet.
        stored = InpaintJob.objects.get(pk=job.pk)
        assert stored.status == Status.QUEUED
        assert stored.prompt_original == "Was wäre, wenn hier ein See wäre?"
        assert stored.prompt_final
        with stored.input_image.open("rb") as handle:
            picture = Image.open(handle)
            assert (picture.format, picture.size) == ("PNG", (WIDTH, HEIGHT))
        with stored.mask_image.open("rb") as handle:
            mask = Image.open(handle)
            assert (mask.format, mask.mode, mask.size) == ("PNG", "L", (WIDTH, HEIGHT))
            levels = np.asarray(mask)
        assert (levels[PAINTED] == 255).all() and levels.sum() == 255 * 60 * 90
        assert OrmQ.objects.count() == 0

    for callback in callbacks:
        callback()
    assert queued_task_ids() == [str(job.pk)]
    job.refresh_from_db()
    assert job.enqueued_at is not None
    assert kinds(job) == ["queued"]
    assert job.requested_engine == job.engine == "classic"


@pytest.mark.django_db
def test_submit_uses_the_default_engine(submit, settings):
    settings.OLPE_DEFAULT_ENGINE = "classic"
    assert submit(engine=None).engine == "classic"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra, field",
    [
        ({"engine": "dalle"}, "engine"),
        ({"steps": 0}, "steps"),
        ({"guidance": 99.0}, "guidance"),
        ({"strength": 1.5}, "strength"),
        ({"seed": -1}, "seed"),
    ],
)
def test_submit_refuses_bad_parameters_and_stores_nothing(submit, extra, field):
    with pytest.raises(jobs.JobProblem) as problem:
        submit(**extra)
    assert problem.value.field == field
    assert str(problem.value.message)
    assert not InpaintJob.objects.exists()


@pytest.mark.django_db
def test_an_engine_that_cannot_run_falls_back_with_a_notice(submit, settings, reset_engines):
    SiteSettings.objects.update_or_create(pk=1, defaults={"visitors_choose_engine": True})
    settings.OPENAI_API_KEY = ""
    job = submit(engine="openai")
    # No key for OpenAI and no own model on this machine: the classic engine paints.
    assert (job.requested_engine, job.engine) == ("openai", "classic")
    assert "OpenAI" in job.notice


@pytest.mark.django_db
def test_a_requested_engine_counts_only_where_curators_allow_it(submit, settings, reset_engines):
    settings.OPENAI_API_KEY = "sk-test"
    SiteSettings.objects.update_or_create(
        pk=1, defaults={"visitor_engine": "classic", "visitors_choose_engine": False}
    )
    # Asking for another engine than the curators' one is refused, not silently ignored ...
    with pytest.raises(jobs.JobProblem) as refused:
        submit(engine="openai")
    assert refused.value.field == "engine" and "classic" in str(refused.value.message)
    assert not InpaintJob.objects.exists()
    # ... asking for the curators' engine is asking for what one gets anyway ...
    assert submit(engine="classic").engine == "classic"
    # ... and where an engine is only a wish (the legacy endpoint), the notice says why not.
    job = submit(engine="openai", engine_is_a_wish=True)
    assert (job.requested_engine, job.engine) == ("openai", "classic")
    assert "OpenAI" in job.notice and "classic" in job.notice.lower()


@pytest.mark.django_db
def test_a_blocked_wish_is_refused_before_anything_is_stored(map_png, mask_png):
    from museum.models import BlockedAttempt
    from museum.moderation import WishBlocked

    with pytest.raises(WishBlocked) as blocked:
        jobs.submit_job(image=map_png, mask=mask_png, wish="Ein See voller Nazis", kiosk_session="k1")
    assert blocked.value.field == "prompt" and blocked.value.code == "blocked"
    assert not InpaintJob.objects.exists()
    assert BlockedAttempt.objects.get().kiosk_session == "k1"


@pytest.mark.django_db
def test_submit_refuses_an_empty_mask_and_a_broken_map(map_png):
    blank = png_bytes(Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0)))
    with pytest.raises(EmptyMask) as empty:
        jobs.submit_job(image=map_png, mask=blank, wish="Ein See")
    assert empty.value.field == "mask"
    with pytest.raises(ImageProblem) as broken:
        jobs.submit_job(image=b"not a picture", mask=blank, wish="Ein See")
    assert broken.value.field == "image"
    assert not InpaintJob.objects.exists()


@pytest.mark.django_db
def test_submit_refuses_an_empty_wish(map_png, mask_png):
    with pytest.raises(PromptProblem):
        jobs.submit_job(image=map_png, mask=mask_png, wish="   ")
    assert not InpaintJob.objects.exists()


# --- running -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_submitted_job_is_painted_by_the_worker_task(submit, run_inline, map_png):
    job = submit()
    job.refresh_from_db()

    assert job.status == Status.SUCCEEDED
    assert job.attempts == 1 and job.worker == tasks.worker_name()
    assert job.progress_step == job.progress_total > 0
    with job.result_image.open("rb") as handle:
        result = np.asarray(Image.open(handle).convert("RGB"))
    original = np.asarray(Image.open(io.BytesIO(map_png)).convert("RGB"))
    assert result.shape == original.shape
    assert not np.array_equal(result[PAINTED], original[PAINTED])
    assert np.array_equal(result[:, :20], original[:, :20])
    with job.preview_image.open("rb") as handle:
        assert Image.open(handle).format == "JPEG"

    sequence = kinds(job)
    assert sequence[:2] == ["queued", "started"]
    assert sequence[-1] == "succeeded"
    assert set(sequence[2:-1]) <= {"progress", "preview"} and "progress" in sequence
    steps = [event.payload["step"] for event in job.events.filter(kind="progress")]
    assert steps == sorted(steps) and steps[-1] == job.progress_total
    succeeded = job.events.get(kind="succeeded").payload
    assert succeeded["result_url"] == jobs.job_state(job)["result_url"]


@pytest.mark.django_db(transaction=True)
def test_a_task_delivered_twice_runs_the_job_once(submit):
    job = submit()
    assert tasks.run_job(str(job.pk)) == Status.SUCCEEDED
    job.refresh_from_db()
    result_name = job.result_image.name

    assert tasks.run_job(str(job.pk)) == "skipped"
    job.refresh_from_db()
    assert job.attempts == 1 and job.result_image.name == result_name
    assert kinds(job).count("started") == 1 and kinds(job).count("succeeded") == 1


@pytest.mark.django_db(transaction=True)
def test_a_job_alive_in_another_worker_is_left_alone(submit):
    job = make_running(submit(), silent_for=timedelta(seconds=2))

    assert tasks.run_job(str(job.pk)) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker) == (Status.RUNNING, 1, "elsewhere:1")


@pytest.mark.django_db(transaction=True)
def test_a_delivery_takes_over_a_job_whose_worker_went_silent(submit):
    job = make_running(submit(), silent_for=timedelta(minutes=5))

    assert tasks.run_job(str(job.pk)) == Status.SUCCEEDED
    job.refresh_from_db()
    assert job.attempts == 2 and job.worker == tasks.worker_name()


@pytest.mark.django_db(transaction=True)
def test_a_job_that_used_up_its_attempts_fails_instead_of_running(submit):
    job = submit()
    InpaintJob.objects.filter(pk=job.pk).update(attempts=2)

    assert tasks.run_job(str(job.pk)) == "skipped"
    job.refresh_from_db()
    assert job.status == Status.FAILED and "2" in job.error_message
    assert kinds(job)[-1] == "failed" and not job.result_image


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_proves_life_and_notices_a_lost_claim(submit):
    job = tasks.claim_job(submit().pk)
    first_beat = job.heartbeat_at
    heartbeat = tasks.Heartbeat(job.pk, job.attempts, interval=0.01)
    heartbeat.start()
    try:
        deadline = timezone.now() + timedelta(seconds=10)
        while InpaintJob.objects.get(pk=job.pk).heartbeat_at == first_beat:
            assert timezone.now() < deadline, "the heartbeat never wrote"
            time.sleep(0.01)
        # Recovery gave the job to another attempt: the old heartbeat must notice.
        InpaintJob.objects.filter(pk=job.pk).update(attempts=job.attempts + 1)
        assert heartbeat.lost.wait(timeout=10)
    finally:
        heartbeat.stop()


# --- failing and falling back ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_own_model_that_fails_to_load_falls_back_to_the_classic_engine(
    submit, settings, tmp_path, reset_engines
):
    # The files look complete, so the job is given to the own model; loading then fails.
    model = tmp_path / "broken-model"
    call_command("build_tiny_model", str(model))
    for weights in (model / "unet").glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    settings.OLPE_MODEL = str(model)
    settings.OLPE_ALLOW_TINY_MODEL = True
    SiteSettings.objects.update_or_create(pk=1, defaults={"visitor_engine": "diffusers"})
    job = submit(engine=None)  # the curators' engine
    assert job.engine == "diffusers"

    assert tasks.run_job(str(job.pk)) == Status.SUCCEEDED
    job.refresh_from_db()
    assert job.engine == "classic"
    assert "classic" in job.notice.lower() or "klassisch" in job.notice.lower()
    assert job.events.get(kind="succeeded").payload["notice"] == job.notice
    assert jobs.job_state(job)["notice"] == job.notice


@pytest.mark.django_db(transaction=True)
def test_an_engine_error_fails_the_job_with_its_message(submit, monkeypatch):
    def broken_engine(*args, **kwargs):
        raise EngineError("The engine refused this wish.")

    monkeypatch.setattr(tasks, "generate", broken_engine)
    job = submit()

    assert tasks.run_job(str(job.pk)) == Status.FAILED
    job.refresh_from_db()
    assert job.error_message == "The engine refused this wish."
    assert job.events.get(kind="failed").payload == {"reason": "The engine refused this wish."}
    assert jobs.job_state(job)["error"] == "The engine refused this wish."


@pytest.mark.django_db(transaction=True)
def test_a_retryable_engine_error_is_tried_again_within_the_attempts(submit, monkeypatch):
    def busy_service(*args, **kwargs):
        raise EngineError("The service is busy.", retryable=True)

    monkeypatch.setattr(tasks, "generate", busy_service)
    job = submit()

    assert tasks.run_job(str(job.pk)) == Status.QUEUED
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Status.QUEUED, 1)
    assert queued_task_ids() == [str(job.pk), str(job.pk)]  # first delivery and the retry

    assert tasks.run_job(str(job.pk)) == Status.FAILED
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error_message) == (
        Status.FAILED, 2, "The service is busy.",
    )
    assert kinds(job) == ["queued", "started", "queued", "started", "failed"]


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_fails_the_job_with_a_readable_message(submit, monkeypatch, caplog):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(tasks, "generate", bug)
    job = submit()

    assert tasks.run_job(str(job.pk)) == Status.FAILED
    job.refresh_from_db()
    assert job.error_message and "division" not in job.error_message
    assert "ZeroDivisionError" in caplog.text  # the traceback goes to the log


@pytest.mark.django_db(transaction=True)
def test_an_attempt_whose_job_was_taken_back_writes_no_more_pictures(submit, monkeypatch):
    """A slow worker judged dead keeps painting for a moment: it must not leave files behind
    the attempt that finished the job (it could be killed before removing them)."""
    job = tasks.claim_job(submit().pk)
    run = tasks.JobRun(job)
    stored = []
    monkeypatch.setattr(run, "_store", lambda *args: stored.append(args) or "never")
    make_running(job, attempts=2)  # recovery queued it again and another worker took it

    with pytest.raises(tasks.LostJob):
        run._record_preview(1, Image.new("RGB", (64, 64)))
    with pytest.raises(tasks.LostJob):
        run._succeed(None)  # never reaches the result: ownership is checked first
    assert stored == [] and run.lost


# --- cancelling ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_queued_job_ends_it_at_once(submit):
    job = jobs.cancel_job(submit())

    assert job.status == Status.CANCELLED and job.finished_at is not None
    assert kinds(job) == ["queued", "cancelled"]
    assert tasks.run_job(str(job.pk)) == "skipped"  # its task, delivered later, does nothing
    job.refresh_from_db()
    assert job.attempts == 0


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_job_stops_the_engine_between_phases(submit):
    job = tasks.claim_job(submit().pk)
    assert jobs.cancel_job(job).status == Status.RUNNING
    assert job.cancel_requested

    assert tasks.JobRun(job).execute() == Status.CANCELLED
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and not job.result_image
    assert kinds(job) == ["queued", "started", "cancelled"]


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_finished_job_changes_nothing(submit):
    job = submit()
    tasks.run_job(str(job.pk))
    job.refresh_from_db()

    assert jobs.cancel_job(job).status == Status.SUCCEEDED
    assert not job.cancel_requested and kinds(job)[-1] == "succeeded"


# --- recovery ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_died_is_queued_again(submit):
    job = make_running(submit(), silent_for=timedelta(minutes=2))

    assert jobs.recover_stale_jobs() == 1
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (Status.QUEUED, "", 1)
    assert kinds(job) == ["queued", "queued"]
    assert job.events.last().payload["retry"] is True
    assert queued_task_ids().count(str(job.pk)) == 2

    assert tasks.run_job(str(job.pk)) == Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_died_on_its_last_attempt_fails_with_a_reason(submit):
    job = make_running(submit(), attempts=2, silent_for=timedelta(minutes=2))

    assert jobs.recover_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error_message == "The worker stopped during the generation."
    assert job.events.last().payload == {"reason": job.error_message}


@pytest.mark.django_db(transaction=True)
def test_a_lost_job_that_was_being_cancelled_ends_cancelled(submit):
    job = make_running(submit(), silent_for=timedelta(minutes=2), cancel_requested=True)

    assert jobs.recover_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == Status.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_recovery_leaves_living_and_finished_jobs_alone(submit):
    alive = make_running(submit(), silent_for=timedelta(seconds=1))
    finished = submit()
    tasks.run_job(str(finished.pk))

    assert jobs.recover_stale_jobs() == 0
    alive.refresh_from_db()
    assert alive.status == Status.RUNNING


@pytest.mark.django_db(transaction=True)
def test_reading_a_silent_job_recovers_it(submit, settings):
    settings.OLPE_JOB_STALE_SECONDS = 5
    job = make_running(submit(), silent_for=timedelta(seconds=6))

    state = jobs.job_state(job)
    assert state["status"] == "queued" and state["position"] == 1
    assert jobs.job_state(job, recover=False)["status"] == "queued"


@pytest.mark.django_db(transaction=True)
def test_queued_jobs_the_broker_forgot_are_queued_again(submit):
    forgotten, kept = submit(), submit()
    long_ago = timezone.now() - timedelta(hours=1)
    InpaintJob.objects.update(enqueued_at=long_ago)
    OrmQ.objects.filter(payload__in=[
        task.payload for task in OrmQ.objects.all() if task.task["args"][0] == str(forgotten.pk)
    ]).delete()
    assert queued_task_ids() == [str(kept.pk)]

    assert jobs.recover_stale_jobs() == 1
    assert sorted(queued_task_ids()) == sorted([str(kept.pk), str(forgotten.pk)])
    forgotten.refresh_from_db()
    assert forgotten.enqueued_at > long_ago


@pytest.mark.django_db(transaction=True)
def test_the_maintenance_task_prunes_live_events_of_old_jobs(submit):
    job = submit()
    tasks.run_job(str(job.pk))
    InpaintJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=1))
    assert "progress" in kinds(job)

    tasks.maintain_jobs()
    assert kinds(job) == ["queued", "started", "succeeded"]


@pytest.mark.django_db
def test_recovery_runs_every_minute_as_a_schedule():
    # Transactional tests elsewhere flush the table the migration filled, so
    # the migration's function is run again here: it must also be idempotent.
    migration = importlib.import_module("inpainting.migrations.0002_recovery_schedule")
    migration.create_schedule(django_apps, schema_editor=None)
    migration.create_schedule(django_apps, schema_editor=None)

    schedule = Schedule.objects.get(func="inpainting.tasks.maintain_jobs")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        Schedule.MINUTES, 1, -1,
    )


# --- state -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_job_state_is_json_and_counts_the_queue(submit):
    first, second = submit(), submit()
    state = jobs.job_state(second)

    assert json.loads(json.dumps(state)) == state
    assert state["status"] == "queued" and state["position"] == 2
    assert state["prompts"]["original"] == "Was wäre, wenn hier ein See wäre?"
    assert state["progress"] == {"step": 0, "total": 0}
    assert state["result_url"] is None and state["error"] is None
    assert jobs.job_state(first)["position"] == 1


@pytest.mark.django_db
def test_events_carry_their_id_and_kind():
    job = InpaintJob.objects.create(engine="classic", prompt_original="Ein See")
    first = events.publish(job, events.QUEUED, {"position": 1})
    second = events.publish(job, events.STARTED, {"attempt": 1})

    messages = events.events_after(job.pk, 0)
    assert [m["type"] for m in messages] == ["queued", "started"]
    assert [m["event_id"] for m in messages] == [first.pk, second.pk]
    assert events.events_after(job.pk, first.pk) == messages[1:]


# --- admin -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_curators_see_jobs_with_their_result_in_the_admin_and_may_cancel(submit, client):
    curator = get_user_model().objects.create_superuser("kuratorin", password="x")
    client.force_login(curator)
    painted, waiting = submit(), submit()
    tasks.run_job(str(painted.pk))
    painted.refresh_from_db()

    listing = client.get("/admin/inpainting/inpaintjob/")
    assert listing.status_code == 200
    assert protocol.result_url(painted) in listing.content.decode()
    detail = client.get(f"/admin/inpainting/inpaintjob/{painted.pk}/change/")
    assert detail.status_code == 200 and "succeeded" in detail.content.decode()
    assert client.get("/admin/inpainting/inpaintjob/add/").status_code == 403

    client.post("/admin/inpainting/inpaintjob/", {
        "action": "cancel_jobs", "_selected_action": [str(waiting.pk), str(painted.pk)],
    })
    waiting.refresh_from_db()
    painted.refresh_from_db()
    assert (waiting.status, painted.status) == (Status.CANCELLED, Status.SUCCEEDED)


# --- one shape for a generation ---------------------------------------------------------


def test_generation_settings_check_their_ranges():
    assert GenerationSettings(steps=1, guidance=0.0, strength=1.0, seed=0).check()
    with pytest.raises(ValueError) as problem:
        GenerationSettings(strength=0.0).check()
    assert problem.value.field == "strength"


@pytest.mark.django_db
def test_a_job_row_gives_back_the_settings_it_was_submitted_with(submit):
    asked = GenerationSettings(engine="classic", style="none", steps=7, guidance=5.5,
                               strength=0.5, seed=42)
    job = submit(**asked.as_dict())
    job.refresh_from_db()
    assert GenerationSettings.from_job(job) == asked


@pytest.mark.django_db
def test_the_attempt_that_finishes_a_job_removes_what_earlier_attempts_left(submit):
    """Pictures are named after their attempt; only unreferenced ones of attempts up to the
    finishing one go: a later attempt may be writing its own right now."""
    from django.core.files.base import ContentFile

    job = submit()
    storage = job.result_image.storage

    def write(attempt: int, field: str, name: str) -> str:
        job.attempts = attempt
        return storage.save(job._meta.get_field(field).generate_filename(job, name),
                            ContentFile(b"picture"))

    lost_result, lost_preview = write(1, "result_image", "r.png"), write(1, "preview_image", "p")
    job.result_image.name = write(2, "result_image", "r.png")
    job.preview_image.name = write(2, "preview_image", "p")
    later = write(3, "preview_image", "p")

    assert job.remove_stray_pictures(up_to_attempt=2) == 2

    assert not storage.exists(lost_result) and not storage.exists(lost_preview)
    for kept in (job.result_image.name, job.preview_image.name, later, job.input_image.name,
                 job.mask_image.name):
        assert storage.exists(kept), kept
