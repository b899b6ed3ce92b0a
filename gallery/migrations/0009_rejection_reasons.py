"""Reasons for rejection that curators keep as a list (offered first on the review desk),
a first list to start from, and the Curators group's right to keep it.

The first reasons are in German, the language the museum's curators write
their reasons in; they are data that curators edit, not interface text.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

FIRST_REASONS = [
    "Nichts Erkennbares verändert",
    "Anstößiger oder verletzender Inhalt",
    "Titel oder Name unpassend",
    "Persönliche Daten sichtbar",
    "Doppelt eingereicht",
    "Technischer Fehler im Bild",
]
CURATORS = "Curators"
PERMISSIONS = ["add_rejectionreason", "change_rejectionreason", "delete_rejectionreason",
               "view_rejectionreason"]


def add_reasons_and_permissions(apps, schema_editor):
    database = schema_editor.connection.alias
    RejectionReason = apps.get_model("gallery", "RejectionReason")
    for order, text in enumerate(FIRST_REASONS, start=1):
        RejectionReason.objects.using(database).get_or_create(text=text, defaults={"order": order})
    # Permissions are normally created after all migrations ran; the group needs them now.
    create_permissions(global_apps.get_app_config("gallery"), verbosity=0, apps=apps,
                       using=database)
    group = apps.get_model("auth", "Group").objects.using(database).filter(name=CURATORS).first()
    if group is not None:
        Permission = apps.get_model("auth", "Permission")
        group.permissions.add(*Permission.objects.using(database).filter(
            content_type__app_label="gallery", codename__in=PERMISSIONS
        ))


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0008_creation_frame"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="RejectionReason",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("text", models.CharField(max_length=200, unique=True, verbose_name="reason")),
                ("order", models.PositiveIntegerField(default=0, verbose_name="order")),
                ("active", models.BooleanField(
                    default=True, help_text="Offered on the review desk.", verbose_name="offered"
                )),
            ],
            options={
                "verbose_name": "reason for rejection",
                "verbose_name_plural": "reasons for rejection",
                "ordering": ["order", "text"],
            },
        ),
        migrations.RunPython(add_reasons_and_permissions, migrations.RunPython.noop),
    ]
