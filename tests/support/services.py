"""Start private instances of the system services the tests use."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen | None
    workdir: str | None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis() -> RedisServer:
    """A throw-away redis-server on a free loopback port (TEST_REDIS_URL overrides).

    A private server keeps the tests away from whatever data a developer's Redis holds, and lets
    tests flush it freely.
    """
    if os.environ.get("TEST_REDIS_URL"):
        return RedisServer(os.environ["TEST_REDIS_URL"], None, None)
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make test` (it installs it) or set TEST_REDIS_URL")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="test-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return RedisServer(f"redis://127.0.0.1:{port}/0", process, workdir)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not answer on port {port}")
