"""Batcher: concurrent calls share database calls; resume is answered in batches."""

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings
from django.utils import timezone

from django_live_notify import anotify, notify
from django_live_notify.batching import Batcher
from django_live_notify.models import Notification
from django_live_notify.replay import resume_frames_many
from tests.conftest import make_user, open_socket


# Batcher runs its function on channels' database thread, which touches the connection.
@pytest.mark.django_db(transaction=True)
async def test_calls_that_arrive_together_share_one_call():
    batches = []

    def double(items):
        batches.append(list(items))
        return [item * 2 for item in items]

    batcher = Batcher(double, max_batch=10)
    results = await asyncio.gather(*(batcher(number) for number in range(25)))
    assert results == [number * 2 for number in range(25)]
    # All 25 arrived before the first batch ran: ten at a time, in order.
    assert [len(batch) for batch in batches] == [10, 10, 5]
    assert [item for batch in batches for item in batch] == list(range(25))


# Batcher runs its function on channels' database thread, which touches the connection.
@pytest.mark.django_db(transaction=True)
async def test_an_error_reaches_only_the_caller_whose_item_caused_it():
    calls = []

    def picky(items):
        calls.append(list(items))
        if 13 in items:
            raise ValueError("unlucky")
        return items

    batcher = Batcher(picky, max_batch=16)
    results = await asyncio.gather(*(batcher(number) for number in range(16)), return_exceptions=True)
    assert isinstance(results[13], ValueError)
    assert results[:13] + results[14:] == [number for number in range(16) if number != 13]
    # Halved down to the bad item: 16, 8+8, 4+4, 2+2, 1+1.
    assert len(calls) == 9, calls


# Batcher runs its function on channels' database thread, which touches the connection.
@pytest.mark.django_db(transaction=True)
async def test_a_caller_that_went_away_is_left_out():
    seen = []

    def record(items):
        seen.extend(items)
        return items

    batcher = Batcher(record)
    first = asyncio.ensure_future(batcher("first"))
    gone = asyncio.ensure_future(batcher("gone"))
    kept = asyncio.ensure_future(batcher("kept"))
    await asyncio.sleep(0)
    gone.cancel()
    assert await first == "first" and await kept == "kept"
    assert seen == ["first", "kept"]


@pytest.mark.django_db
def test_resume_answers_each_request_of_a_batch_like_a_single_resume(user_factory):
    ana, bob, cid = (user_factory(name) for name in ("ana", "bob", "cid"))
    rows = [notify(ana, title=f"a{number}") for number in range(4)]
    notify(bob, title="expired", expires_at=timezone.now() + timedelta(seconds=30))
    Notification.objects.filter(title="expired").update(expires_at=timezone.now() - timedelta(seconds=1))
    with override_settings(LIVE_NOTIFY={"REPLAY_LIMIT": 2}):
        answers = resume_frames_many([(ana.pk, 0), (ana.pk, rows[2].pk), (bob.pk, 0), (cid.pk, 5)])

    def decoded(answer):
        frames, replayed = answer
        return [json.loads(frame) for frame in frames], replayed

    frames, replayed = decoded(answers[0])
    assert [frame["notification"]["title"] for frame in frames[:2]] == ["a2", "a3"]
    assert frames[2:] == [{"type": "resumed", "count": 2, "complete": False}, {"type": "unread_count", "count": 4}]
    assert replayed == [rows[2].pk, rows[3].pk]
    frames, replayed = decoded(answers[1])
    assert [frame["notification"]["title"] for frame in frames[:1]] == ["a3"]
    assert frames[1] == {"type": "resumed", "count": 1, "complete": True}
    for answer in answers[2:]:
        frames, replayed = decoded(answer)
        assert frames == [{"type": "resumed", "count": 0, "complete": True}, {"type": "unread_count", "count": 0}]
        assert replayed == []


@pytest.mark.django_db(transaction=True)
async def test_a_reconnect_storm_of_resumes_costs_a_few_queries(count_sql):
    users = [await sync_to_async(make_user)(f"u{number}") for number in range(40)]
    await anotify(users[0], title="missed")
    sockets = [await open_socket(user) for user in users]
    executed = count_sql()  # every thread's SQL, channels' database thread included
    for socket in sockets:
        await socket.send_json_to({"type": "resume", "last_id": 0})
    answers = [[json.loads(await socket.receive_from(3)) for _ in range(2)] for socket in sockets[1:]]
    first = [json.loads(await sockets[0].receive_from(3)) for _ in range(3)]
    assert first[0]["notification"]["title"] == "missed"
    assert all(answer[0] == {"type": "resumed", "count": 0, "complete": True} for answer in answers)
    # Per batch: newest ids, unread counts; plus one replay query for the one user with a gap.
    assert len(executed) <= 2 * 3 + 1, executed
    for socket in sockets:
        await socket.disconnect()
