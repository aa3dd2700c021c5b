import pytest
from django.test import override_settings

from django_live_notify.checks import check_setup, check_sqlite_transactions


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


@pytest.mark.parametrize(
    ("live_notify", "problem"),
    [
        ({"PREFERENCE_DEFAULTS": {"digest": "loud"}}, "PREFERENCE_DEFAULTS['digest'] is 'loud'"),
        ({"PREFERENCE_DEFAULTS": ["digest"]}, "PREFERENCE_DEFAULTS must be a dict"),
        ({"MANDATORY_TYPES": "security"}, "MANDATORY_TYPES must be a list"),
        (
            {"MANDATORY_TYPES": ["security"], "PREFERENCE_DEFAULTS": {"security": "off"}},
            "'security' is in MANDATORY_TYPES but PREFERENCE_DEFAULTS makes it 'off'",
        ),
        (
            {"NOTIFICATION_TYPES": [("system", "System")], "MANDATORY_TYPES": ["security"]},
            "MANDATORY_TYPES names 'security', which is not in NOTIFICATION_TYPES",
        ),
        (
            {"NOTIFICATION_TYPES": [("system", "System")], "PREFERENCE_DEFAULTS": {"digest": "store"}},
            "PREFERENCE_DEFAULTS names 'digest', which is not in NOTIFICATION_TYPES",
        ),
    ],
)
def test_bad_preference_settings_are_e005(live_notify, problem):
    with override_settings(LIVE_NOTIFY=live_notify, DEBUG=True):
        messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E005"]
    assert problem in messages[0].msg


@override_settings(
    LIVE_NOTIFY={
        "NOTIFICATION_TYPES": [("system", "System"), ("security", "Security")],
        "MANDATORY_TYPES": ["security"],
        "PREFERENCE_DEFAULTS": {"system": "store", "security": "live"},
    },
    DEBUG=True,
)
def test_good_preference_settings_pass():
    assert ids() == []


@pytest.mark.parametrize(
    ("live_notify", "problem"),
    [
        ({"MAX_ACTIONS": -1}, "MAX_ACTIONS must be a non-negative integer"),
        ({"MAX_ACTIONS": "3"}, "MAX_ACTIONS must be a non-negative integer"),
        ({"RETENTION_DAYS": 0}, "RETENTION_DAYS must be a positive number of days or None"),
        ({"RETENTION_DAYS": 1.5}, "RETENTION_DAYS must be a positive number of days or None"),
    ],
)
def test_bad_limits_are_e006(live_notify, problem):
    with override_settings(LIVE_NOTIFY=live_notify, DEBUG=True):
        messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E006"]
    assert problem in messages[0].msg


@override_settings(LIVE_NOTIFY={"RETENTION_DAYS": None, "MAX_ACTIONS": 0}, DEBUG=True)
def test_retention_none_and_no_actions_pass():
    assert ids() == []


# The check reads DATABASES only: the connections Django already made are not touched.
ignore_databases_override = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


def sqlite(name, **options):
    return {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "OPTIONS": options}}


@ignore_databases_override
@pytest.mark.parametrize(
    "databases",
    [sqlite("db.sqlite3"), sqlite("db.sqlite3", transaction_mode="DEFERRED", timeout=20)],
    ids=["default", "deferred"],
)
def test_sqlite_file_without_immediate_transactions_is_w002(databases):
    with override_settings(DATABASES=databases):
        [warning] = check_sqlite_transactions()
    assert warning.id == "django_live_notify.W002"
    assert "database is locked" in warning.msg
    assert '"transaction_mode": "IMMEDIATE"' in warning.hint


@ignore_databases_override
@pytest.mark.parametrize(
    "databases",
    [
        sqlite("db.sqlite3", transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;"),
        sqlite("db.sqlite3", transaction_mode="exclusive"),
        sqlite(":memory:"),
        sqlite("file:memorydb?mode=memory&cache=shared"),
        {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "live"}},
    ],
    ids=["immediate", "exclusive", "memory", "memory-uri", "postgresql"],
)
def test_immediate_transactions_in_memory_databases_and_servers_pass_w002(databases):
    with override_settings(DATABASES=databases):
        assert check_sqlite_transactions() == []
