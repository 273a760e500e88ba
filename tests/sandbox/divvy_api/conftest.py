"""Fixtures: a fresh emulator per test (cheap: one thread, port 0)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.divvy_api.testing import DivvyHandle, running_divvy

BDC_KEYS = {"timestamp", "code", "severity", "category", "message"}


class Client:
    """A thin requests wrapper bound to one emulator and its token."""

    def __init__(self, handle: DivvyHandle) -> None:
        self.handle = handle
        self.session = requests.Session()

    def get(self, path: str, params: Any = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {"apiToken": self.handle.token})
        kwargs.setdefault("timeout", 10)
        return self.session.get(
            f"{self.handle.url}/v3/spend/{path}", params=params, headers=headers, **kwargs
        )

    def walk(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every row of a list, following nextPage with identical parameters."""
        rows: list[dict[str, Any]] = []
        cursor = None
        for _ in range(1000):
            query = dict(params, **({"nextPage": cursor} if cursor else {}))
            response = self.get(path, query)
            assert response.status_code == 200, response.text
            body = response.json()
            rows.extend(body["results"])
            cursor = body["nextPage"]
            if not cursor:
                return rows
        raise AssertionError("cursor never ended")


@pytest.fixture
def divvy() -> Iterator[DivvyHandle]:
    with running_divvy() as handle:
        yield handle


@pytest.fixture
def client(divvy: DivvyHandle) -> Client:
    return Client(divvy)
