"""The production profile, login throttling, upload limits and secrets.

Profiles are tried in fresh processes (settings are read once per process);
the login throttle and the upload limits in process against the test database.
"""

import io
import json
import os
import re
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient, Client, RequestFactory
from PIL import Image

from inpainting.api.throttling import AnonThrottle

ROOT = Path(settings.BASE_DIR)
HOST = "olpe.example.org"


def production_env(tmp_path, **extra) -> dict:
    return {
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "OLPE_DATA_DIR": str(tmp_path),
        **extra,
    }


def run(args, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """A fresh process in the repository with `env` added (None removes a variable)."""
    merged = {**os.environ, "DJANGO_SETTINGS_MODULE": "olpe_site.settings", **env}
    for name in ("DATABASE_URL", "REDIS_URL"):
        merged.setdefault(name, None)
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={name: value for name, value in merged.items() if value is not None},
    )


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return run([sys.executable, "manage.py", *args], env)


# --- the production profile --------------------------------------------------------


def test_check_deploy_is_clean_in_the_production_profile(tmp_path):
    completed = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "no issues" in completed.stdout


def test_the_embedded_profile_warns_only_about_plain_http(tmp_path):
    """A kiosk on http://localhost: no HTTPS, so no HSTS, redirects or secure cookies."""
    completed = manage("check", "--deploy", env={"OLPE_DATA_DIR": str(tmp_path)})

    assert completed.returncode == 0, completed.stderr
    warnings = set(re.findall(r"\(security\.(W\d+)\)", completed.stdout + completed.stderr))
    assert warnings == {"W004", "W008", "W012", "W016"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG must be off"),
        ({"DJANGO_ENV": "prod"}, "DJANGO_ENV must be 'embedded' or 'production'"),
        ({"OLPE_MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "olpe"},
         "pip install 'olpe-alternativweltgeschichten[s3]'"),
    ],
    ids=["debug", "unknown-profile", "s3-without-extra"],
)
def test_a_contradictory_configuration_refuses_to_start(tmp_path, extra, message):
    if "OLPE_MEDIA_STORAGE" in extra and _installed("storages"):
        pytest.skip("django-storages is installed here")

    completed = manage("check", env=production_env(tmp_path, **extra))

    assert completed.returncode != 0
    assert "ImproperlyConfigured" in completed.stderr and message in completed.stderr


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def production_answers(tmp_path_factory):
    """What a production process answers over plain HTTP and behind the proxy's HTTPS."""
    script = textwrap.dedent(
        """
        import json
        import django
        django.setup()
        from django.core.management import call_command
        from django.test import Client
        call_command("migrate", verbosity=0)

        def answer(response):
            cookies = {
                name: {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"])}
                for name, morsel in response.cookies.items()
            }
            return {"status": response.status_code, "headers": dict(response.headers),
                    "cookies": cookies}

        client = Client(HTTP_HOST="__HOST__")
        print(json.dumps({
            "plain": answer(client.get("/api/v1/styles/")),
            "health": answer(client.get("/health/")),
            "proxied": answer(client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")),
            "language": answer(client.post(
                "/i18n/setlang/", {"language": "en", "next": "/kiosk/"},
                HTTP_X_FORWARDED_PROTO="https",
            )),
            "kiosk": answer(Client(HTTP_HOST="__HOST__").get("/kiosk/", HTTP_X_FORWARDED_PROTO="https")),
        }))
        """.replace("__HOST__", HOST)
    )
    completed = run([sys.executable, "-c", script], production_env(tmp_path_factory.mktemp("prod")))
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_plain_http_is_redirected_to_https(production_answers):
    plain = production_answers["plain"]
    assert plain["status"] == 301
    assert plain["headers"]["Location"] == f"https://{HOST}/api/v1/styles/"


def test_health_checks_are_answered_over_plain_http(production_answers):
    health = production_answers["health"]
    assert health["status"] == 200
    assert "Location" not in health["headers"]


def test_https_answers_carry_the_security_headers(production_answers):
    proxied = production_answers["proxied"]
    assert proxied["status"] == 200
    headers = proxied["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_cookies_are_secure_and_out_of_reach_of_scripts(production_answers):
    cookies = production_answers["proxied"]["cookies"]
    assert cookies["csrftoken"] == {"secure": True, "httponly": True}
    # The language cookie, as the language switch and the kiosk's first visit write it.
    assert production_answers["language"]["cookies"]["django_language"] == {
        "secure": True, "httponly": True,
    }
    assert production_answers["kiosk"]["cookies"]["django_language"] == {
        "secure": True, "httponly": True,
    }


# --- login -------------------------------------------------------------------------------


@pytest.mark.parametrize("foreign", ["https://evil.example/", "//evil.example/admin/",
                                     "https://localhost.evil.example/admin/"])
def test_a_login_with_a_foreign_next_lands_on_the_admins_home(curator, client, foreign):
    response = client.post(
        f"/admin/login/?next={foreign}",
        {"username": "kuratorin", "password": "Stadtmuseum-Olpe-2026", "next": foreign},
        HTTP_HOST="localhost", follow=True,
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/admin/"


# --- login throttling ------------------------------------------------------------------


@pytest.fixture
def curator(db, settings):
    # A fast hasher: these tests count logins, they do not test hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return get_user_model().objects.create_user(
        "kuratorin", password="Stadtmuseum-Olpe-2026", is_staff=True, is_superuser=True
    )


def admin_login(client, password: str, address: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "kuratorin", "password": password, "next": "/admin/"},
        HTTP_HOST="localhost", REMOTE_ADDR=address,
    )


def sync_login(client_class):
    """The admin login through the WSGI or the ASGI handler (daphne runs the latter).

    The ASGI test client always connects from 127.0.0.1, so that is the address here.
    """
    if client_class is Client:
        return admin_login
    return lambda client, password, address: async_to_sync(client.post)(
        "/admin/login/?next=/admin/",
        {"username": "kuratorin", "password": password, "next": "/admin/"},
    )


@pytest.mark.parametrize("client_class", [Client, AsyncClient], ids=["wsgi", "asgi"])
def test_repeated_failures_lock_out_even_the_right_password(curator, client_class):
    login = sync_login(client_class)
    client = client_class()
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "falsch", "127.0.0.1").status_code == 200  # the form again
    assert login(client, "falsch", "127.0.0.1").status_code == 429  # the last one allowed

    locked = login(client, "Stadtmuseum-Olpe-2026", "127.0.0.1")

    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_holds_only_for_that_address(curator):
    attacker = Client()
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        admin_login(attacker, "falsch", "198.51.100.8")

    curator_client = Client()
    response = admin_login(curator_client, "Stadtmuseum-Olpe-2026", "192.0.2.10")

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert curator_client.session["_auth_user_id"] == str(curator.pk)


def test_a_success_before_the_limit_resets_the_count(curator):
    client = Client()
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        admin_login(client, "falsch", "198.51.100.9")
    assert admin_login(client, "Stadtmuseum-Olpe-2026", "198.51.100.9").status_code == 302
    client.logout()

    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        admin_login(client, "falsch", "198.51.100.9")

    assert admin_login(client, "Stadtmuseum-Olpe-2026", "198.51.100.9").status_code == 302


def test_rate_limits_ignore_a_client_supplied_forwarded_for():
    request = RequestFactory().get(
        "/api/v1/styles/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="10.9.8.7"
    )

    assert AnonThrottle().get_ident(request) == "203.0.113.5"


# --- upload limits ------------------------------------------------------------------------


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise AssertionError("the oversized body was read")


@pytest.mark.django_db
def test_an_oversized_json_wish_is_refused_before_its_body_is_read(client):
    response = client.post(
        "/api/v1/jobs/",
        HTTP_HOST="localhost", REMOTE_ADDR="203.0.113.20",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
        **{"wsgi.input": UnreadableBody()},
    )

    assert response.status_code == 413
    assert "detail" in response.json()


@pytest.mark.django_db
def test_an_oversized_uploaded_picture_is_refused(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024  # larger uploads go to a temporary file
    noise = Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    assert len(buffer.getvalue()) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = client.post(
        "/api/v1/jobs/",
        {
            "image": SimpleUploadedFile("map.png", buffer.getvalue(), "image/png"),
            "mask": SimpleUploadedFile("mask.png", buffer.getvalue(), "image/png"),
            "prompt": "Ein See",
        },
        HTTP_HOST="localhost", REMOTE_ADDR="203.0.113.21", HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code in (400, 413)
    assert "too large" in json.dumps(response.json())


# --- no secrets in the repository -----------------------------------------------------

# Shaped like real credentials: long enough that the tests' obvious fakes
# ("sk-test-olpe-0123456789abcdef") do not match. A line that must carry such
# a value marks itself with "pragma: allowlist secret".
KEY_PATTERNS = {
    "OpenAI API key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}",
    "AWS access key id": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "AWS secret access key": r"(?i)aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}",
    "private key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
    "Hugging Face token": r"\bhf_[A-Za-z0-9]{30,}\b",
    "Slack token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "Django secret key": r"SECRET_KEY\s*=\s*['\"][^'\"]{20,}['\"]",
}


def repository_files() -> list[Path]:
    """What git tracks plus what it would add: every file not ignored."""
    completed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, timeout=60,
    )
    if completed.returncode != 0:
        pytest.skip("not a git work tree: " + completed.stderr.decode(errors="replace"))
    names = [name for name in completed.stdout.decode().split("\0") if name]
    return [ROOT / name for name in names if (ROOT / name).is_file()]


def test_no_key_like_string_is_in_the_repository():
    patterns = {label: re.compile(pattern) for label, pattern in KEY_PATTERNS.items()}
    findings = []
    for path in repository_files():
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            if "pragma: allowlist secret" in line:
                continue
            findings += [
                f"{path.relative_to(ROOT)}:{number}: {label}"
                for label, pattern in patterns.items() if pattern.search(line)
            ]
    assert findings == []


@pytest.mark.parametrize("pattern", list(KEY_PATTERNS))
def test_each_key_pattern_finds_what_it_is_for(pattern):
    samples = {
        "OpenAI API key": "OPENAI_API_KEY=sk-proj-" + "Ab3" * 20,
        "AWS access key id": "AKIA" + "ABCDEFGHIJKLMNOP",
        "AWS secret access key": "aws_secret_access_key = " + "a1B2" * 10,
        "private key": "-----BEGIN RSA " + "PRIVATE KEY-----",
        "GitHub token": "ghp_" + "a1" * 18,
        "Hugging Face token": "hf_" + "Xy" * 17,
        "Slack token": "xoxb-" + "1234-5678-abcd",
        "Django secret key": 'SECRET_KEY = "' + "x" * 40 + '"',
    }
    assert re.search(KEY_PATTERNS[pattern], samples[pattern])


def test_local_secrets_and_data_are_ignored_by_git():
    private = [".env", "deploy/.env", "var/secret_key", "var/db.sqlite3"]
    completed = subprocess.run(
        ["git", "check-ignore", "--no-index", *private],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    if completed.returncode == 128:
        pytest.skip("not a git work tree")
    assert completed.stdout.split() == private
