"""Settings for the Olpe platform.

Every value comes from the environment (or a `.env` file beside manage.py) and
has an embedded default that runs on one museum PC: SQLite, the django-q2 ORM
broker, the in-memory channel layer and local media. Setting DATABASE_URL and
REDIS_URL switches to the scaled profile without code changes; see
`.env.example` for every variable.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from olpe_site.secret import load_or_create_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("OLPE_DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The key is generated on first run and kept in DATA_DIR, never committed.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or load_or_create_secret_key(
    DATA_DIR / "secret_key"
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "django_q",
    "inpainting",
    "gallery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves static files from daphne itself, so one process is enough on a museum PC.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "olpe_site.urls"
WSGI_APPLICATION = "olpe_site.wsgi.application"
ASGI_APPLICATION = "olpe_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: SQLite on one PC, PostgreSQL (DATABASE_URL) when scaled -------
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and worker processes share one file: wait for locks instead of failing,
    # and let readers proceed while a worker writes (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test-db.sqlite3")
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language: German for visitors, English second ---------------------------
LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

# --- Static and media files --------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # works before collectstatic, e.g. in tests
# Media is never served as plain files: results and gallery images go through
# views that check who may see them (pending creations stay private).
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))

# Uploads: refuse oversized bodies before Django reads them into memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("OLPE_MAX_UPLOAD_BYTES", default=40 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Channels: in-memory in one process, Redis when scaled ---------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Inpainting ----------------------------------------------------------------
OLPE_DEFAULT_ENGINE = env.str("OLPE_DEFAULT_ENGINE", default="classic")
# Own model: a hub id or a local directory (fetch_model puts hub models in OLPE_MODEL_DIR).
OLPE_MODEL = env.str("OLPE_MODEL", default="GP-Alternativweltgeschichten/OlpeAI")
OLPE_MODEL_DIR = Path(env.str("OLPE_MODEL_DIR", default=str(DATA_DIR / "models")))
OLPE_MODEL_RESOLUTION = env.int("OLPE_MODEL_RESOLUTION", default=768)
OLPE_SCHEDULER = env.str("OLPE_SCHEDULER", default="dpmsolver++")
OLPE_STEPS = env.int("OLPE_STEPS", default=30)
OLPE_GUIDANCE = env.float("OLPE_GUIDANCE", default=7.5)
OLPE_STRENGTH = env.float("OLPE_STRENGTH", default=1.0)
# LoRA style adapters, "style=path_or_hub_id" pairs separated by commas.
OLPE_LORA_STYLES = env.dict("OLPE_LORA_STYLES", default={})

OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
OPENAI_IMAGE_MODEL = env.str("OPENAI_IMAGE_MODEL", default="gpt-image-1")
OPENAI_TIMEOUT = env.float("OPENAI_TIMEOUT", default=60.0)
OPENAI_MAX_RETRIES = env.int("OPENAI_MAX_RETRIES", default=1)

OLPE_TRANSLATION_ENABLED = env.bool("OLPE_TRANSLATION_ENABLED", default=True)
OLPE_TRANSLATION_TIMEOUT = env.float("OLPE_TRANSLATION_TIMEOUT", default=3.0)

OLPE_MAX_IMAGE_PIXELS = env.int("OLPE_MAX_IMAGE_PIXELS", default=4096 * 4096)
OLPE_CROP_PADDING = env.int("OLPE_CROP_PADDING", default=48)
OLPE_FEATHER_PX = env.int("OLPE_FEATHER_PX", default=8)

# --- Jobs: django-q2 cluster ---------------------------------------------------
# A job runs at most OLPE_JOB_TIMEOUT seconds; the ORM broker redelivers an
# unacknowledged task after `retry` seconds, which must stay above the timeout.
OLPE_JOB_TIMEOUT = env.int("OLPE_JOB_TIMEOUT", default=600)
OLPE_JOB_MAX_ATTEMPTS = env.int("OLPE_JOB_MAX_ATTEMPTS", default=2)
Q_CLUSTER = {
    "name": "olpe",
    "workers": env.int("OLPE_WORKERS", default=1),
    "recycle": 500,
    "timeout": OLPE_JOB_TIMEOUT,
    "retry": OLPE_JOB_TIMEOUT + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "label": "Django Q2",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = env.float("OLPE_QUEUE_POLL", default=0.5)

# --- REST API --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("OLPE_THROTTLE_ANON", default="30/minute"),
        "user": env.str("OLPE_THROTTLE_USER", default="300/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Olpe Alternativweltgeschichten API",
    "DESCRIPTION": "Paint a region of a map of Olpe, make a wish, and an AI repaints it.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Production profile ----------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
