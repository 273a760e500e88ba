"""HTTP front of the gateway: envelope checks, authentication, function dispatch, faults.

Request pipeline (reference §8): HTTP faults → parse (GW-0011 / HTTP 400) → schema
(XL03000003, control failure) → control (sender, dtdversion, policyid) → per operation:
authentication → functions (transaction / uniqueid semantics) → after-commit faults.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lxml import etree

from . import schema as schema_mod
from .functions import ERR_DUPLICATE_CONTROLID, HANDLERS, Context, FunctionFailure
from .responses import (
    ROLLED_BACK,
    GwError,
    control_block,
    errormessage,
    gateway_error_body,
    serialize,
    sub,
)
from .state import Company, GatewayState, Session, User

GATEWAY_PATH = "/ia/xml/xmlgw.phtml"
XML_CONTENT_TYPES = ("application/xml", "text/xml")
ADMIN_PREFIX = "/_gateway/"  # test/demo controls; not part of Intacct
CONTENT_TYPE = 'text/xml; encoding="UTF-8"'
FAULT_KINDS = frozenset(
    {
        "rate_limit",
        "server_error",
        "timeout_after_commit",
        "cf_524_after_commit",
        "drop_after_commit",
        "drop_before_commit",
        "latency",
    }
)


class _Fail(Exception):
    """Envelope-level failure: ``level`` is ``control`` or ``authentication``."""

    def __init__(self, level: str, *errors: GwError) -> None:
        super().__init__(errors[0].description)
        self.level = level
        self.errors = list(errors)


@dataclass
class Fault:
    kind: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)
    # With params["after_function"], the fault waits until a request carrying that function
    # has been answered, so a test can fail "the read after the write" wherever it comes.
    armed: bool = True


class Gateway:
    """The protocol engine, independent of the socket server (so it is easy to reason about)."""

    def __init__(
        self,
        state: GatewayState,
        xsd_path: str | None = None,
        *,
        concurrency: int = 1,
        latency: float = 0.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("the concurrency limit is at least 1")
        if latency < 0:
            raise ValueError("latency cannot be negative")
        self.state = state
        self.schema = schema_mod.load_schema(xsd_path)
        self.endpoint = ""  # set once the server knows its port
        self.requests: list[etree._Element] = []
        self._faults: collections.deque[Fault] = collections.deque()
        self._fault_lock = threading.Lock()
        # API jobs run at once (§6: the standard level of service runs one per company and
        # queues the rest); each takes at least `latency` seconds, as Intacct's round trip does.
        self.concurrency = concurrency
        self.latency = latency
        self._jobs = threading.BoundedSemaphore(concurrency)
        self._job_lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    @contextlib.contextmanager
    def job(self) -> Iterator[None]:
        """One API job: waits (queued) while `concurrency` jobs run, then holds a slot for
        at least `latency` seconds and its processing."""
        with self._jobs:
            with self._job_lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if self.latency:
                    time.sleep(self.latency)
                yield
            finally:
                with self._job_lock:
                    self.in_flight -= 1

    def reset_max_in_flight(self) -> int:
        """The most jobs that ran at once since the last reset; starts counting again."""
        with self._job_lock:
            seen, self.max_in_flight = self.max_in_flight, self.in_flight
            return seen

    # -- faults -----------------------------------------------------------------------------
    def queue_fault(self, kind: str, count: int = 1, **params: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if kind == "timeout_after_commit":
            kind = "cf_524_after_commit"
        with self._fault_lock:
            self._faults.append(Fault(kind, count, params, armed="after_function" not in params))

    def clear_faults(self) -> int:
        """Drop every queued fault; returns how many requests they would still have hit."""
        with self._fault_lock:
            left = sum(f.remaining for f in self._faults)
            self._faults.clear()
            return left

    def next_fault(self) -> Fault | None:
        with self._fault_lock:
            fault = next((f for f in self._faults if f.armed), None)
            if fault is None:
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            return fault

    def _arm_faults_after(self, root: etree._Element) -> None:
        names = {
            child.tag
            for fn in root.iterfind("operation/content/function")
            for child in fn
            if isinstance(child.tag, str)
        }
        with self._fault_lock:
            for fault in self._faults:
                if fault.params.get("after_function") in names:
                    fault.armed = True

    # -- protocol ---------------------------------------------------------------------------
    def handle(self, body: bytes) -> tuple[int, bytes]:
        try:
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            root = etree.fromstring(body, parser)
        except (etree.XMLSyntaxError, ValueError):
            # [EMULATOR CHOICE] non-XML body: HTTP 400 with GW-0011 (reference §8.1)
            return 400, gateway_error_body(
                "GW-0011", "Invalid Request", "The request body is not a well-formed XML document."
            )
        with self.state.lock:
            self.requests.append(root)
            body_out = serialize(self._respond(root))
        self._arm_faults_after(root)
        return 200, body_out

    def _respond(self, root: etree._Element) -> etree._Element:
        response = etree.Element("response")
        echo = _control_echo(root)
        errors = schema_mod.validate(root, self.schema)
        try:
            if errors:
                raise _Fail("control", GwError("XL03000003", "XML parse error", errors[0]))
            self._check_control(root)
        except _Fail as fail:
            control_block(response, "failure", echo)
            response.append(errormessage(fail.errors))
            return response
        control_block(response, "success", echo)
        unique = (root.findtext("control/uniqueid") or "").strip().lower() == "true"
        for operation in root.findall("operation"):
            response.append(self._operation(operation, unique))
        return response

    def _check_control(self, root: etree._Element) -> None:
        sender = root.findtext("control/senderid") or ""
        password = root.findtext("control/password")
        if self.state.senders.get(sender) is None or self.state.senders[sender] != password:
            raise _Fail(
                "control", GwError("XL03000006", "Incorrect Intacct XML Partner ID or password.")
            )
        dtd = (root.findtext("control/dtdversion") or "3.0").strip()
        if dtd != "3.0":
            # [EMULATOR CHOICE] only 3.0 is implemented
            raise _Fail(
                "control",
                GwError("XL03000003", f"dtdversion {dtd} is not supported by this gateway"),
            )
        policy = root.findtext("control/policyid")
        if policy is not None:
            raise _Fail(
                "control", GwError("XL03000006", f"{policy} is not a valid transport policy.")
            )

    def _operation(self, operation: etree._Element, unique: bool) -> etree._Element:
        out = etree.Element("operation")
        sender = operation.getparent().findtext("control/senderid") or ""
        try:
            company, user, entity, session = self._authenticate(operation, sender)
        except _Fail as fail:
            auth = sub(out, "authentication")
            sub(auth, "status", "failure")
            login = operation.find("authentication/login")
            if login is not None:
                sub(auth, "userid", login.findtext("userid") or "")
                sub(auth, "companyid", login.findtext("companyid") or "")
            out.append(errormessage(fail.errors))
            return out
        started = session.started if session else dt.datetime.now().astimezone()
        expires = (
            session.expires
            if session
            else started + dt.timedelta(seconds=self.state.session_timeout_seconds)
        )
        auth = sub(out, "authentication")
        sub(auth, "status", "success")
        sub(auth, "userid", user.user_id)
        sub(auth, "companyid", company.company_id)
        sub(auth, "locationid", entity)
        sub(
            auth,
            "sessiontimestamp",
            dt.datetime.now().astimezone().replace(microsecond=0).isoformat(),
        )
        sub(auth, "sessiontimeout", expires.replace(microsecond=0).isoformat())
        transaction = operation.get("transaction", "false") == "true"
        functions = operation.findall("content/function")
        snapshot = company.snapshot() if transaction else None
        results: list[tuple[etree._Element, str, list[etree._Element] | list[GwError]]] = []
        failed_at: int | None = None
        for i, fn in enumerate(functions):
            ctx = Context(
                self.state, company, user, entity, session, self.endpoint, fn.get("controlid", "")
            )
            status, payload = self._run(ctx, fn, unique)
            results.append((fn, status, payload))
            if status == "failure" and transaction:
                failed_at = i
                break
        if transaction and failed_at is not None:
            assert snapshot is not None
            company.restore(snapshot)
            final = []
            for i, fn in enumerate(functions):
                if i == failed_at:
                    errs = [*results[i][2], ROLLED_BACK]
                    final.append((fn, "failure", errs))
                else:
                    final.append((fn, "aborted", [ROLLED_BACK]))
            results = final
        for fn, status, payload in results:
            out.append(_result(fn, status, payload))
        return out

    def _run(self, ctx: Context, fn: etree._Element, unique: bool):
        element = next(c for c in fn if isinstance(c.tag, str))
        key = ctx.control_id
        if unique and key in ctx.company.processed_control_ids:
            return "failure", [
                GwError(
                    ERR_DUPLICATE_CONTROLID,
                    f"A function with control ID '{key}' has already been processed",
                )
            ]
        handler = HANDLERS.get(element.tag)
        if handler is None:
            # valid per api.xsd but not emulated: say so instead of pretending
            return "failure", [
                GwError(
                    "DL02000001",
                    "",
                    f"Function {element.tag} is not supported by the local gateway",
                )
            ]
        try:
            payload = handler(ctx, element)
        except FunctionFailure as failure:
            return "failure", failure.errors
        if unique:
            # [EMULATOR CHOICE] only successful functions of uniqueid=true requests count
            ctx.company.processed_control_ids.add(key)
        return "success", payload

    def _authenticate(
        self, operation: etree._Element, sender: str
    ) -> tuple[Company, User, str, Session | None]:
        login = operation.find("authentication/login")
        if login is not None:
            company_id = (login.findtext("companyid") or "").strip()
            entity = (login.findtext("locationid") or "").strip()
            if "|" in company_id and not entity:
                company_id, entity = company_id.split("|", 1)  # older pipe form (§1.2)
            company = self.state.companies.get(company_id)
            self._check_sender(company, sender, company_id)
            user = company.users.get(login.findtext("userid") or "") if company else None
            if (
                company is None
                or user is None
                or user.password != login.findtext("password")
                or user.status != "active"
            ):
                raise _Fail(
                    "authentication", GwError("XL03000006", "Sign-in information is incorrect")
                )
            if entity and not _is_entity(company, entity):
                # [EMULATOR CHOICE] text, architecture.md
                raise _Fail(
                    "authentication", GwError("XL03000006", f"Invalid entity ID '{entity}'")
                )
            return company, user, entity, None
        if operation.find("authentication/sessionid") is not None:
            session = self.state.live_session(operation.findtext("authentication/sessionid") or "")
            if session is None:
                # [EMULATOR CHOICE] text, architecture.md
                raise _Fail("authentication", GwError("XL03000006", "Invalid session"))
            company = self.state.companies[session.company_id]
            self._check_sender(company, sender, session.company_id)
            self.state.touch(session)
            return company, company.users[session.user_id], session.entity, session
        raise _Fail(
            "authentication",
            GwError(
                "XL03000006",
                "Sign-in information is incorrect",
                "This gateway supports login and sessionid authentication only",
            ),
        )

    @staticmethod
    def _check_sender(company: Company | None, sender: str, company_id: str) -> None:
        if company is not None and sender not in company.authorized_senders:
            raise _Fail(
                "authentication",
                GwError(
                    "XL03000006",
                    "Invalid Web Services Authorization",
                    f"The sender ID '{sender}' is not authorized to make Web Services requests to "
                    f"company ID '{company_id}'.",
                    "Contact the company administrator to grant Web Services authorization to this "
                    "sender ID.",
                ),
            )


def _is_entity(company: Company, entity: str) -> bool:
    rec = company.find("LOCATIONENTITY", "LOCATIONID", entity)
    return company.multi_entity and rec is not None and rec.get("STATUS") == "active"


def _control_echo(root: etree._Element) -> list[tuple[str, str]]:
    control = root.find("control") if root.tag == "request" else None
    echo = []
    for tag in ("senderid", "controlid", "uniqueid", "dtdversion"):
        text = control.findtext(tag) if control is not None else None
        echo.append(
            (
                tag,
                text
                if text is not None
                else {"uniqueid": "false", "dtdversion": "3.0"}.get(tag, ""),
            )
        )
    return echo


def _result(fn: etree._Element, status: str, payload: list) -> etree._Element:
    result = etree.Element("result")
    sub(result, "status", status)
    element = next((c for c in fn if isinstance(c.tag, str)), None)
    sub(result, "function", element.tag if element is not None else "")
    sub(result, "controlid", fn.get("controlid", ""))
    if status == "success":
        for child in payload:
            result.append(child)
    else:
        result.append(errormessage(payload))
    return result


# --------------------------------------------------------------------------------------------
# socket server
# --------------------------------------------------------------------------------------------

_CF_524_HTML = (
    b"<!DOCTYPE html><html><head><title>524: A timeout occurred</title></head>"
    b"<body><h1>Error 524</h1><p>A timeout occurred (Cloudflare).</p></body></html>"
)
_HTML_5XX = (
    b"<!DOCTYPE html><html><head><title>{status}</title></head><body>"
    b"<h1>{status}</h1><p>The Service is Temporarily Off-line</p></body></html>"
)


class _Handler(BaseHTTPRequestHandler):
    server: GatewayHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, delayed ACKs add ~40 ms to
    # every request on a kept-alive connection (as in the Divvy emulator).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str = CONTENT_TYPE) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._read_body()
        self._send(404, b"Not Found", "text/plain")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        body = self._read_body()
        gateway = self.server.gateway
        if self.path.startswith(ADMIN_PREFIX):
            self._admin(body)
            return
        if self.path.split("?", 1)[0] != GATEWAY_PATH:
            self._send(404, b"Not Found", "text/plain")
            return
        fault = gateway.next_fault()
        if fault is not None and fault.kind == "drop_before_commit":
            # The request was read but never processed: hang up without an answer.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "latency":
            time.sleep(float(fault.params.get("seconds", 1)))
        elif fault is not None and fault.kind == "rate_limit":
            self._send(
                429,
                gateway_error_body(
                    "GW-0010", "Rate limit exceeded", "Too many requests. Back off and retry."
                ),
            )
            return
        elif fault is not None and fault.kind == "server_error":
            status = int(fault.params.get("status", 500))
            if fault.params.get("html"):
                self._send(
                    status, _HTML_5XX.replace(b"{status}", str(status).encode()), "text/html"
                )
            else:
                self._send(status, b"", "text/plain")
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in XML_CONTENT_TYPES:
            # [EMULATOR CHOICE] the gateway takes XML only (reference §1.1, §8.1): another
            # content type is an HTTP 400 with GW-0011, like a body that is not XML.
            self._send(
                400,
                gateway_error_body(
                    "GW-0011",
                    "Invalid Request",
                    f"Content-Type {content_type or '(none)'!r} is not XML; send application/xml.",
                ),
            )
            return
        with gateway.job():
            status, payload = gateway.handle(body)
        if fault is not None and fault.kind == "cf_524_after_commit":
            self._send(524, _CF_524_HTML, "text/html")
        elif fault is not None and fault.kind == "drop_after_commit":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._send(status, payload)

    def _admin(self, body: bytes) -> None:
        action = self.path[len(ADMIN_PREFIX) :].strip("/")
        gateway = self.server.gateway
        try:
            params = json.loads(body or b"{}")
            if action == "faults":
                gateway.queue_fault(params.pop("kind"), int(params.pop("count", 1)), **params)
            elif action == "expire-sessions":
                gateway.state.expire_sessions()
            else:
                self._send(404, b"Not Found", "text/plain")
                return
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, str(exc).encode(), "text/plain")
            return
        self._send(200, b'{"ok": true}', "application/json")


class GatewayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: Gateway, verbose: bool = False):
        super().__init__(address, _Handler)
        self.gateway = gateway
        self.verbose = verbose
        host, port = self.server_address[:2]
        gateway.endpoint = f"http://{host}:{port}{GATEWAY_PATH}"


def serve(
    state: GatewayState,
    host: str = "127.0.0.1",
    port: int = 0,
    xsd_path: str | None = None,
    verbose: bool = False,
    *,
    concurrency: int = 1,
    latency: float = 0.0,
) -> GatewayHTTPServer:
    """Create (not start) a server; call ``serve_forever`` on it or run it in a thread.

    ``concurrency``: API jobs processed at once, more requests queue; ``latency``: seconds each
    job takes at least (a fixed round trip, inside its slot)."""
    gateway = Gateway(state, xsd_path, concurrency=concurrency, latency=latency)
    return GatewayHTTPServer((host, port), gateway, verbose)
