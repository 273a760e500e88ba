"""Preflight: verify the customer's Intacct setup (the setup guide) before anything is posted.

Every finding names the Intacct screen and field to change, in the customer's words. The checks
read Intacct through the hook; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, Protocol

from intacct_hook.intacct import errors as ierr
from intacct_hook.intacct.fields import (
    BOOKS_CLOSED_FIELD,
    BOOKS_CLOSED_OBJECT,
    CARD_LOCATION_FIELDS,
    CARD_OFFSET_ACCOUNT_FIELDS,
)
from intacct_hook.intacct.setup import CreditCard, DimensionValue, GLAccount
from intacct_hook.sync.dimensions import (
    BY_KEY,
    CARD_DEFAULT_LOCATION,
    INTACCT_DIMENSIONS,
    REQUIRED_FLAGS,
    SETTING_DEFAULT_LOCATION,
)
from intacct_hook.sync.settings import RETIRED_KEYS, SyncSettings
from intacct_hook.sync.window import SyncWindow

Severity = Literal["error", "warning", "info"]

GL_ACCOUNTS_SCREEN = "General Ledger > Accounts"
CARD_SCREEN = "Cash Management > Accounts > Credit card"

# GLACCOUNT flags that make a dimension mandatory on every line posted to the account, in
# Intacct's order, each with the coding key our mapping uses for it (None: a dimension the sync
# cannot supply). Custom dimensions (REQUIREGLDIM*) cannot be supplied either.
REQUIRED_DIMENSION_FLAGS: Mapping[str, str | None] = {
    flag: REQUIRED_FLAGS.get(flag)
    for flag in (
        "REQUIREDEPT", "REQUIRELOC", "REQUIRECLASS", "REQUIREPROJECT", "REQUIRECUSTOMER",
        "REQUIREVENDOR", "REQUIREEMPLOYEE", "REQUIREITEM", "REQUIRECONTRACT",
        "REQUIREWAREHOUSE", "REQUIRETASK",
    )
}  # fmt: skip
DIMENSION_LABELS = {
    key: dim.title for key, dim in INTACCT_DIMENSIONS.items() if dim.title is not None
}


def required_dimensions(account: GLAccount) -> frozenset[str]:
    """The dimensions every line posted to ``account`` must carry: the mapping's coding keys
    (``department``…) for those it can supply, the Intacct name (``customer``, ``gldim<name>``)
    for those it cannot."""
    return frozenset(
        REQUIRED_DIMENSION_FLAGS.get(name) or name.removeprefix("REQUIRE").lower()
        for name in account.required_flags
    )


def dimension_label(dimension: str) -> str:
    """``department`` → ``Department``, ``gldimregion`` → ``custom dimension REGION``."""
    if dimension.startswith("gldim"):
        return f"custom dimension {dimension.removeprefix('gldim').upper()}"
    return DIMENSION_LABELS.get(dimension, dimension.title())


class SignInParams(Protocol):
    """What the connection signed in with (the hook's ``conn_params``): the one source of the
    sender, the user and the entity."""

    @property
    def sender_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def entity_id(self) -> str | None: ...


class IntacctSetupReader(Protocol):
    """What preflight needs from the Intacct hook."""

    @property
    def intacct_conn_id(self) -> str: ...
    @property
    def conn_params(self) -> SignInParams: ...

    def get_gl_accounts(self, account_nos: Sequence[str] | None = None) -> list[GLAccount]: ...
    def get_credit_card(self, card_id: str) -> CreditCard | None: ...
    def get_locations(self) -> list[DimensionValue]: ...
    def get_departments(self) -> list[DimensionValue]: ...
    def get_classes(self) -> list[DimensionValue]: ...
    def get_projects(self) -> list[DimensionValue]: ...
    def get_books_closed_through(self) -> date | None: ...


@dataclass(frozen=True)
class CodingTarget:
    """One coding the mapping can produce: where it comes from and the Intacct IDs it names."""

    source: str
    gl_account: str | None = None
    location: str | None = None
    department: str | None = None
    class_: str | None = None
    project: str | None = None
    # Divvy custom-field options are data, not configuration: a bad one holds the transactions
    # that use it (mapping reports them) instead of stopping the whole sync.
    blocking: bool = True
    # Dimensions a Divvy custom field may still fill at run time when this target leaves them
    # empty; a required one missing here is then only a warning.
    may_come_from_divvy: frozenset[str] = frozenset()

    def dimension(self, name: str) -> str | None:
        return getattr(self, BY_KEY[name].attr if name in BY_KEY else name)


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    message: str
    fix: str | None = None

    def text(self) -> str:
        """The finding for a log record, which carries the severity as its level."""
        text = f"{self.check}: {self.message}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text

    def line(self) -> str:
        """The finding with its severity, where nothing else says it (XCom, exception text)."""
        return f"[{self.severity.upper()}] {self.text()}"


class PreflightFailed(Exception):
    """The Intacct setup would make postings fail; nothing was posted."""

    def __init__(self, report: PreflightReport) -> None:
        self.report = report
        errors = report.errors
        super().__init__(
            f"Preflight found {len(errors)} problem(s) in the Intacct setup; nothing was posted.\n"
            + "\n".join(f.line() for f in errors)
        )


@dataclass
class PreflightReport:
    findings: list[Finding] = field(default_factory=list)
    # Facts later steps need; read once here so they agree with what was checked.
    card_default_location: str | None = None
    card_offset_account: str | None = None
    books_closed_through: date | None = None
    active_ids: dict[str, set[str]] = field(default_factory=dict)

    def add(self, check: str, severity: Severity, message: str, fix: str | None = None) -> None:
        self.findings.append(Finding(check, severity, message, fix))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def raise_if_failed(self) -> None:
        if self.errors:
            raise PreflightFailed(self)

    def summary(self) -> dict[str, Any]:
        return {
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "checks": len(self.findings),
            "card_default_location": self.card_default_location,
            "books_closed_through": (
                self.books_closed_through.isoformat() if self.books_closed_through else None
            ),
            "problems": [f.line() for f in self.errors + self.warnings],
        }


def _text(value: Any) -> str:
    return str(value or "").strip()


def _norm(value: Any) -> str:
    return _text(value).lower().replace("_", " ").replace("-", " ")


def _auth_finding(
    report: PreflightReport,
    exc: ierr.IntacctError,
    settings: SyncSettings,
    intacct: IntacctSetupReader,
) -> None:
    """Turn a sign-in failure into the setup step that fixes it (the error's own fix)."""
    conn_id = intacct.intacct_conn_id
    if isinstance(exc, ierr.IntacctSenderNotAuthorized):
        report.add(
            "setup.sender_authorized",
            "error",
            f"The Web Services sender ID '{intacct.conn_params.sender_id}' (extra 'sender_id' "
            f"of the Airflow connection '{conn_id}') is not authorized for this company "
            "(XL03000006 Invalid Web Services Authorization).",
            exc.fix(sender_id=intacct.conn_params.sender_id),
        )
    elif exc.says(ierr.ENTITY_REJECTED):
        # Name what signed in and where that entity was set: an account's own entity_id, or
        # the connection's extra (which other accounts may share: the fix must not move them).
        entity = intacct.conn_params.entity_id
        conn = f"the Airflow connection '{conn_id}'"
        account = settings.account
        said = exc.description2 or exc.description or exc.errorno
        if account is not None and account.entity_id:
            key = f"accounts[{account.name}].entity_id"
            into = f"into entity '{entity}' ({key} in the settings)"
            fix = (
                f"In Intacct, {ierr.ENTITIES_SCREEN}: copy the Entity ID of this Divvy account "
                f"into {key} of the Airflow Variable 'divvy_intacct_settings' (the connection's "
                "extra 'entity_id' is not used for this account; leave it as it is)."
            )
        else:
            into = (
                f"into entity '{entity}' (extra 'entity_id' of {conn})"
                if entity
                else f"at the top level ({conn} has no extra 'entity_id')"
            )
            fix = ierr.IntacctSignInError.entity_fix_for(conn_id=conn_id)
        report.add("setup.entity", "error", f"Sign-in {into} failed: {said}.", fix)
    elif isinstance(exc, ierr.IntacctControlError):
        report.add(
            "setup.sender_credentials",
            "error",
            f"The gateway rejected the sender credentials ({exc.errorno}).",
            ierr.IntacctSenderCredentialsError.fix_for(conn_id=conn_id),
        )
    else:
        report.add(
            "setup.user_sign_in",
            "error",
            f"The Web Services user '{intacct.conn_params.user_id}' cannot sign in "
            f"({exc.errorno}: {exc.description or exc.description2}).",
            ierr.IntacctSignInError.fix_for(conn_id=conn_id),
        )


def _other_accounts(report: PreflightReport, settings: SyncSettings) -> None:
    """Problems of the settings' other Divvy accounts: they stop only those accounts (whose own
    runs fail on them), so here each is a warning, said once per run of every account."""
    for problem in settings.account_warnings:
        report.add(
            "settings.accounts",
            "warning",
            f"Another Divvy account's settings are invalid (this account is not affected): "
            f"{problem}",
            "Fix it in the Airflow Variable 'divvy_intacct_settings' (key 'accounts').",
        )


@dataclass(frozen=True)
class AccountFacts:
    """What only an account's connections know, as preflight compares it between accounts: the
    Divvy token (its SHA-256, never the token), the Intacct company and the entity signed in
    to (the account's ``entity_id``, else the connection's), and the card. None: not readable."""

    name: str
    token_digest: str | None
    company_id: str | None
    entity_id: str | None
    card_id: str


def check_accounts_apart(
    report: PreflightReport, own: str, accounts: Sequence[AccountFacts]
) -> None:
    """Two accounts must not read one Divvy account (the same token, whatever the connection
    ids) nor post on one card of one company and entity (however the entity is written). The
    settings cannot see either (they name connections); each would post every transaction
    twice, or make each reconcile report the other's records. As for the settings' own clashes,
    the account listed later stops and the earlier one is warned."""
    order = [a.name for a in accounts]
    mine = next((a for a in accounts if a.name == own), None)
    if mine is None:
        return
    for other in accounts:
        if other.name == own:
            continue
        later = order.index(own) > order.index(other.name)
        severity: Severity = "error" if later else "warning"
        stops = f"'{own}' stops" if later else f"'{other.name}' stops, '{own}' goes on"
        if mine.token_digest and mine.token_digest == other.token_digest:
            report.add(
                "settings.accounts_apart",
                severity,
                f"The accounts '{other.name}' and '{own}' read Divvy with the same API token "
                f"(their Divvy connections differ, the token does not): both would post every "
                f"transaction. {stops}.",
                "Give each account the connection of its own Divvy account (the token of that "
                "account's API key), or remove one of them from the settings' accounts.",
            )
        same_card = (mine.company_id, mine.entity_id or "", mine.card_id) == (
            other.company_id,
            other.entity_id or "",
            other.card_id,
        )
        if mine.company_id and same_card:
            where = f"entity '{mine.entity_id}'" if mine.entity_id else "the top level"
            report.add(
                "settings.accounts_apart",
                severity,
                f"The accounts '{other.name}' and '{own}' both post on the credit card account "
                f"'{mine.card_id}' of company '{mine.company_id}', {where}: each reconcile would "
                f"report the other's records as extra. {stops}.",
                "Record each Divvy account on its own credit card account (card_account_id), "
                "as the setup guide does.",
            )


def _retired_settings(
    report: PreflightReport, settings: SyncSettings, intacct: IntacctSetupReader
) -> None:
    """A Variable written for an earlier version may still hold the sign-in keys: say they are
    not read, and which value is (it may differ)."""
    used = {
        "sender_id": intacct.conn_params.sender_id,
        "ws_user_id": intacct.conn_params.user_id,
        "entity_id": intacct.conn_params.entity_id,
    }
    conn_id = intacct.intacct_conn_id
    for key, value in settings.retired.items():
        where = RETIRED_KEYS[key]
        differs = value != used[key]
        report.add(
            "settings.retired_key",
            "warning" if differs else "info",
            f"Settings key '{key}' ({value!r}) is not read: the sign-in uses the Airflow "
            f"connection '{conn_id}', {where} = {used[key]!r}"
            + (" (a different value)." if differs else "."),
            f"Remove '{key}' from divvy_intacct_settings; change the connection's {where} "
            "if it is wrong.",
        )


def _permission_finding(report: PreflightReport, exc: ierr.IntacctError, what: str) -> None:
    report.add(
        "setup.user_permissions",
        "error",
        f"The Web Services user may not read {what}: {exc.description2 or exc.description}.",
        exc.fix(),
    )


def check_gl_account(report: PreflightReport, gl: GLAccount, label: str) -> None:
    """The Divvy GL Account must be exactly as the setup guide's step 6 says."""
    no = gl.account_no
    where = f"In Intacct, {GL_ACCOUNTS_SCREEN} > {no} '{gl.title}'"
    # The setup guide's words are compared with the fields as Intacct returned them.
    account = gl.fields
    expectations = [
        ("ACCOUNTTYPE", "balancesheet", "Account type", "Balance Sheet"),
        ("NORMALBALANCE", "credit", "Normal balance", "Credit"),
        ("CLOSINGTYPE", "non closing account", "Period and closing type", "Non-Closing Account"),
        ("STATUS", "active", "Status", "Active"),
    ]
    for fld, want, ui_field, ui_value in expectations:
        if fld not in account:
            _unverifiable_gl_field(report, f"gl_account.{fld.lower()}", label, no, fld, ui_field)
            continue
        got = account.get(fld)
        if _norm(got).replace(" ", "") != want.replace(" ", ""):
            report.add(
                f"gl_account.{fld.lower()}",
                "error",
                f"{label} {no}: {ui_field} is '{_text(got) or 'empty'}', not '{ui_value}'.",
                f"{where}: set {ui_field} to {ui_value}.",
            )
    alternative = _norm(account.get("ALTERNATIVEACCOUNT"))
    if alternative not in {"", "none"}:
        report.add(
            "gl_account.alternativeaccount",
            "error",
            f"{label} {no}: GL account alternative is '{account.get('ALTERNATIVEACCOUNT')}'.",
            f"{where}: set GL account alternative to None.",
        )
    if gl.disallows_direct_posting is None:
        _unverifiable_gl_field(
            report,
            "gl_account.direct_posting",
            label,
            no,
            "SUBLEDGERCONTROLON",
            "'Disallow direct posting'",
        )
    elif gl.disallows_direct_posting:
        report.add(
            "gl_account.direct_posting",
            "error",
            f"{label} {no}: 'Disallow direct posting' is checked, so card transactions cannot "
            "post to it.",
            f"{where}: uncheck 'Disallow direct posting'.",
        )
    required = gl.required_flags
    if not any(f in account for f in REQUIRED_DIMENSION_FLAGS):
        report.add(
            "gl_account.required_dimensions",
            "warning",
            f"Could not verify that the {label} {no} requires no dimensions: Intacct returned "
            f"none of its flags ({', '.join(REQUIRED_DIMENSION_FLAGS)}). The sync goes on.",
            f"{where}: check that every dimension under 'Required dimensions' is unchecked.",
        )
    elif required:
        report.add(
            "gl_account.required_dimensions",
            "error",
            f"{label} {no}: dimensions are required ({', '.join(sorted(required))}); the setup "
            "guide warns they make the sync fail.",
            f"{where}: uncheck every dimension under 'Required dimensions'.",
        )


def _unverifiable_gl_field(
    report: PreflightReport, check: str, label: str, no: str, fld: str, ui_field: str
) -> None:
    report.add(
        check,
        "warning",
        f"Could not verify {ui_field} of the {label} {no}: Intacct returned no {fld} field for "
        "the account. The sync goes on.",
        f"In Intacct, {GL_ACCOUNTS_SCREEN} > {no}: check {ui_field} as the setup guide says.",
    )


def _find_divvy_gl_account(
    report: PreflightReport, accounts: Sequence[GLAccount], settings: SyncSettings
) -> GLAccount | None:
    if settings.divvy_gl_account_no:
        matches = [a for a in accounts if a.account_no == settings.divvy_gl_account_no]
        wanted = f"number {settings.divvy_gl_account_no}"
    else:
        matches = [a for a in accounts if a.title == settings.divvy_gl_account_title]
        wanted = f"title '{settings.divvy_gl_account_title}'"
    if len(matches) == 1:
        return matches[0]
    if not matches:
        report.add(
            "gl_account.exists",
            "error",
            f"No GL account with {wanted} exists.",
            f"In Intacct, {GL_ACCOUNTS_SCREEN} > Add: create it as the setup guide says (title "
            f"'{settings.divvy_gl_account_title}', Balance Sheet, Credit, Non-Closing, Active), "
            "or set divvy_gl_account_no in the divvy_intacct_settings Variable.",
        )
    else:
        numbers = ", ".join(a.account_no for a in matches)
        report.add(
            "gl_account.exists",
            "error",
            f"Several GL accounts have {wanted} ({numbers}).",
            "Set divvy_gl_account_no in the divvy_intacct_settings Variable to the right one.",
        )
    return None


def check_card(
    report: PreflightReport,
    card: CreditCard | None,
    settings: SyncSettings,
    window: SyncWindow,
    gl_account_no: str | None,
    locations: Mapping[str, DimensionValue],
) -> None:
    """The credit card object must be as the setup guide's step 7 says."""
    card_id = settings.card_account_id
    where = f"In Intacct, {CARD_SCREEN} > '{card_id}'"
    if card is None:
        report.add(
            "card.exists",
            "error",
            f"The credit card account '{card_id}' does not exist.",
            f"In Intacct, {CARD_SCREEN} > Add: ID '{card_id}', offset account the Divvy GL "
            "Account, a default location; or set card_account_id in divvy_intacct_settings.",
        )
        return
    if card.active is None:
        report.add(
            "card.active",
            "warning",
            f"Could not verify that the credit card account '{card_id}' is active: Intacct "
            "returned no STATUS field for it. The sync goes on.",
            f"{where}: check that Status is Active.",
        )
    elif not card.active:
        report.add(
            "card.active",
            "error",
            f"The credit card account '{card_id}' is {card.status or 'not active'}.",
            f"{where}: set Status to Active.",
        )
    expiry = card.expires
    needed = window.last_day + timedelta(days=settings.card_expiry_margin_days)
    if expiry is None:
        got = ", ".join(
            f"{f} = '{_text(card.fields.get(f))}'" if f in card.fields else f"no {f}"
            for f in ("EXP_MONTH", "EXP_YEAR")
        )
        report.add(
            "card.expiry",
            "warning",
            f"Could not verify the expiration date of the credit card account '{card_id}': "
            f"no readable month and year in its fields EXP_MONTH and EXP_YEAR ({got}). The sync "
            "goes on.",
            f"{where}: set an expiration date far in the future.",
        )
    elif expiry < needed:
        report.add(
            "card.expiry",
            "error",
            f"The credit card account '{card_id}' expires {expiry.isoformat()}, before "
            f"{needed.isoformat()} (the run's last day plus {settings.card_expiry_margin_days} "
            "days).",
            f"{where}: set the expiration date far in the future.",
        )
    check_card_offset_account(report, card, card_id, gl_account_no)
    if settings.default_location is None:
        check_card_default_location(report, card, card_id, locations)
    else:
        check_default_location_setting(report, card, settings, locations)


def check_card_default_location(
    report: PreflightReport,
    card: CreditCard,
    card_id: str,
    locations: Mapping[str, DimensionValue],
) -> None:
    """A default location read from the card must be an active location; none read is a warning.

    Its field name is a guess (an empty guessed field proves nothing either), so without a value
    the map step simply has no card default to fall back on.
    """
    where = f"In Intacct, {CARD_SCREEN} > '{card_id}'"
    location = card.default_location_id
    found_in = card.default_location_field
    report.card_default_location = location
    if location is None:
        report.add(
            "card.default_location",
            "warning",
            f"Could not verify the default location of the credit card account '{card_id}': "
            f"none of its fields {', '.join(CARD_LOCATION_FIELDS)} holds a value. The sync "
            "goes on; lines without a mapped location are sent without one, or held when "
            "their GL account requires a location.",
            f"{where}: make sure 'Default location' is the location for this Divvy account, or "
            "map a location for every line (Divvy 'Location' field or a rule).",
        )
    elif location not in locations:
        report.add(
            "card.default_location",
            "error",
            f"The default location '{location}' of '{card_id}' (card field {found_in}) does not "
            "exist or is inactive.",
            f"{where}: choose an active location as 'Default location'.",
        )
    else:
        report.add(
            "card.default_location",
            "info",
            f"The credit card account '{card_id}' has the default location '{location}' (card "
            f"field {found_in}).",
        )


def check_default_location_setting(
    report: PreflightReport,
    card: CreditCard,
    settings: SyncSettings,
    locations: Mapping[str, DimensionValue],
) -> None:
    """The settings' ``default_location`` (an account's, issue 11 part 5) replaces the card's:
    it must be an active location; a card default read and different is worth a warning, since
    the guide has the card carry "the location for this Divvy account"."""
    location = settings.default_location
    report.card_default_location = location
    whose = f"account '{settings.account.name}'" if settings.account else "the settings"
    key = (
        f"accounts[{settings.account.name}].default_location"
        if settings.account
        else ("default_location")
    )
    if location not in locations:
        report.add(
            "card.default_location",
            "error",
            f"The default location '{location}' of {whose} ({key}) does not exist in Intacct or "
            "is inactive.",
            f"Set {key} to an active location ID (Company > Locations), or remove it to use the "
            "credit card account's default location.",
        )
        return
    card_location = card.default_location_id
    if card_location is not None and card_location != location:
        report.add(
            "card.default_location",
            "warning",
            f"Lines without a mapped location take '{location}' ({key}), but the credit card "
            f"account '{settings.card_account_id}' has the default location '{card_location}' "
            f"(card field {card.default_location_field}). The sync goes on with '{location}'.",
            f"Make them agree: In Intacct, {CARD_SCREEN} > '{settings.card_account_id}' > "
            f"'Default location', or change {key}.",
        )
        return
    report.add(
        "card.default_location",
        "info",
        f"Lines without a mapped location take '{location}' ({key}).",
    )


def check_card_offset_account(
    report: PreflightReport, card: CreditCard, card_id: str, gl_account_no: str | None
) -> None:
    """The card must offset to the Divvy GL Account; only a value read and found wrong stops.

    The CREDITCARD field holding the offset account is not documented, so the account is looked
    for by value: any account-like field holding the Divvy GL Account's number proves it. A
    guessed name holding another account is read and wrong; anything else cannot be verified.
    """
    where = f"In Intacct, {CARD_SCREEN} > '{card_id}'"
    fields = card.account_like_fields()
    guessed_field = card.offset_account_field
    guessed = card.offset_account_no
    if gl_account_no is None:
        # The Divvy GL Account itself is missing (already an error): nothing to compare with.
        report.card_offset_account = guessed
        return
    matches = [name for name, value in fields.items() if value == gl_account_no]
    if matches:
        found_in = guessed_field if guessed_field in matches else matches[0]
        report.card_offset_account = gl_account_no
        report.add(
            "card.offset_account",
            "info",
            f"The credit card account '{card_id}' offsets to the Divvy GL Account "
            f"{gl_account_no} (card field {found_in}).",
        )
        return
    report.card_offset_account = guessed
    if guessed:
        report.add(
            "card.offset_account",
            "error",
            f"The credit card account '{card_id}' offsets to account {guessed} (card field "
            f"{guessed_field}), not to the Divvy GL Account {gl_account_no}.",
            f"{where}: set 'Credit card offset account' to {gl_account_no}.",
        )
        return
    seen = ", ".join(f"{name} = {value}" for name, value in sorted(fields.items()))
    report.add(
        "card.offset_account",
        "warning",
        f"Could not verify that the credit card account '{card_id}' offsets to the Divvy GL "
        f"Account {gl_account_no}: no field of the card record holds {gl_account_no} (looked "
        f"in {', '.join(CARD_OFFSET_ACCOUNT_FIELDS)} and every field named like an account"
        + (f"; account fields seen: {seen}" if seen else "; none were returned")
        + "). The sync goes on; Intacct books every posting against the card's real offset "
        "account.",
        f"{where}: make sure 'Credit card offset account' is {gl_account_no}.",
    )


def _active_accounts(accounts: Iterable[GLAccount]) -> dict[str, GLAccount]:
    return {a.account_no: a for a in accounts if a.active}


def _active_values(values: Iterable[DimensionValue]) -> dict[str, DimensionValue]:
    return {v.id: v for v in values if v.active}


def check_coding_targets(
    report: PreflightReport,
    targets: Sequence[CodingTarget],
    accounts: Mapping[str, GLAccount],
    dimensions: Mapping[str, Mapping[str, DimensionValue]],
    default_location: str | None,
) -> None:
    """Every account and dimension value the mapping can produce must exist and be postable."""
    for target in targets:
        severity: Severity = "error" if target.blocking else "warning"
        if target.gl_account:
            account = accounts.get(target.gl_account)
            if account is None:
                report.add(
                    "mapping.gl_account",
                    severity,
                    f"{target.source} maps to GL account {target.gl_account}, which does not "
                    "exist or is inactive.",
                    f"Fix {target.source}, or in Intacct, {GL_ACCOUNTS_SCREEN}: create or "
                    f"activate {target.gl_account}.",
                )
            else:
                if account.disallows_direct_posting:
                    report.add(
                        "mapping.gl_account",
                        severity,
                        f"{target.source} maps to GL account {target.gl_account}, which "
                        "disallows direct posting.",
                        f"In Intacct, {GL_ACCOUNTS_SCREEN} > {target.gl_account}: uncheck "
                        "'Disallow direct posting', or map to another account.",
                    )
                for dim in sorted(required_dimensions(account)):
                    codable = dim in DIMENSION_LABELS
                    supplied = target.dimension(dim) if codable else None
                    if dim == "location" and not supplied:
                        supplied = default_location
                    if not supplied:
                        label = dimension_label(dim)
                        divvy_may = dim in target.may_come_from_divvy
                        # The map step holds exactly these lines (mapping.map_lines with
                        # PostingFacts.required_dimensions), so this promise is kept.
                        report.add(
                            "mapping.required_dimension",
                            "warning" if divvy_may else severity,
                            f"GL account {target.gl_account} requires the {label} dimension, "
                            f"but {target.source} does not supply one"
                            + (
                                f"; transactions without a Divvy {label} value will be held "
                                "as unmapped (never sent) until they have one."
                                if divvy_may
                                else "."
                            ),
                            f"Add a {label.lower()} to {target.source}, or in Intacct, "
                            f"{GL_ACCOUNTS_SCREEN} > {target.gl_account}: uncheck the required "
                            f"{label} dimension.",
                        )
        for dim, label in DIMENSION_LABELS.items():
            value = target.dimension(dim)
            if value and value not in dimensions.get(dim, {}):
                report.add(
                    f"mapping.{dim}",
                    severity,
                    f"{target.source} names {label.lower()} '{value}', which does not exist or "
                    "is inactive in Intacct.",
                    f"Fix {target.source}, or create/activate {label} '{value}' in Intacct.",
                )


#: What each closed_period_policy does with a transaction dated in a closed period (preflight
#: says it; intacct_hook.sync.closed_periods does it).
CLOSED_PERIOD_OUTCOMES = {
    "fail": "fail individually (Intacct refuses them; each run tries again)",
    "hold": "be held until the period reopens, then posted by the first run after that",
    "post_to_first_open_day": "be posted on the first open day, their purchase date kept in the "
    "description and the ledger",
}


def check_closed_periods(
    report: PreflightReport,
    closed_through: date | None,
    window: SyncWindow,
    *,
    unreadable: str | None = None,
    policy: str = "fail",
) -> None:
    """Say which closed days the window meets and what ``policy`` (closed_period_policy) will do
    with them; a books-closed date that cannot be read is a warning (the object and field are a
    guess), never an error. Under ``fail`` closed days are a warning; under the other policies,
    which handle them, information."""
    report.books_closed_through = closed_through
    outcome = CLOSED_PERIOD_OUTCOMES.get(policy, CLOSED_PERIOD_OUTCOMES["fail"])
    if closed_through is None:
        report.add(
            "periods.closed",
            "warning",
            "Could not verify closed periods: Intacct returned no books-closed date (looked for "
            f"object {BOOKS_CLOSED_OBJECT}, field {BOOKS_CLOSED_FIELD}"
            + (f"; Intacct said: {unreadable}" if unreadable else "")
            + "). The sync goes on; a transaction Intacct refuses as dated in a closed period "
            f"will {outcome} (closed_period_policy '{policy}'), read from Intacct's message.",
            "Nothing to change unless such refusals appear; then ask the controller which "
            "periods are closed.",
        )
        return
    if closed_through >= window.lookback_from:
        last = min(closed_through, window.last_day)
        report.add(
            "periods.closed",
            "warning" if policy == "fail" else "info",
            f"The books are closed through {closed_through.isoformat()}: transactions dated "
            f"{window.lookback_from.isoformat()}..{last.isoformat()} cannot be posted on their "
            f"date and will {outcome} (closed_period_policy '{policy}').",
            "Ask the controller to reopen the period in Intacct (General Ledger > Close books), "
            "or set closed_period_policy to 'hold' or 'post_to_first_open_day'."
            if policy == "fail"
            else None,
        )


@dataclass(frozen=True)
class PostingFacts:
    """What the map step needs to know about Intacct: the active IDs, the card's default
    location, and per active GL account the dimensions it requires (only accounts that require
    any; see :func:`required_dimensions`)."""

    card_default_location: str | None
    active_ids: dict[str, set[str]]
    required_dimensions: dict[str, frozenset[str]] = field(default_factory=dict)
    # Where the default location came from: the card, or the settings' default_location.
    default_location_rule: str = CARD_DEFAULT_LOCATION

    def coding_kwargs(self) -> dict[str, Any]:
        """The keywords of the map step's coder (``steps.map_transactions``, ``StoredMapper``)
        these facts fill: one place that passes Intacct's facts to the coder."""
        return {
            "card_default_location": self.card_default_location,
            "default_location_rule": self.default_location_rule,
            "valid_ids": self.active_ids,
            "required_dimensions": self.required_dimensions,
        }


def _read_dimensions(intacct: IntacctSetupReader) -> dict[str, dict[str, DimensionValue]]:
    return {
        "location": _active_values(intacct.get_locations()),
        "department": _active_values(intacct.get_departments()),
        "class": _active_values(intacct.get_classes()),
        "project": _active_values(intacct.get_projects()),
    }


def read_posting_facts(intacct: IntacctSetupReader, settings: SyncSettings) -> PostingFacts:
    accounts = _active_accounts(intacct.get_gl_accounts())
    dimensions = _read_dimensions(intacct)
    card = intacct.get_credit_card(settings.card_account_id)
    required = {no: required_dimensions(account) for no, account in accounts.items()}
    return PostingFacts(
        card_default_location=settings.default_location
        or (card.default_location_id if card else None),
        default_location_rule=(
            SETTING_DEFAULT_LOCATION if settings.default_location else CARD_DEFAULT_LOCATION
        ),
        active_ids={"gl_account": set(accounts)} | {k: set(v) for k, v in dimensions.items()},
        required_dimensions={no: dims for no, dims in required.items() if dims},
    )


def run_preflight(
    intacct: IntacctSetupReader,
    settings: SyncSettings,
    window: SyncWindow,
    targets: Sequence[CodingTarget] = (),
) -> PreflightReport:
    """Check every fact of the setup guide and every coding target; never raises on findings."""
    report = PreflightReport()
    _retired_settings(report, settings, intacct)
    _other_accounts(report, settings)
    try:
        accounts_list = intacct.get_gl_accounts()
    except ierr.IntacctPermissionError as exc:
        _permission_finding(report, exc, "GL accounts")
        return report
    except (ierr.IntacctAuthenticationError, ierr.IntacctControlError) as exc:
        _auth_finding(report, exc, settings, intacct)
        return report
    report.add("setup.sign_in", "info", "Sender authorized; Web Services user signed in.")

    gl = _find_divvy_gl_account(report, accounts_list, settings)
    gl_no = gl.account_no if gl else None
    if gl is not None:
        check_gl_account(report, gl, "Divvy GL Account")

    try:
        dimensions = _read_dimensions(intacct)
        locations = dimensions["location"]
        card = intacct.get_credit_card(settings.card_account_id)
    except ierr.IntacctPermissionError as exc:
        _permission_finding(report, exc, "card accounts and dimensions")
        return report
    check_card(report, card, settings, window, gl_no, locations)

    accounts = _active_accounts(accounts_list)
    check_coding_targets(report, targets, accounts, dimensions, report.card_default_location)
    report.active_ids = {"gl_account": set(accounts)} | {k: set(v) for k, v in dimensions.items()}

    try:
        closed, unreadable = intacct.get_books_closed_through(), None
    except ierr.IntacctFunctionError as exc:
        closed, unreadable = None, exc.description2 or exc.description or str(exc)
    check_closed_periods(
        report, closed, window, unreadable=unreadable, policy=settings.closed_period_policy
    )
    return report
