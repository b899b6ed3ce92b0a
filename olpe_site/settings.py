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
    "drf_spectacular_sidecar",  # Swagger UI served locally: museum PCs may be offline
    "channels",
    "django_q",
    "axes",  # locks out repeated failed logins (see docs/security.md)
    "museum",
    "inpainting",
    "gallery",
    "training",
    "kiosk",
    "tooling",  # runplatform, olpe_client, build_tiny_model, seed_demo
    "iiif",  # the IIIF Image and Presentation APIs of Worlds and creations
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
    # A database that is down or locked answers 503 with Retry-After, not a 500 page.
    "olpe_site.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
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
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language: German for visitors, English and Dutch beside it --------------
LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English")), ("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
USE_I18N = True
USE_TZ = True

# --- Static and media files --------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from here after collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # works before collectstatic, e.g. in tests
# Media is never served as plain files: results and gallery images go through
# views that check who may see them (pending creations stay private).
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
# Every web and worker process must see the same media: on one PC a local
# directory, when scaled a shared filesystem (MEDIA_ROOT on NFS) or an
# S3-compatible bucket (OLPE_MEDIA_STORAGE=s3, see docs/deploy.md).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

OLPE_MEDIA_STORAGE = env.str("OLPE_MEDIA_STORAGE", default="filesystem").strip().lower()
if OLPE_MEDIA_STORAGE == "s3":
    import importlib.util

    if importlib.util.find_spec("storages") is None:
        raise ImproperlyConfigured(
            "OLPE_MEDIA_STORAGE=s3 needs django-storages and boto3: "
            "pip install 'olpe-alternativweltgeschichten[s3]'"
        )
    # Credentials come from boto3's usual sources (AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, or an instance role), never from this file.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "location": env.str("AWS_LOCATION", default=""),
            # Private objects; the platform's views decide who sees a picture.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
elif OLPE_MEDIA_STORAGE != "filesystem":
    raise ImproperlyConfigured(
        f"OLPE_MEDIA_STORAGE must be 'filesystem' or 's3', not {OLPE_MEDIA_STORAGE!r}."
    )

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
# The long side the own model paints at; 0: its family's own size (SD 1.x 512,
# SD 2.x 768, SDXL 1024; inpainting_core/model_families.py).
OLPE_MODEL_RESOLUTION = env.int("OLPE_MODEL_RESOLUTION", default=0)
OLPE_SCHEDULER = env.str("OLPE_SCHEDULER", default="dpmsolver++")
OLPE_STEPS = env.int("OLPE_STEPS", default=30)
OLPE_GUIDANCE = env.float("OLPE_GUIDANCE", default=7.5)
OLPE_STRENGTH = env.float("OLPE_STRENGTH", default=1.0)
# The miniature random model from build_tiny_model is a test fixture: never offered to visitors.
OLPE_ALLOW_TINY_MODEL = env.bool("OLPE_ALLOW_TINY_MODEL", default=False)
# Whether workers follow the models and LoRA styles curators register in the admin
# (training's registry, handed to the engine by training's AppConfig); a change is
# picked up before the next job. Off: only OLPE_MODEL and OLPE_LORA_STYLES count.
OLPE_MODEL_REGISTRY = env.bool("OLPE_MODEL_REGISTRY", default=True)
# LoRA style adapters, "style=path_or_hub_id" pairs separated by commas.
OLPE_LORA_STYLES = env.dict("OLPE_LORA_STYLES", default={})

# The classic engine works at the crop's own size up to this long side (speed on a CPU).
OLPE_CLASSIC_MAX_SIDE = env.int("OLPE_CLASSIC_MAX_SIDE", default=1024)

OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
OPENAI_IMAGE_MODEL = env.str("OPENAI_IMAGE_MODEL", default="gpt-image-2.5-sunburst")
OPENAI_TIMEOUT = env.float("OPENAI_TIMEOUT", default=60.0)
OPENAI_MAX_RETRIES = env.int("OPENAI_MAX_RETRIES", default=1)

OLPE_TRANSLATION_ENABLED = env.bool("OLPE_TRANSLATION_ENABLED", default=True)
OLPE_TRANSLATION_TIMEOUT = env.float("OLPE_TRANSLATION_TIMEOUT", default=3.0)
# After a failed translation, wishes use the glossary for this long (no waiting on timeouts).
OLPE_TRANSLATION_RETRY_AFTER = env.float("OLPE_TRANSLATION_RETRY_AFTER", default=60.0)
# Only for tests and proxies: where deep-translator's GoogleTranslator sends requests.
OLPE_TRANSLATOR_URL = env.str("OLPE_TRANSLATOR_URL", default="") or None
OLPE_MAX_WISH_CHARS = env.int("OLPE_MAX_WISH_CHARS", default=300)

OLPE_MAX_IMAGE_PIXELS = env.int("OLPE_MAX_IMAGE_PIXELS", default=4096 * 4096)
# Worlds' maps (added by curators, painted on by reference, never uploaded with a
# wish) may be larger than a visitor's upload: scanned maps at archive resolution.
OLPE_MAX_WORLD_PIXELS = env.int("OLPE_MAX_WORLD_PIXELS", default=16384 * 16384)
# Maps with more pixels than this are painted by region: a worker reads only the part
# of the map a wish needs (from the map's lossless tile pyramid), and the result is that
# part with its place on the map (inpainting/huge_maps.py). A 16384² map is 805 MB of pixels.
OLPE_HUGE_MAP_PIXELS = env.int("OLPE_HUGE_MAP_PIXELS", default=8192 * 8192)
# Decoded maps a worker process keeps (inpainting_core/map_cache.py), in bytes of
# pixels: an 8192² World takes 192 MiB, a 4096² one 48 MiB.
OLPE_MAP_CACHE_BYTES = env.int("OLPE_MAP_CACHE_BYTES", default=512 * 1024 * 1024)
# zlib level of result PNGs: 1 writes a 4096² result about 5× faster than Pillow's
# default (6) for a file about 15 % larger (benchmarks/bench_big_maps.py).
OLPE_RESULT_PNG_LEVEL = env.int("OLPE_RESULT_PNG_LEVEL", default=1)
# The smallest map (and mask) side every engine can paint: the diffusion model's
# smallest native latent is 8 × 8 (64 px), the classic engine's largest texture patch 64 px.
OLPE_MIN_IMAGE_SIDE = env.int("OLPE_MIN_IMAGE_SIDE", default=64)
# JSON requests nesting arrays and objects deeper than this are refused (400).
OLPE_MAX_JSON_DEPTH = env.int("OLPE_MAX_JSON_DEPTH", default=32)
OLPE_CROP_PADDING = env.int("OLPE_CROP_PADDING", default=48)
OLPE_FEATHER_PX = env.int("OLPE_FEATHER_PX", default=8)

# --- Gallery and wall ----------------------------------------------------------
# The museum's public address for QR codes, when kiosks and the wall reach the
# server under a local name (e.g. https://olpe.example.org); default: the request's.
OLPE_PUBLIC_BASE_URL = env.str("OLPE_PUBLIC_BASE_URL", default="")
# How long browsers and proxies may cache public gallery images.
OLPE_GALLERY_CACHE_SECONDS = env.int("OLPE_GALLERY_CACHE_SECONDS", default=3600)
OLPE_WALL_SECONDS = env.int("OLPE_WALL_SECONDS", default=12)
OLPE_WALL_MAX_SLIDES = env.int("OLPE_WALL_MAX_SLIDES", default=60)
OLPE_WALL_SYNC_SECONDS = env.int("OLPE_WALL_SYNC_SECONDS", default=60)
OLPE_WALL_RELOAD_HOURS = env.int("OLPE_WALL_RELOAD_HOURS", default=12)
# Other processes see a curator's blocklist edits within this many seconds.
OLPE_BLOCKLIST_REFRESH_SECONDS = env.int("OLPE_BLOCKLIST_REFRESH_SECONDS", default=60)

# --- IIIF and tile pyramids (iiif/, inpainting_core/pyramids.py) -----------------
# Pictures with more pixels than this get a tile pyramid, made on a worker when a World
# is saved or a creation approved; smaller ones are served from their own file.
OLPE_PYRAMID_MIN_PIXELS = env.int("OLPE_PYRAMID_MIN_PIXELS", default=1024 * 1024)
# Local copies of pyramids and pictures for libvips, when the media storage is not a
# local directory (S3); each process fetches what it reads. May be emptied at any time.
OLPE_PYRAMID_CACHE_DIR = Path(
    env.str("OLPE_PYRAMID_CACHE_DIR", default=str(DATA_DIR / "pyramid-cache"))
)
# The largest side the IIIF Image API renders in one answer (maxWidth and maxHeight).
OLPE_IIIF_MAX_SIDE = env.int("OLPE_IIIF_MAX_SIDE", default=4096)
# The rights statement of the published pictures in IIIF (a Creative Commons licence
# or a RightsStatements.org statement URI).
OLPE_IIIF_RIGHTS = env.str("OLPE_IIIF_RIGHTS", default="http://rightsstatements.org/vocab/InC/1.0/")
# Manifests of the gallery's collection per page of the IIIF collection.
OLPE_IIIF_COLLECTION_PAGE = env.int("OLPE_IIIF_COLLECTION_PAGE", default=100)

# --- Jobs: django-q2 cluster ---------------------------------------------------
# A job runs at most OLPE_JOB_TIMEOUT seconds; the ORM broker redelivers an
# unacknowledged task after `retry` seconds, which must stay above the timeout.
OLPE_JOB_TIMEOUT = env.int("OLPE_JOB_TIMEOUT", default=600)
OLPE_JOB_MAX_ATTEMPTS = env.int("OLPE_JOB_MAX_ATTEMPTS", default=2)
# The prototype's /inpainting/ endpoint waits at most this long for its job.
OLPE_LEGACY_TIMEOUT = env.int("OLPE_LEGACY_TIMEOUT", default=600)
# A running job whose worker has been silent this long lost its worker (SIGKILL, crash);
# workers touch their job every OLPE_HEARTBEAT_SECONDS, well below that.
OLPE_JOB_STALE_SECONDS = env.int("OLPE_JOB_STALE_SECONDS", default=30)
OLPE_HEARTBEAT_SECONDS = env.float("OLPE_HEARTBEAT_SECONDS", default=5.0)
# A job queued this long is checked against the broker (Redis forgets tasks of dead workers).
OLPE_JOB_REQUEUE_SECONDS = env.int("OLPE_JOB_REQUEUE_SECONDS", default=60)
# Websockets of the embedded profile read new job events from the database this often.
OLPE_WS_POLL_SECONDS = env.float("OLPE_WS_POLL_SECONDS", default=0.3)
OLPE_WS_CHECK_SECONDS = env.float("OLPE_WS_CHECK_SECONDS", default=2.0)
# Each check of /health/ (database, channel layer, media, broker) may take this long.
OLPE_HEALTH_TIMEOUT = env.float("OLPE_HEALTH_TIMEOUT", default=2.0)
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
    # How often an idle worker asks the ORM broker for a task: one cheap indexed
    # query; 0.05 s keeps submit-to-start well under 100 ms (benchmarks/bench_web.py).
    Q_CLUSTER["poll"] = env.float("OLPE_QUEUE_POLL", default=0.05)

# --- REST API --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        # A browser session must send the CSRF token, logged in or not (kiosk sessions).
        "inpainting.api.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": [
        "inpainting.api.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "inpainting.api.exceptions.exception_handler",
    # Public reads (gallery, worlds, engines, styles, schema); views choose others by purpose.
    "DEFAULT_THROTTLE_CLASSES": [
        "inpainting.api.throttling.AnonThrottle",
        "inpainting.api.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        # Reads, per IP address (anonymous) or per account (tokens): never job creation.
        "anon": env.str("OLPE_THROTTLE_ANON", default="120/minute"),
        "user": env.str("OLPE_THROTTLE_USER", default="600/minute"),
        # New jobs, per token user or else per IP: a job costs a worker seconds to minutes.
        "jobs": env.str("OLPE_THROTTLE_JOBS", default="10/minute"),
        # Whoever made a job reading it, its result and previews (polling): a safety net only.
        "owner": env.str("OLPE_THROTTLE_OWNER", default="600/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Olpe Alternativweltgeschichten API",
    "DESCRIPTION": "Paint a region of a map of Olpe, make a wish, and an AI repaints it.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Slugs are documented with their real pattern, so clients (and fuzzers) send valid ones.
    "PATH_CONVERTER_OVERRIDES": {"slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}},
}

# --- Production profile ----------------------------------------------------------
# DJANGO_ENV=production: served to the internet over HTTPS, normally behind the
# reverse proxy of deploy/ (docs/security.md). The embedded default is a kiosk
# on http://localhost, where secure cookies and HTTPS redirects would lock it out.
DJANGO_ENV = env.str("DJANGO_ENV", default="embedded").strip().lower()
if DJANGO_ENV not in ("embedded", "production"):
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be 'embedded' or 'production', not {DJANGO_ENV!r}."
    )
PRODUCTION = DJANGO_ENV == "production"
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off when DJANGO_ENV=production.")

SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# The visitor's language (kiosk/language.py): sent over HTTPS only, like the others, and
# never read by a script.
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
# Pages send the CSRF token from their form, so no script needs the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=PRODUCTION)
# Load balancers and container health checks ask daphne over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=PRODUCTION)
# Trust X-Forwarded-Proto only from a proxy that sets it and is the only way in.
if env.bool("DJANGO_BEHIND_PROXY", default=PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("DJANGO_USE_X_FORWARDED_HOST", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # openai's HTTP library logs every request at INFO.
    # libvips (pyvips) logs every operation's steps at INFO.
    "loggers": {name: {"level": "WARNING"} for name in ("httpx", "httpx2", "urllib3", "pyvips")},
}

# --- Caches ----------------------------------------------------------------------
# "default" (rate limits, translations) lives in each process on one PC; when
# scaled, Redis shares it, so a rate limit holds across all daphnes behind the
# proxy. "shared" is seen by every process of the installation, on one PC too:
# django-q2's cluster statistics and the workers' reports for /health/workers/.
if REDIS_URL:
    _REDIS_CACHE = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "olpe",
    }
    CACHES = {"default": _REDIS_CACHE, "shared": _REDIS_CACHE}
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        },
    }
Q_CLUSTER.setdefault("cache", "shared")

# --- Behind a proxy: who is the client --------------------------------------------
# Rate limits key on REMOTE_ADDR, never on a client-supplied X-Forwarded-For;
# behind nginx, daphne --proxy-headers puts the address nginx saw there.
REST_FRAMEWORK["NUM_PROXIES"] = 0

# --- Login -----------------------------------------------------------------------------
# Staff log in through the admin. A login whose `next` points elsewhere (another site)
# is not followed; it lands on the admin's home, not on Django's /accounts/profile/.
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"

# --- Login throttling (django-axes) -------------------------------------------------
# After OLPE_LOGIN_FAILURE_LIMIT failed logins for one username from one address,
# that pair is locked out for OLPE_LOGIN_LOCKOUT_MINUTES, the right password included.
from datetime import timedelta  # noqa: E402

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("OLPE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("OLPE_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Record failures only: successful logins need no log of addresses.
AXES_DISABLE_ACCESS_LOG = True
# Lockouts are still logged; no banner on every start of every process.
AXES_VERBOSE = False

# --- PostgreSQL connection pool (scaled profile) ----------------------------------
# With PostgreSQL, each process (every daphne, the cluster's sentinel, monitor and
# workers) keeps a psycopg pool of OLPE_DB_POOL_MIN to OLPE_DB_POOL_MAX connections.
# A request takes one for its duration and gives it back when Django "closes" it,
# so daphne's thread per request no longer opens and tears down a connection each
# time, and a process never holds more than OLPE_DB_POOL_MAX, however busy.
# A request waits at most OLPE_DB_POOL_TIMEOUT seconds for a free connection.
# Django requires CONN_MAX_AGE = 0 with a pool. OLPE_DB_POOL=false: no pool, a
# new connection per request (DATABASE_CONN_MAX_AGE applies). SQLite: unchanged.
# Pools do not survive fork(): olpe_site.apps makes forked children (django-q2's
# workers) open their own. docs/deploy.md, docs/performance.md.
INSTALLED_APPS += ["olpe_site"]
OLPE_DB_POOL = env.bool("OLPE_DB_POOL", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and OLPE_DB_POOL:
    if DATABASES["default"].get("CONN_MAX_AGE"):
        raise ImproperlyConfigured(
            "DATABASE_CONN_MAX_AGE must be 0 with the pool (OLPE_DB_POOL=true); "
            "set OLPE_DB_POOL=false to keep connections without a pool."
        )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    _pool_min = env.int("OLPE_DB_POOL_MIN", default=2)
    _pool_max = env.int("OLPE_DB_POOL_MAX", default=10)
    if not 0 <= _pool_min <= _pool_max or _pool_max < 1:
        raise ImproperlyConfigured(
            "OLPE_DB_POOL_MIN and OLPE_DB_POOL_MAX need 0 <= min <= max and max >= 1, "
            f"not {_pool_min} and {_pool_max}."
        )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": _pool_min,
        "max_size": _pool_max,
        "timeout": env.float("OLPE_DB_POOL_TIMEOUT", default=10.0),
    }

# --- Content-Security-Policy (django-csp) ----------------------------------------
# Every page runs only this site's own scripts and styles: no inline <script> or
# style="" (pages keep them in static files; json_script data blocks are not
# executed), no eval, no plugins, never in a frame, forms only to this site.
# Pictures also come as data: URLs (job previews) and blob: URLs (the kiosk's
# canvas and the maps it fetches). 'self' covers ws:// and wss:// of the same
# host in CSP Level 3 browsers (the kiosk's and the wall's Chromium), so the
# websockets need no other source. The API's Swagger UI loosens this for its
# page only (olpe_site/csp_views.py). deploy/nginx sends the same header with the
# static files it serves itself; docs/security.md.
from csp.constants import NONE, SELF  # noqa: E402

INSTALLED_APPS += ["csp"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
# OpenSeadragon (static/vendor/openseadragon/, the deep zoom of creations and the IIIF
# viewer) adds one fixed <style> block to a page it shows; its hash allows exactly that
# block, nothing else (tests/test_csp.py checks it against the vendored file).
OPENSEADRAGON_STYLE = "'sha256-9xTiqzfwFaL2SGb1rmr8gysEwVVjIvqWAgmZgqFqpEE='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, OPENSEADRAGON_STYLE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
