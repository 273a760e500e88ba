"""A strict local Sage Intacct XML gateway for tests and the demo (no Airflow imports)."""

from __future__ import annotations
