"""The public test helpers in django_live_notify.testing: they pass when they should, and fail clearly."""

import pytest
from asgiref.sync import sync_to_async

from django_live_notify import anotify, broadcast, notify
from django_live_notify.models import Notification
from django_live_notify.preferences import set_preferences
from django_live_notify.testing import (
    CapturedNotifications,
    assert_no_frame,
    assert_not_notified,
    assert_notified,
    capture_notifications,
    communicator,
    receive_frame,
)
from tests.conftest import make_user


def test_capture_records_notify_for_one_and_many(user_factory):
    ana, bob, cy = user_factory("ana"), user_factory("bob"), user_factory("cy")
    with capture_notifications() as captured:
        one = notify(ana, title="Hi", notification_type="info")
        many = notify([bob, cy], title="Both")
    assert isinstance(captured, CapturedNotifications)
    assert captured.notifications == [one, *many]
    assert len(captured) == 3
    assert [row.title for row in captured.for_user(bob)] == ["Both"]
    assert captured.assert_notified(ana, title="Hi", notification_type="info", count=1) == [one]
    captured.assert_notified(cy.pk, title="Both")  # A primary key works too.
    captured.assert_not_notified(ana, title="Both")


def test_capture_records_broadcast_rows(user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    with capture_notifications() as captured:
        assert broadcast(title="Everyone", users=[ana, bob]) == 2
    assert {row.recipient_id for row in captured} == {ana.pk, bob.pk}
    assert all(row.pk and row.title == "Everyone" for row in captured.notifications)
    captured.assert_notified(bob, title="Everyone", count=1)


def test_capture_ignores_what_happened_outside_the_block(user_factory):
    ana = user_factory("ana")
    notify(ana, title="Before")
    with capture_notifications() as captured:
        assert not captured
    notify(ana, title="After")
    assert captured.notifications == []
    with pytest.raises(AssertionError, match="No notifications were stored"):
        captured.assert_notified(ana)


def test_capture_skips_users_who_turned_the_type_off(user_factory):
    ana = user_factory("ana")
    set_preferences(ana, {"info": "off"})
    with capture_notifications():
        notify(ana, title="Muted", notification_type="info")
        assert_not_notified(ana)


def test_grouped_notifications_land_in_updated(user_factory):
    ana = user_factory("ana")
    with capture_notifications() as captured:
        first = notify(ana, title="1 comment", group_key="post-1")
        notify(ana, title="2 comments", group_key="post-1")
    assert captured.notifications == [first]
    assert [row.pk for row in captured.updated] == [first.pk]
    assert captured.updated[0].group_count == 2


def test_nested_captures_each_record_their_block(user_factory):
    ana = user_factory("ana")
    with capture_notifications() as outer:
        notify(ana, title="Outer")
        with capture_notifications() as inner:
            notify(ana, title="Inner")
            assert_notified(ana, title="Inner")
            assert_not_notified(ana, title="Outer")
        assert_notified(ana, title="Outer")
    assert [row.title for row in outer] == ["Outer", "Inner"]
    assert [row.title for row in inner] == ["Inner"]


def test_assert_notified_fails_with_what_was_stored(user_factory):
    ana, bob = user_factory("ana"), user_factory("bob")
    with capture_notifications():
        notify(bob, title="For Bob", notification_type="info")
        with pytest.raises(
            AssertionError, match=r"Expected a notification for ana \(pk=\d+\), but none was stored"
        ) as error:
            assert_notified(ana)
        assert f"to user pk={bob.pk}: title='For Bob', notification_type='info'" in str(error.value)
        with pytest.raises(AssertionError, match=r"with title='Other', notification_type='info' for bob"):
            assert_notified(bob, title="Other", notification_type="info")


def test_assert_notified_checks_the_count(user_factory):
    ana = user_factory("ana")
    with capture_notifications():
        notify(ana, title="Twice")
        notify(ana, title="Twice")
        assert len(assert_notified(ana, title="Twice", count=2)) == 2
        with pytest.raises(
            AssertionError, match=r"Expected 1 notification\(s\) with title='Twice' .* but 2 were stored"
        ):
            assert_notified(ana, title="Twice", count=1)
        assert_notified(ana, title="Never", count=0)


def test_assert_not_notified_fails_when_a_match_was_stored(user_factory):
    ana = user_factory("ana")
    with capture_notifications():
        notify(ana, title="Oops", notification_type="alert")
        assert_not_notified(ana, notification_type="info")
        with pytest.raises(AssertionError, match=r"Expected no notification for ana \(pk=\d+\), but 1 were stored"):
            assert_not_notified(ana)
        with pytest.raises(AssertionError, match="Expected no notification with notification_type='alert'"):
            assert_not_notified(ana, notification_type="alert")


def test_module_level_helpers_need_an_active_capture(user_factory):
    ana = user_factory("ana")
    with capture_notifications():
        notify(ana, title="Hi")
    with pytest.raises(AssertionError, match=r"No capture_notifications\(\) block is active"):
        assert_notified(ana)
    with pytest.raises(AssertionError, match=r"No capture_notifications\(\) block is active"):
        assert_not_notified(ana)


def test_capture_disconnects_even_when_the_block_fails(user_factory):
    ana = user_factory("ana")
    with pytest.raises(RuntimeError), capture_notifications() as captured:
        raise RuntimeError
    notify(ana, title="Later")
    assert captured.notifications == []


@pytest.mark.django_db(transaction=True)
async def test_communicator_receives_live_frames():
    ana = await sync_to_async(make_user)("ana")
    ws = await communicator(ana)
    with capture_notifications() as captured:
        row = await anotify(ana, title="Live")
    frame = await receive_frame(ws)
    assert frame["type"] == "notification"
    assert frame["notification"]["id"] == row.pk
    assert await receive_frame(ws) == {"type": "unread_count", "count": 1}
    await assert_no_frame(ws)
    assert captured.notifications == [row]
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_receive_frame_fails_clearly_when_nothing_comes():
    ana = await sync_to_async(make_user)("ana")
    ws = await communicator(ana)
    with pytest.raises(AssertionError, match=r"No frame arrived within 0.1 second\(s\)"):
        await receive_frame(ws, timeout=0.1)
    await anotify(ana, title="Still open")  # The socket survives the timeout.
    assert (await receive_frame(ws))["notification"]["title"] == "Still open"
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_assert_no_frame_fails_when_a_frame_comes():
    ana = await sync_to_async(make_user)("ana")
    ws = await communicator(ana)
    await anotify(ana, title="Surprise")
    with pytest.raises(AssertionError, match=r"Expected no frame, but got .*Surprise"):
        await assert_no_frame(ws, timeout=1)
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_communicator_fails_clearly_when_the_socket_is_refused():
    ana = await sync_to_async(make_user)("ana")
    with pytest.raises(AssertionError, match=r"socket at '/ws/notifications/' for ana \(pk=\d+\) was refused"):
        await communicator(ana, origin="http://evil.example")
    await communicator(ana, origin="http://evil.example", expect_open=False)


@pytest.mark.django_db(transaction=True)
async def test_receive_frame_reports_an_anonymous_socket_closed_with_4001():
    ws = await communicator(None)
    with pytest.raises(AssertionError, match="The socket closed with code 4001 instead of sending a frame"):
        await receive_frame(ws)


@pytest.mark.django_db(transaction=True)
async def test_communicator_expect_open_false_fails_when_it_opens():
    ana = await sync_to_async(make_user)("ana")
    with pytest.raises(AssertionError, match="to be refused, but it opened"):
        await communicator(ana, expect_open=False)


def test_rows_are_real_database_rows(user_factory):
    ana = user_factory("ana")
    with capture_notifications() as captured:
        notify(ana, title="Stored")
    assert Notification.objects.get().pk == captured.notifications[0].pk
