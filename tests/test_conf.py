import pytest
from django.test import override_settings

from django_live_notify.conf import DEFAULTS, live_settings


def test_defaults():
    assert live_settings.HEARTBEAT_INTERVAL == 30
    assert live_settings.REPLAY_LIMIT == 100
    assert live_settings.MAX_MESSAGE_SIZE == 65536
    assert live_settings.PAGE_SIZE == 20
    assert live_settings.idle_timeout == 75.0
    assert set(DEFAULTS) >= {"HEARTBEAT_INTERVAL", "REPLAY_LIMIT", "NOTIFICATION_TYPES", "PAGE_SIZE"}


def test_override_settings_is_honoured_and_undone():
    with override_settings(LIVE_NOTIFY={"HEARTBEAT_INTERVAL": 10, "REPLAY_LIMIT": 5}):
        assert live_settings.HEARTBEAT_INTERVAL == 10
        assert live_settings.REPLAY_LIMIT == 5
        assert live_settings.idle_timeout == 25.0
    assert live_settings.HEARTBEAT_INTERVAL == 30


def test_idle_timeout_can_be_set():
    with override_settings(LIVE_NOTIFY={"IDLE_TIMEOUT": 7}):
        assert live_settings.idle_timeout == 7.0


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="Invalid LIVE_NOTIFY setting"):
        live_settings.NOPE  # noqa: B018


def test_defaults_of_preferences_actions_and_retention():
    assert live_settings.PREFERENCE_DEFAULTS == {}
    assert live_settings.MANDATORY_TYPES == []
    assert live_settings.MAX_ACTIONS == 3
    assert live_settings.RETENTION_DAYS == 90


def test_the_channel_layer_backend_is_imported_at_startup_not_by_the_first_socket(settings):
    import sys

    from django_live_notify.apps import preload_channel_layer_backend

    sys.modules.pop("tests.testapp.layer", None)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "tests.testapp.layer.PreloadedLayer"}}
    preload_channel_layer_backend()
    assert "tests.testapp.layer" in sys.modules


def test_a_channel_layer_backend_that_cannot_be_imported_is_left_to_the_checks(settings):
    from django_live_notify.apps import preload_channel_layer_backend

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "no.such.module.Layer"}}
    preload_channel_layer_backend()  # No error at startup: channels reports it when the layer is used.


def test_typed_properties_give_each_default_its_type():
    from types import MappingProxyType

    assert live_settings.heartbeat_interval == 30.0 and type(live_settings.heartbeat_interval) is float
    assert live_settings.write_timeout == 10.0 and type(live_settings.write_timeout) is float
    assert live_settings.webpush_timeout == 10.0 and type(live_settings.webpush_timeout) is float
    for name in (
        "replay_limit",
        "page_size",
        "max_message_size",
        "max_messages_per_second",
        "max_replayed_per_minute",
        "max_connections_per_user",
        "token_max_age",
        "batch_size",
        "max_preferences",
        "max_actions",
        "max_pending_frames",
        "webpush_ttl",
        "webpush_read_token_max_age",
    ):
        value = getattr(live_settings, name)
        assert type(value) is int and value == DEFAULTS[name.upper()], name
    assert live_settings.retention_days == 90 and live_settings.too_big_close_code is None
    assert live_settings.notification_types is None and live_settings.allowed_types is None
    assert live_settings.type_choices() is None
    assert live_settings.default_notification_type == "system"
    assert live_settings.mandatory_types == frozenset()
    assert isinstance(live_settings.preference_defaults, MappingProxyType) and not live_settings.preference_defaults
    assert live_settings.channel_layer == "default" and live_settings.group_prefix == "live_notify"
    assert live_settings.websocket_path == "ws/notifications/"
    assert live_settings.webpush_vapid_private_key == "" and live_settings.webpush_urgency == "normal"
    assert live_settings.webpush_service_worker_scope == "/" and not live_settings.webpush_type_options
    assert live_settings.metrics is True and live_settings.metrics_token is None
    assert live_settings.metrics_allowed_ips == ("127.0.0.1", "::1")


def test_every_setting_has_a_typed_property():
    missing = [name for name in DEFAULTS if not isinstance(getattr(type(live_settings), name.lower(), None), property)]
    assert missing == []


@override_settings(
    LIVE_NOTIFY={
        "HEARTBEAT_INTERVAL": 5,
        "IDLE_TIMEOUT": None,
        "NOTIFICATION_TYPES": [["system", "System"], ["service_request", "Request"]],
        "MANDATORY_TYPES": ["security", "security"],
        "PREFERENCE_DEFAULTS": {"digest": "store"},
        "WEBSOCKET_PATH": "/ws/live/",
        "WEBPUSH_TYPE_OPTIONS": {"security": {"ttl": 600, "urgency": "high"}, "digest": {}},
        "METRICS_ALLOWED_IPS": ["10.0.0.0/8"],
        "WEBPUSH_VAPID_SUBJECT": None,
        "RETENTION_DAYS": None,
    }
)
def test_typed_properties_normalise_what_is_configured():
    assert live_settings.heartbeat_interval == 5.0 and type(live_settings.heartbeat_interval) is float
    assert live_settings.idle_timeout == 12.5
    assert live_settings.notification_types == (("system", "System"), ("service_request", "Request"))
    assert live_settings.allowed_types == frozenset({"system", "service_request"})
    assert live_settings.type_choices() == [("system", "System"), ("service_request", "Request")]
    assert live_settings.type_label("service_request") == "Request"
    assert live_settings.type_label("not_listed") == "Not listed"
    assert live_settings.mandatory_types == frozenset({"security"})
    assert dict(live_settings.preference_defaults) == {"digest": "store"}
    with pytest.raises(TypeError):
        live_settings.preference_defaults["digest"] = "off"  # type: ignore[index]
    assert live_settings.websocket_path == "ws/live/"
    assert live_settings.webpush_type_options == {"security": {"ttl": 600, "urgency": "high"}, "digest": {}}
    assert live_settings.metrics_allowed_ips == ("10.0.0.0/8",)
    assert live_settings.webpush_vapid_subject == "" and live_settings.retention_days is None
    # The configured values stay readable as they were written.
    assert live_settings.NOTIFICATION_TYPES == [["system", "System"], ["service_request", "Request"]]
    assert live_settings.MANDATORY_TYPES == ["security", "security"]


def test_typed_properties_are_converted_once_and_again_after_a_change():
    with override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("a", "A")], "BATCH_SIZE": 7}):
        first = live_settings.allowed_types
        assert live_settings.allowed_types is first and live_settings.batch_size == 7
        with override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("b", "B")]}):
            assert live_settings.allowed_types == frozenset({"b"}) and live_settings.batch_size == 1000
        assert live_settings.allowed_types == frozenset({"a"})


def test_lazy_labels_are_resolved_in_the_language_active_when_shown():
    from django.utils import translation
    from django.utils.translation import gettext_lazy

    with override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("system", gettext_lazy("Notifications"))]}):
        with translation.override("pt-br"):
            portuguese = live_settings.type_label("system")
            choices = live_settings.type_choices()
        with translation.override("en"):
            english = live_settings.type_label("system")
    assert (english, portuguese) == ("Notifications", "Notificações")
    assert choices == [("system", "Notificações")] and type(portuguese) is str


@pytest.mark.parametrize(
    ("live_notify", "name"),
    [
        ({"PAGE_SIZE": "twenty"}, "page_size"),
        ({"HEARTBEAT_INTERVAL": None}, "heartbeat_interval"),
        ({"PREFERENCE_DEFAULTS": ["digest"]}, "preference_defaults"),
        ({"NOTIFICATION_TYPES": ["system"]}, "allowed_types"),
    ],
)
def test_a_value_that_cannot_be_converted_names_the_setting(live_notify, name):
    from django.core.exceptions import ImproperlyConfigured

    [(key, value)] = live_notify.items()
    with override_settings(LIVE_NOTIFY=live_notify), pytest.raises(ImproperlyConfigured) as raised:
        getattr(live_settings, name)
    assert str(raised.value).startswith(f"LIVE_NOTIFY[{key!r}] cannot be used: {value!r} (")
    assert str(raised.value).endswith("manage.py check says what it takes.")
