"""What differs per database: the indexes each one gets, and grouping and broadcasts exact under concurrent
processes."""

import re
import subprocess
import sys
import time

import pytest
from django.db import IntegrityError, connection, transaction

from django_live_notify.models import Notification
from tests.servers import ROOT, LiveDatabase, live_env, manage


def notification_indexes():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Notification._meta.db_table)
    return {name: details["columns"] for name, details in constraints.items() if details["index"]}


def test_conditional_indexes_are_partial_where_the_database_has_them_and_plain_elsewhere(db):
    indexes = notification_indexes()
    if connection.features.supports_partial_indexes:
        assert indexes["live_notify_unread"] == ["recipient_id", "id"]
        assert indexes["live_notify_unread_group"] == ["recipient_id", "group_key"]
    else:
        assert indexes["live_notify_unread"] == ["recipient_id", "read_at", "id"]
        assert indexes["live_notify_unread_group"] == ["recipient_id", "group_key", "read_at"]


def test_no_two_indexes_have_the_same_columns_where_partial_indexes_are_missing(db):
    if connection.features.supports_partial_indexes:
        pytest.skip(f"{connection.vendor} has partial indexes, which may share columns and differ by condition")
    columns = [tuple(value) for value in notification_indexes().values()]
    assert len(columns) == len(set(columns)), notification_indexes()


def test_the_import_key_is_unique_among_the_rows_that_have_one(user_factory):
    user = user_factory("importer")
    Notification.objects.create(recipient=user, title="stored here")
    Notification.objects.create(recipient=user, title="stored here too")
    Notification.objects.create(recipient=user, title="imported", import_key="hq:1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(recipient=user, title="imported twice", import_key="hq:1")
    assert sorted(Notification.objects.values_list("import_key", flat=True), key=str) == [None, None, "hq:1"]


def test_rows_without_an_import_key_enter_no_index_for_it_where_partial_indexes_exist(db):
    """One index holds import_key: partial where the database can, with no _like index beside it on PostgreSQL."""
    indexes = {name: columns for name, columns in notification_indexes().items() if "import_key" in columns}
    assert list(indexes) == ["live_notify_import_key"], indexes
    definition = {
        "postgresql": "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
        "sqlite": "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s",
    }
    if connection.vendor not in definition:
        assert not connection.features.supports_partial_indexes
        return
    with connection.cursor() as cursor:
        cursor.execute(definition[connection.vendor], ["live_notify_import_key"])
        (sql,) = cursor.fetchone()
    assert re.search(r"UNIQUE INDEX .*WHERE .*import_key.? IS NOT NULL", sql, re.IGNORECASE), sql


# --------------------------------------------------------------------------- grouping under concurrent processes

CALLS = 200

# argv: username, "same" or "fresh" (a new key per call), the directory of the start signal.
GROUPER = """
import sys, time
from pathlib import Path
import django
django.setup()
from django.contrib.auth import get_user_model
from django_live_notify import notify
user = get_user_model().objects.get(username=sys.argv[1])
signals = Path(sys.argv[3])
(signals / f"ready-{sys.argv[1]}-{sys.argv[4]}").touch()
while not (signals / "go").exists():
    time.sleep(0.005)
for call in range(CALLS):
    key = f"key-{call}" if sys.argv[2] == "fresh" else "same"
    notify(user, title="grouped", group_key=key, group_title="{count} calls")
""".replace("CALLS", str(CALLS))

# argv: username, "read", the directory of the signals: marks the user's rows read until told to stop.
READER = """
import sys, time
from pathlib import Path
import django
django.setup()
from django.contrib.auth import get_user_model
from django_live_notify.services import mark_all_read
user = get_user_model().objects.get(username=sys.argv[1])
signals = Path(sys.argv[3])
(signals / f"ready-{sys.argv[1]}-{sys.argv[4]}").touch()
while not (signals / "go").exists():
    time.sleep(0.005)
marked = 0
while not (signals / "stop").exists():
    marked += mark_all_read(user)
    time.sleep(0.01)
print(marked)
"""

CREATE_USERS = """
from django.contrib.auth.models import User
for name in ("same", "fresh", "read"):
    User.objects.create(username=name)
for number in range(20):
    User.objects.create(username=f"audience{number:02d}")
"""

BROADCASTS = 100

# argv: "audience", "broadcast", the directory of the signals: broadcasts to the audience users, one by one.
BROADCASTER = """
import sys, time
from pathlib import Path
import django
django.setup()
from django.contrib.auth import get_user_model
from django_live_notify import broadcast
users = get_user_model().objects.filter(username__startswith="audience")
signals = Path(sys.argv[3])
(signals / f"ready-broadcast-{sys.argv[4]}").touch()
while not (signals / "go").exists():
    time.sleep(0.005)
for call in range(BROADCASTS):
    assert broadcast(title=f"broadcast {call}", users=users) == 20
    time.sleep(0.01)  # Time for the readers to come between two broadcasts.
""".replace("BROADCASTS", str(BROADCASTS))

# argv: "audience", "read", the directory of the signals: reads the audience's rows in every way until told to stop.
BROADCAST_READER = """
import random, sys, time
from pathlib import Path
import django
django.setup()
from django.contrib.auth import get_user_model
from django_live_notify.models import Notification
from django_live_notify.reading import unread_counts
from django_live_notify.replay import resume_frames_many
users = list(get_user_model().objects.filter(username__startswith="audience"))
signals = Path(sys.argv[3])
(signals / f"ready-read-{sys.argv[4]}").touch()
while not (signals / "go").exists():
    time.sleep(0.005)
reads = 0
while not (signals / "stop").exists():
    random.shuffle(users)
    for user in users[:5]:
        Notification.objects.for_user(user).count()
    unread_counts([user.pk for user in users[5:12]])
    resume_frames_many([(user.pk, 0) for user in users[12:]])
    reads += 1
print(reads)
"""

LAST_CALL = """
from django.contrib.auth.models import User
from django_live_notify import notify
notify(User.objects.get(username="read"), title="grouped", group_key="same")
"""


@pytest.fixture(scope="module")
def grouping_database(tmp_path_factory):
    """Give a database of the module's own, migrated, with one user per scenario; yield (database, env)."""
    database = LiveDatabase(tmp_path_factory.mktemp("grouping"))
    try:
        env = live_env(database)
        manage(env, "migrate", "-v0")
        manage(env, "shell", "-v0", "-c", CREATE_USERS)
        yield database, env
    finally:
        database.drop()


def run_concurrently(env, signals, scripts):
    """Start one process per (script, args), let them all begin at once, and wait for the groupers."""
    signals.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args, str(signals), str(number)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number, (script, args) in enumerate(scripts)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(list(signals.glob("ready-*"))) < len(processes):
            assert time.monotonic() < deadline, "the processes did not start"
            assert all(process.poll() is None for process in processes), [p.communicate() for p in processes]
            time.sleep(0.05)
        (signals / "go").touch()
        outputs = []
        for process, (script, _args) in zip(processes, scripts, strict=True):
            if script in READERS:
                continue
            stdout, stderr = process.communicate(timeout=240)
            assert process.returncode == 0, stderr
            outputs.append(stdout)
        (signals / "stop").touch()
        for process, (script, _args) in zip(processes, scripts, strict=True):
            if script in READERS:
                stdout, stderr = process.communicate(timeout=60)
                assert process.returncode == 0, stderr
                outputs.append(stdout)
        return outputs
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


READERS = (READER, BROADCAST_READER)


def grouped_rows(database, username):
    """Return (group_key, unread, group_count) of every row of ``username``."""
    return database.query(
        "SELECT n.group_key, n.read_at IS NULL, n.group_count FROM django_live_notify_notification n"
        f" JOIN auth_user u ON u.id = n.recipient_id WHERE u.username = '{username}'"
    )


def unread_per_key(rows):
    unread = {}
    for key, is_unread, _count in rows:
        unread[key] = unread.get(key, 0) + bool(is_unread)
    return unread


@pytest.mark.slow
def test_two_processes_grouping_one_key_leave_one_unread_row_with_every_call_counted(grouping_database, tmp_path):
    database, env = grouping_database
    run_concurrently(env, tmp_path / "signals", [(GROUPER, ["same", "same"])] * 2)

    rows = grouped_rows(database, "same")
    assert [(key, bool(unread), count) for key, unread, count in rows] == [("same", True, 2 * CALLS)]


@pytest.mark.slow
def test_two_processes_grouping_a_fresh_key_per_call_store_one_row_per_key(grouping_database, tmp_path):
    database, env = grouping_database
    run_concurrently(env, tmp_path / "signals", [(GROUPER, ["fresh", "fresh"])] * 2)

    rows = grouped_rows(database, "fresh")
    assert sorted((key, bool(unread), count) for key, unread, count in rows) == sorted(
        (f"key-{call}", True, 2) for call in range(CALLS)
    )


@pytest.mark.slow
def test_grouping_stays_exact_while_a_reader_marks_rows_read(grouping_database, tmp_path):
    database, env = grouping_database
    grouper, reader = (GROUPER, ["read", "same"]), (READER, ["read", "read"])
    *_groupers, marked = run_concurrently(env, tmp_path / "signals", [grouper, grouper, reader])

    assert int(marked) > 1, "the reader never marked a row read while the groupers ran"
    rows = grouped_rows(database, "read")
    assert max(unread_per_key(rows).values()) <= 1, rows
    assert sum(count for _key, _unread, count in rows) == 2 * CALLS
    # Whether the reader or a grouper came last, one more call leaves exactly one unread row.
    manage(env, "shell", "-v0", "-c", LAST_CALL)
    rows = grouped_rows(database, "read")
    assert unread_per_key(rows) == {"same": 1}
    assert sum(count for _key, _unread, count in rows) == 2 * CALLS + 1


@pytest.mark.slow
def test_processes_reading_while_another_broadcasts_write_each_recipients_row_exactly_once(
    grouping_database, tmp_path
):
    """Broadcasts are stored once and each recipient's row written by whichever read comes first: with two
    processes reading (lists, counts, resumes) while a third broadcasts, no row is written twice or lost."""
    database, env = grouping_database
    broadcaster, reader = (BROADCASTER, ["audience", "broadcast"]), (BROADCAST_READER, ["audience", "read"])
    _broadcaster, *reads = run_concurrently(env, tmp_path / "signals", [broadcaster, reader, reader])

    assert all(int(count) > 1 for count in reads), f"the readers read only {reads} times while the broadcasts ran"
    written_while_broadcasting = database.query(
        "SELECT COUNT(*) FROM django_live_notify_notification WHERE broadcast_id IS NOT NULL"
    )[0][0]
    assert written_while_broadcasting > 0, "no reader wrote a row while the broadcasts ran"
    manage(env, "shell", "-v0", "-c", READ_ALL_AUDIENCE)
    per_user_and_broadcast = database.query(
        "SELECT n.recipient_id, n.broadcast_id, COUNT(*) FROM django_live_notify_notification n"
        " WHERE n.broadcast_id IS NOT NULL GROUP BY n.recipient_id, n.broadcast_id"
    )
    assert len(per_user_and_broadcast) == 20 * BROADCASTS
    assert {count for _user, _broadcast, count in per_user_and_broadcast} == {1}
    assert database.query("SELECT COUNT(*) FROM django_live_notify_pendingbroadcast") == [(0,)]


READ_ALL_AUDIENCE = """
from django.contrib.auth.models import User
from django_live_notify.models import Notification
for user in User.objects.filter(username__startswith="audience"):
    assert Notification.objects.for_user(user).filter(broadcast_id__isnull=False).count() == BROADCASTS
""".replace("BROADCASTS", str(BROADCASTS))
