"""The gateway's concurrency limit: API jobs beyond it queue (reference §6), none is refused."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from gw_wire import login, post, read_by_query, request

from sandbox.intacct_gateway.testing import running_gateway


def _read(url: str) -> int:
    return post(url, request([read_by_query("LOCATION")], auth=login())).status_code


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_simultaneous_requests_beyond_the_limit_queue_and_all_are_answered(limit):
    # A small per-job latency keeps jobs long enough to overlap; no time is asserted.
    with running_gateway(concurrency=limit, latency=0.05) as gw:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: _read(gw.url), range(16)))
        assert statuses == [200] * 16
        assert 1 <= gw.max_in_flight() <= limit
        assert gw.concurrency == limit


def test_a_request_waits_while_every_slot_is_taken_and_runs_when_one_frees():
    with running_gateway(concurrency=2) as gw:
        gateway = gw._gateway
        first, second = gateway.job(), gateway.job()
        first.__enter__()
        second.__enter__()  # both slots held, as by two long-running jobs
        answered: list[int] = []
        waiting = threading.Thread(target=lambda: answered.append(_read(gw.url)))
        waiting.start()
        try:
            # It cannot run while both slots are held, however long we wait.
            waiting.join(timeout=0.5)
            assert waiting.is_alive() and answered == []
            assert gw.max_in_flight() == 2
        finally:
            first.__exit__(None, None, None)
        waiting.join(timeout=30)
        assert answered == [200]
        second.__exit__(None, None, None)
        assert gw.max_in_flight(reset=True) == 2
        assert gw.max_in_flight() == 0


def test_the_limit_and_latency_must_be_sensible():
    with pytest.raises(ValueError, match="at least 1"), running_gateway(concurrency=0):
        pass
    with pytest.raises(ValueError, match="negative"), running_gateway(latency=-1):
        pass
