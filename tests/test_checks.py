from django.test import override_settings

from django_live_notify.checks import check_setup


def ids():
    return [message.id for message in check_setup()]


@override_settings(DEBUG=True)
def test_default_test_settings_pass():
    assert ids() == []


def test_channels_missing_is_e001(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "channels"]
    assert "django_live_notify.E001" in ids()


@override_settings(CHANNEL_LAYERS={}, DEBUG=True)
def test_no_channel_layer_is_e002():
    assert ids() == ["django_live_notify.E002"]


@override_settings(LIVE_NOTIFY={"CHANNEL_LAYER": "other"}, DEBUG=True)
def test_layer_alias_is_followed():
    assert ids() == ["django_live_notify.E002"]


@override_settings(DEBUG=False)
def test_in_memory_layer_without_debug_is_w001():
    assert ids() == ["django_live_notify.W001"]


@override_settings(
    DEBUG=False,
    CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}},
)
def test_redis_layer_without_debug_is_fine():
    assert ids() == []


@override_settings(LIVE_NOTIFY={"HEARTBEAT_INTERVALL": 10}, DEBUG=True)
def test_unknown_key_is_e003():
    messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E003"]
    assert "HEARTBEAT_INTERVALL" in messages[0].msg


def test_checks_run_through_the_framework(settings):
    from django.core import checks

    settings.CHANNEL_LAYERS = {}
    assert "django_live_notify.E002" in [message.id for message in checks.run_checks(tags=[checks.Tags.compatibility])]


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("message", "Message")]}, DEBUG=True)
def test_default_type_outside_the_allowed_types_is_e004():
    messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E004"]
    assert "'system'" in messages[0].msg


@override_settings(
    LIVE_NOTIFY={"NOTIFICATION_TYPES": [("message", "Message")], "DEFAULT_NOTIFICATION_TYPE": "message"}, DEBUG=True
)
def test_default_type_among_the_allowed_types_is_fine():
    assert ids() == []
