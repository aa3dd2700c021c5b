"""Settings of delivery worker processes in tests: tests.settings_live, emailing through SMTP on 127.0.0.1."""

import os

from tests.settings_live import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("LIVE_NOTIFY_TEST_SMTP_PORT", "25"))
EMAIL_TIMEOUT = 10
ASGI_APPLICATION = "tests.asgi_delivery.application"
LIVE_NOTIFY = {
    **LIVE_NOTIFY,  # noqa: F405
    "DELIVERY_BACKENDS": ["django_live_notify.emailing.EmailBackend"],
    "DELIVERY_MODE": os.environ.get("LIVE_NOTIFY_TEST_DELIVERY_MODE", "sweep"),
    "EMAIL_DELAY_MINUTES": {"default": 0},
    "EMAIL_DIGEST_MINUTES": 0,
    "EMAIL_MAX_PER_HOUR": 0,
    "EMAIL_BASE_URL": "http://127.0.0.1",
    "DELIVERY_BATCH_SIZE": 20,
    "DELIVERY_CLAIM_TIMEOUT": float(os.environ.get("LIVE_NOTIFY_TEST_CLAIM_TIMEOUT", "300")),
}
