"""Settings of django-live-notify, read from the ``LIVE_NOTIFY`` dict setting.

Their defaults are in defaults.py (``DEFAULTS``, importable from here too); this module reads them: one typed
property per setting, converted once and forgotten when the settings change. It stays one class of about 400
lines, growing with the settings: split by area, one object would be read in several modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeAlias, TypedDict, TypeVar

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import Promise

from .defaults import DEFAULTS

__all__ = ["DEFAULTS", "Label", "LiveNotifySettings", "PushOptions", "live_settings"]


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
        configured = getattr(django_settings, "LIVE_NOTIFY", None) or {}
        # Not a dict: check E003 says so, and every setting keeps its default meanwhile.
        return configured if isinstance(configured, dict) else {}

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

    # Delivery channels and email (docs/channels.rst).

    @property
    def delivery_backends(self) -> tuple[str, ...]:
        """Return the dotted paths of the delivery backends."""
        return self._typed("DELIVERY_BACKENDS", lambda paths: tuple(str(path) for path in paths or ()))

    @property
    def delivery_mode(self) -> str:
        """Return how work reaches the delivery worker: "worker", "sweep" or "inline"."""
        return self._typed("DELIVERY_MODE", str)

    @property
    def delivery_channel(self) -> str:
        """Return the channel-layer channel the delivery worker consumes."""
        return self._typed("DELIVERY_CHANNEL", str)

    @property
    def delivery_policies(self) -> Mapping[str, Mapping[str, str]]:
        """Return, per channel, the policy of the types that do not use the backend's."""
        return self._typed("DELIVERY_POLICIES", lambda mapping: _nested(mapping, str))

    @property
    def delivery_offline_grace(self) -> float:
        """Return the seconds the "offline" policy waits for a row to be seen or read."""
        return self._typed("DELIVERY_OFFLINE_GRACE", float)

    @property
    def channel_defaults(self) -> Mapping[str, Mapping[str, bool]]:
        """Return, per channel, whether each type goes out over it for users who chose nothing."""
        return self._typed("CHANNEL_DEFAULTS", lambda mapping: _nested(mapping, bool))

    @property
    def delivery_max_attempts(self) -> int:
        """Return the attempts of one row before it is marked failed."""
        return self._typed("DELIVERY_MAX_ATTEMPTS", int)

    @property
    def delivery_retry_base(self) -> float:
        """Return the seconds before the first retry (doubled each time)."""
        return self._typed("DELIVERY_RETRY_BASE", float)

    @property
    def delivery_retry_max(self) -> float:
        """Return the most seconds between two retries."""
        return self._typed("DELIVERY_RETRY_MAX", float)

    @property
    def delivery_batch_size(self) -> int:
        """Return the rows one worker claims at a time."""
        return self._typed("DELIVERY_BATCH_SIZE", int)

    @property
    def delivery_claim_timeout(self) -> float:
        """Return the seconds after which a claim that no worker acted on is freed."""
        return self._typed("DELIVERY_CLAIM_TIMEOUT", float)

    @property
    def delivery_lookback_hours(self) -> float:
        """Return the hours back the sweep looks for rows with no delivery record."""
        return self._typed("DELIVERY_LOOKBACK_HOURS", float)

    @property
    def email_delay_minutes(self) -> Mapping[str, float]:
        """Return the minutes a row must stay unread and unseen before it is emailed, per type ("default")."""
        return self._typed(
            "EMAIL_DELAY_MINUTES",
            lambda mapping: MappingProxyType({str(key): float(value) for key, value in (mapping or {}).items()}),
        )

    @property
    def email_digest_minutes(self) -> float:
        """Return the least minutes between two emails to one user."""
        return self._typed("EMAIL_DIGEST_MINUTES", float)

    @property
    def email_max_per_hour(self) -> int:
        """Return the most emails to one user in an hour (0: no limit)."""
        return self._typed("EMAIL_MAX_PER_HOUR", int)

    @property
    def email_base_url(self) -> str:
        """Return the scheme and host of links in emails, without a trailing slash."""
        return self._typed("EMAIL_BASE_URL", lambda url: str(url or "").rstrip("/"))

    @property
    def email_from(self) -> str | None:
        """Return the From address of notification emails; None: DEFAULT_FROM_EMAIL."""
        return self._typed("EMAIL_FROM", lambda address: None if address is None else str(address))

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


def _nested(mapping: Any, convert: Callable[[Any], T]) -> Mapping[str, Mapping[str, T]]:
    """Return ``{channel: {type: value}}`` read-only, its values passed through ``convert``."""
    return MappingProxyType(
        {
            str(channel): MappingProxyType({str(key): convert(value) for key, value in (inner or {}).items()})
            for channel, inner in (mapping or {}).items()
        }
    )


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
