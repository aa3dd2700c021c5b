"""Write tests/hq_dump/hq-1.8.3.json: rows made by the real django-notifications-hq, through its own code.

Run by ``tox -e hq-dump -- --write`` (Django 4.2 and django-notifications-hq 1.8.3 in a venv of their own: hq cannot be
imported on the Django this package supports). It migrates a fresh SQLite database, creates users, sends with hq's
``notify.send`` (a user actor, a non-user actor, a target, an action object, a level, ``public=False``, a
``timestamp``, extra data with a ``url``), marks rows read and deletes one through hq's own views (with
``SOFT_DELETE``), deletes a user who acted, and dumps: the table's DDL, its rows exactly as stored, the users and
content types, and what hq's own API answers for each user's unread count. tests/test_import_hq.py imports that.
``tox -e hq-dump`` alone, as CI runs it, makes the rows again and checks that the committed dump still matches.
"""

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import django
from django.conf import settings

OUT = Path(__file__).resolve().parent / "hq-1.8.3.json"


def main(argv: list[str]) -> int:
    """Write the dump; with ``--check``, only compare it with the one committed and exit 1 when they differ."""
    dump = build()
    if "--check" not in argv:
        OUT.write_text(json.dumps(dump, indent=1, sort_keys=True) + "\n")
        print(f"wrote {OUT} ({len(dump['rows'])} rows, hq {dump['versions']['django-notifications-hq']})")
        return 0
    # Through JSON, as the committed one went: its keys are strings.
    made, committed = comparable(json.loads(json.dumps(dump))), comparable(json.loads(OUT.read_text()))
    if made == committed:
        print(f"{OUT.name} is what django-notifications-hq {dump['versions']['django-notifications-hq']} makes today")
        return 0
    for key in sorted(set(made) | set(committed)):
        if made.get(key) != committed.get(key):
            print(f"{key}: committed {committed.get(key)!r}, made now {made.get(key)!r}", file=sys.stderr)
    print(f"{OUT} is stale: write it again with tox -e hq-dump -- --write", file=sys.stderr)
    return 1


def comparable(dump: dict) -> dict:
    """Return ``dump`` without what changes from run to run: the times hq stamped, Django's patch release."""
    rows = []
    for row in dump["rows"]:
        stamped_by_hq = not row["timestamp"].startswith("2020-")  # The one sent with timestamp= keeps its own.
        rows.append(dict(row, timestamp="(the time of the run)" if stamped_by_hq else row["timestamp"]))
    return dict(dump, rows=rows, versions=dump["versions"]["django-notifications-hq"])


def build() -> dict:
    database = Path(tempfile.mkdtemp()) / "hq.sqlite3"
    settings.configure(
        SECRET_KEY="hq-dump-only",
        USE_TZ=True,
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "notifications",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DJANGO_NOTIFICATIONS_CONFIG={"USE_JSONFIELD": True, "SOFT_DELETE": True},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.urls import include, path

    globals()["urlpatterns"] = [path("inbox/notifications/", include("notifications.urls", namespace="notifications"))]
    return make_rows()


def make_rows() -> dict:
    from importlib.metadata import version

    from django.contrib.auth.models import Group, User
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.test import Client
    from notifications.models import Notification
    from notifications.signals import notify
    from notifications.utils import id2slug

    ana, bob, cid = (User.objects.create_user(name, password="pw") for name in ("ana", "bob", "cid"))
    leaver = User.objects.create_user("leaver", password="pw")
    staff = Group.objects.create(name="staff")
    staff.user_set.add(ana, bob)

    notify.send(bob, recipient=ana, verb="commented on", target=staff, description="Nice group", url="/groups/1/")
    notify.send(bob, recipient=ana, verb="liked", level="success")
    notify.send(staff, recipient=[ana, cid], verb="was renamed", action_object=bob, level="warning", colour="blue")
    notify.send(leaver, recipient=bob, verb="left", public=False)
    notify.send(ana, recipient=staff, verb="invited you", url="https://example.com/join?x=1")
    notify.send(cid, recipient=bob, verb="wrote", timestamp=datetime(2020, 2, 29, 12, 0, 0, 123456, tzinfo=UTC))
    notify.send(bob, recipient=cid, verb="pinged", url="javascript:alert(1)")
    notify.send(bob, recipient=ana, verb="spammed")

    client = Client()
    client.force_login(ana)
    liked = Notification.objects.get(verb="liked")
    client.get(f"/inbox/notifications/mark-as-read/{id2slug(liked.id)}/")
    spam = Notification.objects.get(verb="spammed")
    client.get(f"/inbox/notifications/delete/{id2slug(spam.id)}/")
    client.force_login(cid)
    client.get("/inbox/notifications/mark-all-as-read/")
    leaver.delete()  # hq keeps the rows this user acted in: the actor is a generic reference.

    unread_counts = {}
    for user in (ana, bob, cid):
        client.force_login(user)
        unread_counts[user.username] = client.get("/inbox/notifications/api/unread_count/").json()["unread_count"]

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'notifications_notification' AND sql IS NOT NULL"
        )
        ddl = [sql for (sql,) in cursor.fetchall()]
        cursor.execute("SELECT * FROM notifications_notification ORDER BY id")
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, [_plain(value) for value in row], strict=True)) for row in cursor.fetchall()]
    return {
        "versions": {
            "django": version("django"),
            "django-notifications-hq": version("django-notifications-hq"),
            "jsonfield": version("jsonfield"),
        },
        "ddl": ddl,
        "rows": rows,
        "users": {user.username: user.pk for user in (ana, bob, cid)},
        "deleted_users": {"leaver": leaver_pk(rows, ContentType.objects.get_for_model(User).pk)},
        "content_types": {ct.pk: f"{ct.app_label}.{ct.model}" for ct in ContentType.objects.all()},
        "groups": {"staff": staff.pk},
        "hq_unread_counts": unread_counts,
    }


def leaver_pk(rows: list, user_type: int) -> str:
    [row] = [row for row in rows if row["verb"] == "left"]
    assert row["actor_content_type_id"] == user_type
    return row["actor_object_id"]


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
