"""Delivery workers as real processes: the sweep killed mid-drain and started again sends nothing twice and loses
nothing outside the one send under way (docs/channels.rst states the guarantee); two sweeps side by side send each
row once; ``runworker`` over Redis sends what a commit in another process queued."""

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.servers import ROOT, free_port, live_env, manage, stop_process

# Four batches of DELIVERY_BATCH_SIZE (20): the kill lands in the second, and two workers share the rest.
USERS = 80


@pytest.fixture
def slow_smtp():
    """Give a real SMTP server on 127.0.0.1 that takes 20 ms per message, and the recipients it received."""
    from aiosmtpd.controller import Controller

    recipients = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(0.02)
            recipients.extend(envelope.rcpt_tos)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, recipients
    finally:
        controller.stop()


CREATE = f"""
from django.contrib.auth import get_user_model
from django_live_notify import notify
User = get_user_model()
User.objects.bulk_create(User(username=f"u{{n:04d}}", email=f"u{{n:04d}}@example.com") for n in range({USERS}))
for user in User.objects.order_by("pk"):
    notify(user, title="hello " + user.username)
"""


def states(database):
    """Return the deliveries' statuses counted, and the addresses of the rows in each status.

    Read with SQL on a connection of the test's own: a ``manage shell`` per poll cost a Django start-up each.
    """
    rows = database.query(
        "SELECT delivery.status, recipient.email FROM django_live_notify_delivery delivery"
        " JOIN auth_user recipient ON recipient.id = delivery.recipient_id"
    )
    addresses = {}
    for status, email in rows:
        addresses.setdefault(status, set()).add(email)
    return Counter(status for status, _ in rows), addresses


def worker(env):
    command = [sys.executable, "-m", "django", "live_notify_deliver", "--interval", "0.2"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_killed_worker_restarted_sends_nothing_twice(live_database, slow_smtp):
    port, recipients = slow_smtp
    env = {
        **live_env(live_database),
        "DJANGO_SETTINGS_MODULE": "tests.settings_delivery",
        "LIVE_NOTIFY_TEST_SMTP_PORT": str(port),
        "LIVE_NOTIFY_TEST_CLAIM_TIMEOUT": "2",
    }
    live_database.migrate(env)
    manage(env, "shell", "-c", CREATE)

    first = worker(env)
    deadline = time.monotonic() + 60
    while len(recipients) < USERS // 3 and time.monotonic() < deadline:
        assert first.poll() is None, first.stderr.read().decode()
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = len(recipients)
    assert 0 < at_kill < USERS, "killed mid-drain"

    second = worker(env)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            counts, addresses = states(live_database)
            if not counts.keys() & {"pending", "claimed", "sending"}:
                break
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)

    sent_to, unknown_to = addresses.get("sent", set()), addresses.get("unknown", set())
    received = Counter(recipients)
    assert [address for address, times in received.items() if times > 1] == [], "nobody got two emails"
    assert len(sent_to) + len(unknown_to) == USERS, f"every row ended sent or unknown: {counts}"
    assert len(unknown_to) <= 1, "only the send under way at the kill is uncertain"
    assert sent_to <= set(received), "every row marked sent reached the server"
    assert set(received) <= sent_to | unknown_to
    print(f"killed after {at_kill} emails; {len(sent_to)} sent, {len(unknown_to)} unknown, {counts}")


def test_runworker_sends_what_another_process_committed(live_database, slow_smtp, redis_url):
    port, recipients = slow_smtp
    env = {
        **live_env(live_database, redis_url=redis_url),
        "DJANGO_SETTINGS_MODULE": "tests.settings_delivery",
        "LIVE_NOTIFY_TEST_SMTP_PORT": str(port),
        "LIVE_NOTIFY_TEST_DELIVERY_MODE": "worker",
    }
    live_database.migrate(env)
    command = [sys.executable, "-m", "django", "runworker", "live-notify-delivery"]
    runworker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Sent before the worker listens, the message waits in Redis (60 s by default).
        manage(env, "shell", "-c", CREATE.replace(f"range({USERS})", "range(3)"))
        deadline = time.monotonic() + 30
        while len(recipients) < 3 and time.monotonic() < deadline:
            assert runworker.poll() is None, runworker.stderr.read().decode()
            time.sleep(0.05)
        # The SMTP server has the third email a moment before the worker marks it sent: wait for that
        # while the worker still runs (stopping it first left the row "sending" on a fast poll).
        deadline = time.monotonic() + 10
        while True:
            counts, _ = states(live_database)
            if counts == {"sent": 3} or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        stop_process(runworker)
    assert sorted(recipients) == ["u0000@example.com", "u0001@example.com", "u0002@example.com"]
    assert counts == {"sent": 3}


def test_two_workers_at_once_send_each_row_once(live_database, slow_smtp):
    """Two sweeps run side by side on one database: their claims never overlap, so nobody gets two emails."""
    port, recipients = slow_smtp
    env = {
        **live_env(live_database),
        "DJANGO_SETTINGS_MODULE": "tests.settings_delivery",
        "LIVE_NOTIFY_TEST_SMTP_PORT": str(port),
    }
    live_database.migrate(env)
    manage(env, "shell", "-c", CREATE)

    workers = [worker(env), worker(env)]
    try:
        deadline = time.monotonic() + 90
        while len(recipients) < USERS and time.monotonic() < deadline:
            for process in workers:
                assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
        time.sleep(0.5)  # anything sent twice would arrive meanwhile (a message takes 20 ms)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
            process.wait(10)

    counts, _ = states(live_database)
    received = Counter(recipients)
    assert [address for address, times in received.items() if times > 1] == [], "nobody got two emails"
    assert len(received) == USERS, f"every user got one: {counts}"
    assert counts == {"sent": USERS}
