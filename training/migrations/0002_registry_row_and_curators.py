"""The registry's version row, and the curators' right to choose models and styles.

Curators (the group from gallery's migration 0003) pick the active model and
the kiosk's styles, so they may manage both registries; the files themselves
stay out of their reach.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Curators"
CODENAMES = [
    f"{action}_{model}"
    for model in ("diffusionmodel", "styleadapter")
    for action in ("add", "change", "delete", "view")
]


def create_registry_row(apps, schema_editor):
    RegistryState = apps.get_model("training", "RegistryState")
    RegistryState.objects.using(schema_editor.connection.alias).get_or_create(pk=1)


def grant_curators(apps, schema_editor):
    database = schema_editor.connection.alias
    create_permissions(
        global_apps.get_app_config("training"), verbosity=0, apps=apps, using=database
    )
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _created = Group.objects.using(database).get_or_create(name=GROUP_NAME)
    group.permissions.add(
        *Permission.objects.using(database).filter(
            content_type__app_label="training", codename__in=CODENAMES
        )
    )


def revoke_curators(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=GROUP_NAME):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="training", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("training", "0001_initial"),
        ("gallery", "0003_curators_group"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_registry_row, migrations.RunPython.noop),
        migrations.RunPython(grant_curators, revoke_curators),
    ]
