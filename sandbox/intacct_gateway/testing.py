"""Run the gateway inside a test: ``with running_gateway() as gw: ... gw.url ...``."""

from __future__ import annotations

import copy
import datetime as dt
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from lxml import etree

from .functions import store_cctransaction
from .server import Gateway, GatewayHTTPServer, serve
from .state import GatewayState, load_seed, parse_date

#: The default seed's passwords (seeds/default.json): the sender's and the Web Services user's.
DEFAULT_SENDER_PASSWORD = "sender-pass-0001"
DEFAULT_USER_PASSWORD = "ws-user-pass-0001"


def default_connection(url: str, **extra: Any) -> dict[str, Any]:
    """The Airflow connection (JSON form, for ``AIRFLOW_CONN_*``) of the default seed's company
    at ``url``: the setup guide's sender and Web Services user, entity E100. ``extra`` adds or
    replaces extras (``timeout=30``)."""
    return {
        "conn_type": "intacct",
        "host": url,
        "login": "Divvy",
        "password": DEFAULT_USER_PASSWORD,
        "extra": {
            "company_id": "ACME-DEMO",
            "sender_id": "bill.com",
            "sender_password": DEFAULT_SENDER_PASSWORD,
            "entity_id": "E100",
            "timeout": 10,
            **extra,
        },
    }


__all__ = ["GatewayHandle", "running_gateway"]


class GatewayHandle:
    """What a test gets: the URL, the live model, fault injection and convenience readers."""

    def __init__(self, server: GatewayHTTPServer) -> None:
        self._server = server
        self._gateway: Gateway = server.gateway
        with self.state.lock:
            # What reset_records() restores: the books-closed dates as seeded.
            self._seeded_books_closed = {
                cid: copy.deepcopy(company.records("BOOKSCLOSED"))
                for cid, company in self.state.companies.items()
            }

    @property
    def url(self) -> str:
        return self._gateway.endpoint

    @property
    def state(self) -> GatewayState:
        return self._gateway.state

    @property
    def requests(self) -> list[etree._Element]:
        """Every well-formed request document received, oldest first."""
        return self._gateway.requests

    def queue_fault(self, kind: str, count: int = 1, **params: Any) -> None:
        """Make the next ``count`` requests fail with ``kind``.

        Kinds: ``rate_limit`` (429 + GW-0010), ``server_error`` (``status=500|502|503``,
        ``html=False``), ``timeout_after_commit`` / ``cf_524_after_commit`` (process, then 524),
        ``drop_after_commit`` (process, then close the socket), ``drop_before_commit`` (read
        the request, close the socket without processing it), ``latency`` (``seconds=``).
        ``after_function="record_cctransaction"`` holds the fault until a request carrying
        that function has been answered.
        """
        self._gateway.queue_fault(kind, count, **params)

    def clear_faults(self) -> int:
        """Drop the queued faults; returns how many requests they would still have hit."""
        return self._gateway.clear_faults()

    @property
    def concurrency(self) -> int:
        """API jobs the gateway runs at once; more requests wait their turn."""
        return self._gateway.concurrency

    def max_in_flight(self, *, reset: bool = False) -> int:
        """The most requests processed at the same time (never above ``concurrency``)."""
        if reset:
            return self._gateway.reset_max_in_flight()
        return self._gateway.max_in_flight

    def expire_sessions(self) -> None:
        self.state.expire_sessions()

    def reset_records(self) -> None:
        """Start over without restarting: forget every credit card transaction, the control IDs
        remembered under ``uniqueid``, the recorded requests and queued faults, and put the
        books-closed dates back as seeded. Setup objects, users and sessions stay."""
        self.clear_faults()
        with self.state.lock:
            for cid, company in self.state.companies.items():
                company.objects["CCTRANSACTION"] = []
                company.objects["CCTRANSACTIONENTRY"] = []
                company.objects["SUPDOC"] = []
                company.objects["BOOKSCLOSED"] = copy.deepcopy(self._seeded_books_closed[cid])
                company.processed_control_ids.clear()
            self._gateway.requests.clear()

    def cctransactions(self, company_id: str = "ACME-DEMO") -> list[dict[str, Any]]:
        """Stored headers (public fields only), each with its ``lines``."""
        with self.state.lock:
            company = self.state.companies[company_id]
            out = []
            for header in company.records("CCTRANSACTION"):
                rec: dict[str, Any] = {k: v for k, v in header.items() if not k.startswith("_")}
                rec["lines"] = [
                    {k: v for k, v in line.items() if not k.startswith("_")}
                    for line in company.records("CCTRANSACTIONENTRY")
                    if line["RECORDKEY"] == header["RECORDNO"]
                ]
                out.append(rec)
            return out

    def supdocs(self, company_id: str = "ACME-DEMO") -> list[dict[str, Any]]:
        """Stored supporting documents (public fields), each with its ``attachments`` as
        ``(name, type, bytes)``."""
        with self.state.lock:
            company = self.state.companies[company_id]
            return [
                {k: v for k, v in doc.items() if not k.startswith("_")}
                | {"attachments": list(doc.get("_attachments", []))}
                for doc in company.records("SUPDOC")
            ]

    def add_cctransaction(
        self,
        *,
        card_id: str = "Divvy CC Object",
        date: dt.date | str,
        lines: Sequence[Mapping[str, Any]],
        reference_no: str = "",
        payee: str = "",
        description: str = "",
        entity: str = "E100",
        currency: str = "USD",
        company_id: str = "ACME-DEMO",
    ) -> str:
        """Plant a record "posted by someone else" (no validation); returns its RECORDNO.

        ``lines``: mappings with ``ACCOUNTNO`` and ``AMOUNT`` and optionally ``LOCATIONID``,
        ``DEPARTMENTID``, ``CLASSID``, ``PROJECTID``, ``DESCRIPTION``.
        """
        day = date if isinstance(date, dt.date) else parse_date(date)
        with self.state.lock:
            return store_cctransaction(
                self.state.companies[company_id],
                entity=entity,
                card_id=card_id,
                day=day,
                reference_no=reference_no,
                payee=payee,
                description=description,
                currency=currency,
                lines=[{**line, "AMOUNT": Decimal(str(line["AMOUNT"]))} for line in lines],
            )


@contextmanager
def running_gateway(
    seed: str | os.PathLike[str] | dict | None = None,
    *,
    xsd_path: str | os.PathLike[str] | None = None,
    session_timeout_seconds: int = 3600,
    concurrency: int = 1,
    latency: float = 0.0,
) -> Iterator[GatewayHandle]:
    """A gateway on 127.0.0.1 with an ephemeral port, served from a thread, shut down on exit.

    ``seed``: path, dict (deep-copied) or None for ``seeds/default.json``. ``xsd_path``: None uses
    ``$INTACCT_XSD_PATH`` / the shared reference copy; a missing file means structural checks.
    ``concurrency``: API jobs run at once (default 1, the standard level of service), further
    requests queue; ``latency``: seconds each job takes at least.
    """
    state = load_seed(seed, session_timeout_seconds=session_timeout_seconds)
    server = serve(
        state,
        port=0,
        xsd_path=str(xsd_path) if xsd_path is not None else None,
        concurrency=concurrency,
        latency=latency,
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="intacct-gateway",
        daemon=True,
    )
    thread.start()
    try:
        yield GatewayHandle(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
