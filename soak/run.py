"""Run many schedules against one pair of servers and summarise what they found."""

from __future__ import annotations

import pathlib
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from intacct_hook.sync.report import format_table
from soak.faults import ALL_KINDS, plan
from soak.harness import Problem, ScheduleResult, ScheduleRunner, world

PROBLEM_KINDS = (
    "duplicate",
    "loss",
    "wrong_amount",
    "wrong_date",
    "unexpected",
    "ledger",
    "reconcile",
    "stuck",
    "harness",
)


@dataclass
class SoakReport:
    seed: int
    kinds: tuple[str, ...]
    results: list[ScheduleResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def problems(self) -> list[Problem]:
        return [p for r in self.results for p in r.problems]

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def losses(self) -> int:
        return self.count("loss")

    @property
    def clean(self) -> bool:
        return not self.problems

    def render(self, *, detailed: int = 12) -> str:
        planned: Counter[str] = Counter()
        fired: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        for r in self.results:
            planned.update(r.planned)
            fired.update(r.fired)
            failures.update(r.step_failures)
        totals = Counter(p.kind for p in self.problems)
        summary = [
            {"": "schedules run", "value": len(self.results)},
            {"": "seed", "value": self.seed},
            {"": "faults planned / fired", "value": f"{planned.total()} / {fired.total()}"},
            {
                "": "runs needed (repeats)",
                "value": f"{sum(r.runs for r in self.results)} "
                f"({sum(r.repeats for r in self.results)})",
            },
            {"": "records expected", "value": sum(r.expected for r in self.results)},
            {"": "records in Intacct", "value": sum(r.posted for r in self.results)},
            {"": "duplicates found", "value": totals["duplicate"]},
            {"": "losses found", "value": totals["loss"]},
            *(
                {"": f"{kind} problems", "value": totals[kind]}
                for kind in PROBLEM_KINDS[2:]
                if totals[kind]
            ),
            {"": "wall time", "value": f"{self.seconds:.1f} s"},
        ]
        by_kind = []
        for kind in self.kinds:
            with_kind = [r for r in self.results if kind in r.kinds]
            alone = [r for r in with_kind if r.kinds == [kind]]
            by_kind.append(
                {
                    "fault": kind,
                    "schedules": len(with_kind),
                    "fired": fired[kind],
                    "w/ dup": _having(with_kind, "duplicate"),
                    "w/ loss": _having(with_kind, "loss"),
                    "alone": len(alone),
                    "alone w/ dup": _having(alone, "duplicate"),
                    "alone w/ loss": _having(alone, "loss"),
                    "alone w/ other": sum(
                        1
                        for r in alone
                        if any(p.kind not in ("duplicate", "loss") for p in r.problems)
                    ),
                }
            )
        parts = [
            format_table(summary, title="Soak summary"),
            "",
            format_table(
                by_kind,
                title="Faults by kind: schedules holding it (1-4 kinds each), and those holding "
                "only it ('alone')",
            ),
            "",
            format_table(
                [{"step failure (then repeated)": k, "n": v} for k, v in failures.most_common()],
                title="Why runs failed before their repeats",
            ),
        ]
        problems = self.problems
        if problems:
            with_problems = [r for r in self.results if r.problems]
            parts += [
                "",
                f"Problems found: {len(problems)} in {len(with_problems)} schedule(s)",
            ]
            for r in with_problems[:detailed]:
                parts.append(f"schedule {r.number}: {r.problems[0].replay()}")
                parts.append(f"  faults: {r.fault_list}")
                parts += [f"  {p.kind:<12} {p.detail}" for p in r.problems]
            if len(with_problems) > detailed:
                parts.append(f"… the other {len(with_problems) - detailed}, in short:")
            for r in with_problems[detailed:]:
                counts = Counter(p.kind for p in r.problems)
                found = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
                parts.append(
                    f"schedule {r.number}: {found} | {r.problems[0].replay()} | {r.fault_list}"
                )
        verdict = (
            "OK: no duplicates, no losses"
            if self.clean
            else (
                f"FAILED: {totals['duplicate']} duplicate(s), {totals['loss']} loss(es), "
                f"{len(problems) - totals['duplicate'] - totals['loss']} other problem(s)"
            )
        )
        return "\n".join([*parts, "", verdict])


def _having(results: Sequence[ScheduleResult], kind: str) -> int:
    """How many of ``results`` found at least one problem of ``kind``."""
    return sum(1 for r in results if any(p.kind == kind for p in r.problems))


def run_soak(
    *,
    schedules: int,
    seed: int,
    only: Iterable[int] | None = None,
    kinds: Sequence[str] = ALL_KINDS,
    workdir: pathlib.Path | None = None,
    progress: Callable[[ScheduleResult], None] | None = None,
) -> SoakReport:
    """Run schedules ``1..schedules`` (or just ``only``) with ``seed``; servers start once."""
    numbers = sorted(set(only)) if only else list(range(1, schedules + 1))
    report = SoakReport(seed=seed, kinds=tuple(kinds))
    own = workdir is None
    folder = pathlib.Path(tempfile.mkdtemp(prefix="divvy-intacct-soak-")) if own else workdir
    assert folder is not None
    started = time.monotonic()
    try:
        with world(folder) as w:
            for number in numbers:
                result = ScheduleRunner(w, plan(seed, number, kinds)).execute()
                report.results.append(result)
                if progress is not None:
                    progress(result)
    finally:
        report.seconds = time.monotonic() - started
        if own:
            shutil.rmtree(folder, ignore_errors=True)
    return report
