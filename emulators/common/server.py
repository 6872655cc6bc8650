"""Serve a WSGI app on a loopback port from a background thread.

Used by tests (in-process emulators and portal) and by `python -m emulators.<name>`.
"""
from __future__ import annotations

import argparse
import logging
import threading
from typing import Callable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not print one line per request (tests make thousands)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:  # noqa: D401
        return None


class BackgroundServer:
    """A threaded WSGI server bound to `host:port` (port 0 picks a free one).

    >>> with BackgroundServer(app) as server:
    ...     requests.get(server.url + "/")
    """

    def __init__(self, app: Callable, host: str = "127.0.0.1", port: int = 0, quiet: bool = True):
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler if quiet else WSGIRequestHandler
        )
        self.host = host
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"wsgi-{self.port}", daemon=True
        )

    def start(self) -> "BackgroundServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(app: Callable, host: str, port: int, banner: str) -> None:
    """Run `app` in the foreground until interrupted, after printing `banner` (flushed)."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    print(banner.format(url=f"http://{host}:{server.server_port}"), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def base_argument_parser(description: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port}; 0 = any free port)")
    parser.add_argument("--log-level", default="WARNING", help="Python log level (default WARNING)")
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.WARNING), format="%(asctime)s %(name)s %(levelname)s %(message)s")
