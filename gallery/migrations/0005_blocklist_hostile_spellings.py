"""Bring the shipped blocklist of existing installations up to date (issue 11).

Adds the extremist symbols and terms shipped since 0002 (the swastika
characters, SS and Sig runes, camp terms, slogans, number codes) and makes a
few shipped terms whole-word, because the looser matching of
`museum.moderation` (umlauts dropped, spaces inside a term, near misses)
would otherwise find them in harmless words ("toeten" in "Toten", "vergast"
in "verglast"). Like 0002, it only adds terms that are missing, so a term a
curator deleted does not come back; a flag is only changed where the row
still has the value it was shipped with.

The lists are written out here, not read from `museum.blocklist_data`, so
this migration does the same thing whenever it runs;
tests/test_moderation_hostile.py checks that they agree with the shipped list.
"""

from django.db import migrations, models

EXTREMISM = "extremism"
INSULT = "insult"
VIOLENCE = "violence"

# (term, category, whole_word_only)
ADDED_TERMS = (
    ("\u5350", EXTREMISM, False),  # 卐
    ("\u534d", EXTREMISM, False),  # 卍 (see museum.blocklist_data for why it is refused)
    ("\u0fd5", EXTREMISM, False),  # ࿕
    ("\u0fd6", EXTREMISM, False),  # ࿖
    ("\u0fd7", EXTREMISM, False),  # ࿗
    ("\u0fd8", EXTREMISM, False),  # ࿘
    ("ss rune", EXTREMISM, False),
    ("sig rune", EXTREMISM, False),
    ("siegrune", EXTREMISM, False),
    ("schwarze sonne", EXTREMISM, True),
    ("wolfsangel", EXTREMISM, False),
    ("fuehrerbunker", EXTREMISM, False),
    ("mein kampf", EXTREMISM, True),
    ("arbeit macht frei", EXTREMISM, False),
    ("blut und boden", EXTREMISM, False),
    ("deutschland erwache", EXTREMISM, False),
    ("ein reich ein fuehrer", EXTREMISM, False),
    ("endloesung", EXTREMISM, False),
    ("rassenschande", EXTREMISM, False),
    ("kz", EXTREMISM, True),
    ("konzentrationslager", EXTREMISM, False),
    ("vernichtungslager", EXTREMISM, False),
    ("auschwitz", EXTREMISM, False),
    ("14 88", EXTREMISM, True),
    ("14 words", EXTREMISM, True),
    ("hh 88", EXTREMISM, True),
    ("88 hh", EXTREMISM, True),
    ("heil 88", EXTREMISM, True),
    ("vergaste", EXTREMISM, True),
    ("vergasten", EXTREMISM, True),
    ("schlampen", INSULT, True),
    ("erhaengte", VIOLENCE, True),
    ("erhaengten", VIOLENCE, True),
    ("rapists", VIOLENCE, True),
)

# Shipped in 0002 as not whole-word; whole-word from now on.
NOW_WHOLE_WORD = (
    "toeten", "erhaengen", "erhaengt", "schlampe", "pisser", "rapist", "vergasen", "vergast",
)


def update_shipped_terms(apps, schema_editor):
    BlockedTerm = apps.get_model("gallery", "BlockedTerm")
    existing = set(BlockedTerm.objects.values_list("term", flat=True))
    BlockedTerm.objects.bulk_create(
        BlockedTerm(term=term, category=category, whole_word_only=whole_word_only)
        for term, category, whole_word_only in ADDED_TERMS
        if term not in existing
    )
    BlockedTerm.objects.filter(term__in=NOW_WHOLE_WORD, whole_word_only=False).update(
        whole_word_only=True
    )


def revert_shipped_terms(apps, schema_editor):
    BlockedTerm = apps.get_model("gallery", "BlockedTerm")
    BlockedTerm.objects.filter(term__in=[term for term, _c, _w in ADDED_TERMS]).delete()
    BlockedTerm.objects.filter(term__in=NOW_WHOLE_WORD).update(whole_word_only=False)


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0004_purge_schedule"),
    ]

    operations = [
        migrations.AlterField(
            model_name="blockedterm",
            name="term",
            field=models.CharField(
                help_text=(
                    "Spelling does not matter: capitals, accents, look-alike letters from "
                    "other alphabets, umlauts written as ae/oe/ue, digits and signs for "
                    "letters and repeated letters are matched too."
                ),
                max_length=80, unique=True, verbose_name="term",
            ),
        ),
        migrations.AlterField(
            model_name="blockedterm",
            name="whole_word_only",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Match only the whole word, spelled exactly. Otherwise the term also "
                    "matches inside longer words (German compounds), with spaces inside it, "
                    "with umlauts as plain vowels and, for extremist terms, with one letter "
                    "more or less; use this for short terms hidden in harmless words, such "
                    "as “arsch” in “Marsch”."
                ),
                verbose_name="whole word only",
            ),
        ),
        migrations.RunPython(update_shipped_terms, revert_shipped_terms),
    ]
