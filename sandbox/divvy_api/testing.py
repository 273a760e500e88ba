"""Run the emulator inside a test: ``with running_divvy() as divvy: ...``.

The handle exposes the live state, so a test can insert rows between page fetches, clear an
authorization late, queue faults, and assert on exactly what the client sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sandbox.divvy_api.server import DivvyServer
from sandbox.divvy_api.state import DivvyState, RecordedRequest


@dataclass
class DivvyHandle:
    """A running emulator: its base URL, an API token that works, and its live state."""

    url: str  # "http://127.0.0.1:<port>/connect"
    token: str
    state: DivvyState
    token_url: str  # "http://127.0.0.1:<port>/authx/token" (OAuth client credentials)
    client_id: str | None
    client_secret: str | None

    def queue_fault(self, kind: str, count: int = 1, **params: Any) -> None:
        """Make the next ``count`` requests fail or misbehave.

        Kinds: ``rate_limit`` (``retry_after``: seconds, default 1, or ``None`` for no header),
        ``server_error`` (``status``: 500, 502, 503 or 504), ``slow`` (``seconds``),
        ``truncated`` (full Content-Length promised, half the body sent, connection closed).
        """
        self.state.queue_fault(kind, count, **params)

    def clear_faults(self) -> int:
        """Drop the queued faults; returns how many never fired."""
        return self.state.clear_faults()

    def reset_transactions(self) -> None:
        """Start over without restarting: no transactions, requests, faults or rate-limit
        counts; the company (users, budgets, cards, custom fields, tokens) stays."""
        self.state.clear_transactions()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far as ``(method, path, query, headers)``, secrets masked."""
        with self.state.lock:
            return list(self.state.requests)


@contextmanager
def running_divvy(
    seed: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    calls_per_minute: int = 60,
    window_seconds: float = 60.0,
    retry_after: bool = True,
) -> Iterator[DivvyHandle]:
    """Serve ``seed`` (a path, a dict, or the bundled default) on a free local port."""
    state = DivvyState(
        seed,
        calls_per_minute=calls_per_minute,
        window_seconds=window_seconds,
        retry_after=retry_after,
    )
    server = DivvyServer(state).start()
    token = next(iter(state.tokens), "")
    client = next(iter(state.oauth_clients.items()), None)
    try:
        yield DivvyHandle(
            url=server.url,
            token=token,
            state=state,
            token_url=server.token_url,
            client_id=client[0] if client else None,
            client_secret=client[1][0] if client else None,
        )
    finally:
        server.stop()
