"""Intacct wire format: building write requests and parsing responses, without the network.

Requests are built exactly as the hook builds them for each batch: one ``record_cctransaction``
function per transaction (lxml, schema element order) inside a session-authenticated envelope,
serialized to bytes. The responses parsed are the local gateway's real answers (its protocol
engine called directly, no socket): a 1,000-row ``readByQuery`` of CCTRANSACTION (the page size
the hook's lookups and reconciliation read) and the 100 results of one write request.

Targets:

* **build ≥ 2,000 transactions/s** (batches of 100). A heavy day is a few thousand card
  transactions; at this rate building them costs about a second, against Intacct's own
  latency of roughly a second per 100-function request.
* **parse ≥ 20,000 rows/s** (readByQuery, 1,000 rows per page). Reconciliation and the
  "already posted?" lookups read back a month of CCTRANSACTION records; parsing a
  100,000-record month must take seconds, so the daily run is never waiting on XML.
"""

from __future__ import annotations

import os
from typing import Any

from benchmarks._harness import Figure, best_rate

NAME = "intacct_wire"
BATCH = 100
BUILD_TARGET = 2_000.0
PARSE_TARGET = 20_000.0
READ_ROWS = 1_000

SENDER_ID = "bill.com"
SENDER_PASSWORD = "sender-pass-0001"
USER_ID = "Divvy"
USER_PASSWORD = "ws-user-pass-0001"
COMPANY_ID = "ACME-DEMO"
ENTITY_ID = "E100"


def _request(functions: list[Any], session_id: str, *, unique_id: bool = False) -> bytes:
    from intacct_hook.intacct import request as rq

    return rq.build_request(
        control=rq.control_block(
            sender_id=SENDER_ID, sender_password=SENDER_PASSWORD, unique_id=unique_id
        ),
        auth=rq.session_auth(session_id),
        functions=functions,
    )


def gateway_bodies() -> tuple[bytes, bytes, dict[str, str]]:
    """``(write_response, read_response, records)`` from the gateway's protocol engine.

    ``write_response`` answers one request of ``BATCH`` writes; ``read_response`` is one page of
    ``READ_ROWS`` CCTRANSACTION rows; ``records`` maps the writes' control IDs to references.
    """
    from benchmarks._data import cc_transactions
    from intacct_hook.intacct import request as rq
    from intacct_hook.intacct.response import parse_response
    from sandbox.intacct_gateway.functions import store_cctransaction
    from sandbox.intacct_gateway.server import Gateway
    from sandbox.intacct_gateway.state import load_seed

    gateway = Gateway(load_seed(None), os.environ.get("INTACCT_XSD_PATH"))
    login = rq.build_request(
        control=rq.control_block(sender_id=SENDER_ID, sender_password=SENDER_PASSWORD),
        auth=rq.login_auth(
            user_id=USER_ID, company_id=COMPANY_ID, password=USER_PASSWORD, entity_id=ENTITY_ID
        ),
        functions=[rq.get_api_session()],
    )
    _status, body = gateway.handle(login)
    session_id = str(parse_response(body).results[0].raise_for_status().data[0]["sessionid"])

    writes = cc_transactions(BATCH, prefix="wire-")
    records = {t.control_id: t.reference_no for t in writes}
    _status, write_body = gateway.handle(
        _request([rq.record_cctransaction(t) for t in writes], session_id, unique_id=True)
    )
    # Planted directly (no validation) to fill the page; the gateway stores them like writes.
    company = gateway.state.companies[COMPANY_ID]
    for txn in cc_transactions(READ_ROWS - BATCH, prefix="planted-", seed=7):
        store_cctransaction(
            company, entity=ENTITY_ID, card_id=txn.card_id, day=txn.payment_date,
            reference_no=txn.reference_no, payee=txn.payee or "",
            description=txn.description or "", currency="USD",
            lines=[
                {"ACCOUNTNO": ln.gl_account_no, "AMOUNT": ln.amount, "LOCATIONID": ln.location_id}
                for ln in txn.lines
            ],
        )  # fmt: skip
    _status, read_body = gateway.handle(
        _request([rq.read_by_query("CCTRANSACTION", "", page_size=READ_ROWS)], session_id)
    )
    return write_body, read_body, records


def run() -> list[Figure]:
    from benchmarks._data import cc_transactions
    from intacct_hook.intacct import request as rq
    from intacct_hook.intacct.response import parse_response

    txns = cc_transactions(1_000, prefix="build-")
    batches = [txns[i : i + BATCH] for i in range(0, len(txns), BATCH)]
    sizes: list[int] = []

    def build() -> int:
        for batch in batches:
            sizes.append(len(_request([rq.record_cctransaction(t) for t in batch], "s" * 40)))
        return len(txns)

    build_rate = best_rate(build)

    write_body, read_body, records = gateway_bodies()
    write_results = parse_response(write_body, records=records).results
    posted = sum(1 for r in write_results if r.ok)
    if posted != BATCH:
        raise AssertionError(f"the gateway accepted {posted} of {BATCH} writes")
    (read_result,) = parse_response(read_body).results
    if len(read_result.raise_for_status().data) != READ_ROWS:
        raise AssertionError(f"the read page has {len(read_result.data)} rows, not {READ_ROWS}")

    def parse_read() -> int:
        return len(parse_response(read_body).results[0].data)

    def parse_writes() -> int:
        return len(parse_response(write_body, records=records).results)

    return [
        Figure(f"build record_cctransaction, batches of {BATCH}", build_rate, "txn/s",
               BUILD_TARGET),
        Figure(f"request size, {BATCH} transactions", sum(sizes) / len(sizes) / 1024, "KiB"),
        Figure(f"parse readByQuery, {READ_ROWS:,} rows", best_rate(parse_read), "rows/s",
               PARSE_TARGET),
        Figure(f"parse write results, {BATCH} per response", best_rate(parse_writes),
               "results/s"),
        Figure(f"readByQuery response size, {READ_ROWS:,} rows", len(read_body) / 1024, "KiB"),
    ]  # fmt: skip
