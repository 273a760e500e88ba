"""First checks of the local Divvy API over real HTTP: list, auth, paging basics."""

from __future__ import annotations

import requests

from sandbox.divvy_api.testing import running_divvy


def test_lists_parents_newest_first_and_rejects_missing_token() -> None:
    with running_divvy() as divvy:
        url = f"{divvy.url}/v3/spend/transactions"
        response = requests.get(url, headers={"apiToken": divvy.token}, timeout=5)
        assert response.status_code == 200
        body = response.json()
        times = [row["occurredTime"] for row in body["results"]]
        assert times == sorted(times, reverse=True)
        assert all(row["parentTransactionUuid"] is None for row in body["results"])
        assert "txr_seedsplt0006child0000000001" not in {r["uuid"] for r in body["results"]}

        anonymous = requests.get(url, timeout=5)
        assert anonymous.status_code == 401
        assert anonymous.json()[0]["code"].startswith("BDC_")
