"""Bring the shipped blocklist of existing installations up to date (issue 24).

Adds "natzi" (too short for near misses) and the Nazi regime's own terms,
slogans and organisations that curators expect on the list. Like gallery's
0002 and 0005, it only adds terms that are missing, so a term a curator
deleted does not come back. The whole-word help text now says that extremist
terms also match with one letter changed or swapped (`museum.matcher`).

The list is written out here, not read from `museum.blocklist_data`, so this
migration does the same thing whenever it runs; tests/test_moderation_hostile.py
checks that it agrees with the shipped list.
"""

from django.db import migrations, models

EXTREMISM = "extremism"

# (term, category, whole_word_only)
ADDED_TERMS = (
    ("natzi", EXTREMISM, False),
    ("reichsparteitag", EXTREMISM, False),
    ("endsieg", EXTREMISM, False),
    ("judenstern", EXTREMISM, False),
    ("judenfrei", EXTREMISM, False),
    ("judenrein", EXTREMISM, False),
    ("kristallnacht", EXTREMISM, False),
    ("herrenmensch", EXTREMISM, False),
    ("rassenhygiene", EXTREMISM, False),
    ("rassenlehre", EXTREMISM, False),
    ("volksgemeinschaft", EXTREMISM, False),
    ("volk ohne raum", EXTREMISM, False),
    ("lebensraum im osten", EXTREMISM, False),
    ("meine ehre heisst treue", EXTREMISM, False),
    ("fuehrerhauptquartier", EXTREMISM, False),
    ("wolfsschanze", EXTREMISM, False),
    ("bund deutscher maedel", EXTREMISM, False),
    ("leibstandarte", EXTREMISM, False),
    ("einsatzgruppen", EXTREMISM, False),
    ("gauleiter", EXTREMISM, False),
    ("reichsfuehrer", EXTREMISM, False),
    ("horst wessel", EXTREMISM, False),
    ("rudolf hess", EXTREMISM, True),
    ("zyklon b", EXTREMISM, True),
    ("todeslager", EXTREMISM, False),
)


def add_shipped_terms(apps, schema_editor):
    BlockedTerm = apps.get_model("museum", "BlockedTerm")
    existing = set(BlockedTerm.objects.values_list("term", flat=True))
    BlockedTerm.objects.bulk_create(
        BlockedTerm(term=term, category=category, whole_word_only=whole_word_only)
        for term, category, whole_word_only in ADDED_TERMS
        if term not in existing
    )


def remove_shipped_terms(apps, schema_editor):
    BlockedTerm = apps.get_model("museum", "BlockedTerm")
    BlockedTerm.objects.filter(term__in=[term for term, _c, _w in ADDED_TERMS]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("museum", "0003_world_segmentation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="blockedterm",
            name="whole_word_only",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Match only the whole word, spelled exactly. Otherwise the term also "
                    "matches inside longer words (German compounds), with spaces inside it, "
                    "with umlauts as plain vowels and, for extremist terms, with one letter "
                    "more or less, changed or swapped with its neighbour; use this for short "
                    "terms hidden in harmless words, such as “arsch” in “Marsch”."
                ),
                verbose_name="whole word only",
            ),
        ),
        migrations.RunPython(add_shipped_terms, remove_shipped_terms),
    ]
