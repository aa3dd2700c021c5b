import contextlib
import os
import selectors
import subprocess
import sys
import time

import pytest
from channels.routing import ProtocolTypeRouter
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured
from django.template import RequestContext, Template
from django.test import RequestFactory, override_settings
from django.urls import clear_url_caches, include, path

from django_live_notify.checks import (
    check_allowed_hosts,
    check_setup,
    check_sqlite_transactions,
    check_urls,
    check_websocket_server,
)
from django_live_notify.origins import origin_allowed
from tests.conftest import make_user

# ASGI applications that serve no WebSocket (W003).
http_only = get_asgi_application()
http_router = ProtocolTypeRouter({"http": http_only})
wrapped_http_only = ASGIStaticFilesHandler(http_only)


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
    assert messages[0].msg == ("LIVE_NOTIFY['HEARTBEAT_INTERVALL'] is not a setting; did you mean HEARTBEAT_INTERVAL?")
    assert "HEARTBEAT_INTERVAL" in messages[0].hint


@override_settings(LIVE_NOTIFY={"PAGESIZE": 5, "ZZZ": 1}, DEBUG=True)
def test_each_unknown_key_is_its_own_e003_with_a_guess_only_when_one_is_close():
    messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E003"] * 2
    assert [message.msg for message in messages] == [
        "LIVE_NOTIFY['PAGESIZE'] is not a setting; did you mean PAGE_SIZE?",
        "LIVE_NOTIFY['ZZZ'] is not a setting.",
    ]


@override_settings(LIVE_NOTIFY=[("HEARTBEAT_INTERVAL", 10)], DEBUG=True)
def test_a_live_notify_that_is_not_a_dict_is_e003_alone():
    messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E003"]
    assert messages[0].msg == "LIVE_NOTIFY must be a dict, not list."


def test_checks_run_through_the_framework(settings):
    from django.core import checks

    settings.CHANNEL_LAYERS = {}
    assert "django_live_notify.E002" in [message.id for message in checks.run_checks(tags=[checks.Tags.compatibility])]


@pytest.mark.parametrize(
    ("live_notify", "problem"),
    [
        ({"NOTIFICATION_TYPES": "system"}, "NOTIFICATION_TYPES'] must be a list of (value, label) pairs or None"),
        ({"NOTIFICATION_TYPES": ["system"]}, "must be a list of (value, label) pairs"),
        ({"NOTIFICATION_TYPES": [("system", "System", "extra")]}, "must be a list of (value, label) pairs"),
        ({"NOTIFICATION_TYPES": [(1, "One")]}, "must be a list of (value, label) pairs"),
        ({"DEFAULT_NOTIFICATION_TYPE": ""}, "DEFAULT_NOTIFICATION_TYPE'] must be a non-empty string, not ''"),
        ({"DEFAULT_NOTIFICATION_TYPE": None}, "DEFAULT_NOTIFICATION_TYPE'] must be a non-empty string, not None"),
    ],
)
def test_malformed_notification_types_are_e004(live_notify, problem):
    with override_settings(LIVE_NOTIFY=live_notify, DEBUG=True):
        messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E004"]
    assert problem in messages[0].msg


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [["system", "System"], ["message", "Message"]]}, DEBUG=True)
def test_notification_types_as_lists_pass():
    assert ids() == []


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
        ({"MAX_PREFERENCES": -1}, "MAX_PREFERENCES must be a non-negative integer"),
        ({"MAX_PREFERENCES": None}, "MAX_PREFERENCES must be a non-negative integer"),
        ({"MAX_MESSAGES_PER_SECOND": 0.5}, "MAX_MESSAGES_PER_SECOND must be a non-negative integer"),
        ({"MAX_REPLAYED_PER_MINUTE": -1}, "MAX_REPLAYED_PER_MINUTE must be a non-negative integer"),
        ({"ACK_INTERVAL": -250}, "ACK_INTERVAL must be a non-negative integer"),
        ({"ACK_INTERVAL": 0.25}, "ACK_INTERVAL must be a non-negative integer"),
        ({"RETENTION_DAYS": 0}, "RETENTION_DAYS must be a positive number of days or None"),
        ({"RETENTION_DAYS": 1.5}, "RETENTION_DAYS must be a positive number of days or None"),
    ],
)
def test_bad_limits_are_e006(live_notify, problem):
    with override_settings(LIVE_NOTIFY=live_notify, DEBUG=True):
        messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E006"]
    assert problem in messages[0].msg


# Every numeric setting, the check that guards it, its least good value and what its message says.
NUMBERS = {
    "PAGE_SIZE": ("E006", 1, "must be a positive integer"),
    "BATCH_SIZE": ("E006", 1, "must be a positive integer"),
    "MAX_MESSAGE_SIZE": ("E006", 1, "must be a positive integer"),
    "REPLAY_LIMIT": ("E006", 1, "must be a positive integer"),
    "MAX_ACTIONS": ("E006", 0, "must be a non-negative integer"),
    "MAX_PREFERENCES": ("E006", 0, "must be a non-negative integer"),
    "MAX_MESSAGES_PER_SECOND": ("E006", 0, "must be a non-negative integer"),
    "MAX_REPLAYED_PER_MINUTE": ("E006", 0, "must be a non-negative integer"),
    "MAX_CONNECTIONS_PER_USER": ("E006", 0, "must be a non-negative integer"),
    "ACK_INTERVAL": ("E006", 0, "must be a non-negative integer"),
    "DELIVERY_MAX_ATTEMPTS": ("E006", 1, "must be a positive integer"),
    "DELIVERY_BATCH_SIZE": ("E006", 1, "must be a positive integer"),
    "EMAIL_MAX_PER_HOUR": ("E006", 0, "must be a non-negative integer"),
    "RETENTION_DAYS": ("E006", 1, "must be a positive number of days or None"),
    "MAX_PENDING_FRAMES": ("E008", 102, "must be an integer of at least REPLAY_LIMIT + 2 (102)"),
    "WRITE_TIMEOUT": ("E008", 0.001, "must be a positive number of seconds"),
    "HEARTBEAT_INTERVAL": ("E011", 0.001, "must be a positive number of seconds"),
    "IDLE_TIMEOUT": ("E011", 30.5, "must be"),
    "TOKEN_MAX_AGE": ("E011", 1, "must be a positive integer of seconds"),
}
INTEGERS = [name for name, (_check, least, _problem) in NUMBERS.items() if isinstance(least, int)]


def _bad_values(name):
    """Return the values ``name`` must refuse: wrong types, bools, and the values just under its range."""
    _check, least, _problem = NUMBERS[name]
    values = ["10", True, False, [5], float("nan"), float("inf"), -1, least - 1 if isinstance(least, int) else 0]
    if name in INTEGERS:
        values.append(least + 0.5)
    if name != "RETENTION_DAYS" and name != "IDLE_TIMEOUT":
        values.append(None)
    return values


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name in NUMBERS for value in _bad_values(name)], ids=repr
)
def test_every_numeric_setting_refuses_bad_values(name, value):
    check_id, _least, problem = NUMBERS[name]
    with override_settings(LIVE_NOTIFY={name: value}, DEBUG=True):
        messages = check_setup()
    assert [message.id for message in messages] == [f"django_live_notify.{check_id}"]
    assert messages[0].msg.startswith(name) and problem in messages[0].msg
    assert repr(value) in messages[0].msg
    assert name in messages[0].hint


@pytest.mark.parametrize(("name", "least"), [(name, least) for name, (_c, least, _p) in NUMBERS.items()])
def test_every_numeric_setting_accepts_its_least_value_and_its_default(name, least):
    from django_live_notify.conf import DEFAULTS

    for value in (least, DEFAULTS[name], least * 10):
        with override_settings(LIVE_NOTIFY={name: value}, DEBUG=True):
            assert ids() == [], (name, value)


def test_range_hints_name_the_allowed_range_and_the_default():
    with override_settings(LIVE_NOTIFY={"PAGE_SIZE": 0, "MAX_CONNECTIONS_PER_USER": -1}, DEBUG=True):
        hints = [message.hint for message in check_setup()]
    assert hints == [
        "PAGE_SIZE is a whole number of 1 or more; the default is 20.",
        "MAX_CONNECTIONS_PER_USER is a whole number of 0 or more (0 = no limit); the default is 20.",
    ]


@pytest.mark.parametrize("heartbeat", [10, 12.5])
def test_an_idle_timeout_not_above_the_heartbeat_interval_is_e011(heartbeat):
    with override_settings(LIVE_NOTIFY={"HEARTBEAT_INTERVAL": heartbeat, "IDLE_TIMEOUT": 10}, DEBUG=True):
        messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E011"]
    assert messages[0].msg.startswith(f"IDLE_TIMEOUT (10) must be more than HEARTBEAT_INTERVAL ({heartbeat!r})")


@pytest.mark.parametrize("code", [1000, 1008, 2999, 5000, 4009.0, "4009", True])
def test_a_close_code_outside_the_sendable_ones_is_e011(code):
    with override_settings(LIVE_NOTIFY={"TOO_BIG_CLOSE_CODE": code}, DEBUG=True):
        messages = check_setup()
    assert [message.id for message in messages] == ["django_live_notify.E011"]
    assert messages[0].msg == f"TOO_BIG_CLOSE_CODE must be None, 1009, or 3000 to 4999, not {code!r}."


@pytest.mark.parametrize("code", [None, 1009, 3000, 4009, 4999])
def test_sendable_close_codes_pass(code):
    with override_settings(LIVE_NOTIFY={"TOO_BIG_CLOSE_CODE": code}, DEBUG=True):
        assert ids() == []


@override_settings(
    LIVE_NOTIFY={
        "RETENTION_DAYS": None,
        "MAX_ACTIONS": 0,
        "MAX_PREFERENCES": 0,
        "MAX_MESSAGES_PER_SECOND": 0,
        "MAX_REPLAYED_PER_MINUTE": 0,
    },
    DEBUG=True,
)
def test_retention_none_and_no_actions_pass():
    assert ids() == []


# --------------------------------------------------------------------------- E007: the app's URLs


@contextlib.contextmanager
def _extra_url(prefix):
    """Include the app's URLs under ``prefix`` in tests.urls_without_live_notify for a while."""
    from tests import urls_without_live_notify

    urls_without_live_notify.urlpatterns.append(path(prefix, include("django_live_notify.urls")))
    clear_url_caches()
    try:
        yield
    finally:
        urls_without_live_notify.urlpatterns.pop()
        clear_url_caches()


def test_missing_url_include_is_e007():
    with override_settings(ROOT_URLCONF="tests.urls_without_live_notify"):
        [message] = check_urls()
    assert message.id == "django_live_notify.E007"
    assert "include('django_live_notify.urls')" in message.hint


def test_included_urls_pass_e007_under_any_prefix():
    assert check_urls() == []
    with override_settings(ROOT_URLCONF="tests.urls_without_live_notify"), _extra_url("inbox/"):
        assert check_urls() == []


def test_missing_url_include_is_reported_by_manage_py_check():
    from django.core import checks

    with override_settings(ROOT_URLCONF="tests.urls_without_live_notify"):
        found = [message.id for message in checks.run_checks(tags=[checks.Tags.urls])]
    assert "django_live_notify.E007" in found


@pytest.mark.parametrize("tag", ["live_notifications", "live_notify_badge"])
def test_tags_without_the_url_include_name_the_fix(tag, db):
    user = make_user("ana")
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load live_notify %}{% " + tag + " %}")
    context = RequestContext(request, {"request": request})
    without_include = override_settings(ROOT_URLCONF="tests.urls_without_live_notify")
    with without_include, pytest.raises(ImproperlyConfigured) as raised:
        template.render(context)
    assert f"{{% {tag} %}} cannot find the URL 'live_notify:list'" in str(raised.value)
    assert "path('notifications/', include('django_live_notify.urls'))" in str(raised.value)


# --------------------------------------------------------------------------- W002, W003: serving the socket


@pytest.fixture
def argv(monkeypatch):
    def run(*args):
        monkeypatch.setattr(sys, "argv", ["manage.py", *args])

    return run


def websocket_ids():
    return [message.id for message in check_websocket_server()]


@override_settings(DEBUG=False)
def test_runserver_without_daphne_is_w002(argv):
    argv("runserver", "8000")
    [message] = check_websocket_server()
    assert message.id == "django_live_notify.W002"
    assert "/ws/notifications/" in message.msg
    assert "'daphne' first in INSTALLED_APPS" in message.hint


def test_check_with_debug_warns_too_and_other_commands_do_not(argv, settings):
    argv("check")
    settings.DEBUG = True
    assert websocket_ids() == ["django_live_notify.W002"]
    settings.DEBUG = False
    assert websocket_ids() == []
    argv("migrate")
    settings.DEBUG = True
    assert websocket_ids() == []


def test_runserver_of_daphne_with_a_websocket_route_passes(argv, settings):
    argv("runserver")
    settings.INSTALLED_APPS = ["daphne", *settings.INSTALLED_APPS]
    assert websocket_ids() == []


@pytest.mark.parametrize(
    ("asgi_application", "problem"),
    [
        (None, "ASGI_APPLICATION is not set"),
        ("tests.no_such_module.application", "ASGI_APPLICATION 'tests.no_such_module.application' cannot be imported"),
        ("tests.asgi_broken.application", "ASGI_APPLICATION 'tests.asgi_broken.application' cannot be imported"),
        ("tests.test_checks.http_only", "ASGI_APPLICATION 'tests.test_checks.http_only' serves HTTP only"),
        ("tests.test_checks.http_router", "ASGI_APPLICATION 'tests.test_checks.http_router' serves HTTP only"),
        ("tests.test_checks.wrapped_http_only", "ASGI_APPLICATION 'tests.test_checks.wrapped_http_only' serves HTTP"),
    ],
)
def test_runserver_of_daphne_without_a_websocket_route_is_w003(argv, settings, asgi_application, problem):
    argv("runserver")
    settings.INSTALLED_APPS = ["daphne", *settings.INSTALLED_APPS]
    if asgi_application is None:
        del settings.ASGI_APPLICATION
    else:
        settings.ASGI_APPLICATION = asgi_application
    [message] = check_websocket_server()
    assert message.id == "django_live_notify.W003"
    assert message.msg.startswith(problem)
    assert "websocket_application()" in message.hint


def test_runserver_prints_w002_at_startup():
    """What a newcomer sees: Django's runserver, started as the README said before it named daphne."""
    from tests.servers import ROOT, free_port, stop_process

    # Unbuffered: through a pipe, runserver's "Quit the server" line would otherwise wait in its buffer.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{free_port()}"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = ""
        deadline = time.monotonic() + 30
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            # Never block on a read past the deadline: the test stops by itself whatever the server prints.
            while "Quit the server" not in output and time.monotonic() < deadline and process.poll() is None:
                if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    output += os.read(process.stdout.fileno(), 65536).decode(errors="replace")
    finally:
        stop_process(process)
    assert "django_live_notify.W002" in output, output
    assert "cannot serve the WebSocket at /ws/notifications/" in output


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
def test_sqlite_file_without_immediate_transactions_is_w004(databases):
    with override_settings(DATABASES=databases):
        [warning] = check_sqlite_transactions()
    assert warning.id == "django_live_notify.W004"
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
def test_immediate_transactions_in_memory_databases_and_servers_pass_w004(databases):
    with override_settings(DATABASES=databases):
        assert check_sqlite_transactions() == []


def delivery_messages(**live_notify):
    from django_live_notify.checks import check_delivery

    with override_settings(LIVE_NOTIFY=live_notify):
        return [(message.id, message.msg) for message in check_delivery()]


def test_delivery_settings_are_checked():
    assert delivery_messages() == []
    assert delivery_messages(DELIVERY_MODE="later") == [
        ("django_live_notify.E012", "DELIVERY_MODE must be 'worker', 'sweep' or 'inline', not 'later'.")
    ]
    assert delivery_messages(DELIVERY_BACKENDS=["nowhere.Backend"])[0][0] == "django_live_notify.E012"
    assert delivery_messages(DELIVERY_RETRY_BASE=0) == [
        ("django_live_notify.E012", "DELIVERY_RETRY_BASE must be a number of more than 0, not 0.")
    ]
    assert delivery_messages(EMAIL_DIGEST_MINUTES=True)[0][0] == "django_live_notify.E012"
    assert delivery_messages(DELIVERY_OFFLINE_GRACE=0, EMAIL_DIGEST_MINUTES=0.5) == []
    assert delivery_messages(DELIVERY_POLICIES={"webpush": {"security": "soon"}}) == [
        (
            "django_live_notify.E012",
            "DELIVERY_POLICIES['webpush']['security'] must be 'always', 'offline' or 'unread', not 'soon'.",
        )
    ]


def test_email_without_a_base_url_is_a_warning():
    email = ["django_live_notify.emailing.EmailBackend"]
    assert [id_ for id_, _msg in delivery_messages(DELIVERY_BACKENDS=email)] == ["django_live_notify.W007"]
    assert delivery_messages(DELIVERY_BACKENDS=email, EMAIL_BASE_URL="https://example.com") == []


# --------------------------------------------------------------------------- W005: ALLOWED_HOSTS = ["*"]


def handshake(origin, host):
    return {"type": "websocket", "scheme": "wss", "headers": [(b"host", host.encode()), (b"origin", origin.encode())]}


@override_settings(DEBUG=False, ALLOWED_HOSTS=["*"])
def test_any_host_without_debug_is_w005():
    [warning] = check_allowed_hosts()
    assert warning.id == "django_live_notify.W005"
    assert "ALLOWED_HOSTS contains '*'" in warning.msg
    assert "DNS rebinding" in warning.hint


@pytest.mark.parametrize(
    ("debug", "allowed_hosts"),
    [(False, ["www.example.com"]), (False, [".example.com", "localhost"]), (False, []), (True, ["*"])],
    ids=["one-host", "subdomains", "none", "debug"],
)
def test_named_hosts_or_debug_pass_w005(debug, allowed_hosts):
    with override_settings(DEBUG=debug, ALLOWED_HOSTS=allowed_hosts):
        assert check_allowed_hosts() == []


def test_w005_runs_with_the_security_checks():
    from django.core import checks

    with override_settings(DEBUG=False, ALLOWED_HOSTS=["localhost", "*"]):
        found = [message.id for message in checks.run_checks(tags=[checks.Tags.security])]
    assert "django_live_notify.W005" in found


def test_what_w005_warns_about_any_host_is_its_own_origin():
    """With '*' a rebound domain's page passes as the site's own; another site's page on your host still fails."""
    rebound = handshake("https://rebound.example", host="rebound.example")
    cross_site = handshake("https://rebound.example", host="www.example.com")
    with override_settings(ALLOWED_HOSTS=["www.example.com"]):
        assert origin_allowed(rebound) is False
        assert origin_allowed(cross_site) is False
    with override_settings(ALLOWED_HOSTS=["*"]):
        assert origin_allowed(rebound) is True
        assert origin_allowed(cross_site) is False


def test_every_check_function_is_registered():
    """A check that lost its @register (a merge can drop a decorator line) would silently never run."""
    import importlib
    import pkgutil

    from django.core.checks.registry import registry

    from django_live_notify import checks as package

    modules = [
        importlib.import_module(info.name) for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}.")
    ]
    defined = {
        (module.__name__, name)
        for module in modules
        for name, value in vars(module).items()
        if name.startswith("check_") and callable(value) and value.__module__ == module.__name__
    }
    registered = {
        (check.__module__, check.__name__)
        for check in registry.get_checks()
        if check.__module__.startswith(f"{package.__name__}.")
    }

    assert len(modules) > 1 and len(defined) > 1
    assert defined == registered
    # And each is importable from the package, as django_live_notify.checks.check_setup was before the split.
    assert {name for _module, name in defined} <= set(package.__all__)
