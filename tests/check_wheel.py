"""Assert that the built wheel holds the files a project needs at run time."""

import sys
import zipfile
from pathlib import Path

REQUIRED = [
    "django_live_notify/py.typed",
    "django_live_notify/migrations/0001_initial.py",
    "django_live_notify/migrations/0002_preferences_grouping_actions_expiry.py",
    "django_live_notify/management/commands/live_notify_cleanup.py",
    "django_live_notify/templates/django_live_notify/preferences.html",
    "django_live_notify/static/django_live_notify/live-notify.js",
    "django_live_notify/static/django_live_notify/live-notify-inbox.js",
    "django_live_notify/static/django_live_notify/live-notify-plural.js",
    "django_live_notify/templates/django_live_notify/inbox.html",
    "django_live_notify/static/django_live_notify/live-notify.css",
    "django_live_notify/static/django_live_notify/live-notify-sw.js",
    "django_live_notify/templates/django_live_notify/",
    "django_live_notify/locale/pt_BR/LC_MESSAGES/django.po",
    "django_live_notify/locale/pt_BR/LC_MESSAGES/django.mo",
]
FORBIDDEN_PREFIXES = ["tests/", "example_project/", "benchmarks/", "docs/"]


def main(dist: str) -> int:
    wheels = sorted(Path(dist).glob("*.whl"))
    if len(wheels) != 1:
        print(f"expected one wheel in {dist}, found {wheels}")
        return 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    missing = [path for path in REQUIRED if not any(name.startswith(path) for name in names)]
    stray = [name for name in names if any(name.startswith(prefix) for prefix in FORBIDDEN_PREFIXES)]
    for path in missing:
        print(f"missing from {wheels[0].name}: {path}")
    for name in stray:
        print(f"must not be in {wheels[0].name}: {name}")
    if not missing and not stray:
        print(f"{wheels[0].name}: {len(names)} files, templates, static files, migrations and translations present")
    return 1 if missing or stray else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
