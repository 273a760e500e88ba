"""The endpoints: pure functions from (state, path, query) to (status, JSON body).

Kept free of HTTP plumbing so the rules (validation order, filters, paging) read in one place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.divvy_api import filters as flt
from sandbox.divvy_api.paging import paginate, parse_max
from sandbox.divvy_api.state import (
    RECEIPT_STATUSES,
    SYNC_STATUSES,
    TRANSACTION_TYPES,
    DivvyState,
    sync_status,
)
from sandbox.divvy_api.util import CODE_NOT_FOUND, ApiError, parse_time

Row = dict[str, Any]
PREFIX = "/connect/v3/spend/"


def _time(name: str) -> Callable[[Row], Any]:
    return lambda row: parse_time(row[name]) if row.get(name) else None


def _ids(stem: str) -> Callable[[Row], Any]:
    # Every id filter takes either the base64 id or the prefixed uuid (§2.3 LIVE-3P for budgetId).
    return lambda row: {row.get(f"{stem}Id"), row.get(f"{stem}Uuid")} - {None}


def _cf_ids(row: Row) -> set[str]:
    return {x for f in row.get("customFields") or [] for x in (f.get("id"), f.get("uuid")) if x}


def _cf_value_ids(row: Row) -> set[str]:
    return {
        x
        for f in row.get("customFields") or []
        for v in f.get("selectedValues") or []
        for x in (v.get("id"), v.get("uuid"))
        if x
    }


TIME_OPS = ("gte", "lte")
ENUM_OPS = ("eq", "ne", "in", "nin")
ID_OPS = ("eq", "in")

# §2.3. `status` is deliberately absent: the live API rejects it as a filter (LIVE-3P).
TRANSACTION_FILTERS: dict[str, flt.FieldSpec] = {
    "occurredTime": flt.spec("time", TIME_OPS, _time("occurredTime")),
    "updatedTime": flt.spec("time", TIME_OPS, _time("updatedTime")),
    "authorizedTime": flt.spec("time", TIME_OPS, _time("authorizedTime")),
    "type": flt.spec("enum", ENUM_OPS, lambda r: r["transactionType"], TRANSACTION_TYPES),
    "syncStatus": flt.spec("enum", ENUM_OPS, sync_status, SYNC_STATUSES),
    "complete": flt.spec("bool", ("eq",), lambda r: r["complete"]),
    "budgetId": flt.spec("ids", ID_OPS, _ids("budget")),
    "cardId": flt.spec("ids", ID_OPS, _ids("card")),
    "userId": flt.spec("ids", ID_OPS, _ids("user")),
    "merchantName": flt.spec("string", ("eq",), lambda r: r["merchantName"]),
    "transactionIds": flt.spec("ids", ID_OPS, lambda r: {r["id"], r["uuid"]}),
    "customFieldIds": flt.spec("ids", ID_OPS, _cf_ids),
    "customFieldValueIds": flt.spec("ids", ID_OPS, _cf_value_ids),
    "receiptStatus": flt.spec("enum", ENUM_OPS, lambda r: r["receiptStatus"], RECEIPT_STATUSES),
    "amount": flt.spec("number", TIME_OPS, lambda r: r["amount"]),
    "fees": flt.spec("number", TIME_OPS, lambda r: r["fees"]),
    "isLocked": flt.spec("bool", ("eq",), lambda r: r["isLocked"]),
    "isReviewed": flt.spec("bool", ("eq",), lambda r: bool(r.get("reviews"))),
}
TRANSACTION_SORTS: dict[str, Callable[[Row], Any]] = {
    "amount": lambda r: r["amount"],
    "merchantName": lambda r: r["merchantName"],
    "occurredTime": lambda r: parse_time(r["occurredTime"]),
}

BUDGET_FILTERS = {
    "isBudgetGroup": flt.spec("bool", ("eq",), lambda r: r["isBudgetGroup"]),
    "budgetIds": flt.spec("ids", ID_OPS, lambda r: {r["id"], r["uuid"]}),
    "parentBudgetId": flt.spec("ids", ("eq",), _ids("parentBudget")),
    "name": flt.spec("string", ("eq", "sw"), lambda r: r["name"]),
    "retired": flt.spec("bool", ("eq",), lambda r: r["retired"]),
}
BUDGET_SORTS = {
    "name": lambda r: r["name"],
    "assigned": lambda r: r["currentPeriod"].get("assigned") or 0,
    "limit": lambda r: r["limit"] or 0,
    "spent": lambda r: r["currentPeriod"].get("spent") or 0,
}
USER_FILTERS = {"retired": flt.spec("bool", ("eq",), lambda r: r["retired"])}
# No sortable user fields are documented; these are an emulator choice (README).
USER_SORTS = {
    "firstName": lambda r: r["firstName"],
    "lastName": lambda r: r["lastName"],
    "email": lambda r: r["email"],
    "createdTime": lambda r: r["createdTime"],
}
CARD_STATUSES = ("ACTIVATED", "NOT_ACTIVATED", "FROZEN", "DELETED")
CARD_TYPES = ("PHYSICAL", "VIRTUAL_MEMBER", "VIRTUAL_VENDOR")
CARD_FILTERS = {
    "status": flt.spec("enum", ("eq",), lambda r: r["status"], CARD_STATUSES),
    "budgetIds": flt.spec("ids", ID_OPS, _ids("budget")),
    "cardIds": flt.spec("ids", ID_OPS, lambda r: {r["id"], r["uuid"]}),
    "userIds": flt.spec("ids", ID_OPS, _ids("user")),
    "types": flt.spec("enum", ID_OPS, lambda r: r["type"], CARD_TYPES),
}
CARD_SORTS = {
    "name": lambda r: r["name"],
    "lastFour": lambda r: r["lastFour"],
    "status": lambda r: r["status"],
}
CUSTOM_FIELD_FILTERS = {
    "name": flt.spec("string", ("eq", "sw"), lambda r: r["name"]),
    "retired": flt.spec("bool", ("eq",), lambda r: r["retired"]),
}
CUSTOM_FIELD_SORTS = {"name": lambda r: r["name"], "createdTime": lambda r: r["createdTime"]}
VALUE_FILTERS = {
    "name": flt.spec("string", ("eq", "sw"), lambda r: r["value"]),
    "retired": flt.spec("bool", ("eq",), lambda r: r["deleted"]),
}
VALUE_SORTS = {"name": lambda r: r["value"]}  # emulator choice (README)


def not_found(what: str, key: str) -> ApiError:
    return ApiError(404, f"{what} {key} not found", code=CODE_NOT_FOUND)


def list_page(
    rows: list[Row],
    query: Mapping[str, str],
    *,
    specs: Mapping[str, flt.FieldSpec],
    sorts: Mapping[str, Callable[[Row], Any]],
    upper: int,
    default_sort: tuple[Callable[[Row], Any], bool] | None = None,
) -> Row:
    """Validate ``max``, ``filters`` and ``sort``, then filter, order and slice one page.

    The cursor holds only an offset; filters and sort come from this request, so a client that
    omits them on later pages walks the unfiltered list (unverified live, see README).
    """
    size = parse_max(query.get("max"), upper)
    predicates = flt.parse_filters(query.get("filters"), specs)
    order = flt.parse_sort(query.get("sort"), sorts) or default_sort
    rows = [row for row in rows if all(p(row) for p in predicates)]
    if order is not None:
        key, reverse = order
        # The uuid tie-break keeps equal keys in a stable order, so offsets mean the same rows.
        rows.sort(key=lambda r: r["uuid"], reverse=reverse)
        rows.sort(key=key, reverse=reverse)
    page, nxt, prev = paginate(rows, size, query.get("nextPage"), query.get("prevPage"))
    return {"results": page, "nextPage": nxt, "prevPage": prev}


def _show_fields(row: Row, query: Mapping[str, str]) -> Row:
    wanted = query.get("showCustomFieldIds")
    if wanted:
        keys = {k.strip() for k in wanted.split(",") if k.strip()}
        row["customFields"] = [
            f for f in row["customFields"] if f.get("id") in keys or f.get("uuid") in keys
        ]
    return row


def handle(
    state: DivvyState,
    method: str,
    path: str,
    query: Mapping[str, str],
    user_uuid: str,
    body: bytes = b"",
) -> tuple[int, Any]:
    if not path.startswith(PREFIX):
        raise ApiError(404, "API not supported", code=CODE_NOT_FOUND)
    parts = [p for p in path[len(PREFIX) :].split("/") if p]
    if method != "GET" and parts[:1] == ["custom-fields"]:
        return custom_field_write(state, method, parts, body)
    if method != "GET":
        raise ApiError(405, f"Method {method} not supported by this emulator", code="BDC_1120")
    match parts:
        case ["transactions"]:
            return 200, _list_transactions(state, query)
        case ["transactions", key]:
            txn = state.get_transaction(key)
            if txn is None:
                raise not_found("Transaction", key)
            return 200, _show_fields(txn, query)
        case ["budgets"]:
            rows = list(state.lookup_all("budgets"))
            if state.budgets_list_incomplete:
                rows = [r for r in rows if r["retired"]]
            return 200, list_page(rows, query, specs=BUDGET_FILTERS, sorts=BUDGET_SORTS, upper=100)
        case ["users"]:
            rows = state.lookup_all("users")
            return 200, list_page(rows, query, specs=USER_FILTERS, sorts=USER_SORTS, upper=100)
        case ["users", "current"]:
            return 200, _one(state, "users", "User", user_uuid)
        case ["cards"]:
            rows = state.lookup_all("cards")
            return 200, list_page(rows, query, specs=CARD_FILTERS, sorts=CARD_SORTS, upper=100)
        case ["custom-fields"]:
            rows = state.lookup_all("custom_fields")
            return 200, list_page(
                rows, query, specs=CUSTOM_FIELD_FILTERS, sorts=CUSTOM_FIELD_SORTS, upper=100
            )
        case ["custom-fields", key, "values"]:
            values = state.custom_field_value_rows(key)
            if values is None:
                raise not_found("Custom field", key)
            if "retired:" not in (query.get("filters") or ""):
                values = [v for v in values if not v["deleted"]]  # documented default false
            return 200, list_page(values, query, specs=VALUE_FILTERS, sorts=VALUE_SORTS, upper=100)
        case [("budgets" | "users" | "cards" | "custom-fields") as kind, key]:
            table = kind.replace("-", "_")
            label = {"budgets": "Budget", "users": "User", "cards": "Card"}.get(
                kind, "Custom field"
            )
            return 200, _one(state, table, label, key)
    raise ApiError(404, "API not supported", code=CODE_NOT_FOUND)


# --- custom-field writes (§3): POST fields and values, PATCH a value (option), DELETE a value --

FIELD_TYPES = ("CUSTOM_SELECTOR", "NOTE")
FIELD_NAME_MAX = 100  # emulator choice: no limit is documented (README)
VALUE_MAX = 255  # emulator choice (README)
FIELD_BOOLS = ("multiSelect", "allowCustomValues", "required", "global")
FIELD_KEYS = (
    "name",
    "description",
    "type",
    "minimumAmountForRequirement",
    *FIELD_BOOLS,
)


def _json_body(body: bytes) -> Row:
    try:
        value = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "Request body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return value


def _text_field(data: Row, key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"{key}: must not be blank")
    if value != value.strip():
        raise ApiError(400, f"{key}: must not start or end with spaces")
    if len(value) > limit:
        raise ApiError(400, f"{key}: size must be between 1 and {limit}")
    return value


def custom_field_write(
    state: DivvyState, method: str, parts: list[str], body: bytes
) -> tuple[int, Any]:
    """POST a field or a value, PATCH a value (when enabled), DELETE a value; the rest 405."""
    match method, parts:
        case "POST", ["custom-fields"]:
            data = _json_body(body)
            unknown = sorted(set(data) - set(FIELD_KEYS))
            if unknown:
                raise ApiError(400, f"Unrecognized field(s): {', '.join(unknown)}")
            name = _text_field(data, "name", FIELD_NAME_MAX)
            kind = data.get("type", "CUSTOM_SELECTOR")
            if kind not in FIELD_TYPES:
                raise ApiError(400, f"type: must be one of {', '.join(FIELD_TYPES)}")
            for key in FIELD_BOOLS:
                if key in data and not isinstance(data[key], bool):
                    raise ApiError(400, f"{key}: must be a boolean")
            with state.lock:
                taken = any(
                    f["name"].casefold() == name.casefold() and not f["retired"]
                    for f in state.custom_fields.values()
                )
                if taken:
                    raise ApiError(409, f"A custom field named {name} already exists")
                row = state.create_custom_field({**data, "type": kind})
            return 201, row
        case "POST", [_, key, "values"]:
            data = _json_body(body)
            unknown = sorted(set(data) - {"value"})
            if unknown:
                raise ApiError(400, f"Unrecognized field(s): {', '.join(unknown)}")
            text = _text_field(data, "value", VALUE_MAX)
            with state.lock:
                cfield = _writable_field(state, key)
                if cfield["type"] != "CUSTOM_SELECTOR":
                    raise ApiError(
                        400, f"Custom field {key} of type {cfield['type']} has no values"
                    )
                live = state.custom_field_values[cfield["uuid"]]
                if any(v["value"] == text and not v["deleted"] for v in live):
                    raise ApiError(409, f"Value {text} already exists")
                return 201, state.create_value(cfield["uuid"], text)
        case "PATCH", [_, key, "values", value_key]:
            if not state.value_patch:
                raise ApiError(405, "Method PATCH not supported", code="BDC_1120")
            data = _json_body(body)
            unknown = sorted(set(data) - {"value"})
            if unknown:
                raise ApiError(400, f"Unrecognized field(s): {', '.join(unknown)}")
            text = _text_field(data, "value", VALUE_MAX)
            with state.lock:
                cfield = _writable_field(state, key)
                row = state.find_value(cfield["uuid"], value_key)
                if row is None or row["deleted"]:
                    raise not_found("Custom field value", value_key)
                live = state.custom_field_values[cfield["uuid"]]
                if any(v["value"] == text and not v["deleted"] and v is not row for v in live):
                    raise ApiError(409, f"Value {text} already exists")
                row["value"] = text  # past transactions keep the text they were coded with
                return 200, dict(row)
        case "DELETE", [_, key, "values", value_key]:
            with state.lock:
                cfield = _writable_field(state, key)
                row = state.find_value(cfield["uuid"], value_key)
                if row is None or row["deleted"]:
                    raise not_found("Custom field value", value_key)
                if state.value_delete_in_use == "refuse" and state.value_in_use(row["uuid"]):
                    raise ApiError(
                        409, f"Value {row['value']} is used by transactions and cannot be deleted"
                    )
                row["deleted"] = True  # never removed: transactions keep showing it (§3 [DOC])
            return 204, None
    raise ApiError(405, f"Method {method} not supported by this emulator", code="BDC_1120")


def _writable_field(state: DivvyState, key: str) -> Row:
    cfield = state.lookup(state.custom_fields, key)
    if cfield is None:
        raise not_found("Custom field", key)
    if cfield["retired"]:
        raise ApiError(400, f"Custom field {key} is retired")
    return cfield


def _one(state: DivvyState, table: str, label: str, key: str) -> Row:
    row = state.lookup(getattr(state, table), key)
    if row is None:
        raise not_found(label, key)
    return row


def _list_transactions(state: DivvyState, query: Mapping[str, str]) -> Row:
    sorts = dict(TRANSACTION_SORTS)
    if state.allow_updated_time_sort:
        sorts["updatedTime"] = lambda r: parse_time(r["updatedTime"])
    body = list_page(
        state.parent_transactions(),
        query,
        specs=TRANSACTION_FILTERS,
        sorts=sorts,
        upper=50,
        # Newest first when no sort is given (§2.2 LIVE-3P).
        default_sort=(TRANSACTION_SORTS["occurredTime"], True),
    )
    for row in body["results"]:
        row.pop("receipts", None)  # receipts only come with GET by id (§2.2)
        _show_fields(row, query)
    return body
