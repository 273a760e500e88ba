"""A strict local BILL Spend & Expense (Divvy) v3 API for tests and the demo.

See ``README.md`` beside this file for how to run it, the seed format, the generator, the fault
modes and the table of emulator choices.
"""

from __future__ import annotations

from sandbox.divvy_api.server import DivvyServer
from sandbox.divvy_api.state import DivvyState

__all__ = ["DivvyServer", "DivvyState"]
