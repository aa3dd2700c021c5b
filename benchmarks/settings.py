"""Settings of the scale benchmark: the smallest project that serves django-live-notify and the baseline.

Environment variables (benchmarks/run.py sets them for every server process it starts):

* ``BENCH_DATABASE_URL``: a database URL (``postgres://...``, ``mysql://...``), used as it is; or else
* ``BENCH_DB``: path of the SQLite file; opened in WAL mode.
* ``BENCH_LAYER``: ``memory`` (default), ``redis`` or ``redis-pubsub``.
* ``BENCH_REDIS_URL``: the Redis of the redis layers; several comma-separated URLs are shards.
* ``BENCH_ANALYTICS``: ``1`` (default) records the clients' acks, ``0`` turns analytics off (run.py --acks).
"""

import os

import dj_database_url

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "benchmarks.urls"
ASGI_APPLICATION = "benchmarks.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "django_live_notify",
]
# The bench endpoints need no middleware; WebSockets get theirs from AuthMiddlewareStack.
MIDDLEWARE: list[str] = []

if os.environ.get("BENCH_DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["BENCH_DATABASE_URL"], conn_max_age=600)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
        DATABASES["default"]["OPTIONS"] = {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"}
    elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and os.environ.get("BENCH_PG_POOL") != "0":
        # Django's pool, as docs/deployment.rst advises under ASGI: each request runs in a thread of its own, and
        # opening a connection (fork and SCRAM authentication, about 10 ms here) for every targeted call would be
        # measured instead of the call. A pool keeps no connection per thread (CONN_MAX_AGE must be 0).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 2, "max_size": 8}}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["BENCH_DB"],
            # Keep the connection of the database thread between calls, as a deployment with
            # CONN_MAX_AGE (or a pool) does, instead of reopening SQLite for every socket.
            "CONN_MAX_AGE": 600,
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                # WAL with synchronous=NORMAL (SQLite's advice for WAL): commits do not wait for
                # fsync, so the figures measure the application, not this machine's disk.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            },
        }
    }
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Users are created in bulk with one hash; nothing logs in with a password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Messages to one channel beyond ``capacity`` are dropped silently by both layers
# (channels-redis: "group_send silently drops messages for members over capacity").
# The default of 100 is sized for one channel per socket. The hub has ONE channel per
# process that carries every message for every socket of that process, so a burst of
# notify() calls can queue far more than 100 messages on it: raise it well above any burst
# the benchmark makes. The baseline's per-socket channels get the same capacity.
CHANNEL_CAPACITY = 100_000
if os.environ.get("BENCH_LAYER", "memory") == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Several URLs, comma-separated, are shards (run.py --redis-shards).
            "CONFIG": {"hosts": os.environ["BENCH_REDIS_URL"].split(","), "capacity": CHANNEL_CAPACITY},
        }
    }
elif os.environ.get("BENCH_LAYER") == "redis-pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": os.environ["BENCH_REDIS_URL"].split(",")},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": CHANNEL_CAPACITY}}
    }

LIVE_NOTIFY = {
    # The default heartbeat (30 s; sockets silent for 75 s are closed): the clients send heartbeats.
    "HEARTBEAT_INTERVAL": 30,
    # run.py --auth token mints every socket token before the connect phase, which may take
    # longer than the default 60 s.
    "TOKEN_MAX_AGE": 600,
    "ANALYTICS": os.environ.get("BENCH_ANALYTICS", "1") == "1",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_live_notify": {"handlers": ["console"], "level": "WARNING"},
        "benchmarks": {"handlers": ["console"], "level": "WARNING"},
        "django.request": {"handlers": ["console"], "level": "ERROR"},
    },
}
