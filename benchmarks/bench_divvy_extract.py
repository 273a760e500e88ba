"""Divvy extraction: memory stays flat as the window grows, and the hook is never the bottleneck.

``DivvyHook.iter_transactions`` walks a local Divvy API (served from a child process, so only
the hook's allocations are traced) seeded with 5,000 and then 20,000 generated transactions; the
consuming loop only counts rows.

Targets:

* **peak traced memory at 20,000 rows / at 5,000 rows < 1.5**. A backfill or a month-end catch-up
  can return ten times a normal day; the extract task must fit in the same worker as a quiet day
  (``extract`` lands rows in chunks of 500 precisely so the task itself stays flat). If the
  hook's peak grew with the row count, a large window would be the run that gets OOM-killed, on
  the day finance most needs it.
* **≥ 500 rows/s** through the hook (page requests, JSON with Decimal amounts, typed records,
  split children). Divvy allows 60 calls a minute of 50 rows, i.e. at most 50 rows/s; at ten
  times that, the API's rate limit, not our parsing, decides how long the extract takes.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks._harness import Figure, mib, timed, traced_peak
from benchmarks._servers import ChildServer, divvy_hook

NAME = "divvy_extract"
SIZES = (5_000, 20_000)
PEAK_RATIO_TARGET = 1.5
ROWS_PER_SECOND_TARGET = 500.0
CONN_ID = "divvy_bench"


def _hook(server: ChildServer) -> Any:
    return divvy_hook(server, CONN_ID)


def _count(hook: Any) -> int:
    n = 0
    for _txn in hook.iter_transactions(expand_splits=True):
        n += 1
    return n


def _warm_up(hook: Any) -> None:
    # Connection pool, lazily imported codecs, logger set-up: one-off costs that belong to
    # neither size, so they are paid before either measurement.
    walk = hook.iter_transactions(expand_splits=True)
    for i, _txn in enumerate(walk):
        if i >= 120:
            break
    walk.close()


def run() -> list[Figure]:
    peaks: dict[int, int] = {}
    rates: dict[int, float] = {}
    cpu_per_row: dict[int, float] = {}
    for size in SIZES:
        with ChildServer("divvy", rows=size) as server:
            hook = _hook(server)
            _warm_up(hook)
            cpu_start = time.process_time()
            count, seconds = timed(lambda hook=hook: _count(hook))
            # The server is another process, so this process's CPU time is the hook's alone.
            cpu_per_row[size] = (time.process_time() - cpu_start) / count * 1e6
            if count != size:
                raise AssertionError(f"the hook yielded {count} transactions, expected {size}")
            rates[size] = count / seconds
            with traced_peak() as peak:
                _count(hook)
            peaks[size] = peak[0]
            hook.session.close()
    small, large = SIZES
    ratio = peaks[large] / peaks[small]
    per_row = (peaks[large] - peaks[small]) / (large - small)
    return [
        Figure(f"peak memory, {small:,} rows", mib(peaks[small]), "MiB"),
        Figure(f"peak memory, {large:,} rows", mib(peaks[large]), "MiB"),
        Figure(
            f"peak ratio {large // 1000}k/{small // 1000}k",
            ratio,
            "x",
            PEAK_RATIO_TARGET,
            higher_is_better=False,
            note=(
                f"peak grows {per_row:,.0f} bytes per extra row"
                if ratio >= PEAK_RATIO_TARGET
                else ""
            ),
        ),
        Figure(f"throughput, {small:,} rows", rates[small], "rows/s", ROWS_PER_SECOND_TARGET),
        Figure(f"throughput, {large:,} rows", rates[large], "rows/s", ROWS_PER_SECOND_TARGET),
        Figure(f"hook CPU per row, {large:,} rows", cpu_per_row[large], "µs"),
    ]
