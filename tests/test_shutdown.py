"""SIGTERM to a real server process: every open socket is closed with "service restart".

uvicorn sends 1012 itself. daphne cancels the application of every socket and then
drops the connections without a close frame; the consumer answers the cancellation
with a close, 4012 because daphne refuses 1012. The JS client reconnects within a
second after either.
"""

import asyncio
import signal

import pytest
import websockets

from django_live_notify import protocol
from tests.servers import AsgiServer, create_sessions, live_env, manage

pytestmark = pytest.mark.slow

SOCKETS = 20
# daphne's shutdown hook fails (KeyError) when a WebSocket handshake happened less than a
# second before, and then closes nothing; its once-a-second cleanup must have run first.
DAPHNE_SETTLE = 2.5


@pytest.mark.parametrize(
    ("kind", "code"), [("uvicorn", protocol.CLOSE_SERVICE_RESTART), ("daphne", protocol.CLOSE_SERVICE_RESTART_DAPHNE)]
)
def test_sigterm_closes_every_socket_with_service_restart(live_database, kind, code):
    env = live_env(live_database)
    manage(env, "migrate", "-v0")
    users = create_sessions(env, SOCKETS)
    server = AsgiServer(kind, env)
    server.start()

    async def scenario():
        sockets = []
        for _user_id, session_key, last_id in users:
            socket = await websockets.connect(
                f"ws://127.0.0.1:{server.port}/ws/notifications/",
                additional_headers={"Cookie": f"sessionid={session_key}", "Origin": server.url},
                compression=None,
            )
            await socket.send(f'{{"type": "resume", "last_id": {last_id}}}')
            sockets.append(socket)
        for socket in sockets:
            while '"resumed"' not in await asyncio.wait_for(socket.recv(), 10):
                pass
        await asyncio.sleep(DAPHNE_SETTLE if kind == "daphne" else 0)
        server.signal(signal.SIGTERM)
        codes = []
        for socket in sockets:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:  # the unread_count that follows "resumed", then the close
                    await asyncio.wait_for(socket.recv(), 10)
            codes.append(closed.value.rcvd.code if closed.value.rcvd else None)
        return codes

    try:
        codes = asyncio.run(scenario())
        assert codes == [code] * SOCKETS
        assert server.process.wait(15) is not None
    finally:
        server.stop()
