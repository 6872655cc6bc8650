"""A local SMTP server that keeps every message it receives as a file, newest last by name.

`make run` starts one (aiosmtpd, in a thread of the `make run` process) and points SMTP_URL at it,
so notifications really go through SMTP; the /dev/mail page reads the folder back. Tests use the
same sink. Messages are stored as `<INSTANCE_PATH>/devmail/<time in ns>-<random>.eml`.
"""
from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

MAX_LISTED = 200


def mail_folder(instance_path: Path) -> Path:
    return Path(instance_path) / "devmail"


def store(folder: Path, content: bytes) -> Path:
    """Write one message atomically (a reader never sees half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
    partial = folder / f".{name}.tmp"
    partial.write_bytes(content)
    final = folder / f"{name}.eml"
    os.replace(partial, final)
    return final


class FolderHandler:
    """aiosmtpd handler: every accepted message becomes one file in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or envelope.content
        store(self.folder, content if isinstance(content, bytes) else str(content).encode())
        return "250 Message accepted for delivery"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_sink(folder: Path, host: str = "127.0.0.1", port: int | None = None):
    """Start the sink on `port` (a free one when None); returns the running aiosmtpd Controller
    (its `.port` says where; `.stop()` stops it)."""
    from aiosmtpd.controller import Controller

    controller = Controller(FolderHandler(folder), hostname=host, port=port or free_port(host))
    controller.start()
    return controller


@dataclass(frozen=True)
class CaughtMail:
    name: str
    received_at: datetime
    sender: str
    to: str
    subject: str
    text: str
    has_html: bool


def caught_mails(folder: Path, limit: int = MAX_LISTED) -> list[CaughtMail]:
    """The newest `limit` caught messages, newest first."""
    if not folder.is_dir():
        return []
    files = sorted((p for p in folder.glob("*.eml") if p.is_file()), key=lambda p: p.name, reverse=True)[:limit]
    return [_read(path) for path in files]


def _read(path: Path) -> CaughtMail:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    received = datetime.fromtimestamp(int(path.name.split("-", 1)[0]) / 1e9, tz=timezone.utc)  # when the sink took it
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    has_html = any(part.get_content_type() == "text/html" for part in message.walk())
    return CaughtMail(name=path.stem, received_at=received, sender=str(message["From"] or ""),
                      to=str(message["To"] or ""), subject=str(message["Subject"] or "(no subject)"), text=text, has_html=has_html)
