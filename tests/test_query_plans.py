"""The queries that must not grow with history use their indexes, on whichever database the suite runs.

The plans are read with EXPLAIN on the suite's database (see tests/settings.py): SQLite, PostgreSQL or MariaDB.
"""

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import checks
from django.db import connection
from django.utils import timezone

from django_live_notify.models import Notification
from django_live_notify.replay import newest_ids, resume_frames_many

pytestmark = pytest.mark.django_db(transaction=True)

HISTORY = 3000


@pytest.fixture
def history():
    """A user with a long history, one with a few rows, 30 broadcasts to both; statistics up to date."""
    get_user_model().objects.bulk_create([get_user_model()(username=name) for name in ("long", "short", "sender")])
    long, sender, short = get_user_model().objects.order_by("username")  # Ids, where bulk_create gives none.
    rows = [Notification(recipient=long, title=f"n{number}") for number in range(HISTORY)]
    for _ in range(30):
        broadcast_id = uuid.uuid4()
        rows += [Notification(recipient=user, title="all", broadcast_id=broadcast_id) for user in (long, short)]
    rows.append(Notification(recipient=short, title="from a person", sender=sender))
    rows.append(Notification(recipient=short, title="about a person", target=sender))
    rows.append(Notification(recipient=short, title="for a day", expires_at=timezone.now() + timedelta(days=1)))
    Notification.objects.bulk_create(rows, batch_size=500)
    analyze(Notification._meta.db_table)
    return long, short, sender, broadcast_id


def analyze(table):
    """Bring the planner's statistics of ``table`` up to date."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Also sets the visibility map, which an index-only scan needs to skip the table.
            cursor.execute(f"VACUUM ANALYZE {table}")
        elif connection.vendor == "mysql":
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()
        else:
            cursor.execute("ANALYZE")


def explain(query):
    """Return the plan of ``query``: text, or on MariaDB and MySQL the JSON plan, parsed."""
    if connection.vendor == "mysql":
        plan = json.loads(query.explain(format="json"))
        # Django gives the JSON as a JSON string on MariaDB.
        return json.loads(plan) if isinstance(plan, str) else plan
    return query.explain()


def mysql_tables(plan):
    """Yield every table access of a MariaDB or MySQL JSON plan, subqueries included."""
    if isinstance(plan, dict):
        if "table_name" in plan:
            yield plan
        for value in plan.values():
            yield from mysql_tables(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from mysql_tables(value)


def index_used(plan, index):
    """Return whether ``plan`` (from explain()) reads ``index``."""
    if connection.vendor == "mysql":
        return any(table.get("key") == index for table in mysql_tables(plan))
    return re.search(rf"\b(using|USING( COVERING)? INDEX|on) {index}\b", plan) is not None


def test_resume_finds_each_users_newest_row_with_one_step_into_the_index(history):
    long, short, _sender, _broadcast = history
    query = newest_ids([long.pk, short.pk])
    assert dict(query) == {
        long.pk: Notification.objects.filter(recipient=long).latest("id").pk,
        short.pk: Notification.objects.filter(recipient=short).latest("id").pk,
    }
    if connection.vendor == "postgresql":
        plan = query.explain(analyze=True)
        scan = next(line for line in plan.splitlines() if "live_notify_recipient_id" in line)
        assert "Index Only Scan Backward" in scan, plan
        assert "Limit" in plan, plan
        # Executed: one index entry per user (two loops), though one of them has 3,000 rows.
        assert re.search(r"actual time=\S+ rows=1 loops=2\)", scan), plan
    elif connection.vendor == "sqlite":
        plan = query.explain()
        assert "SEARCH U0 USING COVERING INDEX live_notify_recipient_id (recipient_id=?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # No sort: the index gives the newest first.
    elif connection.vendor == "mysql":
        plan = explain(query)
        [subquery] = [table for table in mysql_tables(plan) if table.get("key") == "live_notify_recipient_id"]
        assert subquery.get("using_index") is True, plan
        assert "filesort" not in json.dumps(plan), plan
    else:
        pytest.skip(f"no plan expectations for {connection.vendor}")


def test_a_resume_past_a_silent_or_expired_newest_row_replays_nothing(history):
    _long, short, _sender, _broadcast = history
    visible = Notification.objects.filter(recipient=short).latest("id").pk
    Notification.objects.create(recipient=short, title="stored only", silent=True)
    soon = timezone.now() + timedelta(hours=1)
    expired = Notification.objects.create(recipient=short, title="gone", expires_at=soon)
    Notification.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    [(frames, ids)] = resume_frames_many([(short.pk, visible)])
    assert ids == [] and '"resumed"' in frames[0] and '"count":0' in frames[0].replace(" ", "")
    [(frames, ids)] = resume_frames_many([(short.pk, visible - 1)])
    assert ids == [visible]


@pytest.mark.parametrize(
    "query, index",
    [
        pytest.param(
            lambda long, short, sender, broadcast: Notification.objects.filter(
                broadcast_id=broadcast, read_at__isnull=False
            ),
            "live_notify_broadcast",
            id="who read a broadcast",
        ),
        pytest.param(
            lambda long, short, sender, broadcast: Notification.objects.filter(sender_id=sender.pk),
            "live_notify_sender",
            id="rows a deleted user sent",
        ),
        pytest.param(
            lambda long, short, sender, broadcast: Notification.objects.filter(
                target_content_type=ContentType.objects.get_for_model(sender), target_object_id=str(sender.pk)
            ),
            "live_notify_targeted",
            id="rows about an object",
        ),
        pytest.param(
            lambda long, short, sender, broadcast: Notification.objects.expired(),
            "live_notify_expiring",
            id="expired rows",
        ),
    ],
)
def test_lookups_use_the_partial_and_broadcast_indexes(history, query, index):
    plan = explain(query(*history))
    assert index_used(plan, index), plan


def test_no_index_loses_its_condition_silently_on_this_database():
    """MySQL and MariaDB have no partial indexes: each gets a plain equivalent there, so no models.W037."""
    warnings = [message for message in checks.run_checks(databases=["default"]) if message.id == "models.W037"]

    assert warnings == []


def test_a_read_finds_its_users_pending_broadcasts_by_the_primary_key(history):
    """Every read of a user's rows first looks for pending broadcasts (see fanout.py): one step into the primary
    key, which leads with the user, however many broadcasts and users are pending."""
    from django_live_notify import broadcast, storing
    from django_live_notify.models import PendingBroadcast

    long, short, _sender, _broadcast = history
    get_user_model().objects.bulk_create([get_user_model()(username=f"many{number}") for number in range(500)])
    for number in range(5):
        broadcast(title=f"pending {number}")
    table = PendingBroadcast._meta.db_table
    analyze(table)
    pending = PendingBroadcast.objects.filter(storing.in_list([long.pk, short.pk], "default", "user_id"))
    assert pending.count() == 10

    plan = explain(pending.values("silent"))
    primary_key = {"postgresql": f"{table}_pkey", "mysql": "PRIMARY", "sqlite": f"sqlite_autoindex_{table}_1"}
    assert index_used(plan, primary_key[connection.vendor]), plan
