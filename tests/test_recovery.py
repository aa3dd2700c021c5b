"""The recovery sweep's database side: constant queries however many users missed a live send."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_live_notify import protocol
from django_live_notify.models import Notification
from django_live_notify.replay import missed_frames


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
