"""The museum's shared facts: the maps visitors paint on, the curators' settings,
the blocklist and the day's OpenAI budget.

Every layer above reads these: the job service (which engine, is the wish
allowed, which World), the gallery, the kiosk and training. The models came
from `gallery` (museum/migrations/0001_initial.py) and kept their tables.
"""

import secrets
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inpainting_core import engines
from inpainting_core.imaging import ImageProblem, inspect_picture, min_image_side, open_image
from inpainting_core.pyramids import inspect_map
from museum.pyramids import is_huge


def world_image_path(world, filename):
    return f"worlds/{world.slug}-{secrets.token_hex(4)}.png"


def world_regions_path(world, filename):
    return f"worlds/regions/{world.slug}-{secrets.token_hex(4)}.png"


def validate_paintable_map(file) -> None:
    """A World's map passes the checks a visitor's map passes: a PNG, JPEG or WebP
    picture within the pixel limit for Worlds (OLPE_MAX_WORLD_PIXELS: Worlds are
    painted on by reference, never uploaded with a wish), with every side at least
    OLPE_MIN_IMAGE_SIDE, so that no wish on it can fail for its size.

    A map painted by region (more than OLPE_HUGE_MAP_PIXELS) is checked from its
    header and then decoded by libvips in a stream of rows, never held whole.
    """
    limits = {"min_side": min_image_side(), "max_pixels": settings.OLPE_MAX_WORLD_PIXELS}
    try:
        picture = inspect_picture(file, **limits)
        if is_huge(picture.size):
            inspect_map(picture.data, **limits)
        else:
            open_image(picture.data, **limits)
    except ImageProblem as problem:
        raise ValidationError(problem.message, code=problem.code) from problem


class World(models.Model):
    """A map visitors start from: a curator's scenario or a historic map."""

    class Kind(models.TextChoices):
        SCENARIO = "scenario", _("scenario")
        HISTORIC = "historic", _("historic map")
        SATELLITE = "satellite", _("satellite map")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.SCENARIO)
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=140, unique=True)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(
        _("image"), upload_to=world_image_path, max_length=255,
        validators=[validate_paintable_map],
    )
    map_date = models.CharField(
        _("date of the map"), max_length=40, blank=True,
        help_text=_("For historic maps, e.g. “1830” or “around 1900”."),
    )
    metres_per_pixel = models.FloatField(
        _("metres per pixel"), null=True, blank=True, validators=[MinValueValidator(0.01)],
        help_text=_("The map's ground resolution, e.g. 0.1 for an orthophoto with 10 cm "
                    "pixels. Left empty, the classic engine estimates it from the picture."),
    )
    visible = models.BooleanField(_("visible"), default=True)
    editable = models.BooleanField(
        _("editable"), default=True,
        help_text=_("Visitors may paint on it. Non-editable maps can only be viewed."),
    )
    order = models.PositiveIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(default=timezone.now)
    # The map's regions for the kiosk's select tool: a label picture made on a worker
    # (museum/tasks.py) whenever the map is new; `segmentation_source` names the
    # picture it was made from, so a changed map is noticed and cut again.
    segmentation = models.FileField(
        _("regions"), upload_to=world_regions_path, max_length=255, blank=True, editable=False,
    )
    segmentation_source = models.CharField(max_length=255, blank=True, editable=False)

    class Meta:
        db_table = "gallery_world"  # the table kept its name when the model left gallery
        ordering = ["order", "name"]
        verbose_name = _("world")
        verbose_name_plural = _("worlds")

    def __str__(self):
        return self.name

    def segmentation_is_current(self) -> bool:
        return bool(self.segmentation) and self.segmentation_source == self.image.name



def default_visitor_engine() -> str:
    """A fresh installation offers the engine the deployment names (OLPE_DEFAULT_ENGINE)."""
    configured = settings.OLPE_DEFAULT_ENGINE
    return configured if configured in engines.ENGINE_NAMES else engines.CLASSIC


class SiteSettings(models.Model):
    """The one row of settings curators edit in admin (engine, budget, kiosk behaviour)."""

    # Every job and kiosk page reads the settings: `cached()` keeps the row this
    # many seconds, so a curator's change reaches other processes that much later.
    CACHE_SECONDS = 5.0
    _cached: tuple[float, "SiteSettings"] | None = None

    visitor_engine = models.CharField(
        _("engine for visitors"), max_length=16, choices=engines.CHOICES,
        default=default_visitor_engine,
    )
    visitors_choose_engine = models.BooleanField(_("visitors may choose the engine"), default=False)
    auto_approve = models.BooleanField(
        _("approve creations automatically"), default=False,
        help_text=_("Without this, every creation waits for a curator."),
    )
    openai_daily_budget = models.PositiveIntegerField(
        _("daily OpenAI image budget"), default=50,
        help_text=_("When the day's images are used up, visitors get the own model, then the classic engine."),
    )
    idle_reset_seconds = models.PositiveIntegerField(
        _("kiosk idle reset (seconds)"), default=120, validators=[MinValueValidator(5)]
    )
    safety_checker = models.BooleanField(
        _("check pictures with the model's safety checker"), default=False,
        help_text=_("Only for models that ship a safety checker; a picture it flags is not shown."),
    )
    prompt_suggestions_de = models.TextField(
        _("wish suggestions (German)"), blank=True, help_text=_("One suggestion per line.")
    )
    prompt_suggestions_en = models.TextField(
        _("wish suggestions (English)"), blank=True, help_text=_("One suggestion per line.")
    )
    prompt_suggestions_nl = models.TextField(
        _("wish suggestions (Dutch)"), blank=True,
        help_text=_("One suggestion per line. Left empty, Dutch visitors get the English ones."),
    )

    class Meta:
        db_table = "gallery_sitesettings"  # the table kept its name when the model left gallery
        verbose_name = _("site settings")
        verbose_name_plural = _("site settings")

    def __str__(self):
        return str(_("Site settings"))

    def save(self, *args, **kwargs):
        self.pk = 1  # a single row: the platform has exactly one set of settings
        super().save(*args, **kwargs)
        self.forget_cached()

    @classmethod
    def load(cls) -> "SiteSettings":
        settings_row, _created = cls.objects.get_or_create(pk=1)
        return settings_row

    @classmethod
    def cached(cls) -> "SiteSettings":
        """The settings as read at most CACHE_SECONDS ago; read-only, use load() to edit."""
        # No lock: replacing the tuple is atomic, and two threads that both
        # reload at expiry merely read the same row twice. (Loading may save a
        # new row, and save() clears the cache, so a lock here would deadlock.)
        cached = cls._cached
        if cached is None or time.monotonic() - cached[0] > cls.CACHE_SECONDS:
            row = cls.load()
            cls._cached = (time.monotonic(), row)
            return row
        return cached[1]

    @classmethod
    def forget_cached(cls) -> None:
        cls._cached = None

    def suggestions(self, language: str) -> list[str]:
        """The curators' suggestions in `language` (German for a language without its own)."""
        by_language = {"de": self.prompt_suggestions_de, "en": self.prompt_suggestions_en,
                       "nl": self.prompt_suggestions_nl or self.prompt_suggestions_en}
        text = by_language.get(language[:2], self.prompt_suggestions_de)
        return [line.strip() for line in text.splitlines() if line.strip()]


class OpenAIUsage(models.Model):
    """Images sent to OpenAI per day, counted when a job is assigned to OpenAI."""

    day = models.DateField(_("day"), unique=True)
    images = models.PositiveIntegerField(_("images"), default=0)

    class Meta:
        db_table = "gallery_openaiusage"  # the table kept its name when the model left gallery
        ordering = ["-day"]
        verbose_name = _("OpenAI usage")
        verbose_name_plural = _("OpenAI usage")

    def __str__(self):
        return f"{self.day}: {self.images}"


class BlockedTerm(models.Model):
    """A word or phrase that stops a wish before any engine runs."""

    class Category(models.TextChoices):
        INSULT = "insult", _("insult")
        SEXUAL = "sexual", _("sexual content")
        VIOLENCE = "violence", _("violence against people")
        EXTREMISM = "extremism", _("extremism")
        OTHER = "other", _("other")

    term = models.CharField(
        _("term"), max_length=80, unique=True,
        help_text=_(
            "Spelling does not matter: capitals, accents, look-alike letters from other "
            "alphabets, umlauts written as ae/oe/ue, digits and signs for letters and "
            "repeated letters are matched too."
        ),
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    whole_word_only = models.BooleanField(
        _("whole word only"), default=False,
        help_text=_(
            "Match only the whole word, spelled exactly. Otherwise the term also matches "
            "inside longer words (German compounds), with spaces inside it, with umlauts as "
            "plain vowels and, for extremist terms, with one letter more or less, changed "
            "or swapped with its neighbour; use this for short terms hidden in harmless "
            "words, such as “arsch” in “Marsch”."
        ),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        db_table = "gallery_blockedterm"  # the table kept its name when the model left gallery
        ordering = ["category", "term"]
        verbose_name = _("blocked term")
        verbose_name_plural = _("blocked terms")

    def __str__(self):
        return self.term


class BlockedAttempt(models.Model):
    """A wish that was blocked, so curators can see what visitors tried."""

    wish = models.TextField(_("wish"))
    matched_term = models.CharField(_("matched term"), max_length=80)
    category = models.CharField(_("category"), max_length=16, blank=True)
    kiosk_session = models.CharField(_("kiosk session"), max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        db_table = "gallery_blockedattempt"  # the table kept its name when the model left gallery
        ordering = ["-created_at"]
        verbose_name = _("blocked attempt")
        verbose_name_plural = _("blocked attempts")

    def __str__(self):
        return f"{self.matched_term}: {self.wish[:40]}"
