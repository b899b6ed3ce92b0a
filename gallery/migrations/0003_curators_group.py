"""The `Curators` group: what museum staff need to run the gallery, and nothing more.

Curators moderate creations, edit Worlds, the site settings and the
blocklist, and look at jobs, blocked attempts and OpenAI usage. They cannot
delete creations (rejecting hides them), manage users or groups, or change
jobs. A curator's account needs `is_staff` to reach the admin
(`manage.py create_curator` sets both).
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Curators"

PERMISSIONS = {
    "gallery": [
        "view_creation", "change_creation", "moderate_creation",
        "add_world", "change_world", "view_world",
        "change_sitesettings", "view_sitesettings",
        "add_blockedterm", "change_blockedterm", "delete_blockedterm", "view_blockedterm",
        "view_blockedattempt",
        "view_openaiusage",
    ],
    "inpainting": ["view_inpaintjob", "view_jobevent"],
}


def create_curators_group(apps, schema_editor):
    database = schema_editor.connection.alias
    # Permissions are normally created after all migrations ran (post_migrate);
    # create them now so the group can be given them on a fresh database.
    for app_label in PERMISSIONS:
        create_permissions(
            global_apps.get_app_config(app_label), verbosity=0, apps=apps, using=database
        )
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _created = Group.objects.using(database).get_or_create(name=GROUP_NAME)
    permissions = [
        Permission.objects.using(database).get(content_type__app_label=app_label, codename=codename)
        for app_label, codenames in PERMISSIONS.items()
        for codename in codenames
    ]
    group.permissions.set(permissions)


def delete_curators_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0002_shipped_blocklist"),
        ("inpainting", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_curators_group, delete_curators_group),
    ]
