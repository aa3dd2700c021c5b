"""CPU per socket of the two session paths that run for every socket: the handshake's batched authentication
and the sweep's session re-check, on N users with logged-in sessions (a SQLite file, as run.py prepares it).

    python benchmarks/session_cost.py [ROOT] [N]     # ROOT: the checkout to measure (this one by default), N: 10000

Each is timed 5 times with ``time.process_time()``; the median and the best are printed. The re-check runs
every sweep (half the heartbeat interval: 15 s by default) for every open socket.
"""

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
sys.path.insert(0, str(ROOT))

from benchmarks.run import prepare_database  # noqa: E402


def main() -> None:
    pairs = prepare_database(Path(tempfile.mkdtemp()) / "sessions.sqlite3", COUNT)
    from django.contrib.auth import HASH_SESSION_KEY

    from django_live_notify import auth, session_check

    keys = [key for _, key in pairs]
    stores = auth.authenticate_sessions(keys)
    assert all(user.is_authenticated for _, user in stores)
    sockets = [(str(user.pk), store.session_key, store.get(HASH_SESSION_KEY)) for store, user in stores]
    calls = {
        "handshake authentication (batches of 500)": lambda: [
            auth.authenticate_sessions(keys[start : start + 500]) for start in range(0, COUNT, 500)
        ],
        "session re-check (one sweep)": lambda: session_check.close_codes(sockets),
    }
    for name, call in calls.items():
        times = []
        for _ in range(5):
            began = time.process_time()
            call()
            times.append(time.process_time() - began)
        times.sort()
        print(
            f"{name}: {COUNT} sockets, CPU median {times[2] * 1000:.0f} ms (best {times[0] * 1000:.0f}), "
            f"{times[2] * 1e6 / COUNT:.1f} us per socket"
        )


if __name__ == "__main__":
    main()
