"""A local HTTP server whose answers a test scripts: redirects, trickled, endless and odd bodies.

The sandboxes are strict emulators of the real APIs; they do not misbehave at the HTTP level the
way a CDN, a proxy or a broken server can. This server does, over real sockets on 127.0.0.1 with
a free port. It records every request it receives (so a test can prove a credential never
reached it) and answers each with the next scripted reply, else with the default reply.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

Reply = Callable[[BaseHTTPRequestHandler, bytes], None]

__all__ = [
    "Reply",
    "ScriptedServer",
    "echo",
    "endless",
    "forward",
    "gzip_bomb",
    "redirect",
    "respond",
    "scripted_server",
    "trickle",
    "trickle_chunk_size",
]


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = field(repr=False)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.scripted.record(Seen(self.command, self.path, dict(self.headers), body))
        reply = self.server.scripted.next_reply()
        # The client hanging up mid-answer is what most tests provoke on purpose.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            reply(self, body)
        self.close_connection = True

    do_GET = do_POST = do_PUT = _handle

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a trickling reply must not hold the test's teardown
    scripted: ScriptedServer


class ScriptedServer:
    """What a test gets: the base ``url``, the ``requests`` received, and ``then(...)``."""

    def __init__(self, server: _Server, default: Reply, host: str) -> None:
        self._server = server
        self._host = host
        self._default = default
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[Seen] = []

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._server.server_address[1]}"

    def then(self, *replies: Reply) -> ScriptedServer:
        """Answer the next requests with ``replies``, in order."""
        with self._lock:
            self._script.extend(replies)
        return self

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else self._default


@contextmanager
def scripted_server(
    default: Reply | None = None, host: str = "127.0.0.1"
) -> Iterator[ScriptedServer]:
    """Run a scripted server for the duration of the ``with`` block.

    ``host`` is also the name in ``url``: ``localhost`` makes it another host than the
    sandboxes' ``127.0.0.1`` (the Intacct hook then keeps sending to it, not to the endpoint
    a forwarded login names).
    """
    server = _Server((host, 0), _Handler)
    server.scripted = ScriptedServer(server, default or respond(404, b"not scripted"), host)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.scripted
    finally:
        server.shutdown()
        server.server_close()


# --- replies ------------------------------------------------------------------------------------


def respond(
    status: int = 200,
    body: bytes = b"",
    *,
    content_type: str = "application/xml",
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """A complete answer with a Content-Length."""

    def reply(handler: BaseHTTPRequestHandler, _request: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return reply


def echo(status: int = 400, *, content_type: str = "text/plain") -> Reply:
    """Answer with the request's own body, as careless servers do in error messages."""

    def reply(handler: BaseHTTPRequestHandler, request: bytes) -> None:
        respond(status, b"could not process: " + request, content_type=content_type)(
            handler, request
        )

    return reply


def redirect(status: int, location: str) -> Reply:
    """A redirect to ``location``, with a small body like real servers send."""
    return respond(
        status, b"<html>moved</html>", content_type="text/html", headers={"Location": location}
    )


def trickle(body: bytes, *, every: float, content_type: str = "application/xml") -> Reply:
    """HTTP 200 promising the whole body, then one byte every ``every`` seconds.

    Each byte arrives well within any read timeout, so only a bound on the whole request stops
    the client from waiting ``len(body) * every`` seconds.
    """

    def reply(handler: BaseHTTPRequestHandler, _request: bytes) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        for i in range(len(body)):
            handler.wfile.write(body[i : i + 1])
            handler.wfile.flush()
            time.sleep(every)

    return reply


def trickle_chunk_size(*, every: float, digits: int = 200) -> Reply:
    """HTTP 200, chunked, whose first chunk-size line (``000…01``) arrives a byte at a time.

    The HTTP library reads that line whole within one read of the body, so only a deadline
    that interrupts a read in progress stops it.
    """

    def reply(handler: BaseHTTPRequestHandler, _request: bytes) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        handler.wfile.flush()
        for digit in b"0" * (digits - 1) + b"1\r\nx\r\n0\r\n\r\n":
            handler.wfile.write(bytes([digit]))
            handler.wfile.flush()
            time.sleep(every)

    return reply


def endless(
    *, status: int = 200, content_type: str = "application/xml", declared: int | None = None
) -> Reply:
    """A body that never ends (chunked), or that declares ``declared`` bytes and sends them all.

    Either way the client must stop reading at its own limit.
    """
    block = b"<x>" + b"0" * 65530 + b"</x>"

    def reply(handler: BaseHTTPRequestHandler, _request: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        if declared is None:
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            while True:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
        else:
            handler.send_header("Content-Length", str(declared))
            handler.end_headers()
            sent = 0
            while sent < declared:
                part = block[: declared - sent]
                handler.wfile.write(part)
                sent += len(part)

    return reply


def gzip_bomb(decoded_bytes: int, *, content_type: str = "application/xml") -> Reply:
    """A small gzip body that expands to ``decoded_bytes``: the limit must count decoded bytes."""
    payload = gzip.compress(b" " * decoded_bytes, compresslevel=9)
    return respond(200, payload, content_type=content_type, headers={"Content-Encoding": "gzip"})


def forward(to_url: str, answer: Reply | None = None) -> Reply:
    """Relay the request to a real server (a sandbox) and its answer back, unchanged.

    With ``answer``, the real server still processes the request (a write is recorded) but
    the client gets ``answer`` instead: what a CDN does when it cuts or slows a response.
    """

    def reply(handler: BaseHTTPRequestHandler, request: bytes) -> None:
        headers = {
            k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")
        }
        relayed = requests.request(
            handler.command, to_url + handler.path, data=request, headers=headers, timeout=30
        )
        if answer is not None:
            answer(handler, request)
            return
        respond(
            relayed.status_code,
            relayed.content,
            content_type=relayed.headers.get("Content-Type", "application/octet-stream"),
        )(handler, request)

    return reply
