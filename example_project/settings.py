"""Settings of the example project: a home-services demo of django-live-notify.

DEBUG is on unless DJANGO_DEBUG=0, and the default secret key is public, so with DEBUG off the
project refuses to start until DJANGO_SECRET_KEY is set. docs/deployment.rst deploys it behind
nginx and uvicorn with these environment variables:

* ``DJANGO_DEBUG``: ``0`` turns DEBUG off.
* ``DJANGO_SECRET_KEY``: the secret key; required with DEBUG off.
* ``DJANGO_ALLOWED_HOSTS``: the hosts, comma-separated (default: ``localhost,127.0.0.1``).
* ``DJANGO_CSRF_TRUSTED_ORIGINS``: origins, comma-separated, such as ``https://example.com:8443``.
* ``DJANGO_HTTPS``: ``1`` behind a TLS proxy that sends ``X-Forwarded-Proto``: trust it, and send
  the session and CSRF cookies over HTTPS only.
* ``DJANGO_STATIC_ROOT``: where ``collectstatic`` puts the static files (default: example_project/staticfiles).
* ``REDIS_URL``: use Redis as the channel layer (several server processes), such as
  ``redis://:password@127.0.0.1:6379/0``.
* ``DATABASE_PATH``: the SQLite file (default: example_project/db.sqlite3).
* ``DATABASE_URL``: another database instead, such as ``postgres://user:password@127.0.0.1:5432/demo``
  (needs ``pip install dj-database-url`` and the database's driver).
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent

PUBLIC_SECRET_KEY = "example-project-not-secret"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or PUBLIC_SECRET_KEY
DEBUG = os.environ.get("DJANGO_DEBUG", "1") != "0"
if not DEBUG and SECRET_KEY == PUBLIC_SECRET_KEY:
    # Anyone could sign sessions and socket tokens with a key printed in this file.
    raise ImproperlyConfigured(
        "The example project's default SECRET_KEY is public: with DEBUG off, set the DJANGO_SECRET_KEY "
        'environment variable to a secret of your own (python -c "from django.core.management.utils import '
        'get_random_secret_key; print(get_random_secret_key())"), or run with DEBUG on.'
    )


def from_environment(name: str, default: str) -> list[str]:
    """Return the comma-separated values of environment variable ``name``."""
    return [value.strip() for value in os.environ.get(name, default).split(",") if value.strip()]


# The socket's origin check reads these as CSRF does: a handshake's Origin must be its own Host (one of
# ALLOWED_HOSTS) with its scheme and port, or one of CSRF_TRUSTED_ORIGINS.
ALLOWED_HOSTS = from_environment("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = from_environment("DJANGO_CSRF_TRUSTED_ORIGINS", "")
if os.environ.get("DJANGO_HTTPS") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

# First when installed, so that "manage.py runserver" is daphne's: it serves HTTP and WebSockets. A deployment
# with uvicorn alone (django-live-notify[redis,uvicorn]) has no daphne, and runserver is Django's (check W002).
try:
    import daphne  # noqa: F401

    DAPHNE = ["daphne"]
except ImportError:
    DAPHNE = []
INSTALLED_APPS = [
    *DAPHNE,
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_live_notify",
    "example_project.services",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # example_project/templates overrides templates of installed apps (django_live_notify/base.html).
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "example_project.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DATABASE_PATH") or BASE_DIR / "db.sqlite3",
        # Writers take turns from the start of their transaction instead of failing with "database is locked"
        # when two processes write at once, and readers do not wait for writers (see docs/deployment.rst).
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;", "timeout": 20},
    }
}
if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
        DATABASES["default"]["OPTIONS"] = {"charset": "utf8mb4"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One server process: the in-memory channel layer is enough.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# This is how a deployment switches to Redis, which it needs as soon as it runs
# more than one server process, or sends notifications from workers or
# management commands: REDIS_URL=redis://127.0.0.1:6379/0 (pip install django-live-notify[redis]).
if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]]},
        }
    }

LIVE_NOTIFY = {
    "NOTIFICATION_TYPES": [
        ("system", "System"),
        ("service_request", "Service request"),
        ("order", "Order"),
        ("message", "Message"),
    ],
    # Staff broadcasts reach everyone: users cannot turn them off on the preferences page.
    "MANDATORY_TYPES": ["system"],
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "services:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_live_notify": {"handlers": ["console"], "level": "INFO"}},
}
