"""Settings of the test project.

The database is SQLite in memory unless ``LIVE_NOTIFY_TEST_DATABASE_URL`` names another one, for example
``postgres://user:password@127.0.0.1:5432/live_notify`` or ``mysql://user:password@127.0.0.1:3306/live_notify``
(the test database is that name with ``test_`` in front).
"""

import os

SECRET_KEY = "tests-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
# Pages of other origins that may open sockets (and POST with CSRF): one exact, one with its subdomains.
CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.trusted.example"]
USE_TZ = True
ROOT_URLCONF = "tests.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_live_notify",
    "tests.testapp",
    "tests.example_services.ExampleServicesModels",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASE_URL = os.environ.get("LIVE_NOTIFY_TEST_DATABASE_URL", "")
if DATABASE_URL:
    # Imported only here: tox's docs and mypy envs read these settings without the test requirements.
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
        # utf8mb4 so that titles may hold any character; strict mode so that nothing is cut silently.
        DATABASES["default"]["OPTIONS"] = {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"}
        DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
ASGI_APPLICATION = "tests.asgi.application"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
