"""Figures, timing and the printed table shared by all benchmarks."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

_T = TypeVar("_T")


@dataclass(frozen=True)
class Figure:
    """One measured number, with its target when it has one.

    ``value=None`` means the figure could not be measured; ``note`` says why (printed as SKIP).
    """

    name: str
    value: float | None
    unit: str
    target: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "SKIP"
        if self.target is None:
            return "info"
        met = self.value >= self.target if self.higher_is_better else self.value <= self.target
        return "PASS" if met else "MISS"

    def value_text(self) -> str:
        return "-" if self.value is None else _number(self.value, self.unit)

    def target_text(self) -> str:
        if self.target is None:
            return ""
        return ("≥ " if self.higher_is_better else "≤ ") + _number(self.target, self.unit)


@dataclass
class Outcome:
    """What one benchmark produced: its figures, or the error that stopped it."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def _number(value: float, unit: str) -> str:
    if unit == "MiB":
        text = f"{value:,.2f}"
    elif unit in ("x", "s", "ms"):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    return f"{text} {unit}"


def mib(n_bytes: int) -> float:
    return n_bytes / (1024 * 1024)


def timed(fn: Callable[[], _T]) -> tuple[_T, float]:
    """``fn()`` and the wall seconds it took."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def best_rate(work: Callable[[], int], *, min_seconds: float = 1.0, max_rounds: int = 20) -> float:
    """Items per second of ``work`` (which returns how many items it handled), best round.

    The best round, not the mean: on a shared 2-core machine the slow rounds measure other
    processes, while the fastest is what the code can do. At least two rounds, so the first
    round's one-off costs (imports, caches) never decide the figure alone.
    """
    best = 0.0
    spent = 0.0
    rounds = 0
    while rounds < 2 or (spent < min_seconds and rounds < max_rounds):
        count, seconds = timed(work)
        spent += seconds
        rounds += 1
        best = max(best, count / seconds if seconds > 0 else float("inf"))
    return best


@contextmanager
def traced_peak() -> Iterator[list[int]]:
    """Trace Python allocations inside the block; the list gets the peak bytes on exit.

    Only allocations made after entry count, so what the process already holds (the seed, the
    imported modules) is not part of the peak.
    """
    out: list[int] = []
    gc.collect()
    tracemalloc.start()
    try:
        yield out
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append(peak)


def format_table(outcomes: Sequence[Outcome]) -> str:
    """A plain-text table: benchmark, figure, value, target, verdict."""
    header = ("benchmark", "figure", "value", "target", "result")
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for outcome in outcomes:
        if outcome.error is not None:
            rows.append((outcome.name, "(crashed)", "-", "", "ERROR"))
            continue
        for fig in outcome.figures:
            rows.append((outcome.name, fig.name, fig.value_text(), fig.target_text(), fig.verdict))
            if fig.note:
                notes.append(f"{outcome.name} / {fig.name}: {fig.note}")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        # Figures right-aligned so magnitudes line up; names left-aligned.
        parts = [
            cells[i].rjust(widths[i]) if i in (2, 3) else cells[i].ljust(widths[i])
            for i in range(len(cells))
        ]
        return "  ".join(parts).rstrip()

    out = [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    if notes:
        out += ["", "Notes:", *(f"  - {n}" for n in notes)]
    return "\n".join(out)
