"""Run job maintenance (recovery of lost jobs, pruning of live events) every minute.

A schedule in the database, created by `migrate`, is the one place every
deployment has: it needs no code at cluster start, survives restarts, is
visible (and adjustable) in the admin, and django-q2 runs it on exactly one
cluster even when several run. Recovery is idempotent, so a run that comes
late or twice does no harm.
"""

from django.db import migrations

SCHEDULE_NAME = "olpe: recover lost jobs"
FUNC = "inpainting.tasks.maintain_jobs"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": FUNC,
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,  # forever
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inpainting", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
