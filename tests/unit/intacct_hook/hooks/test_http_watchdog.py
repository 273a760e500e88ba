"""The request deadline's watchdog against a reused connection: a late shutdown must never hit
the next request on a pooled connection (for Intacct that would be an ambiguous POST).

The interleavings are forced by calling the watchdog's two sides in a chosen order (what the
timer thread and the reading thread would do), so nothing here depends on timing."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from intacct_hook.hooks import http_util
from intacct_hook.hooks.http_util import Limits, _Watchdog, read_body

FAR = 3600.0  # a deadline no test reaches: the timer thread never fires these by itself


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.settimeout(10)
    yield a, b
    a.close()
    b.close()


def test_a_watchdog_cancelled_first_does_not_shut_the_socket_down_when_the_timer_fires(pair):
    # The timer thread took the watchdog off its heap (its deadline came), then the reader
    # finished and cancelled, then the timer fires: the socket is back in the pool by then.
    ours, theirs = pair
    expired = threading.Event()
    watchdog = _Watchdog(ours, time.monotonic() + FAR, expired)

    assert watchdog.cancel() is False  # it had not fired
    watchdog.fire()

    assert not expired.is_set()
    theirs.sendall(b"next answer")
    assert ours.recv(64) == b"next answer"  # still open for the next request


def test_a_watchdog_that_fired_first_says_so_when_cancelled(pair):
    ours, _theirs = pair
    expired = threading.Event()
    watchdog = _Watchdog(ours, time.monotonic() + FAR, expired)

    watchdog.fire()

    assert expired.is_set()
    assert watchdog.cancel() is True  # the reader must not give this connection back
    assert ours.recv(1) == b""


class _Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the connection goes back to the pool

    def do_GET(self) -> None:
        body = b"<response>ok</response>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


def test_a_connection_whose_watchdog_fired_after_the_last_read_is_closed_not_pooled(
    server, monkeypatch
):
    # The deadline comes between the body's last read and the cancel: the socket is shut down,
    # so the connection must be closed, never released to the pool for the next request.
    cancel = _Watchdog.cancel

    def fire_then_cancel(self: _Watchdog) -> bool:
        self.fire()
        return cancel(self)

    monkeypatch.setattr(http_util._Watchdog, "cancel", fire_then_cancel)
    limits = Limits(timeout=10, max_request_seconds=FAR, max_response_bytes=1 << 20)
    with requests.Session() as session:
        response = session.get(server, stream=True, timeout=limits.requests_timeout)
        connection = response.raw.connection
        assert connection is not None and connection.sock is not None

        assert read_body(response, limits, deadline=limits.deadline()) == b"<response>ok</response>"

        assert connection.sock is None  # closed: the next request opens a new connection
        monkeypatch.undo()
        assert (
            session.get(server, timeout=limits.requests_timeout).text == "<response>ok</response>"
        )
