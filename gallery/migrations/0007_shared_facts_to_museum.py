"""World, SiteSettings, OpenAIUsage, BlockedTerm and BlockedAttempt moved to the
museum app (museum/migrations/0001_initial.py): gallery forgets them, and a
creation's world is museum.World. State only; the tables stay.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0006_world_map_is_paintable"),
        ("inpainting", "0004_job_world_in_museum"),
        ("museum", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="creation",
                    name="world",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="creations", to="museum.world", verbose_name="world"),
                ),
                migrations.DeleteModel(name="BlockedAttempt"),
                migrations.DeleteModel(name="BlockedTerm"),
                migrations.DeleteModel(name="OpenAIUsage"),
                migrations.DeleteModel(name="SiteSettings"),
                migrations.DeleteModel(name="World"),
            ],
            database_operations=[],
        ),
    ]
