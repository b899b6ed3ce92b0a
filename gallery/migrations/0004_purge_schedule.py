"""Run `manage.py purge --older-than 30d` every night, so visitors' pictures are not kept forever.

Like the job maintenance schedule (inpainting 0002), a django-q2 schedule in
the database runs on exactly one cluster and needs no cron. A superuser can
change the age (the schedule's arguments) or switch it off in the admin.
"""

from datetime import datetime, time, timedelta

from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "olpe: purge old pictures"
FUNC = "django.core.management.call_command"
ARGS = "'purge', '--older-than', '30d'"
RUN_AT = time(3, 30)  # local time, when the museum is closed


def next_night() -> datetime:
    now = timezone.localtime()
    tonight = timezone.make_aware(datetime.combine(now.date(), RUN_AT))
    return tonight if tonight > now else tonight + timedelta(days=1)


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": FUNC,
            "args": ARGS,
            "schedule_type": "D",  # Schedule.DAILY
            "repeats": -1,  # forever
            "next_run": next_night(),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0003_curators_group"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
