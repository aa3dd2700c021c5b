"""Session-end on real servers: each way a session ends closes its socket, with its code, within one sweep."""

import asyncio
import json
import time

import pytest
import websockets

from tests.servers import AsgiServer, live_database_in, live_env, manage, report

pytestmark = [pytest.mark.redis, pytest.mark.slow]

HEARTBEAT = 2.0
# The hub sweeps every half heartbeat interval; each event must close its socket within one sweep,
# plus the time the re-check and the close frame take (generous: the machine runs other tests).
SWEEP = HEARTBEAT / 2
SLACK = 2.5

SETUP = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from django_live_notify.tokens import make_token
keys = {}
for event in EVENTS:
    user = get_user_model().objects.create_user(event, password="pw")
    client = Client()
    client.force_login(user)
    keys[event] = {"session": client.cookies["sessionid"].value, "token": make_token(user)}
get_user_model().objects.create_user("intruder", password="pw")
print(json.dumps(keys))
"""

# Each event ends the session of the user named after it; prints when each one was done.
TRIGGER = """
import json, time
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
User = get_user_model()
keys = KEYS
done = {}

def client_of(event):
    client = Client()
    client.cookies["sessionid"] = keys[event]["session"]
    return client

Session.objects.filter(session_key=keys["deleted"]["session"]).delete()
done["deleted"] = time.time()
past = timezone.now() - timedelta(seconds=1)
Session.objects.filter(session_key=keys["expired"]["session"]).update(expire_date=past)
done["expired"] = time.time()
client_of("other_login").force_login(User.objects.get(username="intruder"))
done["other_login"] = time.time()
User.objects.filter(username="deactivated").update(is_active=False)
done["deactivated"] = time.time()
user = User.objects.get(username="password")
user.password = make_password("assigned directly")
user.save()
done["password"] = time.time()
client_of("logout").logout()
done["logout"] = time.time()
print(json.dumps(done))
"""

# event -> close code of its session socket; "logout" and "password" also close the user's token socket (4001).
EXPECTED = {
    "deleted": 4001,
    "expired": 4001,
    "other_login": 4001,
    "deactivated": 4001,
    "password": 4003,
    "logout": 4001,
}


async def open_socket(port, session_key=None, token=None):
    headers = {"Origin": f"http://127.0.0.1:{port}"}
    subprotocols = None
    if session_key:
        headers["Cookie"] = f"sessionid={session_key}"
    if token:
        subprotocols = ["live-notify.v1", f"live-notify.token.{token}"]
    socket = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notifications/",
        additional_headers=headers,
        subprotocols=subprotocols,
        compression=None,
    )
    await socket.send('{"type": "heartbeat"}')
    assert json.loads(await asyncio.wait_for(socket.recv(), 5)) == {"type": "heartbeat_ack"}
    return socket


async def wait_for_close(socket, timeout):
    """Return (close code, time.time() when it came), heartbeating meanwhile so the socket is not idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            try:
                await asyncio.wait_for(socket.recv(), 0.5)
            except TimeoutError:
                await socket.send('{"type": "heartbeat"}')
        except websockets.ConnectionClosed as closed:
            # Raised by recv(), or by send() when the close came in just after recv() gave up.
            return (closed.rcvd.code if closed.rcvd else None), time.time()
    return None, time.time()


@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
def test_each_way_a_session_ends_closes_its_socket_within_one_sweep(request, tmp_path, redis_url, kind):
    env = live_env(live_database_in(tmp_path), redis_url, HEARTBEAT)
    manage(env, "migrate", "-v0")
    setup = SETUP.replace("EVENTS", repr(list(EXPECTED)))
    keys = json.loads(manage(env, "shell", "-v0", "-c", setup).strip().splitlines()[-1])
    server = AsgiServer(kind, env)
    server.start()

    async def scenario():
        opening = {event: {"session_key": keys[event]["session"]} for event in EXPECTED}
        opening["logout token"] = {"token": keys["logout"]["token"]}
        opening["password token"] = {"token": keys["password"]["token"]}
        # A user whose session stays valid: nothing may close it.
        opening["bystander token"] = {"token": keys["deleted"]["token"]}
        sockets, waiting = {}, {}
        for event, credentials in opening.items():
            sockets[event] = await open_socket(server.port, **credentials)
            # Heartbeating from the start: opening the others may take longer than the idle timeout under load.
            waiting[event] = asyncio.ensure_future(wait_for_close(sockets[event], timeout=60))
        trigger = TRIGGER.replace("KEYS", json.dumps(keys))
        output = await asyncio.to_thread(manage, env, "shell", "-v0", "-c", trigger)
        done = json.loads(output.strip().splitlines()[-1])
        done["logout token"] = done["logout"]
        done["password token"] = done["password"]
        bystander = waiting.pop("bystander token")
        closes = {event: await task for event, task in waiting.items()}
        assert not bystander.done()
        await sockets["bystander token"].send('{"type": "heartbeat"}')
        bystander.cancel()
        await sockets["bystander token"].close()
        return done, closes

    try:
        done, closes = asyncio.run(scenario())
    finally:
        server.stop()
    codes = {event: code for event, (code, _at) in closes.items()}
    latencies = {event: max(0.0, at - done[event]) for event, (_code, at) in closes.items()}
    assert codes == {**EXPECTED, "logout token": 4001, "password token": 4001}, latencies
    for event, latency in latencies.items():
        report(request, f"{event} close s", round(latency, 3), "")
    slow = {event: latency for event, latency in latencies.items() if latency > SWEEP + SLACK}
    assert not slow, f"closed later than one sweep ({SWEEP} s) + {SLACK} s: {slow}"
