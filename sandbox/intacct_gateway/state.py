"""The gateway's live model: senders, companies, users, sessions, records, result sets.

Everything a request touches lives in one :class:`GatewayState` guarded by one lock
(``state.lock``); the server holds it while it executes an operation, and tests that mutate the
model from outside should hold it too.

Records are plain ``dict[str, str]`` holding the *display* text Intacct returns (``active``,
``balancesheet``, ``true``, ``06/30/2026``, ``123.45``). Keys starting with ``_`` are internal and
never returned (e.g. ``_entity``: the owning entity of a record, ``""`` for shared/top level).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import pathlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

DEFAULT_SEED_PATH = pathlib.Path(__file__).with_name("seeds") / "default.json"

# Output field order per object (reference §3.5, §5; architecture.md "Emulator choices").
OBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "GLACCOUNT": (
        "RECORDNO",
        "ACCOUNTNO",
        "TITLE",
        "ACCOUNTTYPE",
        "NORMALBALANCE",
        "CLOSINGTYPE",
        "CLOSINGACCOUNTNO",
        "ALTERNATIVEACCOUNT",
        "STATUS",
        "CATEGORY",
        "TAXABLE",
        "SUBLEDGERCONTROLON",
        "REQUIREDEPT",
        "REQUIRELOC",
        "REQUIREPROJECT",
        "REQUIRETASK",
        "REQUIRECUSTOMER",
        "REQUIREVENDOR",
        "REQUIREEMPLOYEE",
        "REQUIREITEM",
        "REQUIRECLASS",
        "REQUIRECONTRACT",
        "REQUIREWAREHOUSE",
        "MEGAENTITYID",
        "MEGAENTITYNAME",
        "WHENCREATED",
        "WHENMODIFIED",
    ),
    "CREDITCARD": (
        "RECORDNO",
        "CARDID",
        "DESCRIPTION",
        "CARDTYPE",
        "EXP_MONTH",
        "EXP_YEAR",
        "COMMCARD",
        "STATUS",
        "LIABACCTNO",
        "LOCATION",
        "DEPT",
        "VENDORID",
        "LIABILITYTYPE",
        "CURRENCY",
        "MEGAENTITYID",
        "MEGAENTITYNAME",
    ),
    "LOCATION": (
        "RECORDNO",
        "LOCATIONID",
        "NAME",
        "PARENTID",
        "STATUS",
        "CURRENCY",
        "MEGAENTITYID",
        "MEGAENTITYNAME",
    ),
    "DEPARTMENT": ("RECORDNO", "DEPARTMENTID", "TITLE", "PARENTID", "STATUS"),
    "CLASS": ("RECORDNO", "CLASSID", "NAME", "PARENTID", "STATUS"),
    "PROJECT": ("RECORDNO", "PROJECTID", "NAME", "STATUS", "MEGAENTITYID", "MEGAENTITYNAME"),
    "LOCATIONENTITY": ("RECORDNO", "LOCATIONID", "NAME", "REPORTPRINTAS", "CURRENCY", "STATUS"),
    "CCTRANSACTION": (
        "RECORDNO",
        "RECORDID",
        "FINANCIALENTITY",
        "WHENCREATED",
        "TOTALENTERED",
        "TRX_TOTALENTERED",
        "CURRENCY",
        "DESCRIPTION",
        "PAYEE",
        "STATE",
        "REVERSALKEY",
        "REVERSEDKEY",
        "REVERSALDATE",
        "MEGAENTITYID",
        "MEGAENTITYNAME",
        "WHENMODIFIED",
        "SUPDOCID",
        "RECORD_URL",
    ),
    "CCTRANSACTIONENTRY": (
        "RECORDNO",
        "RECORDKEY",
        "LINE_NO",
        "ACCOUNTNO",
        "AMOUNT",
        "TRX_AMOUNT",
        "DESCRIPTION",
        "LOCATIONID",
        "DEPARTMENTID",
        "CLASSID",
        "PROJECTID",
        "CUSTOMERID",
        "VENDORID",
        "EMPLOYEEID",
        "ITEMID",
        "MEGAENTITYID",
        "MEGAENTITYNAME",
    ),
    # [EMULATOR CHOICE] architecture.md: invented object for the books-closed date.
    "BOOKSCLOSED": ("RECORDNO", "CLOSEDTHROUGH", "MEGAENTITYID", "MEGAENTITYNAME"),
    # [EMULATOR CHOICE] README: supporting documents (create_supdoc) and their folders; the
    # read field names are not documented in the references. Attachments are kept in the
    # record's internal "_attachments" (name, type, bytes), never returned by reads.
    "SUPDOCFOLDER": ("RECORDNO", "NAME", "DESCRIPTION", "PARENTFOLDERNAME"),
    "SUPDOC": ("RECORDNO", "SUPDOCID", "SUPDOCNAME", "FOLDER", "DESCRIPTION", "ATTACHMENTS"),
}

# The field readByName matches its keys against (reference §4.4).
NAME_FIELDS: dict[str, str] = {
    "GLACCOUNT": "ACCOUNTNO",
    "CREDITCARD": "CARDID",
    "LOCATION": "LOCATIONID",
    "DEPARTMENT": "DEPARTMENTID",
    "CLASS": "CLASSID",
    "PROJECT": "PROJECTID",
    "LOCATIONENTITY": "LOCATIONID",
    "CCTRANSACTION": "RECORDNO",
    "CCTRANSACTIONENTRY": "RECORDNO",
    "BOOKSCLOSED": "RECORDNO",
    "SUPDOCFOLDER": "NAME",
    "SUPDOC": "SUPDOCID",
}

# readByQuery compares these fields in their internal form (reference §4.1).
RAW_FORMS: dict[str, dict[str, str]] = {
    "STATUS": {"active": "T", "inactive": "F"},
    "ACCOUNTTYPE": {"balancesheet": "N", "incomestatement": "I"},
}

# Objects stored with an owning entity; others are shared by every entity.
ENTITY_OWNED = frozenset({"CCTRANSACTION", "CCTRANSACTIONENTRY", "BOOKSCLOSED"})


def fmt_date(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


def parse_date(text: str) -> dt.date:
    """``MM/DD/YYYY`` (what Intacct returns) or ISO ``YYYY-MM-DD`` (accepted in seeds)."""
    text = text.strip()
    if "-" in text:
        return dt.date.fromisoformat(text)
    return dt.datetime.strptime(text, "%m/%d/%Y").date()


def fmt_amount(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


@dataclass
class User:
    user_id: str
    password: str
    permissions: set[str]  # "*", "OPERATION:*" or "OPERATION:object" (object lower case)
    status: str = "active"

    def may(self, operation: str, obj: str) -> bool:
        obj = obj.lower()
        return bool({"*", f"{operation}:*", f"{operation}:{obj}"} & self.permissions)


@dataclass
class Company:
    company_id: str
    authorized_senders: list[str]
    users: dict[str, User]
    multi_entity: bool
    objects: dict[str, list[dict[str, str]]]
    next_recordno: int = 1000
    # (function controlid) of successful functions run under uniqueid=true
    processed_control_ids: set[str] = field(default_factory=set)
    # Per object, stored field -> the name reads give it (None: reads do not return it). Real
    # field names are undocumented for some objects (CREDITCARD's offset account), so a test can
    # meet an Intacct whose names the hook never guessed. Postings keep using the stored field.
    field_names: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # Objects this company answers "Object definition X not found" for, as if never defined.
    unknown_objects: set[str] = field(default_factory=set)

    def records(self, obj: str) -> list[dict[str, str]]:
        return self.objects.setdefault(obj, [])

    def fields(self, obj: str) -> tuple[str, ...]:
        """The fields reads of ``obj`` return, in order, under the names reads use."""
        names = self.field_names.get(obj, {})
        out = (names.get(f, f) for f in OBJECT_FIELDS[obj])
        return tuple(f for f in out if f is not None)

    def public(self, obj: str, row: dict[str, str]) -> dict[str, str]:
        """``row`` as reads see it: fields renamed or left out per :attr:`field_names`."""
        names = self.field_names.get(obj)
        if not names:
            return row
        out = {k: v for k, v in row.items() if k not in names}
        for stored, shown in names.items():
            if shown is not None and stored in row:
                out[shown] = row[stored]
        return out

    def new_recordno(self) -> str:
        self.next_recordno += 1
        return str(self.next_recordno)

    def find(self, obj: str, fld: str, value: str) -> dict[str, str] | None:
        return next((r for r in self.records(obj) if r.get(fld) == value), None)

    def entity_name(self, entity: str) -> str:
        rec = self.find("LOCATIONENTITY", "LOCATIONID", entity) if entity else None
        return rec.get("NAME", "") if rec else ""

    def snapshot(self) -> dict[str, Any]:
        """What a transaction="true" rollback restores."""
        return {
            "objects": copy.deepcopy(self.objects),
            "next_recordno": self.next_recordno,
            "processed_control_ids": set(self.processed_control_ids),
        }

    def restore(self, snap: Mapping[str, Any]) -> None:
        self.objects = snap["objects"]
        self.next_recordno = snap["next_recordno"]
        self.processed_control_ids = snap["processed_control_ids"]


@dataclass
class Session:
    session_id: str
    company_id: str
    user_id: str
    entity: str  # "" = top level
    started: dt.datetime
    expires: dt.datetime


@dataclass
class ResultSet:
    """A readByQuery cursor: the rows still to deliver, already rendered to display text."""

    result_id: str
    company_id: str
    obj: str
    rows: list[dict[str, str]]
    fields: tuple[str, ...]
    pagesize: int
    totalcount: int


@dataclass
class GatewayState:
    senders: dict[str, str]
    companies: dict[str, Company]
    session_timeout_seconds: int = 3600
    # Tests set a RECORD_URL of their choosing ("{recordno}" is replaced), e.g. a hostile one.
    record_url_format: str | None = None
    sessions: dict[str, Session] = field(default_factory=dict)
    result_sets: dict[str, ResultSet] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- sessions ---------------------------------------------------------------------------
    def open_session(self, company_id: str, user_id: str, entity: str) -> Session:
        now = _now()
        session = Session(
            session_id=secrets.token_urlsafe(24) + "..",
            company_id=company_id,
            user_id=user_id,
            entity=entity,
            started=now,
            expires=now + dt.timedelta(seconds=self.session_timeout_seconds),
        )
        self.sessions[session.session_id] = session
        return session

    def touch(self, session: Session) -> None:
        """Sliding timeout: every call resets the expiry (reference §1.3)."""
        session.expires = _now() + dt.timedelta(seconds=self.session_timeout_seconds)

    def live_session(self, session_id: str) -> Session | None:
        session = self.sessions.get(session_id)
        if session is None or session.expires <= _now():
            self.sessions.pop(session_id, None)
            return None
        return session

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()
            self.result_sets.clear()

    def new_result_id(self) -> str:
        return secrets.token_hex(16)


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


# --------------------------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------------------------


def load_seed_dict(seed: str | os.PathLike[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """The seed as a fresh dict (a deep copy when a dict is given, so callers can reuse it)."""
    if seed is None:
        seed = DEFAULT_SEED_PATH
    if isinstance(seed, Mapping):
        return copy.deepcopy(dict(seed))
    return json.loads(pathlib.Path(seed).read_text(encoding="utf-8"))


def load_seed(
    seed: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    session_timeout_seconds: int = 3600,
) -> GatewayState:
    """Build a :class:`GatewayState` from a seed path, a seed dict, or the default seed."""
    data = load_seed_dict(seed)
    companies: dict[str, Company] = {}
    for company_id, spec in data["companies"].items():
        roles: dict[str, list[str]] = spec.get("roles", {})
        users = {}
        for user_id, user in spec.get("users", {}).items():
            perms = set(user.get("permissions", []))
            for role in user.get("roles", []):
                perms.update(roles.get(role, []))
            users[user_id] = User(user_id, user["password"], perms, user.get("status", "active"))
        company = Company(
            company_id=company_id,
            authorized_senders=list(spec.get("authorized_senders", [])),
            users=users,
            multi_entity=bool(spec.get("multi_entity", False)),
            objects={},
            next_recordno=int(spec.get("next_recordno", 1000)),
            field_names=_field_names(spec.get("field_names", {})),
            unknown_objects={o.upper() for o in spec.get("unknown_objects", [])},
        )
        for obj in OBJECT_FIELDS:
            company.objects[obj] = []
        for obj, rows in spec.get("objects", {}).items():
            for row in rows:
                _add_seed_record(company, obj.upper(), row)
        closed = spec.get("books_closed_through", {})
        for entity, day in closed.items():
            _add_seed_record(
                company,
                "BOOKSCLOSED",
                {
                    "CLOSEDTHROUGH": fmt_date(parse_date(day)),
                    "MEGAENTITYID": entity,
                },
            )
        companies[company_id] = company
    return GatewayState(
        senders=dict(data.get("senders", {})),
        companies=companies,
        session_timeout_seconds=session_timeout_seconds,
    )


def _field_names(spec: Mapping[str, Mapping[str, str | None]]) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for obj, names in spec.items():
        obj = obj.upper()
        unknown = [f for f in names if f.upper() not in OBJECT_FIELDS.get(obj, ())]
        if obj not in OBJECT_FIELDS or unknown:
            raise ValueError(f"seed: field_names names unknown {obj!r} fields {unknown}")
        out[obj] = {f.upper(): (n.upper() if n else None) for f, n in names.items()}
    return out


def _add_seed_record(company: Company, obj: str, row: Mapping[str, Any]) -> None:
    if obj not in OBJECT_FIELDS:
        raise ValueError(f"seed: unknown object {obj!r}")
    record = {k: _display(v) for k, v in row.items()}
    record.setdefault("RECORDNO", company.new_recordno())
    entity = record.get("MEGAENTITYID", "") if obj in ENTITY_OWNED else ""
    record["_entity"] = record.pop("_entity", entity)
    if "MEGAENTITYID" in OBJECT_FIELDS[obj]:
        record.setdefault("MEGAENTITYID", "")
        record.setdefault("MEGAENTITYNAME", company.entity_name(record["MEGAENTITYID"]))
    company.records(obj).append(record)


def _display(value: Any) -> str:
    """Seeds may use JSON booleans/numbers; the model only holds Intacct's display text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
