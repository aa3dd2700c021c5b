"""Build the wheel, install it in a fresh venv, and run a generated Django project against it.

Run with ``python tests/wheel_smoke.py`` (or ``tox -e wheel``). Everything
happens in a temporary directory that is removed afterwards: the wheel, the
venv (``python -m venv``, the wheel and daphne installed with pip), a minimal
project generated here, and a copy of ``example_project/``. Nothing of the
source tree is on the path of the installed project, so templates, static
files, migrations and the compiled translations must come from the wheel.

Exit status 0 when every step passes; otherwise 1, with the failing step and
its output. Each step has a timeout, so the script never hangs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT = 600
INSTALL_TIMEOUT = 600
STEP_TIMEOUT = 180

SETTINGS = """\
SECRET_KEY = "wheel-smoke-test-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"
ROOT_URLCONF = "smokeproject.urls"
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_live_notify",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATABASE_PATH,
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;", "timeout": 20},
    }
}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
ASGI_APPLICATION = "smokeproject.asgi.application"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# One process, on purpose: the in-memory layer is enough to check the installation.
SILENCED_SYSTEM_CHECKS = ["django_live_notify.W001"]
"""

URLS = """\
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("notifications/", include("django_live_notify.urls")),
]
"""

ASGI = """\
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smokeproject.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from django_live_notify.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
"""

# Run inside the fresh venv, from the temporary project directory.
PROBE = """\
import os
import sys
import sysconfig
from pathlib import Path

import django

django.setup()

import django_live_notify
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.db.migrations.loader import MigrationLoader
from django.template import RequestContext, Template
from django.template.loader import get_template
from django.test import Client, RequestFactory
from django.utils import translation

from django_live_notify import notify

REPO = Path(os.environ["SMOKE_REPO"]).resolve()
SITE = Path(sysconfig.get_paths()["purelib"]).resolve()
failures = []


def check(condition, message):
    print(("ok:     " if condition else "FAILED: ") + message)
    if not condition:
        failures.append(message)


def from_wheel(path):
    path = Path(path).resolve()
    return path.is_relative_to(SITE) and not path.is_relative_to(REPO)


package = Path(django_live_notify.__file__).resolve().parent
check(from_wheel(package), f"django_live_notify is imported from site-packages ({package})")

script = finders.find("django_live_notify/live-notify.js")
check(script is not None and from_wheel(script), f"static live-notify.js is found in site-packages ({script})")
stylesheet = finders.find("django_live_notify/live-notify.css")
check(stylesheet is not None and from_wheel(stylesheet), f"static live-notify.css is found ({stylesheet})")

for name in ("notification_list.html", "preferences.html", "live_notifications.html", "badge.html"):
    origin = get_template("django_live_notify/" + name).origin.name
    check(from_wheel(origin), f"template {name} loads from site-packages ({origin})")

loader = MigrationLoader(None, ignore_no_migrations=True)
migrations = sorted(name for app, name in loader.disk_migrations if app == "django_live_notify")
check(len(migrations) >= 2, f"migrations found: {', '.join(migrations)}")
for name in migrations:
    module = sys.modules[loader.disk_migrations[("django_live_notify", name)].__module__]
    check(from_wheel(module.__file__), f"migration {name} loads from site-packages")

mo = package / "locale" / "pt_BR" / "LC_MESSAGES" / "django.mo"
check(mo.is_file(), f"compiled pt_BR catalog is installed ({mo})")
with translation.override("pt-br"):
    check(translation.gettext("Mark all read") == "Marcar todas como lidas", "a pt_BR string comes from the .mo")

user = get_user_model().objects.create_user("ana", password="pw")
request = RequestFactory().get("/")
request.user = user
html = Template("{% load live_notify %}{% live_notifications %}").render(RequestContext(request, {"request": request}))
check('id="live-notify-config"' in html and "live-notify.js" in html, "{% live_notifications %} renders the client")
count = Template("{% load live_notify %}{% live_notify_unread_count %}").render(
    RequestContext(request, {"request": request})
)
check(count == "0", f"{{% live_notify_unread_count %}} renders 0 before any notification ({count!r})")

notify(user, title="Wheel smoke test")
client = Client()
client.force_login(user)
response = client.get("/notifications/")
page = response.content.decode()
check(response.status_code == 200 and "Wheel smoke test" in page, "the history page lists a stored notification")
with translation.override("pt-br"):
    page = client.get("/notifications/").content.decode()
check("1 notificação não lida" in page, "the history page renders in Portuguese")

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
"""


class StepFailed(Exception):
    pass


def run(step: str, command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int) -> str:
    """Run one step; raise StepFailed with its output when it fails or takes longer than ``timeout``."""
    print(f"--- {step}", flush=True)
    started = time.monotonic()
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        output = error.output.decode(errors="replace") if isinstance(error.output, bytes) else error.output or ""
        raise StepFailed(f"{step}: timed out after {timeout} s\n{output}") from None
    if result.returncode != 0:
        raise StepFailed(f"{step}: exit status {result.returncode}\n{result.stdout}")
    print(f"    done in {time.monotonic() - started:.1f} s", flush=True)
    return result.stdout


def isolated_env(pythonpath: Path | None, **extra: str) -> dict[str, str]:
    """Return an environment that cannot reach the source tree: no PYTHONPATH but ``pythonpath``, no user site."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "DJANGO_", "VIRTUAL_ENV"))}
    env.pop("REDIS_URL", None)
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    env.update(extra)
    return env


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def smoke(root: Path) -> None:
    dist, venv, project, example = root / "dist", root / "venv", root / "project", root / "example"

    run(
        "build the wheel",
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        cwd=root,
        timeout=BUILD_TIMEOUT,
    )
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise StepFailed(f"build the wheel: expected one wheel in {dist}, found {[w.name for w in wheels]}")
    print(f"    {wheels[0].name}")

    run("create a fresh venv", [sys.executable, "-m", "venv", str(venv)], cwd=root, timeout=STEP_TIMEOUT)
    python = str(venv_python(venv))
    run(
        "install the wheel and daphne",
        [python, "-m", "pip", "install", "--quiet", str(wheels[0]), "daphne>=4.1"],
        cwd=root,
        env=isolated_env(None),
        timeout=INSTALL_TIMEOUT,
    )

    package = project / "smokeproject"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    database = project / "db.sqlite3"
    (package / "settings.py").write_text(f"DATABASE_PATH = {str(database)!r}\n" + SETTINGS)
    (package / "urls.py").write_text(URLS)
    (package / "asgi.py").write_text(ASGI)
    (project / "probe.py").write_text(PROBE)
    env = isolated_env(project, DJANGO_SETTINGS_MODULE="smokeproject.settings", SMOKE_REPO=str(REPO))

    run(
        "generated project: check",
        [python, "-m", "django", "check", "--fail-level", "WARNING"],
        cwd=project,
        env=env,
        timeout=STEP_TIMEOUT,
    )
    run(
        "generated project: makemigrations --check",
        [python, "-m", "django", "makemigrations", "--check", "--dry-run"],
        cwd=project,
        env=env,
        timeout=STEP_TIMEOUT,
    )
    run(
        "generated project: migrate",
        [python, "-m", "django", "migrate", "--noinput"],
        cwd=project,
        env=env,
        timeout=STEP_TIMEOUT,
    )
    print(
        run(
            "generated project: probe the installed package",
            [python, "probe.py"],
            cwd=project,
            env=env,
            timeout=STEP_TIMEOUT,
        ),
        end="",
    )

    # The example project imports django_live_notify from its parent directory's parent: copied
    # alone to a temporary directory, that parent holds no package, so the wheel's copy is used.
    shutil.copytree(
        REPO / "example_project",
        example / "example_project",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3*"),
    )
    example_env = isolated_env(None, DATABASE_PATH=str(example / "db.sqlite3"))
    manage = str(example / "example_project" / "manage.py")
    run("example project: check", [python, manage, "check"], cwd=example, env=example_env, timeout=STEP_TIMEOUT)
    output = run(
        "example project: django_live_notify comes from the wheel",
        [python, manage, "shell", "-c", "import django_live_notify; print(django_live_notify.__file__)"],
        cwd=example,
        env=example_env,
        timeout=STEP_TIMEOUT,
    )
    location = Path(output.strip().splitlines()[-1]).resolve()
    if location.is_relative_to(REPO) or not location.is_relative_to(venv.resolve()):
        raise StepFailed(f"example project: django_live_notify was imported from {location}, not the venv")
    print(f"    {location}")


def main() -> int:
    started = time.monotonic()
    try:
        import build  # noqa: F401
    except ImportError:
        print("wheel smoke test FAILED: the 'build' package is missing (pip install build)", file=sys.stderr)
        return 1
    # Outside the repository, so that nothing of it is on sys.path by accident.
    with tempfile.TemporaryDirectory(prefix="live-notify-wheel-") as directory:
        root = Path(directory).resolve()
        if root.is_relative_to(REPO):
            print(f"wheel smoke test FAILED: the temporary directory {root} is inside the repository", file=sys.stderr)
            return 1
        try:
            smoke(root)
        except StepFailed as error:
            print(f"\nwheel smoke test FAILED: {error}", file=sys.stderr)
            return 1
    print(f"\nwheel smoke test passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
