"""Settings of django-live-notify, read from the ``LIVE_NOTIFY`` dict setting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeAlias, TypedDict, TypeVar

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import Promise

DEFAULTS: dict[str, Any] = {
    # Seconds between client heartbeats; the JS client reads it from the template tag.
    "HEARTBEAT_INTERVAL": 30,
    # Seconds of silence after which the server closes a socket; None = 2.5 heartbeat intervals.
    "IDLE_TIMEOUT": None,
    # Most notifications replayed in answer to one ``resume``.
    "REPLAY_LIMIT": 100,
    # Allowed notification types as (value, label) pairs; None allows any string.
    "NOTIFICATION_TYPES": None,
    "DEFAULT_NOTIFICATION_TYPE": "system",
    # Page size of the history page and the JSON API.
    "PAGE_SIZE": 20,
    # Largest client frame in bytes; bigger frames close the socket (1009, or 4009 under daphne).
    "MAX_MESSAGE_SIZE": 64 * 1024,
    # Frames one user's sockets may send in one second, together, per process; the first frame over it is
    # answered "rate_limited", later ones in that second are dropped, and a socket still over it after
    # 5 such seconds in a row is closed (1008, or 4008 under daphne). 0 = no limit.
    "MAX_MESSAGES_PER_SECOND": 20,
    # Rows one user's resumes may replay per minute, per process (each resume counts one more); a resume
    # past it waits until the budget refills. 0 = no limit.
    "MAX_REPLAYED_PER_MINUTE": 1000,
    # Sockets of one user in one server process; past it the oldest is closed (4005). 0 = no limit.
    "MAX_CONNECTIONS_PER_USER": 20,
    # Seconds a socket token (POST notifications/api/token/) stays valid for connecting.
    "TOKEN_MAX_AGE": 60,
    # Close code for oversized frames; None sends 1009, or 4009 where the server refuses 1009 (daphne).
    "TOO_BIG_CLOSE_CODE": None,
    # Web Push (docs/push.rst): the VAPID key pair as base64url (``manage.py live_notify_vapid_keys`` makes one)
    # and the contact push services may write to, a "mailto:" or "https:" URL.
    "WEBPUSH_VAPID_PRIVATE_KEY": "",
    "WEBPUSH_VAPID_PUBLIC_KEY": "",
    "WEBPUSH_VAPID_SUBJECT": "",
    # Seconds a push service keeps a push for a device that is offline; 0 = deliver now or never.
    "WEBPUSH_TTL": 24 * 60 * 60,
    # Push urgency: "very-low", "low", "normal" or "high" (high wakes a phone that saves battery).
    "WEBPUSH_URGENCY": "normal",
    # Per notification type: {"security": {"ttl": 600, "urgency": "high"}}; missing keys use the two above.
    "WEBPUSH_TYPE_OPTIONS": {},
    # Seconds one request to a push service may take.
    "WEBPUSH_TIMEOUT": 10,
    # Seconds the read token in a push stays valid: a click on an older push opens the page but marks nothing.
    "WEBPUSH_READ_TOKEN_MAX_AGE": 7 * 24 * 60 * 60,
    # Scope of the service worker, served from notifications/push/sw.js with a Service-Worker-Allowed header.
    "WEBPUSH_SERVICE_WORKER_SCOPE": "/",
    # Alias in CHANNEL_LAYERS used to reach other server processes.
    "CHANNEL_LAYER": "default",
    # Prefix of the channel-layer group and channel names this app uses.
    "GROUP_PREFIX": "live_notify",
    # Rows per INSERT of notify() to many users, and users per query where ids are listed.
    "BATCH_SIZE": 1000,
    # Path of the WebSocket route.
    "WEBSOCKET_PATH": "ws/notifications/",
    # Delivery of each notification type for users who chose nothing: "live", "store" or "off".
    # A type not in it is "live".
    "PREFERENCE_DEFAULTS": {},
    # Preference rows one user may have: a change that would make more is refused.
    "MAX_PREFERENCES": 100,
    # Types users cannot turn off or silence (security notices): always delivered live.
    "MANDATORY_TYPES": [],
    # Most actions (buttons) one notification may carry.
    "MAX_ACTIONS": 3,
    # Frames queued for one socket before it counts as fallen behind and is dropped (4010).
    "MAX_PENDING_FRAMES": 256,
    # Seconds one write to a socket may wait for the client to read before the socket is dropped (4010).
    "WRITE_TIMEOUT": 10,
    # Days a read notification is kept before live_notify_cleanup deletes it; None keeps them.
    "RETENTION_DAYS": 90,
    # Record Prometheus metrics (with the ``metrics`` extra installed); False makes every metric call a no-op.
    "METRICS": True,
    # Client addresses or networks (CIDR) that may read the metrics view without a token.
    "METRICS_ALLOWED_IPS": ["127.0.0.1", "::1"],
    # A bearer token that may read the metrics view from any address; None accepts no token.
    "METRICS_TOKEN": None,
    # Record delivery, seen and click times (acks from clients, see docs/analytics.rst); False sends and keeps none.
    "ANALYTICS": True,
    # Milliseconds a client gathers acks before sending them in one frame.
    "ACK_INTERVAL": 250,
}


class PushOptions(TypedDict, total=False):
    """Web Push options of one notification type (``WEBPUSH_TYPE_OPTIONS``)."""

    ttl: int
    urgency: str


#: A type's label: a string, or a lazy translation resolved when shown.
Label: TypeAlias = "str | Promise"

T = TypeVar("T")


class LiveNotifySettings:
    """Give ``LIVE_NOTIFY`` keys as attributes, falling back to ``DEFAULTS``.

    ``live_settings.BATCH_SIZE`` is the value as configured; ``live_settings.batch_size``
    is the same value converted to its type once. The system checks (docs/checks.rst)
    say when a value cannot be converted or is out of range.
    """

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(django_settings, "LIVE_NOTIFY", None) or {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid LIVE_NOTIFY setting: {name!r}")
        if name not in self._cache:
            self._cache[name] = self.user_settings.get(name, DEFAULTS[name])
        return self._cache[name]

    def _typed(self, name: str, convert: Callable[[Any], T], key: str = "") -> T:
        """Return setting ``name`` passed through ``convert``, converted once until the next reload."""
        key = key or "typed:" + name
        if key not in self._cache:
            raw = getattr(self, name)
            try:
                self._cache[key] = convert(raw)
            except (TypeError, ValueError, AttributeError) as error:
                # An AttributeError escaping a property would read as "no such setting".
                raise ImproperlyConfigured(
                    f"LIVE_NOTIFY[{name!r}] cannot be used: {raw!r} ({error}). manage.py check says what it takes."
                ) from error
        value: T = self._cache[key]
        return value

    # Socket timing.

    @property
    def heartbeat_interval(self) -> float:
        """Return the seconds between client heartbeats."""
        return self._typed("HEARTBEAT_INTERVAL", float)

    @property
    def idle_timeout(self) -> float:
        """Return the seconds of silence after which a socket is reaped."""
        return self._typed(
            "IDLE_TIMEOUT", lambda value: 2.5 * self.heartbeat_interval if value is None else float(value)
        )

    @property
    def token_max_age(self) -> int:
        """Return the seconds a socket token stays valid."""
        return self._typed("TOKEN_MAX_AGE", int)

    @property
    def too_big_close_code(self) -> int | None:
        """Return the close code for oversized frames, None for the server's choice."""
        return self._typed("TOO_BIG_CLOSE_CODE", _optional_int)

    @property
    def max_pending_frames(self) -> int:
        """Return how many frames may wait for one socket."""
        return self._typed("MAX_PENDING_FRAMES", int)

    @property
    def write_timeout(self) -> float:
        """Return the seconds one write may wait for a socket's client to read."""
        return self._typed("WRITE_TIMEOUT", float)

    # Sizes and limits.

    @property
    def replay_limit(self) -> int:
        """Return the most notifications replayed in answer to one resume."""
        return self._typed("REPLAY_LIMIT", int)

    @property
    def page_size(self) -> int:
        """Return the page size of the history page and the JSON API."""
        return self._typed("PAGE_SIZE", int)

    @property
    def max_message_size(self) -> int:
        """Return the largest client frame in bytes."""
        return self._typed("MAX_MESSAGE_SIZE", int)

    @property
    def max_messages_per_second(self) -> int:
        """Return the frames one user's sockets may send per second; 0 = no limit."""
        return self._typed("MAX_MESSAGES_PER_SECOND", int)

    @property
    def max_replayed_per_minute(self) -> int:
        """Return the rows one user's resumes may replay per minute; 0 = no limit."""
        return self._typed("MAX_REPLAYED_PER_MINUTE", int)

    @property
    def max_connections_per_user(self) -> int:
        """Return the sockets one user may hold in one process; 0 = no limit."""
        return self._typed("MAX_CONNECTIONS_PER_USER", int)

    @property
    def batch_size(self) -> int:
        """Return the rows per INSERT and the ids per query."""
        return self._typed("BATCH_SIZE", int)

    @property
    def max_preferences(self) -> int:
        """Return the preference rows one user may have."""
        return self._typed("MAX_PREFERENCES", int)

    @property
    def max_actions(self) -> int:
        """Return the most actions one notification may carry."""
        return self._typed("MAX_ACTIONS", int)

    @property
    def retention_days(self) -> int | None:
        """Return the days a read notification is kept, None to keep them."""
        return self._typed("RETENTION_DAYS", _optional_int)

    # Notification types and preferences.

    @property
    def notification_types(self) -> tuple[tuple[str, Label], ...] | None:
        """Return the allowed types as (value, label) pairs, None when any type is allowed.

        Labels stay as configured, so a lazy translation is resolved where it is shown.
        """
        return self._typed(
            "NOTIFICATION_TYPES",
            lambda pairs: None if pairs is None else tuple((str(value), label) for value, label in pairs),
        )

    @property
    def allowed_types(self) -> frozenset[str] | None:
        """Return the values of ``NOTIFICATION_TYPES``, None when any type is allowed."""
        pairs = self.notification_types
        return self._typed(
            "NOTIFICATION_TYPES", lambda _raw: None if pairs is None else frozenset(dict(pairs)), key="allowed_types"
        )

    def type_choices(self) -> list[tuple[str, str]] | None:
        """Return ``NOTIFICATION_TYPES`` with labels in the active language, None when it is not set."""
        pairs = self.notification_types
        return None if pairs is None else [(value, str(label)) for value, label in pairs]

    def type_label(self, notification_type: str) -> str:
        """Return the label of a type: its ``NOTIFICATION_TYPES`` label, else the name made readable.

        ``"service_request"`` reads "Service request".
        """
        for value, label in self.notification_types or ():
            if value == notification_type:
                return str(label)
        words = str(notification_type).replace("_", " ").replace("-", " ").replace(".", " ").split()
        return " ".join(words).capitalize() if words else str(notification_type)

    @property
    def default_notification_type(self) -> str:
        """Return the type of a notification sent without one."""
        return self._typed("DEFAULT_NOTIFICATION_TYPE", str)

    @property
    def preference_defaults(self) -> Mapping[str, str]:
        """Return the delivery of each type for users who chose nothing."""
        return self._typed(
            "PREFERENCE_DEFAULTS",
            lambda mapping: MappingProxyType({str(key): str(value) for key, value in (mapping or {}).items()}),
        )

    @property
    def mandatory_types(self) -> frozenset[str]:
        """Return the types users cannot turn off."""
        return self._typed("MANDATORY_TYPES", lambda types: frozenset(str(value) for value in types or ()))

    # Transport.

    @property
    def channel_layer(self) -> str:
        """Return the alias in CHANNEL_LAYERS used to reach other server processes."""
        return self._typed("CHANNEL_LAYER", str)

    @property
    def group_prefix(self) -> str:
        """Return the prefix of this app's channel-layer group and channel names."""
        return self._typed("GROUP_PREFIX", str)

    @property
    def websocket_path(self) -> str:
        """Return the path of the WebSocket route, without a leading slash."""
        return self._typed("WEBSOCKET_PATH", lambda path: str(path).lstrip("/"))

    # Web Push.

    @property
    def webpush_vapid_private_key(self) -> str:
        """Return the VAPID private key, "" when unset."""
        return self._typed("WEBPUSH_VAPID_PRIVATE_KEY", _string)

    @property
    def webpush_vapid_public_key(self) -> str:
        """Return the VAPID public key, "" when unset."""
        return self._typed("WEBPUSH_VAPID_PUBLIC_KEY", _string)

    @property
    def webpush_vapid_subject(self) -> str:
        """Return the contact push services may write to, "" when unset."""
        return self._typed("WEBPUSH_VAPID_SUBJECT", _string)

    @property
    def webpush_ttl(self) -> int:
        """Return the seconds a push service keeps a push for an offline device."""
        return self._typed("WEBPUSH_TTL", int)

    @property
    def webpush_urgency(self) -> str:
        """Return the default push urgency."""
        return self._typed("WEBPUSH_URGENCY", str)

    @property
    def webpush_type_options(self) -> Mapping[str, PushOptions]:
        """Return the push options of each type that has its own."""
        return self._typed("WEBPUSH_TYPE_OPTIONS", _push_options)

    @property
    def webpush_timeout(self) -> float:
        """Return the seconds one request to a push service may take."""
        return self._typed("WEBPUSH_TIMEOUT", float)

    @property
    def webpush_read_token_max_age(self) -> int:
        """Return the seconds the read token in a push stays valid."""
        return self._typed("WEBPUSH_READ_TOKEN_MAX_AGE", int)

    @property
    def webpush_service_worker_scope(self) -> str:
        """Return the scope of the service worker."""
        return self._typed("WEBPUSH_SERVICE_WORKER_SCOPE", str)

    # Metrics.

    @property
    def metrics(self) -> bool:
        """Return whether Prometheus metrics are recorded."""
        return self._typed("METRICS", bool)

    @property
    def metrics_allowed_ips(self) -> tuple[str, ...]:
        """Return the addresses or networks that may read the metrics view without a token."""
        return self._typed("METRICS_ALLOWED_IPS", lambda entries: tuple(str(entry) for entry in entries or ()))

    @property
    def metrics_token(self) -> str | None:
        """Return the bearer token that may read the metrics view, None for none."""
        return self._typed("METRICS_TOKEN", lambda token: None if token is None else str(token))

    # Analytics.

    @property
    def analytics(self) -> bool:
        """Return whether deliveries, seen toasts and clicks are reported and recorded."""
        return self._typed("ANALYTICS", bool)

    @property
    def ack_interval(self) -> int:
        """Return the milliseconds a client gathers acks before sending them."""
        return self._typed("ACK_INTERVAL", int)

    def reload(self) -> None:
        """Forget cached values so the next access reads the settings again."""
        self._cache.clear()


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _string(value: Any) -> str:
    return "" if value is None else str(value)


def _push_options(per_type: Any) -> Mapping[str, PushOptions]:
    result: dict[str, PushOptions] = {}
    for notification_type, options in (per_type or {}).items():
        converted = PushOptions()
        if "ttl" in options:
            converted["ttl"] = int(options["ttl"])
        if "urgency" in options:
            converted["urgency"] = str(options["urgency"])
        result[str(notification_type)] = converted
    return MappingProxyType(result)


live_settings = LiveNotifySettings()


@receiver(setting_changed)
def _reload_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in ("LIVE_NOTIFY", "CHANNEL_LAYERS"):
        live_settings.reload()
