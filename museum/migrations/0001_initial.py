"""The museum's shared facts leave gallery: World, SiteSettings, OpenAIUsage,
BlockedTerm and BlockedAttempt now belong to this app.

Nothing moves in the database: the models keep their tables (`db_table`,
"gallery_world" and so on), so this migration only tells Django's state that
they are here now (gallery/migrations/0007 forgets them there, and
inpainting/migrations/0004 points jobs' worlds here). Their content types
follow them (app_label "gallery" → "museum"), and with them every permission
and every admin log entry that names them: the Curators group keeps its rights.
"""

import django.core.validators
import django.utils.timezone
from django.db import migrations, models

import museum.models

MOVED_MODELS = ("world", "sitesettings", "openaiusage", "blockedterm", "blockedattempt")


def move_content_types(from_label, to_label):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        types = ContentType.objects.using(schema_editor.connection.alias)
        for model in MOVED_MODELS:
            if not types.filter(app_label=to_label, model=model).exists():
                types.filter(app_label=from_label, model=model).update(app_label=to_label)
        # The global model's cache may hold the old labels (tests migrate back and forth).
        from django.contrib.contenttypes.models import ContentType as CurrentContentType

        CurrentContentType.objects.clear_cache()

    return move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        # The tables were made, and last changed, by gallery's migrations.
        ("gallery", "0006_world_map_is_paintable"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='BlockedAttempt',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('wish', models.TextField(verbose_name='wish')),
                        ('matched_term', models.CharField(max_length=80, verbose_name='matched term')),
                        ('category', models.CharField(blank=True, max_length=16, verbose_name='category')),
                        ('kiosk_session', models.CharField(blank=True, max_length=64, verbose_name='kiosk session')),
                        ('client_ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP address')),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='when')),
                    ],
                    options={
                        'verbose_name': 'blocked attempt',
                        'verbose_name_plural': 'blocked attempts',
                        'db_table': 'gallery_blockedattempt',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='BlockedTerm',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('term', models.CharField(help_text='Spelling does not matter: capitals, accents, look-alike letters from other alphabets, umlauts written as ae/oe/ue, digits and signs for letters and repeated letters are matched too.', max_length=80, unique=True, verbose_name='term')),
                        ('category', models.CharField(choices=[('insult', 'insult'), ('sexual', 'sexual content'), ('violence', 'violence against people'), ('extremism', 'extremism'), ('other', 'other')], max_length=16, verbose_name='category')),
                        ('whole_word_only', models.BooleanField(default=False, help_text='Match only the whole word, spelled exactly. Otherwise the term also matches inside longer words (German compounds), with spaces inside it, with umlauts as plain vowels and, for extremist terms, with one letter more or less; use this for short terms hidden in harmless words, such as “arsch” in “Marsch”.', verbose_name='whole word only')),
                        ('active', models.BooleanField(default=True, verbose_name='active')),
                    ],
                    options={
                        'verbose_name': 'blocked term',
                        'verbose_name_plural': 'blocked terms',
                        'db_table': 'gallery_blockedterm',
                        'ordering': ['category', 'term'],
                    },
                ),
                migrations.CreateModel(
                    name='OpenAIUsage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField(unique=True, verbose_name='day')),
                        ('images', models.PositiveIntegerField(default=0, verbose_name='images')),
                    ],
                    options={
                        'verbose_name': 'OpenAI usage',
                        'verbose_name_plural': 'OpenAI usage',
                        'db_table': 'gallery_openaiusage',
                        'ordering': ['-day'],
                    },
                ),
                migrations.CreateModel(
                    name='SiteSettings',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('visitor_engine', models.CharField(choices=[('diffusers', 'own model'), ('openai', 'OpenAI'), ('classic', 'classic (offline)')], default=museum.models.default_visitor_engine, max_length=16, verbose_name='engine for visitors')),
                        ('visitors_choose_engine', models.BooleanField(default=False, verbose_name='visitors may choose the engine')),
                        ('auto_approve', models.BooleanField(default=False, help_text='Without this, every creation waits for a curator.', verbose_name='approve creations automatically')),
                        ('openai_daily_budget', models.PositiveIntegerField(default=50, help_text="When the day's images are used up, visitors get the own model, then the classic engine.", verbose_name='daily OpenAI image budget')),
                        ('idle_reset_seconds', models.PositiveIntegerField(default=120, validators=[django.core.validators.MinValueValidator(5)], verbose_name='kiosk idle reset (seconds)')),
                        ('prompt_suggestions_de', models.TextField(blank=True, help_text='One suggestion per line.', verbose_name='wish suggestions (German)')),
                        ('prompt_suggestions_en', models.TextField(blank=True, help_text='One suggestion per line.', verbose_name='wish suggestions (English)')),
                    ],
                    options={
                        'verbose_name': 'site settings',
                        'verbose_name_plural': 'site settings',
                        'db_table': 'gallery_sitesettings',
                    },
                ),
                migrations.CreateModel(
                    name='World',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('scenario', 'scenario'), ('historic', 'historic map'), ('satellite', 'satellite map')], default='scenario', max_length=16, verbose_name='kind')),
                        ('name', models.CharField(max_length=120, verbose_name='name')),
                        ('slug', models.SlugField(max_length=140, unique=True, verbose_name='slug')),
                        ('description', models.TextField(blank=True, verbose_name='description')),
                        ('image', models.ImageField(max_length=255, upload_to=museum.models.world_image_path, validators=[museum.models.validate_paintable_map], verbose_name='image')),
                        ('map_date', models.CharField(blank=True, help_text='For historic maps, e.g. “1830” or “around 1900”.', max_length=40, verbose_name='date of the map')),
                        ('visible', models.BooleanField(default=True, verbose_name='visible')),
                        ('editable', models.BooleanField(default=True, help_text='Visitors may paint on it. Non-editable maps can only be viewed.', verbose_name='editable')),
                        ('order', models.PositiveIntegerField(default=0, verbose_name='order')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        'verbose_name': 'world',
                        'verbose_name_plural': 'worlds',
                        'db_table': 'gallery_world',
                        'ordering': ['order', 'name'],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            move_content_types("gallery", "museum"), move_content_types("museum", "gallery")
        ),
    ]
