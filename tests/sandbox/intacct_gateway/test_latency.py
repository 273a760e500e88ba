"""The ``latency`` option at the default concurrency limit of 1: requests answered as usual,
one at a time."""

from __future__ import annotations

import threading

import pytest
from gw_wire import call, read_by_query, results

from sandbox.intacct_gateway.server import serve
from sandbox.intacct_gateway.state import load_seed
from sandbox.intacct_gateway.testing import running_gateway


@pytest.mark.parametrize("options", [{"latency": 0.005}, {}])
def test_requests_are_served_one_at_a_time(options):
    with running_gateway(**options) as gw:
        inside = 0
        most = 0
        guard = threading.Lock()
        handle = gw._gateway.handle

        def observed(body: bytes) -> tuple[int, bytes]:
            nonlocal inside, most
            with guard:
                inside += 1
                most = max(most, inside)
            try:
                return handle(body)
            finally:
                with guard:
                    inside -= 1

        gw._gateway.handle = observed  # type: ignore[method-assign]
        answers: list[str] = []

        def ask() -> None:
            resp = call(gw.url, read_by_query("GLACCOUNT", pagesize=1))
            answers.append(results(resp)[0].findtext("status") or "")

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert answers == ["success"] * 6
        assert most == 1


def test_a_negative_latency_is_refused():
    with pytest.raises(ValueError, match="latency"):
        serve(load_seed(None), port=0, latency=-0.1)
