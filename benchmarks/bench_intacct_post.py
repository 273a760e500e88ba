"""Posting end to end over HTTP: ``IntacctHook.record_cctransactions`` against the local gateway.

1,000 credit card transactions per run, in batches of 50 and of 100, each write under
``uniqueid=true`` with its deterministic control ID, as the load step posts them. The gateway is
a child process (its CPU is not ours, its memory not traced); it validates every request against
Intacct's schema and stores every record, like the real service.

Target: **≥ 200 transactions/s** locally. Intacct itself answers a 100-function request in
roughly a second or more, so a client that does 200/s on loopback spends well under half a second
of its own per 100 transactions: in production Intacct's latency is the bottleneck, and a month-end
catch-up of several thousand transactions is bounded by Intacct, not by this code.
The traced peak memory of a run is reported beside it (the transactions themselves are built
before tracing starts): it should be a few batches' worth, not grow with the run.
"""

from __future__ import annotations

from typing import Any

from benchmarks._harness import Figure, mib, timed, traced_peak
from benchmarks._servers import ChildServer, intacct_hook

NAME = "intacct_post"
COUNT = 1_000
BATCH_SIZES = (50, 100)
TARGET = 200.0
CONN_ID = "intacct_bench"


def _hook(server: ChildServer) -> Any:
    return intacct_hook(server, CONN_ID)


def _post(hook: Any, txns: list[Any], batch_size: int) -> int:
    outcomes = hook.record_cctransactions(txns, batch_size=batch_size)
    failed = [o for o in outcomes if o.status != "posted"]
    if failed:
        first = failed[0]
        raise AssertionError(
            f"{len(failed)} of {len(txns)} writes were not posted; first: {first.reference_no} "
            f"{first.status} {first.error}"
        )
    return len(outcomes)


def run() -> list[Figure]:
    from benchmarks._data import cc_transactions

    figures: list[Figure] = []
    with ChildServer("intacct") as server:
        hook = _hook(server)
        # Sign in and open the connection pool before measuring: a run pays that once.
        hook.get_books_closed_through()
        for size in BATCH_SIZES:
            timed_txns = cc_transactions(COUNT, prefix=f"post{size}-", seed=size)
            traced_txns = cc_transactions(COUNT, prefix=f"trace{size}-", seed=size + 1)
            count, seconds = timed(lambda t=timed_txns, s=size: _post(hook, t, s))
            with traced_peak() as peak:
                _post(hook, traced_txns, size)
            figures.append(
                Figure(f"post {COUNT:,}, batches of {size}", count / seconds, "txn/s", TARGET)
            )
            figures.append(Figure(f"peak memory, batches of {size}", mib(peak[0]), "MiB"))
        hook.close()
    return figures
