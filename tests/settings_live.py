"""Settings for tests that run real server processes: a file database, and Redis when REDIS_URL is given."""

import os

from tests.settings import *  # noqa: F403

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
            "CONFIG": {"hosts": [os.environ["LIVE_NOTIFY_TEST_REDIS"]]},
        }
    }
LIVE_NOTIFY = {"HEARTBEAT_INTERVAL": float(os.environ.get("LIVE_NOTIFY_TEST_HEARTBEAT", "30"))}
