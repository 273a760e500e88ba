"""Benchmarks that print figures: speed and memory of the sync's hot paths, with targets.

Run ``python -m benchmarks`` (all) or ``python -m benchmarks <name> [...]``; see README.md.
Figures, not tests: a missed target is printed as MISS and the exit status stays 0; only a
benchmark that crashes makes it non-zero.
"""

from __future__ import annotations

#: Name → module, in the order they run (cheap and self-contained first).
BENCHMARKS: dict[str, str] = {
    "intacct_wire": "benchmarks.bench_intacct_wire",
    "intacct_post": "benchmarks.bench_intacct_post",
    "ledger_stage": "benchmarks.bench_ledger_stage",
    "mapping": "benchmarks.bench_mapping",
    "load_map": "benchmarks.bench_load_map",
    "divvy_extract": "benchmarks.bench_divvy_extract",
    # The real DAG at 1k and 10k transactions (a few minutes); --size 100000 for issue 10's size.
    "e2e": "benchmarks.bench_e2e",
    "extract_stage": "benchmarks.bench_extract_stage",
}
