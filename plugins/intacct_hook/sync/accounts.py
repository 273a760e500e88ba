"""Several Divvy accounts in one deployment: who each account is, and what it names.

A company with several Divvy accounts (or Intacct entities) lists them in the settings'
``accounts``; each gets its own DAGs, its own Divvy connection, its own Intacct connection or
entity, card, default location and mapping file (any setting may be overridden per account, see
:meth:`intacct_hook.sync.settings.SyncSettings.for_account`), and its own part of the shared
ledger. This module holds the identity of an account and the names derived from it (DAG ids,
ledger namespace); it imports nothing of Airflow, so the DAG file and plain Python agree.

Why a namespace per account rather than an ``account`` column in every table: every ledger
statement is scoped by construction (a PostgreSQL schema on the connection's search path, or a
SQLite file of its own), so no statement can forget the key, a run id reused by two accounts'
DAGs (``scheduled__2026-11-28…``) cannot collide, one account's write lock never waits on
another's, and a single-account ledger needs no migration.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

#: An account's name: it goes into DAG ids, a PostgreSQL schema name and a file name.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,29}")
#: Airflow connection ids (letters, digits, ``_ . -``).
CONN_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,250}")
#: A PostgreSQL schema name the ledger creates and sets as the search path.
SCHEMA_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: An Intacct entity ID (a location ID; its allowed characters are not documented): printable,
#: no surrounding spaces, at most 40 characters. It goes into the sign-in's ``locationid``.
ENTITY_PATTERN = re.compile(r"\S(?:[^\x00-\x1f\x7f]{0,38}\S)?")
#: A near-miss name worth quoting back ("East"): short, plain characters.
NAME_SHOWN = re.compile(r"[A-Za-z0-9_ -]{1,20}")

#: Keys that say who the account is; every other key of an entry overrides a setting.
IDENTITY_KEYS = ("name", "divvy_conn_id", "intacct_conn_id", "entity_id", "ledger_schema")
#: Settings every account shares: the list itself, and the ledger's database.
SHARED_KEYS = ("accounts", "ledger_conn_id")
DEFAULT_INTACCT_CONN_ID = "intacct_default"
SEPARATOR = "__"  # DAG id of an account: "<base>__<name>"


@dataclasses.dataclass(frozen=True)
class DivvyAccount:
    """One Divvy account of the deployment, as the settings' ``accounts`` name it."""

    name: str
    divvy_conn_id: str
    intacct_conn_id: str = DEFAULT_INTACCT_CONN_ID
    #: Overrides the Intacct connection's ``entity_id`` extra (several entities, one login).
    entity_id: str | None = None
    ledger_schema: str | None = None

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding this account's ledger tables."""
        return self.ledger_schema or f"divvy_intacct_{self.name}"

    def dag_id(self, base: str) -> str:
        return account_dag_id(base, self.name)

    def to_public_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "divvy_conn_id": self.divvy_conn_id,
            "intacct_conn_id": self.intacct_conn_id,
            "entity_id": self.entity_id,
            "ledger_schema": self.schema,
        }


def account_dag_id(base: str, name: str | None) -> str:
    """``divvy_intacct_sync`` for the single-account deployment, ``divvy_intacct_sync__east``
    for the account ``east``."""
    return base if name is None else f"{base}{SEPARATOR}{name}"


def account_of_dag_id(dag_id: str | None) -> str | None:
    """The account a generated DAG belongs to (``divvy_intacct_sync__east`` → ``east``)."""
    name = (dag_id or "").partition(SEPARATOR)[2]
    return name or None


def account_sqlite_path(path: pathlib.Path, name: str) -> pathlib.Path:
    """The SQLite ledger of an account: ``divvy_intacct_ledger.db`` → ``…ledger.east.db``."""
    return path.with_name(f"{path.stem}.{name}{path.suffix}")


def parse_identity(index: int, entry: Any, problems: list[str]) -> DivvyAccount | None:
    """The identity of ``accounts[index]``; problems name the entry and the fix. Values that
    are not what they should be are described by their type, never echoed: a token pasted into
    the wrong place must not reach a log, an error or the UI's import errors."""
    label = f"accounts[{index}]"
    if not isinstance(entry, Mapping):
        problems.append(
            f'{label} must be an object like {{"name": "east", "divvy_conn_id": "divvy_east"}}, '
            f"got {describe_value(entry)}"
        )
        return None
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        problems.append(
            f"{label}.name must be 1-30 lower-case letters, digits or '_', starting with a "
            f"letter (it goes into the DAG ids and the ledger's names), got "
            f"{_shown(name, NAME_SHOWN)}"
        )
        return None
    label = f"accounts[{name}]"
    before = len(problems)
    divvy = _conn_id(
        f"{label}.divvy_conn_id", entry.get("divvy_conn_id", f"divvy_{name}"), problems
    )
    intacct = _conn_id(
        f"{label}.intacct_conn_id",
        entry.get("intacct_conn_id", DEFAULT_INTACCT_CONN_ID),
        problems,
    )
    entity = entry.get("entity_id")
    if entity is not None and (not isinstance(entity, str) or not ENTITY_PATTERN.fullmatch(entity)):
        problems.append(
            f"{label}.entity_id must be an Intacct entity ID (Company > Entities) without "
            f"surrounding spaces, or null for the connection's, got {describe_value(entity)}"
        )
    schema = entry.get("ledger_schema")
    if schema is not None and (not isinstance(schema, str) or not SCHEMA_PATTERN.fullmatch(schema)):
        problems.append(
            f"{label}.ledger_schema must be a PostgreSQL schema name (lower-case letters, digits, "
            f"'_'), got {describe_value(schema)}"
        )
    if len(problems) > before:
        return None
    return DivvyAccount(
        name=name,
        divvy_conn_id=divvy,
        intacct_conn_id=intacct,
        entity_id=entity,
        ledger_schema=schema,
    )


#: Two accounts that share something they must not: their names and the message.
Conflict = tuple[frozenset[str], str]


def check_distinct(
    accounts: Sequence[DivvyAccount],
    *,
    cards: Mapping[str, str],
    ledger_files: Mapping[str, str],
) -> list[Conflict]:
    """Two accounts must not share a name, a Divvy connection, a ledger, or an Intacct card.

    ``cards`` and ``ledger_files`` are each account's effective ``card_account_id`` and SQLite
    ledger file (an account missing from them is not compared on it). A shared Divvy connection
    would sync every transaction twice; a shared card would make each account's reconcile
    report the other's records as extra in Intacct.
    """
    conflicts: list[Conflict] = []
    _duplicates(conflicts, accounts, lambda a: a.name, "name", "give each account its own name")
    _duplicates(
        conflicts,
        accounts,
        lambda a: a.divvy_conn_id,
        "divvy_conn_id",
        "each Divvy account needs its own connection (its own API token); two accounts on one "
        "connection would sync every transaction twice",
    )
    _duplicates(
        conflicts,
        accounts,
        lambda a: a.schema,
        "ledger_schema",
        "each account keeps its own part of the ledger",
    )
    _duplicates(
        conflicts,
        [a for a in accounts if a.name in ledger_files],
        lambda a: ledger_files[a.name],
        "ledger_path (SQLite ledger file)",
        "each account keeps its own ledger file; leave ledger_path out of the accounts to get "
        "one per account beside the top-level one",
    )
    _duplicates(
        conflicts,
        [a for a in accounts if a.name in cards],
        lambda a: (a.intacct_conn_id, a.entity_id, cards[a.name]),
        "Intacct card (intacct_conn_id, entity_id, card_account_id)",
        "record each Divvy account on its own credit card account (the setup guide's one card "
        "object per Divvy account); a shared card makes each reconcile report the other's "
        "records as extra",
    )
    return conflicts


def accounts_in_variable(raw: str | Mapping[str, Any] | None) -> tuple[DivvyAccount, ...]:
    """The accounts the settings Variable lists, for the DAG files. Never raises: a DAG file
    that fails to import has its DAGs marked stale, which stops their schedules without a
    failed task to alert anyone. So an entry that cannot be read (no usable name, bad
    connection ids, a name used twice) is left out, and a Variable that is not readable JSON
    gives no accounts (the single-account DAGs); :func:`account_list_problems` says what was
    left out, for the DAG that fails until it is fixed."""
    return _read_list(raw, [])


def account_list_problems(raw: str | Mapping[str, Any] | None) -> list[str]:
    """Why the DAG files could not read (all of) the account list: empty when they could.
    Values are described, never quoted."""
    problems: list[str] = []
    _read_list(raw, problems)
    return problems


def _read_list(
    raw: str | Mapping[str, Any] | None, problems: list[str]
) -> tuple[DivvyAccount, ...]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ()
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        # Position only: the message quotes none of the text.
        problems.append(
            f"the settings Variable is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); no account's DAGs can be built until it is fixed"
        )
        return ()
    if not isinstance(value, Mapping):
        problems.append(f"the settings Variable must be a JSON object, got {describe_value(value)}")
        return ()
    entries = value.get("accounts")
    if entries is None:
        return ()
    if not isinstance(entries, list) or not entries:
        problems.append(
            "the settings' 'accounts' must be a non-empty list of accounts (or absent for one "
            f"account), got {describe_value(entries)}"
        )
        return ()
    parsed = [parse_identity(i, entry, problems) for i, entry in enumerate(entries)]
    accounts = [a for a in parsed if a is not None]
    names = Counter(a.name for a in accounts)
    for name, count in names.items():
        if count > 1:
            problems.append(f"{count} accounts are named {name!r}: none of them gets DAGs")
    return tuple(a for a in accounts if names[a.name] == 1)


def describe_value(value: Any) -> str:
    """A value from the Variable as an error may show it: its type (and an object's keys),
    never its content, which could be a secret typed into the wrong field."""
    if isinstance(value, Mapping):
        keys = ", ".join(repr(k) for k in list(value)[:10] if isinstance(k, str))
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if value is None:
        return "null"
    return f"a {type(value).__name__} value" if not isinstance(value, str) else "other text"


def _shown(value: Any, pattern: re.Pattern[str]) -> str:
    """``value`` quoted when it looks like what was asked for (a near miss such as 'East' helps
    the fix), else described only."""
    if isinstance(value, str) and pattern.fullmatch(value):
        return repr(value)
    return describe_value(value)


def _conn_id(label: str, value: Any, problems: list[str]) -> str:
    if not isinstance(value, str) or not CONN_ID_PATTERN.fullmatch(value):
        problems.append(
            f"{label} must be an Airflow connection id (letters, digits, '_', '.', '-'), got "
            f"{describe_value(value)}"
        )
        return ""
    return value


def _duplicates(
    conflicts: list[Conflict], accounts: Sequence[DivvyAccount], key: Any, what: str, fix: str
) -> None:
    seen: dict[Any, str] = {}
    for account in accounts:
        k = key(account)
        if k in seen:
            conflicts.append(
                (
                    frozenset({seen[k], account.name}),
                    f"accounts {seen[k]!r} and {account.name!r} share the same {what}: {fix}",
                )
            )
        else:
            seen[k] = account.name
