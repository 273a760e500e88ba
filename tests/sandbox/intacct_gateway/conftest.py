from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator

import pytest

from sandbox.intacct_gateway.testing import GatewayHandle, running_gateway

ROOT = pathlib.Path(__file__).resolve().parents[3]
DEFAULT_SEED = ROOT / "sandbox" / "intacct_gateway" / "seeds" / "default.json"


@pytest.fixture
def gw() -> Iterator[GatewayHandle]:
    with running_gateway() as handle:
        yield handle


@pytest.fixture
def seed() -> dict:
    """A fresh copy of the default seed, for building broken variants."""
    return json.loads(DEFAULT_SEED.read_text())
