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
