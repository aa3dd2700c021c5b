"""Settings for tests that run real server processes: a database of their own (tests.servers.LiveDatabase) on
the suite's database server or in a SQLite file, and Redis when LIVE_NOTIFY_TEST_REDIS is given."""

import os

from tests.settings import *  # noqa: F403

if DATABASE_URL:  # noqa: F405
    # A database of the test's own on the suite's database server (tests.servers.LiveDatabase).
    DATABASES = {"default": {**DATABASES["default"], "NAME": os.environ["LIVE_NOTIFY_TEST_DB"]}}  # noqa: F405
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["LIVE_NOTIFY_TEST_DB"],
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
if os.environ.get("LIVE_NOTIFY_TEST_REDIS"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": os.environ.get("LIVE_NOTIFY_TEST_LAYER", "channels_redis.core.RedisChannelLayer"),
            # Several URLs, comma-separated, are shards: channels-redis spreads channels and groups over them.
            "CONFIG": {"hosts": os.environ["LIVE_NOTIFY_TEST_REDIS"].split(",")},
        }
    }
LIVE_NOTIFY = {"HEARTBEAT_INTERVAL": float(os.environ.get("LIVE_NOTIFY_TEST_HEARTBEAT", "30"))}
