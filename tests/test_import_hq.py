"""live_notify_import_hq: django-notifications-hq's table, made by raw SQL as hq 1.8.3 leaves it, copied row by row."""

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_live_notify import inbox, reading
from django_live_notify.models import Notification
from tests import hq_schema
from tests.conftest import make_user
from tests.testapp.models import Project, Thing

T0 = datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)
UUID_TARGET = str(uuid.UUID("0f8c1c2e-4b7a-4e0e-9d55-3c1b2a7f9e10"))
LONG_TARGET = "k" * 200


@pytest.fixture
def hq_table(transactional_db):
    """Create hq's table (1.8.3) for the test, and drop it after."""
    hq_schema.create_table("1.8.3")
    yield
    hq_schema.drop_table()


@pytest.fixture
def world(hq_table):
    ana, bob, cid = make_user("ana"), make_user("bob"), make_user("cid")
    gone = make_user("gone")
    gone_pk = gone.pk
    project = Project.objects.create(name="House")
    thing = Thing.objects.create(name="sink")
    user_type = ContentType.objects.get_for_model(ana).pk
    project_type = ContentType.objects.get_for_model(Project).pk
    thing_type = ContentType.objects.get_for_model(Thing).pk

    def row(id, recipient, verb, minutes, **columns):
        return {
            "id": id,
            "level": "info",
            "unread": True,
            "actor_content_type_id": user_type,
            "actor_object_id": str(bob.pk),
            "verb": verb,
            "description": None,
            "target_content_type_id": None,
            "target_object_id": None,
            "action_object_content_type_id": None,
            "action_object_object_id": None,
            "timestamp": T0 + timedelta(minutes=minutes),
            "public": True,
            "deleted": False,
            "emailed": False,
            "data": None,
            **columns,
            "recipient_id": recipient.pk,
        }

    rows = [
        # Listed out of time order on purpose: ours are written oldest first.
        row(
            101,
            ana,
            "commented on",
            5,
            description="Nice sink",
            target_content_type_id=thing_type,
            target_object_id=str(thing.pk),
            emailed=True,
            data='{"url": "/things/1/", "color": "blue"}',
        ),
        row(102, ana, "liked", 1, unread=False, level="success"),
        row(103, ana, "left", 2, actor_object_id=str(gone_pk)),
        row(104, bob, "updated", 3, actor_content_type_id=project_type, actor_object_id=str(project.pk)),
        row(105, bob, "tagged", 4, target_content_type_id=thing_type, target_object_id=UUID_TARGET, level="warning"),
        row(106, cid, "filed", 6, target_content_type_id=thing_type, target_object_id=LONG_TARGET, level="error"),
        row(107, cid, "sent", 7, data="{not json", unread=False),
        row(108, cid, "linked", 8, data='{"url": "javascript:alert(1)"}'),
        row(109, ana, "hid", 9, deleted=True),
        row(110, ana, "whispered", 10, public=False),
        row(
            111,
            bob,
            "closed",
            11,
            action_object_content_type_id=thing_type,
            action_object_object_id=str(thing.pk),
            data="null",
        ),
        row(112, bob, "moved", 12, data='{"url": "https://example.com/a?b=1", "hq": 1, "items": [1, 2]}'),
    ]
    hq_schema.insert(rows)
    gone.delete()  # hq keeps the rows of a deleted actor: there is no foreign key to it.
    return {
        "ana": ana,
        "bob": bob,
        "cid": cid,
        "gone_pk": gone_pk,
        "project": project,
        "thing": thing,
        "thing_type": thing_type,
    }


def run(*args, **options):
    out, err = io.StringIO(), io.StringIO()
    call_command("live_notify_import_hq", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def imported():
    return {row.import_key: row for row in Notification.objects.order_by("id")}


def test_every_row_is_mapped_as_the_docs_say(world):
    ana, bob, cid, thing = world["ana"], world["bob"], world["cid"], world["thing"]
    before = timezone.now()
    out, err = run()
    rows = imported()

    # Soft-deleted 109 is skipped; the rest are written oldest first.
    assert list(rows) == [f"hq:{n}" for n in (102, 103, 104, 105, 101, 106, 107, 108, 110, 111, 112)]
    assert all(row.imported_at >= before for row in rows.values())

    commented = rows["hq:101"]
    assert (commented.recipient, commented.sender, commented.title) == (ana, bob, "bob commented on")
    assert (commented.message, commented.url, commented.target) == ("Nice sink", "/things/1/", thing)
    assert commented.notification_type == "info"
    assert (commented.read_at, commented.created, commented.modified) == (
        None,
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=5),
    )
    assert commented.data == {"color": "blue", "hq": {"id": 101, "level": "info", "emailed": True, "public": True}}

    liked = rows["hq:102"]
    assert liked.read_at == liked.created == T0 + timedelta(minutes=1)
    assert liked.notification_type == "success"
    # History, not news: unread rows stay unread, but none counts as new in the bell.
    assert commented.seen_at == commented.created and liked.seen_at == liked.created
    assert all(inbox.unseen_count(user) == 0 for user in {row.recipient for row in rows.values()})

    left = rows["hq:103"]  # The actor was deleted: no sender, the reference kept.
    assert (left.sender, left.title) == (None, "left")
    assert left.data["hq"]["actor"] == {"type": "auth.user", "id": str(world["gone_pk"]), "deleted": True}

    updated = rows["hq:104"]  # Not a user: kept by name and reference.
    assert (updated.recipient, updated.sender, updated.title) == (bob, None, "House updated")
    assert updated.data["hq"]["actor"] == {"type": "testapp.project", "id": str(world["project"].pk), "name": "House"}

    tagged = rows["hq:105"]
    assert (tagged.target_content_type_id, tagged.target_object_id) == (world["thing_type"], UUID_TARGET)
    assert tagged.notification_type == "warning"

    filed = rows["hq:106"]
    assert (filed.recipient, filed.target_object_id) == (cid, LONG_TARGET)

    sent = rows["hq:107"]  # Bad JSON: imported, the text kept, the problem reported.
    assert sent.data["hq"]["data_text"] == "{not json"
    assert "id 107: data is not valid JSON" in err

    linked = rows["hq:108"]  # A url that is not relative or http(s) is refused and stays in data.
    assert linked.url == ""
    assert linked.data["url"] == "javascript:alert(1)"
    assert "id 108: url 'javascript:alert(1)'" in err

    assert rows["hq:110"].data["hq"]["public"] is False
    closed = rows["hq:111"]
    assert closed.data == {
        "hq": {
            "id": 111,
            "level": "info",
            "emailed": False,
            "public": True,
            "action_object": {"type": "testapp.thing", "id": str(thing.pk)},
        }
    }
    moved = rows["hq:112"]
    assert moved.url == "https://example.com/a?b=1"
    assert moved.data["items"] == [1, 2]
    assert moved.data["hq"]["id"] == 112  # Ours wins over hq's own "hq" key.

    assert "Imported 11 of 12 notification(s) from notifications_notification" in out
    assert "(2 read, 9 unread)" in out
    assert "1 soft-deleted" in out
    assert "1 actor gone, 1 bad JSON data, 1 url refused" in out
    assert "read 11 of 11 row(s)" in err


def test_three_runs_copy_each_row_once(world):
    run()
    first = {key: (row.pk, row.title, row.read_at) for key, row in imported().items()}
    for _ in range(2):
        out, _err = run()
        assert "Imported 0 of 12" in out
        assert "11 already imported" in out
    assert {key: (row.pk, row.title, row.read_at) for key, row in imported().items()} == first


def test_one_row_a_batch_maps_every_row_as_one_batch_does(world):
    def mapped():
        return {
            key: (row.title, row.sender_id, row.recipient_id, row.data, row.read_at) for key, row in imported().items()
        }

    out, _err = run(batch_size=1)
    one_a_batch = mapped()
    Notification.objects.all().delete()
    # The first line of the summary holds the time taken; the counts after it must be the same.
    assert run()[0].splitlines()[1:] == out.splitlines()[1:]
    # Actors and recipients met in an earlier batch are remembered, not asked for again: same result.
    assert mapped() == one_a_batch
    assert "1 actor gone" in out


def test_a_first_run_looks_up_no_keys_and_a_rerun_looks_them_up_per_batch(world):
    def key_lookups(**options):
        with CaptureQueriesContext(connection) as queries:
            run(**options)
        return sum(1 for query in queries if "import_key" in query["sql"] and " IN (" in query["sql"])

    assert key_lookups(batch_size=3) == 0
    assert key_lookups(batch_size=3) == 4  # 11 rows to look at, 3 a batch
    assert len(imported()) == 11


def test_soft_deleted_rows_come_in_archived_with_deleted_archive(world):
    ana = world["ana"]
    out, _err = run("--deleted", "archive")
    hidden = imported()["hq:109"]

    assert "(3 read, 9 unread, 1 of them archived)" in out and "0 soft-deleted" in out
    assert hidden.archived_at == hidden.read_at == hidden.seen_at == hidden.created
    assert list(inbox.feed(ana, "archived")) == [hidden]
    assert hidden not in inbox.feed(ana, "all")
    assert reading.unread_count(ana) == inbox.feed(ana, "unread").count()
    assert "Imported 0 of 12" in run("--deleted", "archive")[0]


def test_a_new_hq_row_is_picked_up_by_the_next_run(world):
    run()
    hq_schema.insert(
        [
            {
                "id": 200,
                "level": "info",
                "unread": True,
                "actor_content_type_id": ContentType.objects.get_for_model(world["ana"]).pk,
                "actor_object_id": str(world["ana"].pk),
                "verb": "waved",
                "timestamp": T0,
                "public": True,
                "deleted": False,
                "emailed": False,
                "recipient_id": world["bob"].pk,
            }
        ]
    )
    out, _err = run()
    assert "Imported 1 of 13" in out
    assert imported()["hq:200"].title == "ana waved"


def test_dry_run_stores_nothing_and_says_what_it_would_do(world):
    out, _err = run("--dry-run")
    assert "Would import 11 of 12" in out
    assert not Notification.objects.exists()


@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("system", "System"), ("alert", "Alert")]})
def test_levels_must_map_to_configured_types(world):
    with pytest.raises(CommandError, match=r"'error' -> 'error'.*--type LEVEL=TYPE"):
        run()
    assert not Notification.objects.exists()
    run("--type", "info=system", "--type", "success=system", "--type", "warning=alert", "--type", "error=alert")
    types = {key: row.notification_type for key, row in imported().items()}
    assert (types["hq:101"], types["hq:105"], types["hq:106"]) == ("system", "alert", "alert")


def test_bad_type_option_and_missing_table_are_clear_errors(hq_table):
    with pytest.raises(CommandError, match="--type takes LEVEL=TYPE"):
        run("--type", "info")
    with pytest.raises(CommandError, match="No table 'nothing_here'"):
        run("--table", "nothing_here")


@override_settings(LIVE_NOTIFY={"RETENTION_DAYS": 90})
def test_cleanup_keeps_imported_history_for_a_retention_period_from_the_import(world):
    run()
    read_keys = {key for key, row in imported().items() if row.read_at is not None}
    assert len(read_keys) == 2  # Both read in 2024: long past 90 days.
    call_command("live_notify_cleanup", "--quiet")
    assert set(imported()) >= read_keys

    Notification.objects.update(imported_at=timezone.now() - timedelta(days=91))
    call_command("live_notify_cleanup", "--quiet")
    assert not set(imported()) & read_keys
    assert len(imported()) == 9  # The unread ones stay.


def test_each_user_sees_only_their_imported_rows_in_the_json_api(world):
    run()
    rows = imported()
    for name in ("ana", "bob", "cid"):
        client = Client()
        client.force_login(world[name])
        listed = client.get(reverse("live_notify:api_list")).json()
        expected = [row.pk for row in rows.values() if row.recipient == world[name]]
        assert sorted(item["id"] for item in listed["results"]) == sorted(expected)
        assert listed["unread_count"] == sum(
            1 for row in rows.values() if row.recipient == world[name] and row.read_at is None
        )
    ana_client = Client(enforce_csrf_checks=False)
    ana_client.force_login(world["ana"])
    bobs = rows["hq:104"].pk
    assert ana_client.post(reverse("live_notify:api_mark_read", args=[bobs])).status_code == 404
    assert Notification.objects.get(pk=bobs).read_at is None


def test_unread_counts_equal_hqs(world):
    run()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT recipient_id, COUNT(*) FROM notifications_notification "
            "WHERE unread = %s AND deleted = %s GROUP BY recipient_id",
            [True, False],
        )
        hq_counts = dict(cursor.fetchall())
    ours = {}
    for row in Notification.objects.filter(read_at__isnull=True):
        ours[row.recipient_id] = ours.get(row.recipient_id, 0) + 1
    assert ours == hq_counts


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite stores a target id longer than hq's 255")
def test_a_target_id_longer_than_ours_is_kept_in_data(world):
    hq_schema.insert(
        [
            {
                "id": 300,
                "level": "info",
                "unread": True,
                "actor_content_type_id": ContentType.objects.get_for_model(world["ana"]).pk,
                "actor_object_id": str(world["ana"].pk),
                "verb": "pointed at",
                "timestamp": T0,
                "public": True,
                "deleted": False,
                "emailed": False,
                "recipient_id": world["bob"].pk,
                "target_content_type_id": world["thing_type"],
                "target_object_id": "x" * 300,
            }
        ]
    )
    out, _err = run()
    row = imported()["hq:300"]
    assert (row.target_content_type_id, row.target_object_id) == (None, "")
    assert row.data["hq"]["target"] == {"type": "testapp.thing", "id": "x" * 300}
    assert "1 target id too long" in out


def test_the_oldest_column_set_imports_too(transactional_db):
    hq_schema.create_table("0001")
    try:
        ana, bob = make_user("ana"), make_user("bob")
        hq_schema.insert(
            [
                {
                    "id": 1,
                    "level": "info",
                    "unread": False,
                    "actor_content_type_id": ContentType.objects.get_for_model(bob).pk,
                    "actor_object_id": str(bob.pk),
                    "verb": "joined",
                    "timestamp": T0,
                    "public": True,
                    "recipient_id": ana.pk,
                }
            ]
        )
        out, _err = run()
        [row] = Notification.objects.all()
        assert (row.recipient, row.sender, row.title, row.read_at) == (ana, bob, "bob joined", T0)
        assert row.data == {"hq": {"id": 1, "level": "info", "emailed": False, "public": True}}
        assert "Imported 1 of 1" in out
    finally:
        hq_schema.drop_table()


# A dump written by the real django-notifications-hq 1.8.3 (tox -e hq-dump runs tests/hq_dump/make_dump.py)

DUMP = json.loads((Path(__file__).parent / "hq_dump" / "hq-1.8.3.json").read_text())


@pytest.fixture
def real_dump(transactional_db):
    """Load the dump's rows into hq's table here, with its users, group and content types renumbered to ours."""
    from django.contrib.auth.models import Group

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for statement in DUMP["ddl"]:  # hq's own DDL, as its migrations left it.
                cursor.execute(statement)
    else:
        hq_schema.create_table("1.8.3")
    users = {name: make_user(name, id=pk) for name, pk in DUMP["users"].items()}
    Group.objects.create(pk=DUMP["groups"]["staff"], name="staff")
    ours = {}
    for dump_id, label in DUMP["content_types"].items():
        app_label, model = label.split(".")
        if app_label != "notifications":
            ours[int(dump_id)] = ContentType.objects.get_by_natural_key(app_label, model).pk
    rows = []
    for row in DUMP["rows"]:
        row = dict(row, timestamp=datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC))
        for column in ("actor_content_type_id", "target_content_type_id", "action_object_content_type_id"):
            if row[column] is not None:
                row[column] = ours[row[column]]
        rows.append(row)
    hq_schema.insert(rows)
    yield users
    hq_schema.drop_table()


def test_a_real_hq_dump_imports_row_by_row(real_dump):
    assert DUMP["versions"]["django-notifications-hq"] == "1.8.3"
    ana, bob, cid = real_dump["ana"], real_dump["bob"], real_dump["cid"]
    from django.contrib.auth.models import Group

    staff = Group.objects.get(name="staff")
    out, err = run()
    rows = imported()
    by_id = {row["id"]: row for row in DUMP["rows"]}

    def stamp(source_id):
        return datetime.fromisoformat(by_id[source_id]["timestamp"]).replace(tzinfo=UTC)

    seen = {
        int(key.removeprefix("hq:")): (row.recipient, row.sender, row.title, row.url, row.read_at, row.created)
        for key, row in rows.items()
    }
    assert seen == {
        1: (ana, bob, "bob commented on", "/groups/1/", None, stamp(1)),
        2: (ana, bob, "bob liked", "", stamp(2), stamp(2)),
        3: (ana, None, "staff was renamed", "", None, stamp(3)),
        4: (cid, None, "staff was renamed", "", stamp(4), stamp(4)),
        5: (bob, None, "left", "", None, stamp(5)),
        6: (ana, ana, "ana invited you", "https://example.com/join?x=1", None, stamp(6)),
        7: (bob, ana, "ana invited you", "https://example.com/join?x=1", None, stamp(7)),
        8: (bob, cid, "cid wrote", "", None, datetime(2020, 2, 29, 12, 0, 0, 123456, tzinfo=UTC)),
        9: (cid, bob, "bob pinged", "", stamp(9), stamp(9)),
    }  # 10 was deleted through hq's delete view (SOFT_DELETE): skipped.
    assert list(rows) == sorted(rows, key=lambda key: (stamp(int(key[3:])), int(key[3:])))  # Oldest first.
    assert (rows["hq:1"].target, rows["hq:1"].message) == (staff, "Nice group")
    assert rows["hq:2"].notification_type == "success"
    assert rows["hq:3"].data == {
        "colour": "blue",
        "hq": {
            "id": 3,
            "level": "warning",
            "emailed": False,
            "public": True,
            "actor": {"type": "auth.group", "id": str(staff.pk), "name": "staff"},
            "action_object": {"type": "auth.user", "id": str(bob.pk)},
        },
    }
    assert rows["hq:5"].data["hq"]["actor"] == {
        "type": "auth.user",
        "id": DUMP["deleted_users"]["leaver"],
        "deleted": True,
    }
    assert rows["hq:5"].data["hq"]["public"] is False
    assert rows["hq:9"].data["url"] == "javascript:alert(1)"
    assert "id 9: url 'javascript:alert(1)' is not a relative or http(s) URL" in err
    assert "1 soft-deleted" in out

    for name, hq_count in DUMP["hq_unread_counts"].items():
        client = Client()
        client.force_login(real_dump[name])
        assert client.get(reverse("live_notify:api_unread_count")).json() == {"count": hq_count}
        listed = client.get(reverse("live_notify:api_list")).json()["results"]
        assert sorted(item["id"] for item in listed) == sorted(
            row.pk for row in rows.values() if row.recipient == real_dump[name]
        )

    for _ in range(2):
        assert "Imported 0 of 10" in run()[0]
    assert len(imported()) == 9

    # What hq's delete view did is our archive, with --deleted archive: the one row left comes in archived.
    assert "Imported 1 of 10" in run("--deleted", "archive")[0]
    deleted = imported()["hq:10"]
    assert (deleted.recipient, deleted.title, deleted.archived_at) == (ana, "bob spammed", stamp(10))
