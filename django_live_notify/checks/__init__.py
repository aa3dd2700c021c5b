"""System checks: django_live_notify.E001 and friends (see docs/checks.rst).

One module per concern; importing this package registers every check (``apps.py`` does it in ``ready()``):

- ``websocket``: channels and the channel layer (E001, E002, W001), the outbox and socket timing (E008, E011), a
  development server that can serve the socket (W002, W003);
- ``values``: the values of the settings (E003 to E006), run by ``check_setup``;
- ``project``: the app's URLs are included (E007), ALLOWED_HOSTS (W005);
- ``database``: a SQLite file's transaction mode (W004);
- ``delivery``: the delivery settings and email links (E012, W007), web push's keys (E009);
- ``metrics``: the metrics package and the view's guard (W006, E010).
"""

from .database import check_sqlite_transactions
from .delivery import DELIVERY_NUMBERS, check_delivery, check_webpush_keys
from .metrics import check_metrics_package, check_metrics_settings
from .project import URLS_HINT, check_allowed_hosts, check_urls
from .values import SIZES
from .websocket import CLOSE_CODES, IN_MEMORY_LAYER, check_setup, check_websocket_server

__all__ = [
    "CLOSE_CODES",
    "DELIVERY_NUMBERS",
    "IN_MEMORY_LAYER",
    "SIZES",
    "URLS_HINT",
    "check_allowed_hosts",
    "check_delivery",
    "check_metrics_package",
    "check_metrics_settings",
    "check_setup",
    "check_sqlite_transactions",
    "check_urls",
    "check_webpush_keys",
    "check_websocket_server",
]
