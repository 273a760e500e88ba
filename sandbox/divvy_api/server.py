"""HTTP plumbing on ``http.server.ThreadingHTTPServer`` (stdlib only).

Request order: log → queued fault → auth (401) → rate limit (429) → endpoint. Faults come first
so "the next N requests" means exactly that, whatever they are.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.divvy_api import api
from sandbox.divvy_api.state import DivvyState, RecordedRequest, rate_limited
from sandbox.divvy_api.util import CODE_SERVER, ApiError, bdc_error

SECRET_HEADERS = {"apitoken", "authorization", "cookie"}
TOKEN_PATH = "/authx/token"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DivvyEmulator/1.0"
    # Idle keep-alive connections must not pin a thread forever.
    timeout = 30
    # Headers and body go out in two writes; without this, delayed ACKs add ~40 ms a request.
    disable_nagle_algorithm = True

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        multi = parse_qs(split.query, keep_blank_values=True)
        # First value wins: a repeated `filters` is accepted and the repeats ignored (§2.2).
        query = {name: values[0] for name, values in multi.items()}
        entry = RecordedRequest(
            method=method,
            path=split.path,
            query=query,
            headers={
                k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in self.headers.items()
            },
            query_multi=multi,
        )
        state.record(entry)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if split.path == TOKEN_PATH:
            entry.status = self._token(method, body)
            return
        truncate = False
        try:
            fault = state.take_fault()
            if fault is not None:
                truncate = self._apply_fault(fault)
            rate_key, user_uuid = state.authenticate(self.headers)
            state.check_rate(rate_key)
            status, payload = api.handle(state, method, split.path, query, user_uuid, body)
            entry.status = status
            self._send(status, payload, truncate=truncate)
        except ApiError as exc:
            entry.status = exc.status
            self._send(exc.status, exc.body(), headers=exc.headers, truncate=truncate)
        except Exception as exc:  # a bug in the emulator must still answer like a server
            entry.status = 500
            self._send(500, bdc_error(CODE_SERVER, f"Internal error: {exc}", category="SERVER"))

    def _apply_fault(self, fault: Any) -> bool:
        """Raise for error faults, sleep for slow ones; True means "truncate this response"."""
        if fault.kind == "rate_limit":
            raise rate_limited(fault.params.get("retry_after"))
        if fault.kind == "server_error":
            status = int(fault.params["status"])
            raise ApiError(
                status,
                "Please retry",  # the one live 5xx text on record (§4)
                code=CODE_SERVER,
                category="SERVER",
            )
        if fault.kind == "slow":
            time.sleep(float(fault.params["seconds"]))
            return False
        return fault.kind == "truncated"

    def _token(self, method: str, body: bytes) -> int:
        # OAuth client credentials (§1): standard OAuth error bodies, not BDC arrays (unverified).
        if method != "POST":
            self._send(405, {"error": "invalid_request", "error_description": "POST only"})
            return 405
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            self._send(400, {"error": "unsupported_grant_type"})
            return 400
        issued = self.server.state.issue_token(
            form.get("client_id", ""), form.get("client_secret", "")
        )
        if issued is None:
            self._send(401, {"error": "invalid_client"})
            return 401
        token, ttl = issued
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl})
        return 200

    def _send(
        self,
        status: int,
        payload: Any,
        *,
        headers: dict[str, str] | None = None,
        truncate: bool = False,
    ) -> None:
        try:
            # 204 No Content (a DELETE) carries no body at all.
            data = b"" if status == 204 else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            # Text UTF-8 cannot carry (an unpaired surrogate) still travels, \u-escaped, as
            # JSON allows: hostile data must reach the client for its handling to be tested.
            data = json.dumps(payload).encode("ascii")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            if truncate:
                # Promise the whole body, deliver half, hang up: a mid-body connection drop.
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            # The client gave up (e.g. its timeout fired during a "slow" fault).
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: DivvyState, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.verbose = verbose


class DivvyServer:
    """One emulator instance serving ``state`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        state: DivvyState,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        verbose: bool = False,
    ) -> None:
        self.state = state
        self._server = _Server((host, port), state, verbose)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    @property
    def url(self) -> str:
        """The API base, like ``https://gateway.prod.bill.com/connect``."""
        return f"{self.root_url}/connect"

    @property
    def token_url(self) -> str:
        return f"{self.root_url}{TOKEN_PATH}"

    def start(self) -> DivvyServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"divvy-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread (the CLI); end with Ctrl-C then ``stop_serving()``."""
        self._server.serve_forever()

    def stop_serving(self) -> None:
        self._server.server_close()

    def stop(self) -> None:
        """Stop a server started with ``start()`` and release the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
