"""The local Divvy API and Intacct gateway, each served from a child process.

The servers run in their own process so that ``tracemalloc`` in the benchmark process sees only
the client (hook) allocations, and so that their CPU work runs on the other core instead of
competing with the client for the GIL.

Child side: ``python -m benchmarks._servers divvy --rows 5000`` or ``... intacct`` prints one JSON
line (``{"url": ..., "token": ...}``) and serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

#: Purchases start after the Intacct seed's closed period (books closed through 2026-09-30).
START_DAY = date(2026, 10, 5)
ROOT_DIR = Path(__file__).resolve().parents[1]
GENERATOR_SEED = 11

# The generator makes ~1.8 listable rows per purchase; asking for a margin and trimming gives an
# exact row count, so the two extraction sizes differ by exactly the intended factor.
_ROWS_PER_PURCHASE = 1.7
_DAYS = 28


def divvy_seed(rows: int, *, splits: bool = True) -> dict[str, Any]:
    """A deterministic Divvy seed with exactly ``rows`` listable (parent) transactions.

    Rows come from the sandbox generator (auths and clears, declines, refunds, splits, odd
    merchant names), so the hook parses what a real month looks like; split children of the kept
    parents are kept too, and ``expand_splits`` fetches them one call each as in production.
    ``splits=False``: the same rows with every split undone (parents only, no children), the
    data whose extraction costs list pages only.
    """
    from sandbox.divvy_api.generator import generate_week

    per_day = int(rows / _ROWS_PER_PURCHASE / _DAYS) + 1
    seed = generate_week(START_DAY, _DAYS, seed=GENERATOR_SEED, per_day=per_day)
    parents = [r for r in seed["transactions"] if not r.get("parentTransactionUuid")]
    if len(parents) < rows:
        raise RuntimeError(f"generator made {len(parents)} listable rows, fewer than {rows}")
    kept = parents[:rows]
    kept_uuids = {r["uuid"] for r in kept}
    children = [r for r in seed["transactions"] if r.get("parentTransactionUuid") in kept_uuids]
    if not splits:
        for row in kept:
            row["childTransactionUuids"] = []
        children = []
    seed["transactions"] = kept + children
    # Pending clears are settled only by explicit calls; they would dangle after trimming.
    seed.pop("scheduledClears", None)
    return seed


def _accelerate_divvy_emulator() -> None:
    """Make the emulator's transaction list cost O(page) per request; responses are unchanged.

    The emulator deep-copies, filters and sorts every stored row on every page request (1.6 s
    per page at 20,000 rows: ten minutes for one walk), which would measure the emulator, not
    the hook. In this server-only process nothing writes to the data, so the listable rows are
    gathered once, and each distinct ``filters``/``sort`` is validated, filtered and ordered
    once by the emulator's own ``list_page``; every request then only slices its page.
    """
    from sandbox.divvy_api import api
    from sandbox.divvy_api.paging import paginate, parse_max
    from sandbox.divvy_api.state import DivvyState

    listable: dict[int, list[dict[str, Any]]] = {}
    ordered: dict[tuple[str | None, str | None], list[dict[str, Any]]] = {}
    list_page = api.list_page

    def parent_transactions(self: DivvyState) -> list[dict[str, Any]]:
        if id(self) not in listable:
            with self.lock:
                listable[id(self)] = [
                    t for t in self.transactions.values() if not t["parentTransactionUuid"]
                ]
        return listable[id(self)]

    def transactions_page(rows: list[dict[str, Any]], query: Any, **kwargs: Any) -> Any:
        if kwargs["specs"] is not api.TRANSACTION_FILTERS:
            return list_page(rows, query, **kwargs)
        key = (query.get("filters"), query.get("sort"))
        if key not in ordered:
            # One page as large as the table is the whole filtered, ordered list.
            whole = {k: v for k, v in query.items() if k in ("filters", "sort")}
            whole["max"] = str(max(len(rows), 1))
            ordered[key] = list_page(rows, whole, **{**kwargs, "upper": max(len(rows), 1)})[
                "results"
            ]
        size = parse_max(query.get("max"), kwargs["upper"])
        page, nxt, prev = paginate(ordered[key], size, query.get("nextPage"), query.get("prevPage"))
        return {"results": page, "nextPage": nxt, "prevPage": prev}

    DivvyState.parent_transactions = parent_transactions  # type: ignore[method-assign]
    api.list_page = transactions_page


#: The server's own limit when none is asked for: lifted, so a benchmark measures the client
#: (whose limiter then gets a matching tiny window, see divvy_extract).
UNLIMITED = 10_000_000


@contextlib.contextmanager
def _serve_divvy(
    rows: int,
    calls_per_window: int = UNLIMITED,
    window_seconds: float = 60.0,
    splits: bool = True,
) -> Iterator[dict[str, Any]]:
    from sandbox.divvy_api import server as divvy_server
    from sandbox.divvy_api.testing import running_divvy

    _accelerate_divvy_emulator()
    with running_divvy(
        divvy_seed(rows, splits=splits),
        calls_per_minute=calls_per_window,
        window_seconds=window_seconds,
    ) as handle:
        _serve_stats(divvy_server._Handler, lambda: _divvy_stats(handle))
        yield {"url": handle.url, "token": handle.token}


STATS_PATH = "/_bench/stats"  # benchmark-only: what the server was asked, as JSON


def _serve_stats(handler_class: type, stats: Any) -> None:
    """Answer ``GET /_bench/stats`` with ``stats()`` (never counted as a request itself)."""
    do_get = handler_class.do_GET

    def do_GET(self: Any) -> None:
        if self.path != STATS_PATH:
            do_get(self)
            return
        body = json.dumps(stats()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    handler_class.do_GET = do_GET


def _count_intacct_requests(gateway: Any) -> Any:
    """Count each gateway request as a write (any function outside the read functions) or a
    read, and its functions by name; the parsed requests are not kept (100k transactions
    would hold a thousand request trees in this process)."""
    import collections
    import threading

    from intacct_hook.intacct.request import READ_FUNCTIONS

    lock = threading.Lock()
    counts: dict[str, Any] = {"write": 0, "read": 0, "functions": collections.Counter()}
    handle = gateway.handle

    def counted(body: bytes) -> tuple[int, bytes]:
        answer = handle(body)
        with gateway.state.lock:
            roots, gateway.requests[:] = list(gateway.requests), []
        with lock:
            for root in roots:
                names = [
                    child.tag
                    for fn in root.iterfind("operation/content/function")
                    for child in fn
                    if isinstance(child.tag, str)
                ]
                counts["write" if set(names) - READ_FUNCTIONS else "read"] += 1
                counts["functions"].update(names)
        return answer

    gateway.handle = counted

    def stats() -> dict[str, Any]:
        with lock:
            return {**counts, "functions": dict(counts["functions"])}

    return stats


def _divvy_stats(handle: Any) -> dict[str, Any]:
    """What the Divvy server answered so far: requests by path kind and status."""
    requests = handle.requests
    by_status: dict[str, int] = {}
    lists = by_id = 0
    for r in requests:
        by_status[str(r.status)] = by_status.get(str(r.status), 0) + 1
        if r.path.rstrip("/").endswith("/v3/spend/transactions"):
            lists += 1
        elif "/v3/spend/transactions/" in r.path:
            by_id += 1
    return {"requests": len(requests), "by_status": by_status, "lists": lists, "by_id": by_id}


@contextlib.contextmanager
def _serve_intacct(concurrency: int = 1, latency: float = 0.0) -> Iterator[dict[str, Any]]:
    from sandbox.intacct_gateway import server as gateway_server
    from sandbox.intacct_gateway.testing import running_gateway

    with running_gateway(concurrency=concurrency, latency=latency) as gateway:
        stats = _count_intacct_requests(gateway._gateway)
        _serve_stats(gateway_server._Handler, stats)
        yield {"url": gateway.url}


def coded_clears(count: int, days: tuple[date, date]) -> list[dict[str, Any]]:
    """``count`` complete CLEAR transactions spread evenly over ``days`` (noon to 8 pm UTC, so
    mid-day in America/Chicago), coded with a GL account and a location the default Intacct
    seed holds, so the map step codes every one of them; deterministic."""
    import random
    from datetime import UTC, datetime, timedelta

    rng = random.Random(GENERATOR_SEED)
    accounts = ("6100 - Office Supplies", "6200 - Travel", "6300 - Meals", "6400 - Software")
    locations = ("100 - Headquarters", "200 - Remote", "300 - Field Office")
    rows = []
    for i in range(count):
        day = days[i % 2]
        at = datetime(day.year, day.month, day.day, 15, tzinfo=UTC) + timedelta(
            seconds=(i // 2) * 28_800 // max(count // 2, 1)
        )
        rows.append(
            {
                "uuid": f"txr_bench{i:07d}{rng.getrandbits(48):012x}",
                "transactionType": "CLEAR",
                "amount": rng.randrange(100, 250_000) / 100,
                "complete": True,
                "merchantName": rng.choice(("Staples", "Delta", "Café Münster", "AWS")),
                "merchantCategoryCode": "5943",
                "occurredTime": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "updatedTime": (at + timedelta(minutes=5))
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "userUuid": "usr_member000000000000000000002",
                "budgetUuid": "bgt_operations00000000000000001",
                "cardUuid": "crd_jane000000000000000000000001",
                "customFields": {
                    "GL Account": rng.choice(accounts),
                    "Location": rng.choice(locations),
                },
            }
        )
    return rows


@contextlib.contextmanager
def _serve_divvy_clears(count: int, days: tuple[date, date]) -> Iterator[dict[str, Any]]:
    """The default Divvy company holding ``count`` coded clears over ``days``; no rate limit
    on the server (the client's limiter gets a tiny window), list pages of O(page)."""
    from sandbox.divvy_api import server as divvy_server
    from sandbox.divvy_api.testing import running_divvy

    seed = json.loads((ROOT_DIR / "sandbox/divvy_api/seeds/default.json").read_text())
    seed["transactions"] = []
    seed.pop("scheduledClears", None)
    _accelerate_divvy_emulator()
    with running_divvy(seed, calls_per_minute=10_000_000) as handle:
        for row in coded_clears(count, days):
            handle.state.add_transaction(row, bump=False)
        _serve_stats(divvy_server._Handler, lambda: _divvy_stats(handle))
        yield {"url": handle.url, "token": handle.token}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._servers")
    parser.add_argument("kind", choices=("divvy", "divvy-clears", "intacct"))
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1, help="gateway: API jobs at once")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="gateway: ms per job")
    parser.add_argument("--days", default="", help="two ISO dates, comma-separated")
    parser.add_argument("--calls-per-window", type=int, default=UNLIMITED)
    parser.add_argument("--window-seconds", type=float, default=60.0)
    parser.add_argument("--no-splits", action="store_true", help="divvy: undo every split")
    args = parser.parse_args(argv)
    server: Any
    if args.kind == "divvy":
        server = _serve_divvy(
            args.rows, args.calls_per_window, args.window_seconds, not args.no_splits
        )
    elif args.kind == "divvy-clears":
        first, second = (date.fromisoformat(d) for d in args.days.split(","))
        server = _serve_divvy_clears(args.rows, (first, second))
    else:
        server = _serve_intacct(args.concurrency, args.latency_ms / 1000)
    with server as info:
        print(json.dumps(info), flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin (or exits)
    return 0


class ChildServer:
    """A server child process; ``info`` is what it printed (URL, token)."""

    def __init__(
        self,
        kind: str,
        *,
        rows: int = 0,
        timeout: float = 120.0,
        concurrency: int = 1,
        latency_ms: float = 0.0,
        calls_per_window: int = UNLIMITED,
        window_seconds: float = 60.0,
        args: Sequence[str] = (),
    ) -> None:
        cmd = [sys.executable, "-m", "benchmarks._servers", kind, "--rows", str(rows)]
        cmd += ["--concurrency", str(concurrency), "--latency-ms", str(latency_ms)]
        cmd += ["--calls-per-window", str(calls_per_window)]
        cmd += ["--window-seconds", str(window_seconds), *args]
        self.process = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait(timeout=timeout)
            raise RuntimeError(f"the {kind} server process exited with {code} before serving")
        self.info: dict[str, Any] = json.loads(line)

    def stats(self) -> dict[str, Any]:
        """What the server counted so far (``GET /_bench/stats``)."""
        import urllib.parse
        import urllib.request

        url = urllib.parse.urlsplit(self.info["url"])
        with urllib.request.urlopen(
            f"{url.scheme}://{url.netloc}{STATS_PATH}", timeout=30
        ) as answer:
            result: dict[str, Any] = json.loads(answer.read())
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.terminate()  # only our own child, by its handle
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> ChildServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    raise SystemExit(main())


def intacct_hook(server: ChildServer, conn_id: str) -> Any:
    """An ``IntacctHook`` signed in to the child gateway as the default seed's company (the
    connection set as ``AIRFLOW_CONN_<conn_id>``, as a deployment would)."""
    import os

    from intacct_hook.hooks.intacct import IntacctHook
    from sandbox.intacct_gateway.testing import default_connection

    conn = default_connection(server.info["url"], timeout=60)
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    return IntacctHook(intacct_conn_id=conn_id)


def divvy_hook(server: ChildServer, conn_id: str, *, window: float = 0.001, calls: int = 60) -> Any:
    """A ``DivvyHook`` on the child Divvy API (the connection set as ``AIRFLOW_CONN_<conn_id>``).

    ``calls`` per ``window`` seconds is the client's limiter; the default 1 ms window lifts it
    (60 calls per window is the most the hook accepts), for benchmarks that measure the client.
    """
    import os

    from intacct_hook.hooks.divvy import DivvyHook

    conn = {
        "conn_type": "divvy",
        "host": server.info["url"],
        "password": server.info["token"],
        "extra": {"timeout": 30},
    }
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    return DivvyHook(divvy_conn_id=conn_id, calls_per_minute=calls, rate_limit_window=window)
