"""Divvy's rate limit on the client side: at most ``calls`` per rolling window, per token.

The API allows 60 calls a minute per token and answers 429 above that; staying under it here
costs no failed call. Plain Python: the hook acquires a call before each request.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

#: The documented Spend & Expense limit per token, per minute.
MAX_CALLS_PER_MINUTE = 60


class RollingWindowLimiter:
    """At most ``calls`` acquisitions in any rolling ``period`` seconds; thread-safe.

    :param calls: calls allowed per window.
    :param period: window length in seconds.
    :param margin: extra seconds before a call leaves the window. The server stamps a call when
        it arrives, later than we stamp it here; without a margin jitter can cost a 429.
    """

    def __init__(self, calls: int, period: float, *, margin: float = 0.05) -> None:
        if calls < 1 or period <= 0:
            raise ValueError("a rate limit needs at least one call per positive period")
        self.calls = calls
        self.period = period
        self.margin = margin
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, on_wait: Callable[[float], None] | None = None) -> float:
        """Block until a call is allowed; return the seconds waited.

        ``on_wait(seconds)`` is called before each sleep (for the "waiting" log line).
        """
        return self._acquire(on_wait)[0]

    @contextmanager
    def call(self, on_wait: Callable[[float], None] | None = None) -> Iterator[float]:
        """:meth:`acquire` for the request sent inside the block (yields the seconds waited);
        when the block ends, the call counts from then on.

        The server counts a call when it arrives: after we stamp it at acquire, before its
        answer is read here. A fixed margin alone lost to one slow moment on a busy machine (the
        server saw an earlier call later than we stamped it, and answered the next one 429);
        counting the call from the end of its exchange is never earlier than the server counts
        it, whatever the latency, and costs one request's latency per window.
        """
        waited, stamp = self._acquire(on_wait)
        try:
            yield waited
        finally:
            with self._lock:
                # Gone already if the request took longer than the window.
                with suppress(ValueError):
                    self._stamps.remove(stamp)
                bisect.insort(self._stamps, time.monotonic())

    def _acquire(self, on_wait: Callable[[float], None] | None) -> tuple[float, float]:
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                horizon = self.period + self.margin
                while self._stamps and now - self._stamps[0] >= horizon:
                    self._stamps.popleft()
                if len(self._stamps) < self.calls:
                    self._stamps.append(now)
                    return waited, now
                delay = horizon - (now - self._stamps[0])
            if on_wait is not None:
                on_wait(delay)
            time.sleep(delay)
            waited += delay


# One limiter per (API, token, limit) in this process, so parallel hooks (mapped tasks, threads)
# sharing a token share its budget instead of each spending the full 60 a minute.
_LIMITERS: dict[tuple[str, str, int, float], RollingWindowLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(base_url: str, secret: str, calls: int, period: float) -> RollingWindowLimiter:
    """The process's limiter for this API, credential and limit (the credential is hashed, so
    the registry holds no secret)."""
    key = (base_url, hashlib.sha256(secret.encode()).hexdigest(), calls, period)
    with _LIMITERS_LOCK:
        if key not in _LIMITERS:
            _LIMITERS[key] = RollingWindowLimiter(calls, period)
        return _LIMITERS[key]
