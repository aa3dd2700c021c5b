"""The example project, run as ``tox -e demo`` runs it: in subprocesses, on its own settings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import LiveDatabase

# Every test starts Python processes on the example project: about 30 s in all.
pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
MANAGE = REPO_ROOT / "example_project" / "manage.py"
GUIDE = "log in as ana / demo12345 in one window and bruno / demo12345 in another (private window)"

# Exercises the three notification rules of example_project/services/rules.py.
RULES_SCRIPT = """
from django.contrib.auth.models import User
from django_live_notify.models import Notification
from example_project.services.models import Chat, Message, Order, ServiceRequest

ana, bruno = User.objects.get(username="ana"), User.objects.get(username="bruno")
before = Notification.objects.order_by("-id").values_list("id", flat=True).first()
request = ServiceRequest.objects.create(customer=ana, provider=bruno, title="Fix the sink")
order = Order.objects.create(service_request=request, customer=ana)
order.status = Order.Status.SCHEDULED
order.save()
order.save()
Message.objects.create(chat=Chat.objects.get(customer=ana, professional=bruno), sender=ana, content="y" * 80)
for notification in Notification.objects.filter(id__gt=before).order_by("id"):
    print("ROW", notification.recipient, notification.notification_type, notification.url, notification.message)
"""


# The provider accepts a request from the Accept button of its notification; the customer may not.
ACTION_SCRIPT = """
from django.contrib.auth.models import User
from django.test import Client
from django_live_notify.models import Notification
from example_project.services.models import ServiceRequest

ana, bruno = User.objects.get(username="ana"), User.objects.get(username="bruno")
request = ServiceRequest.objects.create(customer=ana, provider=bruno, title="Paint the door")
notification = Notification.objects.get(recipient=bruno, target_object_id=str(request.pk))
[accept] = notification.to_payload()["actions"]
print("ACTION", accept["label"], accept["method"], accept["style"])
for user in (ana, bruno):
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    response = client.post(accept["url"], HTTP_ACCEPT="application/json")
    print("ANSWER", user, response.status_code, response.json())
request.refresh_from_db()
notification.refresh_from_db()
print("AFTER", request.status, hasattr(request, "order"), notification.is_read)
client = Client(HTTP_HOST="localhost")
client.force_login(ana)
page = client.get("/notifications/preferences/").content.decode()
print("PREFERENCES", 'name="delivery:system" value="live"' in page and "disabled" in page)
"""


def manage(*args, database, **environ):
    """Run example_project/manage.py with ``args`` on ``database`` and ``environ``; return the process."""
    unset = ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG", "DJANGO_SECRET_KEY")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env.update(database.example_project_env())
    env.update(environ)
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    database = LiveDatabase(tmp_path_factory.mktemp("example_project"))
    try:
        result = manage("migrate", "--noinput", database=database)
        assert result.returncode == 0, result.stderr
        yield database
    finally:
        database.drop()


def test_check_passes(database):
    result = manage("check", "--fail-level", "WARNING", database=database)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_with_debug_off_the_public_secret_key_refuses_to_start(database):
    result = manage("check", database=database, DJANGO_DEBUG="0")

    assert result.returncode != 0
    assert "ImproperlyConfigured: The example project's default SECRET_KEY is public" in result.stderr
    assert "set the DJANGO_SECRET_KEY environment variable" in result.stderr


def test_with_debug_off_a_secret_key_of_its_own_starts(database):
    result = manage("check", database=database, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr
    assert "System check identified" in result.stdout + result.stderr


def test_migrations_are_up_to_date(database):
    result = manage("makemigrations", "--check", "--dry-run", "services", database=database)

    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_data_is_idempotent_and_prints_the_guide(database):
    first = manage("demo_data", database=database)
    second = manage("demo_data", database=database)

    for result in (first, second):
        assert result.returncode == 0, result.stderr
        assert GUIDE in result.stdout.lower()
        for username in ("ana", "bruno", "carla", "admin"):
            assert username in result.stdout
    assert first.stdout == second.stdout


def test_rules_notify_provider_customer_and_chat_partner(database):
    assert manage("demo_data", database=database).returncode == 0

    result = manage("shell", "--no-imports", "-c", RULES_SCRIPT, database=database)

    assert result.returncode == 0, result.stderr
    rows = [line.split(" ", 4)[1:] for line in result.stdout.splitlines() if line.startswith("ROW ")]
    request_url = rows[0][2]
    assert rows == [
        ["bruno", "service_request", request_url, "Ana asked for: Fix the sink"],
        ["ana", "order", request_url + "#order", "Bruno accepted “Fix the sink”: your order is placed."],
        ["ana", "order", request_url + "#order", "Your order “Fix the sink” is now scheduled."],
        ["bruno", "message", rows[3][2], "Ana: " + "y" * 50 + "…"],
    ]


def test_the_accept_action_runs_for_the_provider_only(database):
    assert manage("demo_data", database=database).returncode == 0

    result = manage("shell", "--no-imports", "-c", ACTION_SCRIPT, database=database)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "ACTION Accept POST primary" in lines
    assert "ANSWER ana 404 {'error': 'Not found.'}" in lines
    [bruno] = [line for line in lines if line.startswith("ANSWER bruno")]
    assert bruno.startswith("ANSWER bruno 200 {") and "'accepted': True" in bruno
    assert "AFTER accepted True True" in lines
    assert "PREFERENCES True" in lines


# Prints the settings a deployment reads from the environment; "without daphne" hides the daphne package first.
READ_SETTINGS = """
import json, sys
if "without daphne" in sys.argv:
    sys.modules["daphne"] = None
from django.conf import settings
print(json.dumps({
    name: str(getattr(settings, name, None)) if name in ("STATIC_ROOT", "SECURE_PROXY_SSL_HEADER")
    else getattr(settings, name, None)
    for name in ("DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "STATIC_ROOT", "SECURE_PROXY_SSL_HEADER",
                 "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "INSTALLED_APPS", "CHANNEL_LAYERS")
} | {"DATABASE": {key: settings.DATABASES["default"][key] for key in ("ENGINE", "NAME", "HOST", "PORT", "USER")
                  if key in settings.DATABASES["default"]} | {"NAME": str(settings.DATABASES["default"]["NAME"])}}))
"""


def read_settings(*args, **environ):
    """Return the example project's settings as a process with exactly ``environ`` (and PATH) reads them."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO_ROOT),
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", READ_SETTINGS, *args], cwd=REPO_ROOT, env={**env, **environ},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_without_environment_the_settings_are_the_local_demos():
    read = read_settings()

    assert read["DEBUG"] is True
    assert read["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1"]
    assert read["CSRF_TRUSTED_ORIGINS"] == []
    assert read["STATIC_ROOT"] == str(REPO_ROOT / "example_project" / "staticfiles")
    assert read["SECURE_PROXY_SSL_HEADER"] == "None"
    assert read["SESSION_COOKIE_SECURE"] is read["CSRF_COOKIE_SECURE"] is False
    assert read["INSTALLED_APPS"][0] == "daphne"
    assert read["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert read["DATABASE"]["ENGINE"] == "django.db.backends.sqlite3"
    assert read["DATABASE"]["NAME"] == str(REPO_ROOT / "example_project" / "db.sqlite3")


def test_a_deployment_sets_everything_from_the_environment():
    read = read_settings(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="s" * 50,
        DJANGO_ALLOWED_HOSTS="example.com, www.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://example.com:8443,https://www.example.com:8443",
        DJANGO_HTTPS="1",
        DJANGO_STATIC_ROOT="/srv/demo/static",
        REDIS_URL="redis://:secret@127.0.0.1:6390/0",
        DATABASE_URL="postgres://demo:pw@db.internal:5433/demo",
    )

    assert read["DEBUG"] is False
    assert read["ALLOWED_HOSTS"] == ["example.com", "www.example.com"]
    assert read["CSRF_TRUSTED_ORIGINS"] == ["https://example.com:8443", "https://www.example.com:8443"]
    assert read["SECURE_PROXY_SSL_HEADER"] == "('HTTP_X_FORWARDED_PROTO', 'https')"
    assert read["SESSION_COOKIE_SECURE"] is read["CSRF_COOKIE_SECURE"] is True
    assert read["STATIC_ROOT"] == "/srv/demo/static"
    assert read["CHANNEL_LAYERS"]["default"] == {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://:secret@127.0.0.1:6390/0"]},
    }
    assert read["DATABASE"] == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "demo", "HOST": "db.internal", "PORT": 5433, "USER": "demo",
    }  # fmt: skip


def test_without_daphne_the_project_runs_without_it(database):
    """With only django-live-notify[redis,uvicorn]: no daphne in INSTALLED_APPS; check says runserver is Django's."""
    read = read_settings("without daphne")
    assert "daphne" not in read["INSTALLED_APPS"]
    assert read["INSTALLED_APPS"][:2] == ["django.contrib.admin", "django.contrib.auth"]

    hide_daphne = (
        "import runpy, sys; sys.modules['daphne'] = None; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-c", hide_daphne, str(MANAGE), "check"], cwd=REPO_ROOT,
        env={**env, **database.example_project_env()}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "django_live_notify.W002" in result.stderr + result.stdout
