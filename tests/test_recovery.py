"""The recovery sweep: constant queries however many users missed a live send, and nothing sent twice."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_live_notify import anotify, hub, protocol, reading
from django_live_notify.hub import get_hub
from django_live_notify.models import Notification
from django_live_notify.replay import missed_frames
from tests.conftest import make_user, open_socket, recover_settled


def _sweep_after_loss(users, per_user):
    watermark, _, _ = missed_frames(None, {}, grace=0)
    for user in users:
        for number in range(per_user):
            Notification.objects.create(recipient=user, title=f"lost {number}")
    local = {protocol.user_key(user): (watermark, set()) for user in users}
    with CaptureQueriesContext(connection) as queries:
        result = missed_frames(watermark, local, grace=0)
    return result, len(queries)


def test_every_lagging_user_gets_its_missed_rows_then_its_count(user_factory):
    users = [user_factory(f"u{i}") for i in range(3)]
    (new_watermark, frames, ids), _ = _sweep_after_loss(users, 2)
    assert new_watermark == Notification.objects.order_by("-id").first().pk
    for user in users:
        key = protocol.user_key(user)
        assert len(frames[key]) == 3
        assert frames[key][-1] == '{"type":"unread_count","count":2}'
        rows = Notification.objects.filter(recipient=user).order_by("id")
        assert ids[key] == list(rows.values_list("id", flat=True))


def test_queries_do_not_grow_with_the_number_of_lagging_users(user_factory):
    few = [user_factory(f"few{i}") for i in range(2)]
    _, few_queries = _sweep_after_loss(few, 1)
    Notification.objects.all().delete()
    many = [user_factory(f"many{i}") for i in range(40)]
    _, many_queries = _sweep_after_loss(many, 1)
    assert many_queries == few_queries


def test_a_lost_row_is_found_after_a_later_one_was_delivered(user_factory):
    ana = user_factory("ana")
    watermark, _, _ = missed_frames(None, {}, grace=0)
    lost = Notification.objects.create(recipient=ana, title="live send lost (Redis restarting)")
    delivered = Notification.objects.create(recipient=ana, title="live send arrived")
    _, frames, ids = missed_frames(watermark, {protocol.user_key(ana): (watermark, {delivered.pk})}, grace=0)
    assert ids == {protocol.user_key(ana): [lost.pk]}
    assert len(frames[protocol.user_key(ana)]) == 2


def test_a_broadcast_whose_live_message_was_lost_is_written_and_sent_by_the_sweep(user_factory, monkeypatch):
    from django_live_notify import broadcast, publish

    ana, bob = user_factory("ana"), user_factory("bob")
    watermark, _, _ = missed_frames(None, {}, grace=0)
    monkeypatch.setattr(publish, "publish", lambda *args, **kwargs: None)  # Redis restarting: the message is lost.
    assert broadcast(title="lost on its way") == 2
    assert not Notification.objects.exists()

    _, frames, ids = missed_frames(watermark, {protocol.user_key(ana): (watermark, set())}, grace=0)
    [row] = Notification.objects.all()
    assert (row.recipient_id, row.title) == (ana.pk, "lost on its way")
    assert ids == {protocol.user_key(ana): [row.pk]}
    assert frames[protocol.user_key(ana)][-1] == '{"type":"unread_count","count":1}'
    # bob is not connected here: his row waits for his next read.
    assert not Notification.objects.filter(recipient=bob).exists()


def test_a_read_row_is_never_recovered_but_the_watermark_passes_it(user_factory):
    ana = user_factory("ana")
    watermark, _, _ = missed_frames(None, {}, grace=0)
    read = Notification.objects.create(recipient=ana, title="read on the page that got it")
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    lost = Notification.objects.create(recipient=ana, title="never sent")
    new_watermark, frames, ids = missed_frames(watermark, {protocol.user_key(ana): (watermark, set())}, grace=0)
    assert ids == {protocol.user_key(ana): [lost.pk]}
    assert frames[protocol.user_key(ana)][-1] == '{"type":"unread_count","count":1}'
    assert new_watermark == lost.pk


# --------------------------------------------------------------------------- the hub, across a user's pages


async def _page(user):
    """Open a socket as a page does: resume from the user's newest id when the page rendered."""
    last_id = await sync_to_async(reading.latest_id)(user)
    socket = await open_socket(user)
    await socket.send_json_to({"type": "resume", "last_id": last_id})
    assert [(await socket.receive_json_from(2))["type"] for _ in range(2)] == ["resumed", "unread_count"]
    return socket


@pytest.mark.django_db(transaction=True)
async def test_the_next_page_is_not_sent_what_the_previous_page_received():
    ana = await sync_to_async(make_user)("ana")
    first_page = await _page(ana)
    live_hub = await get_hub()
    await live_hub.recover()  # sets the watermark, below the row to come
    row = await anotify(ana, title="received live, left unread")
    assert (await first_page.receive_json_from(2))["notification"]["id"] == row.pk
    await first_page.disconnect()

    next_page = await _page(ana)
    assert live_hub.watermark < row.pk
    assert await recover_settled(live_hub) == 0
    assert await next_page.receive_nothing(0.2)
    await next_page.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_departed_users_ids_are_forgotten_once_the_watermark_passes_them():
    ana, bob = await sync_to_async(make_user)("ana"), await sync_to_async(make_user)("bob")
    ana_page, bob_page = await _page(ana), await _page(bob)
    live_hub = await get_hub()
    await live_hub.recover()
    row = await anotify(ana, title="received live")
    assert (await ana_page.receive_json_from(2))["notification"]["id"] == row.pk
    await ana_page.disconnect()
    assert live_hub.departed.keys() == live_hub.delivered.keys() == {protocol.user_key(ana)}

    # Stored without a live send: the sweep sends it to Bob, and its watermark passes Ana's row.
    await sync_to_async(Notification.objects.create)(recipient=bob, title="lost send")
    assert await recover_settled(live_hub) == 1
    assert live_hub.departed == live_hub.delivered == {}
    await bob_page.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_departed_users_ids_are_forgotten_after_departed_seconds(monkeypatch):
    ana = await sync_to_async(make_user)("ana")
    page = await _page(ana)
    live_hub = await get_hub()
    await live_hub.recover()
    await anotify(ana, title="received live")
    assert (await page.receive_json_from(2))["type"] == "notification"
    await page.disconnect()
    await live_hub.recover()
    assert live_hub.departed.keys() == {protocol.user_key(ana)}, "kept while nobody moved the watermark past it"
    monkeypatch.setattr(hub, "DEPARTED_SECONDS", 0.0)
    await live_hub.recover()
    assert live_hub.departed == live_hub.delivered == {}
