"""Jobs' worlds are museum.World now (the same table, gallery_world): state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("inpainting", "0003_job_world"),
        ("museum", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="inpaintjob",
                    name="world",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="jobs", to="museum.world", verbose_name="world"),
                ),
            ],
            database_operations=[],
        ),
    ]
