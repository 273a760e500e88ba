"""The sync's settings: one JSON Variable, ``divvy_intacct_settings``, validated before any work.

Every key has a default taken from the setup guide (``docs`` and Divvy's own help article), so an
empty Variable describes the standard setup. Validation reports every problem at once, each with
the key and the fix, and rejects unknown keys: a typo such as ``"lookback_day"`` must not silently
fall back to the default.

Credentials never live here: they belong in the Airflow connections. So does everything the
sign-in uses (sender ID, Web Services user, entity): the connection is their one source, and the
keys that once repeated them here (:data:`RETIRED_KEYS`) are accepted, ignored, and reported by
preflight so that a Variable written for an earlier version keeps working.

Example::

    settings = SyncSettings.from_variable('{"lookback_days": 30, "batch_size": 100}')
    settings.zone            # ZoneInfo('America/Chicago')
    settings.mapping_path()  # <repo root>/include/mapping_rules.csv (see intacct_hook.paths)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import os
import pathlib
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intacct_hook.intacct.text import describe_illegal
from intacct_hook.paths import base_dir
from intacct_hook.sync.accounts import (
    IDENTITY_KEYS,
    SHARED_KEYS,
    DivvyAccount,
    account_sqlite_path,
    check_distinct,
    describe_value,
    parse_identity,
)
from intacct_hook.sync.dimensions import DEFAULT_CUSTOM_FIELD_NAMES, DIMENSIONS

VARIABLE_KEY = "divvy_intacct_settings"

#: Where the company's time zone is set: this environment variable, for the schedule (read when
#: the DAG file is parsed, so it cannot come from a Variable) and, by default, for posting dates.
#: The settings' ``timezone`` only overrides it (see the README's settings table).
TIMEZONE_ENV = "DIVVY_INTACCT_TIMEZONE"
DEFAULT_TIMEZONE = "America/Chicago"


def configured_timezone() -> str:
    """The company's IANA time zone as the environment sets it (``America/Chicago`` unset)."""
    return os.environ.get(TIMEZONE_ENV, DEFAULT_TIMEZONE)


RECONCILE_MODES = ("fail", "warn")
#: What happens to a transaction dated on or before the books-closed date (README, "Closed
#: periods"; the policy itself is intacct_hook.sync.closed_periods).
CLOSED_PERIOD_POLICIES = ("fail", "hold", "post_to_first_open_day")
#: What a later run does with a posted transaction changed in Divvy (sync/recoding.py).
RECODE_POLICIES = ("reverse_and_repost", "report_only")
BATCH_SIZE_RANGE = (1, 100)  # Intacct accepts at most 100 functions per request
LOOKBACK_RANGE = (0, 400)
EXPIRY_MARGIN_RANGE = (0, 3650)
# A load's claim on a batch must outlive the batch (request timeout times retries); past it, another
# run may take the claim over and resolve it by lookup.
CLAIM_LEASE_RANGE = (5, 24 * 60)
# Concurrent API jobs the Intacct subscription runs for the company (the standard level of
# service runs one and queues the rest; higher tiers more, numbers not published). Eight bounds
# the load's threads and database connections.
CONCURRENCY_RANGE = (1, 8)
# Receipts attached in Intacct (issue 11, part 4). UNVERIFIED: Intacct's real limits on an
# attachment's size and type are not in the references; these defaults are conservative
# guesses (README, "Receipts as Intacct attachments"): raise or widen them once confirmed.
RECEIPTS_MAX_MB_RANGE = (0.001, 100.0)
RECEIPTS_MAX_CHECKS_RANGE = (1, 100_000)
RECEIPTS_RECHECK_DAYS_RANGE = (0, 366)
DEFAULT_RECEIPT_TYPES = ("pdf", "jpg", "jpeg", "png", "gif")

# Keys people put in the Variable by mistake: answered with where the secret belongs.
_SECRET_KEYS = frozenset(
    {"password", "sender_password", "user_password", "ws_password", "token", "api_token"}
)


class SettingsError(ValueError):
    """The Variable is not valid. ``problems`` lists every problem, each naming key and fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Airflow Variable {VARIABLE_KEY!r} has {len(self.problems)} problem(s):\n{lines}"
        )


@dataclasses.dataclass(frozen=True)
class SyncSettings:
    """Validated settings of the sync. Build with :meth:`from_variable`."""

    card_account_id: str = "Divvy CC Object"
    divvy_gl_account_title: str = "Divvy GL Account"
    divvy_gl_account_no: str | None = None
    mapping_file: str = "include/mapping_rules.csv"
    lookback_days: int = 14
    timezone: str = dataclasses.field(default_factory=configured_timezone)
    hold_incomplete: bool = True
    skip_already_synced: bool = True
    allow_foreign_currency: bool = False
    reconcile_mode: str = "fail"
    batch_size: int = 50
    custom_field_names: Mapping[str, str | None] = dataclasses.field(
        default_factory=lambda: DEFAULT_CUSTOM_FIELD_NAMES, hash=False
    )
    default_gl_account: str | None = None
    card_expiry_margin_days: int = 30
    ledger_conn_id: str | None = None
    ledger_path: str = "var/divvy_intacct_ledger.db"
    claim_lease_minutes: int = 60
    intacct_concurrency: int = 1
    closed_period_policy: str = "fail"
    recode_policy: str = "reverse_and_repost"  # issue 11 part 2: sync/recoding.py
    # The dimension push (its own DAG): which dimensions, the GL account filter, dry run.
    dimension_push: DimensionPushSettings = dataclasses.field(
        default_factory=lambda: DimensionPushSettings(), hash=False
    )
    # Receipts as Intacct attachments: off unless asked for.
    receipts_enabled: bool = False
    receipts_max_mb: float = 5.0
    receipts_allowed_types: tuple[str, ...] = DEFAULT_RECEIPT_TYPES
    receipts_folder: str = "Divvy Receipts"
    # Divvy GETs per run (one per transaction asked): 300 at 60 a minute is about 5 minutes.
    receipts_max_checks: int = 300
    # An unchanged transaction is asked again after this many days: whether Divvy bumps
    # updatedTime when a receipt is uploaded is unverified.
    receipts_recheck_days: int = 3
    # The location a line takes when no mapping gives one, instead of the card's default
    # location read from Intacct (whose field name is a guess): issue 11 part 5, "the default
    # location related to the Divvy account you are connecting".
    default_location: str | None = None
    # Several Divvy accounts (sync/accounts.py): one DAG each, each with these settings
    # overridden by its entry (for_account). Empty: one account, the top-level settings.
    accounts: tuple[DivvyAccount, ...] = ()
    # The account these settings are for (set by for_account only), else None.
    account: DivvyAccount | None = None
    # Problems of the other accounts, found while reading one account's settings (preflight
    # reports them as warnings; they stop only their own account).
    account_warnings: tuple[str, ...] = ()
    # Every usable account in the list's order, with its card (set by for_account): preflight
    # compares what only the connections know (the Divvy token, the Intacct company).
    peers: tuple[tuple[DivvyAccount, str], ...] = ()
    # Retired keys found in the Variable, with their values (see RETIRED_KEYS): not settings.
    retired: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    # Each account's own keys as validated (name -> {setting: raw value}).
    account_overrides: Mapping[str, Mapping[str, Any]] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    # The top-level keys as the Variable gave them: an account's settings are these with its
    # own keys replacing them, validated as one Variable would be (for_account).
    source: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}), hash=False, compare=False, repr=False
    )

    @classmethod
    def from_variable(
        cls, value: str | Mapping[str, Any] | None, *, account: str | None = None
    ) -> SyncSettings:
        """Parse and validate the Variable's value (JSON text or an already decoded dict).

        ``None`` or an empty string means "all defaults". Raises :class:`SettingsError`.
        With ``accounts``, every account's settings are validated too (:meth:`for_account`);
        given ``account``, only the top level and that account's own problems raise: another
        account's are kept in ``account_warnings`` (one account's mistake must not stop the
        others), and that account is left out of ``accounts``.
        """
        raw = _decode(value)
        entries = raw.get("accounts")
        try:
            settings = cls._build({k: v for k, v in raw.items() if k != "accounts"})
        except SettingsError as exc:
            if isinstance(entries, list) and entries:  # every problem at once: the list's too
                for index, entry in enumerate(entries):
                    _account_entry(index, entry, exc.problems)
            elif entries is not None:
                exc.problems.append(_ACCOUNTS_SHAPE + f"; got {describe_value(entries)}")
            raise SettingsError(exc.problems) from None
        if entries is None:
            return settings
        return settings._with_accounts(entries, only=account)

    @classmethod
    def _build(cls, raw: Mapping[str, Any]) -> SyncSettings:
        problems: list[str] = []
        known = _setting_keys(cls)
        for key in raw:
            if key not in known and key not in RETIRED_KEYS:
                problems.append(_unknown_key_problem(key, known | {"accounts"}))
        values: dict[str, Any] = {}
        for key in known & raw.keys():
            checked = _CHECKS[key](key, raw[key], problems)
            if checked is not _INVALID:
                values[key] = checked
        if problems:
            raise SettingsError(_without_long_texts(problems, raw))
        _check_push_fields(values, problems)
        if problems:
            raise SettingsError(_without_long_texts(problems, raw))
        retired = {k: raw[k] for k in RETIRED_KEYS if k in raw}
        return cls(**values, retired=MappingProxyType(retired), source=MappingProxyType(dict(raw)))

    def _with_accounts(self, entries: Any, only: str | None = None) -> SyncSettings:
        errors: list[str] = []
        warnings: list[str] = []

        def blame(names: Iterable[str | None], problem: str) -> None:
            # Strict for every account, or only for ``only``; the rest becomes a warning.
            (errors if only is None or only in names else warnings).append(problem)

        if not isinstance(entries, list) or not entries:
            raise SettingsError([_ACCOUNTS_SHAPE + f"; got {describe_value(entries)}"])
        parsed: list[tuple[DivvyAccount, Mapping[str, Any]]] = []
        for index, entry in enumerate(entries):
            problems: list[str] = []
            account, own = _account_entry(index, entry, problems)
            for problem in problems:
                blame([account.name if account else _entry_name(entry)], problem)
            if account is not None and not problems:
                parsed.append((account, own))
        if self.ledger_conn_id is None:
            for account, _own in parsed:
                if account.ledger_schema is not None:
                    blame(
                        [account.name],
                        f"accounts[{account.name}].ledger_schema applies to a PostgreSQL ledger "
                        "(ledger_conn_id), which these settings do not name; on SQLite give the "
                        "account its own ledger_path instead, or remove ledger_schema",
                    )
        overrides = {a.name: own for a, own in parsed}
        listed = dataclasses.replace(
            self,
            accounts=tuple(a for a, _ in parsed),
            account_overrides=MappingProxyType(overrides),
        )
        effective: dict[str, SyncSettings] = {}
        for account, _own in parsed:
            try:
                effective[account.name] = listed.for_account(account.name)
            except SettingsError as exc:
                for problem in exc.problems:
                    blame([account.name], f"accounts[{account.name}]: {problem}")
        conflicts = check_distinct(
            [a for a, _ in parsed],
            cards={name: s.card_account_id for name, s in effective.items()},
            ledger_files={name: str(s.sqlite_ledger_path()) for name, s in effective.items()},
        )
        # A clash stops the account listed later only: the one listed first (the one that was
        # there, as a rule) keeps running, and the later one never runs, so nothing is posted
        # twice either way.
        order = {a.name: i for i, (a, _) in enumerate(parsed)}
        clashing: set[str] = set()
        for names, problem in conflicts:
            later = max(names, key=lambda n: order.get(n, -1))
            blame([later], problem)
            clashing.add(later)
        if errors:
            raise SettingsError(errors)
        usable = tuple(a for a, _ in parsed if a.name in effective and a.name not in clashing)
        return dataclasses.replace(
            listed,
            accounts=usable if only is not None else listed.accounts,
            account_warnings=tuple(warnings),
            peers=tuple(
                (a, effective[a.name].card_account_id) for a, _ in parsed if a.name in effective
            ),
        )

    def for_account(self, name: str) -> SyncSettings:
        """The settings of the account ``name``: the top-level keys, its own keys replacing
        them, its connections and its part of the ledger. Raises :class:`SettingsError` when
        the settings list no such account (or its keys are invalid)."""
        account = next((a for a in self.accounts if a.name == name), None)
        if account is None:
            listed = ", ".join(repr(a.name) for a in self.accounts) or "none"
            raise SettingsError(
                [
                    f"the settings' 'accounts' has no account {name!r} (listed: {listed}); add "
                    f"it back, or delete this account's DAGs (they disappear once the Variable "
                    "no longer lists it)"
                ]
            )
        own = self.account_overrides.get(name, {})
        built = type(self)._build({**self.source, **own})
        ledger_path = own.get("ledger_path") or str(
            account_sqlite_path(pathlib.Path(self.ledger_path), name)
        )
        return dataclasses.replace(
            built,
            account=account,
            ledger_path=ledger_path,
            account_warnings=self.account_warnings,
            peers=self.peers,
        )

    @property
    def zone(self) -> ZoneInfo:
        """The time zone in which Divvy timestamps become posting dates."""
        return ZoneInfo(self.timezone)

    @property
    def receipts_max_bytes(self) -> int:
        """``receipts_max_mb`` in bytes (1 MB = 1,048,576 bytes)."""
        return int(self.receipts_max_mb * 1024 * 1024)

    @property
    def claim_lease(self) -> dt.timedelta:
        """How long other runs leave a load's claimed batch alone."""
        return dt.timedelta(minutes=self.claim_lease_minutes)

    def mapping_path(self, root: pathlib.Path | None = None) -> pathlib.Path:
        """The rules CSV; a relative ``mapping_file`` is resolved against ``root``, by default
        :func:`intacct_hook.paths.base_dir` (beside ``plugins/``, or ``$AIRFLOW_HOME`` when the
        package is installed)."""
        return _resolve(self.mapping_file, root)

    def sqlite_ledger_path(self, root: pathlib.Path | None = None) -> pathlib.Path:
        """The SQLite ledger file used when ``ledger_conn_id`` is not set (a relative
        ``ledger_path`` resolves as in :meth:`mapping_path`)."""
        return _resolve(self.ledger_path, root)

    def field_name(self, dimension: str) -> str | None:
        """The Divvy custom field carrying ``dimension``, or None when none is read for it."""
        return self.custom_field_names.get(dimension)

    def to_public_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict for logs and XCom (settings hold no secrets by construction)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["custom_field_names"] = dict(self.custom_field_names)
        out["dimension_push"] = self.dimension_push.to_public_dict()
        out["receipts_allowed_types"] = list(self.receipts_allowed_types)
        # Retired keys as the Variable holds them, so the dict reads back into equal settings.
        for internal in INTERNAL_FIELDS - {"account"}:
            del out[internal]
        out.update(self.retired)
        if self.accounts:
            out["accounts"] = [
                {
                    k: v
                    for k, v in dataclasses.asdict(a).items()
                    if v is not None or k in ("name", "divvy_conn_id")
                }
                | dict(self.account_overrides.get(a.name, {}))
                for a in self.accounts
            ]
        else:
            del out["accounts"]
        if self.account is None:
            del out["account"]
        else:
            out["account"] = self.account.to_public_dict()
        return out


# --- validation helpers -------------------------------------------------------------------

_INVALID = object()
# Fields that are not keys of the Variable: filled by validation, or the account list.
#: Fields filled by validation or by for_account, never keys of the Variable.
INTERNAL_FIELDS = frozenset(
    {"retired", "account", "account_overrides", "source", "account_warnings", "peers"}
)
_NOT_KEYS = INTERNAL_FIELDS | {"accounts"}  # a key, read apart from the others


def _setting_keys(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - _NOT_KEYS


_ACCOUNTS_SHAPE = (
    "'accounts' must be a non-empty list of Divvy accounts, each like "
    '{"name": "east", "divvy_conn_id": "divvy_east", "card_account_id": "Divvy CC East"}, or '
    "absent (one account: the top-level settings)"
)


#: Texts longer than this are never quoted back in a problem: a token pasted into the wrong key
#: (Divvy's and Intacct's secrets are long) must not reach a log, an XCom or the UI.
LONG_TEXT = 24


def _without_long_texts(problems: list[str], raw: Mapping[str, Any]) -> list[str]:
    """``problems`` with every long text of ``raw`` (at any depth) replaced by its length."""
    texts: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if len(value) > LONG_TEXT:
                texts.add(value)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(raw)
    out = []
    for problem in problems:
        for text in sorted(texts, key=len, reverse=True):
            shown = f"<text of {len(text)} characters>"
            problem = problem.replace(repr(text), shown).replace(text, shown)
        out.append(problem)
    return out


def _account_entry(
    index: int, entry: Any, problems: list[str]
) -> tuple[DivvyAccount | None, Mapping[str, Any]]:
    """One entry of ``accounts``: who it is and its own setting keys; its problems (identity,
    keys an account cannot have) go to ``problems``."""
    account = parse_identity(index, entry, problems)
    if account is None:
        return None, MappingProxyType({})
    own = {k: v for k, v in entry.items() if k not in IDENTITY_KEYS}
    for key in own:
        if key in SHARED_KEYS:
            problems.append(
                f"accounts[{account.name}].{key} cannot differ between accounts (they share one "
                "ledger database); set it at the top level only"
            )
        elif key in RETIRED_KEYS:
            problems.append(
                f"accounts[{account.name}].{key} is not read: the sign-in's values are the "
                "Intacct connection's (an account may name its own intacct_conn_id, or its "
                "entity_id); remove it"
            )
    return account, MappingProxyType(own)


def _entry_name(entry: Any) -> str | None:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return name if isinstance(name, str) else None


def _decode(value: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SettingsError(
                [f"the value is not valid JSON ({exc}); fix the JSON or delete the Variable"]
            ) from exc
    if not isinstance(value, Mapping):
        raise SettingsError(
            [f"the value must be a JSON object ({{...}}), got {type(value).__name__}"]
        )
    return dict(value)


def _unknown_key_problem(key: str, known: set[str]) -> str:
    if key.lower() in _SECRET_KEYS:
        return (
            f"{key!r}: secrets do not belong in the Variable; put it in the Airflow connection "
            "and remove the key"
        )
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{key!r} is not a setting; {hint}valid keys: {', '.join(sorted(known))}"


def _resolve(path: str, root: pathlib.Path | None) -> pathlib.Path:
    p = pathlib.Path(path).expanduser()
    return p if p.is_absolute() else (root or base_dir()) / p


def _text(key: str, value: Any, problems: list[str], *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        what = "a non-empty string or null" if optional else "a non-empty string"
        problems.append(f"{key!r} must be {what}, got {value!r}")
        return _INVALID
    if value != value.strip():
        problems.append(f"{key!r} has leading or trailing spaces ({value!r}); remove them")
        return _INVALID
    illegal = describe_illegal(value)
    if illegal is not None:
        # Card and account IDs go into every request; one bad character would fail every record.
        problems.append(f"{key!r} {illegal}; remove it")
        return _INVALID
    return value


def _optional_text(key: str, value: Any, problems: list[str]) -> Any:
    return _text(key, value, problems, optional=True)


def _int_in(low: int, high: int) -> Callable[[str, Any, list[str]], Any]:
    def check(key: str, value: Any, problems: list[str]) -> Any:
        # bool is an int subclass; `true` for a count is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{key!r} must be a whole number from {low} to {high}, got {value!r}")
            return _INVALID
        if not low <= value <= high:
            problems.append(f"{key!r} must be from {low} to {high}, got {value}")
            return _INVALID
        return value

    return check


def _bool(key: str, value: Any, problems: list[str]) -> Any:
    if not isinstance(value, bool):
        problems.append(f"{key!r} must be true or false (JSON booleans), got {value!r}")
        return _INVALID
    return value


def _timezone(key: str, value: Any, problems: list[str]) -> Any:
    if _text(key, value, problems) is _INVALID:
        return _INVALID
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            f"{key!r} {value!r} is not an IANA time zone name; use one like 'America/Chicago'"
        )
        return _INVALID
    return value


def _number_in(low: float, high: float) -> Callable[[str, Any, list[str]], Any]:
    def check(key: str, value: Any, problems: list[str]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            problems.append(f"{key!r} must be a number from {low:g} to {high:g}, got {value!r}")
            return _INVALID
        if not low <= value <= high:
            problems.append(f"{key!r} must be from {low:g} to {high:g}, got {value}")
            return _INVALID
        return float(value)

    return check


def _file_types(key: str, value: Any, problems: list[str]) -> Any:
    if not isinstance(value, list) or not value:
        problems.append(
            f'{key!r} must be a non-empty list of file extensions such as ["pdf", "jpg"], '
            f"got {value!r}"
        )
        return _INVALID
    out: list[str] = []
    for item in value:
        ext = item.strip().lstrip(".").lower() if isinstance(item, str) else ""
        if not ext or not ext.isascii() or not ext.isalnum() or len(ext) > 10:
            problems.append(
                f"{key!r}: {item!r} is not a file extension (letters and digits, at most 10, "
                'like "pdf")'
            )
            return _INVALID
        if ext not in out:
            out.append(ext)
    return tuple(out)


def _reconcile_mode(key: str, value: Any, problems: list[str]) -> Any:
    if value not in RECONCILE_MODES:
        problems.append(f"{key!r} must be one of {', '.join(RECONCILE_MODES)}, got {value!r}")
        return _INVALID
    return value


def _recode_policy(key: str, value: Any, problems: list[str]) -> Any:
    if value not in RECODE_POLICIES:
        close = difflib.get_close_matches(str(value), RECODE_POLICIES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append(
            f"{key!r} must be one of {', '.join(RECODE_POLICIES)}, got {value!r}; {hint}"
            "'reverse_and_repost' reverses a posted transaction changed in Divvy and posts the "
            "new version, 'report_only' only reports the change"
        )
        return _INVALID
    return value


def _closed_period_policy(key: str, value: Any, problems: list[str]) -> Any:
    if value not in CLOSED_PERIOD_POLICIES:
        close = difflib.get_close_matches(str(value), CLOSED_PERIOD_POLICIES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append(
            f"{key!r} must be one of {', '.join(CLOSED_PERIOD_POLICIES)}, got {value!r}; {hint}"
            "'fail' leaves a transaction dated in a closed period failed, 'hold' holds it until "
            "the period reopens, 'post_to_first_open_day' posts it on the first open day"
        )
        return _INVALID
    return value


def _field_names(key: str, value: Any, problems: list[str]) -> Any:
    if not isinstance(value, Mapping):
        problems.append(
            f"{key!r} must be an object mapping dimensions ({', '.join(DIMENSIONS)}) to Divvy "
            f"custom field names, got {value!r}"
        )
        return _INVALID
    merged = dict(DEFAULT_CUSTOM_FIELD_NAMES)  # a partial override keeps the other defaults
    ok = True
    for dim, name in value.items():
        if dim not in DIMENSIONS:
            problems.append(
                f"{key!r} has unknown dimension {dim!r}; use one of {', '.join(DIMENSIONS)}"
            )
            ok = False
        elif name is not None and (not isinstance(name, str) or not name.strip()):
            problems.append(
                f"{key}.{dim} must be a Divvy custom field name, or null to read no field for "
                f"it, got {name!r}"
            )
            ok = False
        else:
            merged[dim] = name.strip() if isinstance(name, str) else None
    return MappingProxyType(merged) if ok else _INVALID


# --- the dimension push --------------------------------------------------------------------

ACCOUNT_TYPES = ("balancesheet", "incomestatement")


@dataclasses.dataclass(frozen=True)
class DimensionPushSettings:
    """``dimension_push``: what the dimension push DAG makes Divvy offer.

    The Divvy field of each dimension is the one the map step reads (``custom_field_names``), so
    the push writes exactly what the mapping reads back. ``accounts`` lists GL accounts to offer;
    without it, active accounts of ``account_types`` and (when given) ``categories`` are offered.
    """

    dimensions: tuple[str, ...] = DIMENSIONS
    accounts: tuple[str, ...] = ()
    account_types: tuple[str, ...] = ("incomestatement",)
    categories: tuple[str, ...] = ()
    dry_run: bool = False

    def to_public_dict(self) -> dict[str, Any]:
        return {
            "dimensions": list(self.dimensions),
            "gl_accounts": {
                "accounts": list(self.accounts),
                "account_types": list(self.account_types),
                "categories": list(self.categories),
            },
            "dry_run": self.dry_run,
        }


_PUSH_KEYS = ("dimensions", "gl_accounts", "dry_run")


@dataclasses.dataclass(frozen=True)
class _PushDraft:
    """``dimension_push`` as validated, before ``custom_field_names`` fills the default
    dimensions."""

    dimensions: tuple[str, ...] | None = None
    accounts: tuple[str, ...] = ()
    account_types: tuple[str, ...] = ("incomestatement",)
    categories: tuple[str, ...] = ()
    dry_run: bool = False


_GL_KEYS = ("accounts", "account_types", "categories")


def _text_list(key: str, value: Any, problems: list[str]) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{key} must be a list of non-empty strings, got {value!r}")
        return None
    return tuple(v.strip() for v in value)


def _dimension_push(key: str, value: Any, problems: list[str]) -> Any:
    if not isinstance(value, Mapping):
        problems.append(f"{key!r} must be an object with {', '.join(_PUSH_KEYS)}, got {value!r}")
        return _INVALID
    before = len(problems)
    out: dict[str, Any] = {}
    for name in value:
        if name not in _PUSH_KEYS:
            problems.append(f"{key}.{name} is not a setting; valid keys: {', '.join(_PUSH_KEYS)}")
    if "dimensions" in value:
        dims = _text_list(f"{key}.dimensions", value["dimensions"], problems)
        unknown = [d for d in dims or () if d not in DIMENSIONS]
        if unknown:
            problems.append(
                f"{key}.dimensions has unknown {', '.join(map(repr, unknown))}; use any of "
                f"{', '.join(DIMENSIONS)}"
            )
        elif dims is not None:
            out["dimensions"] = tuple(dict.fromkeys(dims))
    if "dry_run" in value:
        if isinstance(value["dry_run"], bool):
            out["dry_run"] = value["dry_run"]
        else:
            problems.append(f"{key}.dry_run must be true or false, got {value['dry_run']!r}")
    gl = value.get("gl_accounts", {})
    if not isinstance(gl, Mapping):
        problems.append(f"{key}.gl_accounts must be an object with {', '.join(_GL_KEYS)}")
        gl = {}
    for name in gl:
        if name not in _GL_KEYS:
            problems.append(
                f"{key}.gl_accounts.{name} is not a setting; valid keys: {', '.join(_GL_KEYS)}"
            )
    for name in _GL_KEYS:
        if name in gl:
            items = _text_list(f"{key}.gl_accounts.{name}", gl[name], problems)
            if items is not None:
                out[name] = items
    types = [t for t in out.get("account_types", ()) if t not in ACCOUNT_TYPES]
    if types:
        problems.append(
            f"{key}.gl_accounts.account_types has {', '.join(map(repr, types))}; use "
            f"{' or '.join(ACCOUNT_TYPES)} (Intacct's account types)"
        )
    if gl.get("accounts") and (gl.get("account_types") or gl.get("categories")):
        problems.append(
            f"{key}.gl_accounts: give either 'accounts' (a list) or 'account_types'/'categories' "
            "(a filter), not both"
        )
    if out.get("accounts"):
        out["account_types"] = ()  # a list names the accounts; the default type filter is off
    if len(problems) > before:
        return _INVALID
    if "dimensions" not in out:
        out["dimensions"] = None  # every dimension with a field: decided with custom_field_names
    return _PushDraft(**out)


def _check_push_fields(values: dict[str, Any], problems: list[str]) -> None:
    """A pushed dimension needs a Divvy field to write (the one the map step reads). By default
    every dimension that has one is pushed; one listed explicitly without one is a problem."""
    draft = values.get("dimension_push") or _PushDraft()
    names = values.get("custom_field_names", DEFAULT_CUSTOM_FIELD_NAMES)
    explicit = draft.dimensions is not None
    dims: tuple[str, ...] = (
        draft.dimensions
        if draft.dimensions is not None
        else tuple(d for d in DIMENSIONS if names.get(d))
    )
    values["dimension_push"] = DimensionPushSettings(
        dimensions=dims,
        accounts=draft.accounts,
        account_types=draft.account_types,
        categories=draft.categories,
        dry_run=draft.dry_run,
    )
    if not explicit:
        return
    for dim in dims:
        if not names.get(dim):
            problems.append(
                f"dimension_push.dimensions has {dim!r} but custom_field_names.{dim} is null; "
                "name its Divvy field or remove it from dimension_push.dimensions"
            )


# Keys an earlier version read, now read from the Intacct connection only (where each lives there).
RETIRED_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "sender_id": "extra 'sender_id'",
        "ws_user_id": "login (Web Services user ID)",
        "entity_id": "extra 'entity_id'",
    }
)

_CHECKS = {
    "card_account_id": _text,
    "divvy_gl_account_title": _text,
    "divvy_gl_account_no": _optional_text,
    "mapping_file": _text,
    "lookback_days": _int_in(*LOOKBACK_RANGE),
    "timezone": _timezone,
    "hold_incomplete": _bool,
    "skip_already_synced": _bool,
    "allow_foreign_currency": _bool,
    "reconcile_mode": _reconcile_mode,
    "batch_size": _int_in(*BATCH_SIZE_RANGE),
    "custom_field_names": _field_names,
    "default_gl_account": _optional_text,
    "card_expiry_margin_days": _int_in(*EXPIRY_MARGIN_RANGE),
    "ledger_conn_id": _optional_text,
    "ledger_path": _text,
    "claim_lease_minutes": _int_in(*CLAIM_LEASE_RANGE),
    "intacct_concurrency": _int_in(*CONCURRENCY_RANGE),
    "closed_period_policy": _closed_period_policy,
    "recode_policy": _recode_policy,
    "dimension_push": _dimension_push,
    "receipts_enabled": _bool,
    "receipts_max_mb": _number_in(*RECEIPTS_MAX_MB_RANGE),
    "receipts_allowed_types": _file_types,
    "receipts_folder": _text,
    "receipts_max_checks": _int_in(*RECEIPTS_MAX_CHECKS_RANGE),
    "receipts_recheck_days": _int_in(*RECEIPTS_RECHECK_DAYS_RANGE),
    "default_location": _optional_text,
}
