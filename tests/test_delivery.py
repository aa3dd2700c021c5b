"""The delivery worker: planning after commit, policies, claiming, retries with backoff, stale claims, the sweep."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import ApplicationCommunicator
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from django_live_notify import broadcast, delivery, delivery_policy, notify
from django_live_notify.backends import DeliveryBackend, SendResult, TemporaryFailure, get_backends
from django_live_notify.models import Delivery, Notification
from django_live_notify.preferences import set_channel_preferences
from tests.conftest import make_user

STATUS = Delivery.STATUS


class RecordingBackend(DeliveryBackend):
    """A channel that keeps what it was given, and fails as the test tells it to."""

    name = "recording"
    verbose_name = "Recording"
    sent: list[tuple[int, list[int]]] = []
    failures: list[Exception] = []
    refuse: set[int] = set()

    def send(self, user, notifications):
        if self.failures:
            raise self.failures.pop(0)
        ids = [row.pk for row in notifications]
        self.sent.append((user.pk, ids))
        return SendResult(
            accepted=[pk for pk in ids if pk not in self.refuse], refused=[pk for pk in ids if pk in self.refuse]
        )


class OfflineBackend(RecordingBackend):
    name = "offline"
    policy = "offline"


class BatchingBackend(RecordingBackend):
    name = "batching"
    batches = True
    max_per_hour = 2
    min_interval = 600


RECORDING = "tests.test_delivery.RecordingBackend"


def settings(*backends, **extra):
    return override_settings(
        LIVE_NOTIFY={"DELIVERY_BACKENDS": list(backends or [RECORDING]), "DELIVERY_MODE": "sweep", **extra}
    )


@pytest.fixture(autouse=True)
def fresh_backend():
    RecordingBackend.sent = []
    RecordingBackend.failures = []
    RecordingBackend.refuse = set()
    yield


@pytest.fixture
def ana(db):
    return make_user("ana", email="ana@example.com")


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


def sent_ids():
    return sorted(pk for _user, ids in RecordingBackend.sent for pk in ids)


@settings()
def test_the_sweep_records_and_sends_each_row_once(ana, django_capture_on_commit_callbacks):
    rows = [notify(ana, title=f"n{number}") for number in range(3)]

    assert delivery.sweep()["planned"] == 3
    assert delivery.sweep() == {"returned": 0, "unknown": 0, "planned": 0, "claimed": 0}
    assert sent_ids() == sorted(row.pk for row in rows)
    assert set(Delivery.objects.values_list("status", "attempts")) == {(STATUS.sent, 1)}


@settings()
def test_a_broadcast_is_delivered_too(db):
    users = [make_user(f"user{number}") for number in range(3)]
    broadcast(title="maintenance", users=users)
    delivery.sweep()
    assert sorted(user for user, _ids in RecordingBackend.sent) == sorted(user.pk for user in users)


@settings(DELIVERY_MODE="worker")
def test_commit_queues_the_new_ids_for_the_worker(ana, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = notify(ana, title="one")
        second = notify([ana], title="two")[0]
    layer = get_channel_layer()

    from asgiref.sync import async_to_sync

    messages = [async_to_sync(layer.receive)("live-notify-delivery") for _ in range(2)]
    assert messages == [
        {"type": "delivery.planned", "ids": [first.pk]},
        {"type": "delivery.planned", "ids": [second.pk]},
    ]
    assert not Delivery.objects.exists(), "nothing is recorded in the request"


@override_settings(LIVE_NOTIFY={"DELIVERY_BACKENDS": [], "DELIVERY_MODE": "worker"})
def test_without_backends_nothing_is_queued(ana, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify(ana, title="one")
    assert len(callbacks) == 1, "only the live send"


@pytest.mark.django_db(transaction=True)
@settings(DELIVERY_MODE="worker")
async def test_the_consumer_records_and_sends_what_it_is_told():
    user = await sync_to_async(make_user)("bob")
    row = await sync_to_async(notify)(user, title="hello")
    communicator = ApplicationCommunicator(
        delivery.DeliveryConsumer.as_asgi(), {"type": "channel", "channel": "live-notify-delivery"}
    )
    await communicator.send_input({"type": "delivery.planned", "ids": [row.pk, "junk"]})
    # The consumer runs in a thread; it has sent once the record says so.
    for _ in range(100):
        if await sync_to_async(Delivery.objects.filter(status=STATUS.sent).exists)():
            break
        await communicator.receive_nothing(0.05)
    assert RecordingBackend.sent == [(user.pk, [row.pk])]


@settings(DELIVERY_MODE="inline")
def test_inline_mode_sends_at_commit(ana, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = notify(ana, title="now")
    assert RecordingBackend.sent == [(ana.pk, [row.pk])]


@settings("tests.test_delivery.OfflineBackend", DELIVERY_OFFLINE_GRACE=60)
def test_offline_waits_the_grace_and_skips_rows_delivered_seen_or_read_meanwhile(ana):
    read, seen, acked, neither = (notify(ana, title=title) for title in ("read", "seen", "acked", "neither"))
    delivery.plan_recent()
    assert delivery.run_due() == 0, "not due within the grace"
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    Notification.objects.filter(pk=seen.pk).update(seen_at=timezone.now())
    # An open tab acked it (analytics): the user was not offline.
    Notification.objects.filter(pk=acked.pk).update(delivered_at=timezone.now())

    delivery.run_due(now=later(61))

    assert sent_ids() == [neither.pk]
    assert dict(Delivery.objects.values_list("notification_id", "last_error")) == {
        read.pk: "read",
        seen.pk: "seen",
        acked.pk: "delivered live",
        neither.pk: "",
    }


@settings("tests.test_delivery.OfflineBackend", DELIVERY_POLICIES={"offline": {"urgent": "always"}})
def test_a_type_can_be_always(ana):
    row = notify(ana, title="now", notification_type="urgent")
    notify(ana, title="later")
    delivery.sweep()
    assert sent_ids() == [row.pk]


@settings(DELIVERY_RETRY_BASE=10, DELIVERY_MAX_ATTEMPTS=3)
def test_temporary_failures_are_retried_with_backoff_then_fail(ana):
    row = notify(ana, title="flaky")
    RecordingBackend.failures = [TemporaryFailure("503"), TemporaryFailure("503"), TemporaryFailure("503")]
    start = timezone.now()
    delivery.plan_recent(now=start)

    delivery.run_due(now=start)
    record = Delivery.objects.get()
    assert (record.status, record.attempts, record.last_error) == (STATUS.pending, 1, "503")
    assert record.next_attempt_at == start + timedelta(seconds=10)
    assert delivery.run_due(now=start + timedelta(seconds=9)) == 0

    delivery.run_due(now=start + timedelta(seconds=10))
    record.refresh_from_db()
    assert (record.attempts, record.next_attempt_at) == (2, start + timedelta(seconds=30)), "doubled"

    delivery.run_due(now=start + timedelta(seconds=30))
    record.refresh_from_db()
    assert (record.status, record.attempts) == (STATUS.failed, 3)
    assert RecordingBackend.sent == []
    assert row.pk == record.notification_id


@settings()
def test_retry_after_from_the_channel_wins_and_an_error_is_retried(ana):
    notify(ana, title="busy")
    RecordingBackend.failures = [TemporaryFailure("429", retry_after=120), RuntimeError("bug")]
    start = timezone.now()
    delivery.plan_recent(now=start)
    delivery.run_due(now=start)
    assert Delivery.objects.get().next_attempt_at == start + timedelta(seconds=120)
    delivery.run_due(now=start + timedelta(seconds=120))
    assert Delivery.objects.get().last_error == "RuntimeError: bug"
    delivery.run_due(now=later(10_000))
    assert Delivery.objects.get().status == STATUS.sent


@settings()
def test_refused_rows_are_not_retried(ana):
    row = notify(ana, title="no subscription")
    RecordingBackend.refuse = {row.pk}
    delivery.sweep()
    delivery.sweep(now=later(10_000))
    assert Delivery.objects.get().status == STATUS.failed
    assert len(RecordingBackend.sent) == 1


@settings()
def test_a_user_who_turned_the_channel_off_gets_nothing(ana):
    set_channel_preferences(ana, {"system": {"recording": False}})
    notify(ana, title="quiet")
    delivery.sweep()
    assert RecordingBackend.sent == []
    assert not Delivery.objects.exists()


@settings(CHANNEL_DEFAULTS={"recording": {"default": False}}, MANDATORY_TYPES=["security"])
def test_defaults_per_type_and_mandatory_types_always_go(ana):
    notify(ana, title="off by default")
    row = notify(ana, title="security", notification_type="security")
    delivery.sweep()
    assert sent_ids() == [row.pk]


@settings()
def test_turning_off_after_recording_skips_at_send_time(ana):
    notify(ana, title="planned")
    delivery.plan_recent()
    set_channel_preferences(ana, {"system": {"recording": False}})
    delivery.run_due()
    assert Delivery.objects.get().last_error == "turned off"
    assert RecordingBackend.sent == []


@settings("tests.test_delivery.BatchingBackend")
def test_a_batching_channel_sends_one_batch_per_user_within_its_bounds(ana):
    first = [notify(ana, title=f"a{number}").pk for number in range(3)]
    start = timezone.now()
    delivery.sweep(now=start)
    assert RecordingBackend.sent == [(ana.pk, first)]

    second = notify(ana, title="b").pk
    delivery.sweep(now=start + timedelta(minutes=1))
    assert len(RecordingBackend.sent) == 1, "held back by min_interval"
    third = notify(ana, title="c").pk
    delivery.sweep(now=start + timedelta(minutes=2))
    delivery.sweep(now=start + timedelta(minutes=10))
    assert RecordingBackend.sent[1] == (ana.pk, [second, third]), "what waited goes together"

    notify(ana, title="d")
    delivery.sweep(now=start + timedelta(minutes=25))
    assert len(RecordingBackend.sent) == 2, "max_per_hour reached"
    delivery.sweep(now=start + timedelta(minutes=60))
    assert len(RecordingBackend.sent) == 3


@settings(DELIVERY_CLAIM_TIMEOUT=60)
def test_a_dead_workers_claims_come_back_and_its_sends_are_never_repeated(ana):
    claimed, sending = notify(ana, title="claimed"), notify(ana, title="sending")
    start = timezone.now()
    delivery.plan_recent(now=start)
    Delivery.objects.filter(notification=claimed).update(status=STATUS.claimed, claimed_at=start)
    Delivery.objects.filter(notification=sending).update(status=STATUS.sending, claimed_at=start, attempts=1)

    assert delivery.recover_stale(now=start + timedelta(seconds=59)) == (0, 0)
    assert delivery.recover_stale(now=start + timedelta(seconds=61)) == (1, 1)
    delivery.run_due(now=start + timedelta(seconds=61))

    assert sent_ids() == [claimed.pk]
    assert Delivery.objects.get(notification=sending).status == STATUS.unknown


@settings()
def test_two_claims_never_take_the_same_row(ana):
    for number in range(5):
        notify(ana, title=f"n{number}")
    delivery.plan_recent()
    first = delivery._claim("recording", timezone.now(), 3)
    second = delivery._claim("recording", timezone.now(), 10)
    assert len(first) == 3 and len(second) == 2
    assert not {row.pk for row in first} & {row.pk for row in second}


@settings(DELIVERY_LOOKBACK_HOURS=1)
def test_the_sweep_finds_rows_by_time_with_few_queries(ana, django_assert_max_num_queries):
    old = [notify(ana, title=f"old{number}") for number in range(20)]
    Notification.objects.filter(pk__in=[row.pk for row in old]).update(created=timezone.now() - timedelta(hours=2))
    new = [notify(ana, title=f"new{number}") for number in range(5)]

    with django_assert_max_num_queries(10):
        assert delivery_policy._first_id_since(timezone.now() - timedelta(hours=1)) == new[0].pk
    delivery.sweep()
    assert sent_ids() == [row.pk for row in new]


@settings()
def test_expired_rows_are_skipped(ana):
    notify(ana, title="gone", expires_at=timezone.now() + timedelta(seconds=30))
    delivery.plan_recent()
    delivery.run_due(now=later(60))
    assert Delivery.objects.get().last_error == "expired"


def test_bad_backend_settings_are_clear(db):
    with (
        override_settings(LIVE_NOTIFY={"DELIVERY_BACKENDS": ["django_live_notify.models.Notification"]}),
        pytest.raises(ImproperlyConfigured, match="is not a DeliveryBackend subclass"),
    ):
        get_backends()
    with (
        override_settings(LIVE_NOTIFY={"DELIVERY_BACKENDS": [RECORDING, RECORDING]}),
        pytest.raises(ImproperlyConfigured, match="names a channel twice"),
    ):
        get_backends()


@settings()
def test_the_command_sweeps_once(ana, capsys):
    notify(ana, title="one")
    call_command("live_notify_deliver", "--once")
    assert capsys.readouterr().out.strip() == "returned=0 unknown=0 planned=1 claimed=1"
    with (
        override_settings(LIVE_NOTIFY={"DELIVERY_BACKENDS": []}),
        pytest.raises(CommandError, match="DELIVERY_BACKENDS"),
    ):
        call_command("live_notify_deliver", "--once")


@settings(DELIVERY_CLAIM_TIMEOUT=60)
def test_a_worker_whose_claim_ran_out_sends_nothing_another_took(ana):
    notify(ana, title="slow worker")
    start = timezone.now()
    delivery.plan_recent(now=start)
    stale = delivery._claim("recording", start, 10)
    delivery.recover_stale(now=start + timedelta(seconds=61))
    delivery.run_due(now=start + timedelta(seconds=61))
    assert len(RecordingBackend.sent) == 1

    delivery._deliver(get_backends()[0], ana, stale, start)

    assert len(RecordingBackend.sent) == 1
    assert Delivery.objects.get().status == STATUS.sent


@settings("tests.test_delivery.BatchingBackend", DELIVERY_BATCH_SIZE=2)
def test_a_batch_holds_every_due_row_of_its_user_whatever_the_claim_size(ana):
    bob = make_user("bob")
    rows = [notify([ana, bob], title=f"n{number}") for number in range(3)]
    delivery.sweep(now=later(1))
    assert sorted(RecordingBackend.sent) == [
        (ana.pk, [pair[0].pk for pair in rows]),
        (bob.pk, [pair[1].pk for pair in rows]),
    ]


@settings()
def test_cleanup_counts_notifications_not_their_delivery_records(ana, capsys):
    rows = [notify(ana, title=f"n{number}") for number in range(2)]
    delivery.sweep()
    Notification.objects.filter(pk__in=[row.pk for row in rows]).update(
        read_at=timezone.now() - timedelta(days=400), created=timezone.now() - timedelta(days=400)
    )
    call_command("live_notify_cleanup")
    assert capsys.readouterr().out == "Deleted 2 notification(s): 0 expired, 2 read and old.\n"
    assert not Delivery.objects.exists()


@pytest.mark.django_db(transaction=True)
@settings(DELIVERY_MODE="worker", BATCH_SIZE=2)
async def test_a_broadcast_to_many_is_queued_as_a_range_of_ids():
    users = [await sync_to_async(make_user)(f"user{number}") for number in range(5)]
    await sync_to_async(broadcast)(title="to all", users=users)
    layer = get_channel_layer()
    message = await layer.receive("live-notify-delivery")
    ids = await sync_to_async(lambda: list(Notification.objects.order_by("pk").values_list("pk", flat=True)))()
    assert message == {"type": "delivery.planned", "first": ids[0], "last": ids[-1]}

    communicator = ApplicationCommunicator(
        delivery.DeliveryConsumer.as_asgi(), {"type": "channel", "channel": "live-notify-delivery"}
    )
    await communicator.send_input(message)
    for _ in range(100):
        if await sync_to_async(Delivery.objects.filter(status=STATUS.sent).count)() == 5:
            break
        await communicator.receive_nothing(0.05)
    assert sorted(user for user, _ids in RecordingBackend.sent) == [user.pk for user in users]


@settings()
def test_the_admin_lists_deliveries_read_only(ana, admin_client):
    notify(ana, title="one")
    delivery.sweep()
    page = admin_client.get("/admin/django_live_notify/delivery/?status=sent")
    assert page.status_code == 200
    assert "recording" in page.content.decode()
    assert admin_client.get("/admin/django_live_notify/delivery/add/").status_code == 403
    assert admin_client.get("/admin/django_live_notify/channelpreference/").status_code == 200
