"""Seed the blocklist with the shipped starting list (museum/blocklist_data.py)."""

from django.db import migrations

from museum import blocklist_data


def add_shipped_terms(apps, schema_editor):
    blocklist_data.seed(apps.get_model("gallery", "BlockedTerm"))


def remove_shipped_terms(apps, schema_editor):
    BlockedTerm = apps.get_model("gallery", "BlockedTerm")
    shipped = [term for term, _category, _whole_word in blocklist_data.SHIPPED_TERMS]
    BlockedTerm.objects.filter(term__in=shipped).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(add_shipped_terms, remove_shipped_terms),
    ]
