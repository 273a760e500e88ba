"""What the plain modules need from a logger.

Hooks pass their own ``self.log`` so the lines land in the task log; under Airflow 3 that is a
structlog logger, not a ``logging.Logger``. Both satisfy :class:`WarningLog`.
"""

from __future__ import annotations

from typing import Any, Protocol


class WarningLog(Protocol):
    # Positional-only: logging names the argument ``msg``, structlog ``event``.
    def warning(self, msg: str, /, *args: Any) -> object: ...
