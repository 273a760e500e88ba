"""What every sync step needs from Airflow: its settings, its window and the ledger."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator, Variable
from airflow.sdk.exceptions import AirflowFailException

from intacct_hook.sync.accounts import (
    DivvyAccount,
    account_dag_id,
    account_list_problems,
    accounts_in_variable,
)
from intacct_hook.sync.ledger import Ledger, search_path_engine_kwargs
from intacct_hook.sync.settings import SettingsError, SyncSettings
from intacct_hook.sync.window import SyncWindow, WindowError, resolve_window

if TYPE_CHECKING:  # the hooks import lxml and requests: loaded when a task runs, not at parse
    from intacct_hook.hooks.divvy import DivvyHook
    from intacct_hook.hooks.intacct import IntacctHook
    from intacct_hook.sync.preflight import AccountFacts

SETTINGS_VARIABLE = "divvy_intacct_settings"
SYNC_DAG_ID = "divvy_intacct_sync"
PREVIEW_DAG_ID = "divvy_intacct_preview"
# Run conf keys that ask for a preview. The real DAG has no such parameter (a parameter can be
# lost on the way: the 3.3.2 backfill dialog sends no conf at all), so it refuses them.
PREVIEW_REQUEST_KEYS = ("dry_run", "preview")


def preview_request(*sources: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keys of a run's conf or params that ask for a preview, with their values (any value
    but ``None`` or ``False`` asks: ``"false"`` as text is refused rather than guessed at)."""
    return {
        key: source[key]
        for source in sources
        if source
        for key in PREVIEW_REQUEST_KEYS
        if key in source and source[key] is not None and source[key] is not False
    }


def configured_accounts(settings_variable: str = SETTINGS_VARIABLE) -> tuple[DivvyAccount, ...]:
    """The Divvy accounts the settings list, read when a DAG file is parsed: one set of DAGs
    each (none listed: the single-account DAGs). Never raises (see ``accounts_in_variable``):
    an entry that cannot be read is left out, and the tasks report every problem."""
    return accounts_in_variable(Variable.get(settings_variable, default=None))


def configured_account_problems(settings_variable: str = SETTINGS_VARIABLE) -> list[str]:
    """What the DAG files could not read of the account list (empty: all of it)."""
    return account_list_problems(Variable.get(settings_variable, default=None))


SETTINGS_CHECK_DAG_ID = "divvy_intacct_settings_invalid"


class SettingsCheckOperator(BaseOperator):
    """Fails while the settings' account list cannot be read: the alert for DAGs the DAG
    files could not build (they never fail to import, which would stop schedules silently)."""

    template_fields: Sequence[str] = ("settings_variable",)

    def __init__(self, *, settings_variable: str = SETTINGS_VARIABLE, **kwargs: Any) -> None:
        kwargs.setdefault(
            "doc_md",
            "**Check settings.** Fails while the Variable `divvy_intacct_settings` cannot be "
            "read as a list of Divvy accounts, naming each problem. Fix the Variable: this DAG "
            "disappears at the next parse and the accounts' DAGs come back.",
        )
        super().__init__(**kwargs)
        self.settings_variable = settings_variable

    def execute(self, context: Any) -> None:
        problems = configured_account_problems(self.settings_variable)
        if problems:
            raise AirflowFailException(
                f"The Airflow Variable '{self.settings_variable}' cannot be read as the list of "
                "Divvy accounts, so the DAGs of the accounts below are not built and do not "
                "run:\n" + "\n".join(f"  - {p}" for p in problems)
            )
        self.log.info("The account list reads again; this DAG goes at the next parse.")


def _connection_field(conn_id: str, name: str) -> Any:
    try:
        return getattr(BaseHook.get_connection(conn_id), name)
    except Exception:  # missing or unreadable: unknown, and that account's own run says so
        return None


def describe(asked: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(asked.items()))


class SyncStepOperator(BaseOperator):
    """Base of the sync's operators: reads settings, resolves the run's window, opens the ledger.

    :param settings_variable: name of the Airflow Variable holding the JSON settings.
    :param intacct_conn_id: Airflow connection of the Intacct XML gateway.
    :param divvy_conn_id: Airflow connection of the Divvy API.
    :param preview: build the step for the preview DAG: it talks to Intacct through a hook that
        refuses every write, and load and reconcile behave as a preview. Fixed when the DAG is
        defined; not a templated field, so no run parameter or conf can change it.
    :param account: the Divvy account of the settings' ``accounts`` this step works for (its
        DAGs are generated per account): its settings, connections, Intacct entity and part of
        the ledger. ``None``: the single-account deployment (no ``accounts`` in the settings).
    """

    template_fields: Sequence[str] = ("settings_variable", "intacct_conn_id", "divvy_conn_id")
    template_ext = (".sql",)
    # The ledger statements this step writes with: rendered from include/sql/ and run exactly
    # as rendered. Each is its own templated field ``<name>_sql`` shown as SQL on the Rendered
    # Template tab; one field holding them all would be cut at Airflow's field length limit.
    ledger_statements: tuple[str, ...] = ()
    # The task's Docs tab text. BaseOperator.__init__ sets doc_md from its argument, so a
    # class-level doc_md would be replaced by None; this one is passed as the default instead.
    step_doc: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        sql_fields = tuple(f"{name}_sql" for name in cls.ledger_statements)
        cls.template_fields = (*SyncStepOperator.template_fields, *sql_fields)
        cls.template_fields_renderers = dict.fromkeys(sql_fields, "sql")

    def __init__(
        self,
        *,
        settings_variable: str = SETTINGS_VARIABLE,
        intacct_conn_id: str = "intacct_default",
        divvy_conn_id: str = "divvy_default",
        preview: bool = False,
        account: DivvyAccount | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(preview, bool):
            # A template string ("{{ params.preview }}") would be truthy text, never rendered.
            raise TypeError(f"preview must be True or False, not {preview!r}")
        kwargs.setdefault("doc_md", self.step_doc)
        super().__init__(**kwargs)
        self.preview = preview
        for name in self.ledger_statements:
            setattr(self, f"{name}_sql", f"{name}.sql")
        self.settings_variable = settings_variable
        # An account's connections are its own (shown on the Rendered Template tab as such).
        self.account = account.name if account else None
        self.intacct_conn_id = account.intacct_conn_id if account else intacct_conn_id
        self.divvy_conn_id = account.divvy_conn_id if account else divvy_conn_id
        self.entity_id = account.entity_id if account else None

    def load_settings(self) -> SyncSettings:
        """The validated settings of this step's account (or of the single-account setup).

        An account's connections and entity are read from the Variable here, not only from
        the parse: a Variable changed since the DAG was parsed applies at once."""
        raw = Variable.get(self.settings_variable, default=None)
        try:
            settings = SyncSettings.from_variable(raw, account=self.account)
            if self.account is not None:
                settings = settings.for_account(self.account)
        except SettingsError as exc:
            # Retrying cannot fix a bad Variable: fail at once with the list of fixes.
            raise AirflowFailException(
                f"Airflow Variable '{self.settings_variable}' is invalid:\n{exc}"
            ) from exc
        if settings.accounts:
            names = ", ".join(account_dag_id(self.dag_id, a.name) for a in settings.accounts)
            raise AirflowFailException(
                f"The settings list Divvy accounts, so this DAG, which belongs to none, no longer "
                f"syncs anything (nothing was read or posted): each account has its own DAGs "
                f"({names}). Unpause those instead; this DAG disappears once the DAG file is "
                "parsed again."
            )
        if settings.account is not None:
            self.intacct_conn_id = settings.account.intacct_conn_id
            self.divvy_conn_id = settings.account.divvy_conn_id
            self.entity_id = settings.account.entity_id
        return settings

    def resolve_window(self, context: Mapping[str, Any], settings: SyncSettings) -> SyncWindow:
        dag_run = context.get("dag_run")
        try:
            return resolve_window(
                params=dict(context.get("params") or {}),
                data_interval_start=context.get("data_interval_start"),
                data_interval_end=context.get("data_interval_end"),
                run_after=getattr(dag_run, "run_after", None),
                timezone=settings.timezone,
                lookback_days=settings.lookback_days,
            )
        except WindowError as exc:
            raise AirflowFailException(f"Cannot work out the days to sync: {exc}") from exc

    def open_ledger(self, settings: SyncSettings) -> Ledger:
        """The SQLite file by default; any SQLAlchemy-capable Airflow connection otherwise.
        An account's part of the ledger: its own file, or its own PostgreSQL schema."""
        if settings.ledger_conn_id:
            hook = BaseHook.get_connection(settings.ledger_conn_id).get_hook()
            schema = settings.account.schema if settings.account else None
            if schema is None:
                ledger = Ledger(hook.get_sqlalchemy_engine())
            else:
                engine = hook.get_sqlalchemy_engine(engine_kwargs=search_path_engine_kwargs(schema))
                if engine.dialect.name != "postgresql":
                    engine.dispose()
                    # Retrying cannot change the database: fail at once with the fix.
                    raise AirflowFailException(
                        f"The ledger connection '{settings.ledger_conn_id}' is "
                        f"{engine.dialect.name}, but with several Divvy accounts a shared "
                        "ledger database must be PostgreSQL (each account gets its own schema). "
                        "Point ledger_conn_id at PostgreSQL, or remove it to give each account "
                        "its own SQLite file."
                    )
                ledger = Ledger(engine, schema=schema)
        else:
            ledger = Ledger.sqlite(settings.sqlite_ledger_path())
        for name in self.ledger_statements:
            ledger.override_sql(name, getattr(self, f"{name}_sql"))
        ledger.ensure_schema()
        return ledger

    def intacct_hook(self, *, read_only: bool = False, **kwargs: Any) -> IntacctHook:
        """The Intacct hook of this step's account (its connection and entity); a preview's,
        or one asked ``read_only``, cannot write."""
        from intacct_hook.hooks.intacct import IntacctHook
        from intacct_hook.hooks.read_only import ReadOnlyIntacctHook

        hook_class = ReadOnlyIntacctHook if self.preview or read_only else IntacctHook
        return hook_class(intacct_conn_id=self.intacct_conn_id, entity_id=self.entity_id, **kwargs)

    def account_facts(self, settings: SyncSettings) -> list[AccountFacts]:
        """What each listed account's connections say (``preflight.check_accounts_apart``):
        its Divvy token's SHA-256 (the token itself is neither kept nor logged), its Intacct
        company and the entity it signs in to. A connection that cannot be read leaves its
        facts unknown: that account's own run reports it."""
        from intacct_hook.sync.preflight import AccountFacts

        facts = []
        for account, card in settings.peers:
            token = _connection_field(account.divvy_conn_id, "password")
            extra = _connection_field(account.intacct_conn_id, "extra_dejson") or {}
            company = extra.get("company_id") if isinstance(extra, Mapping) else None
            entity = account.entity_id or (
                extra.get("entity_id") if isinstance(extra, Mapping) else None
            )
            facts.append(
                AccountFacts(
                    name=account.name,
                    token_digest=hashlib.sha256(token.encode()).hexdigest() if token else None,
                    company_id=str(company).strip() or None if company else None,
                    entity_id=str(entity).strip() or None if entity else None,
                    card_id=card,
                )
            )
        return facts

    def divvy_hook(self, **kwargs: Any) -> DivvyHook:
        """The Divvy hook of this step's account."""
        from intacct_hook.hooks.divvy import DivvyHook

        return DivvyHook(divvy_conn_id=self.divvy_conn_id, **kwargs)

    def pre_execute(self, context: Any) -> None:
        self.refuse_preview_request(context)
        super().pre_execute(context)

    def refuse_preview_request(self, context: Mapping[str, Any]) -> None:
        """A run of the real DAG that asks for a preview fails before anything is read or sent.

        Never a silent post: whoever passed ``dry_run`` meant a preview, and only the preview DAG
        gives one whatever reaches it (a parameter, a conf, or none at all).
        """
        if self.preview:
            return  # the preview DAG ignores them: it is a preview whatever they say
        dag_run = context.get("dag_run")
        asked = preview_request(getattr(dag_run, "conf", None), context.get("params"))
        if asked:
            raise AirflowFailException(
                f"This run asks for a preview ({describe(asked)}), but "
                f"{account_dag_id(SYNC_DAG_ID, self.account)} posts to "
                "Intacct and has no dry run; nothing was read or posted. For a preview, trigger or "
                f"backfill the DAG {account_dag_id(PREVIEW_DAG_ID, self.account)} (it writes "
                "nothing to Intacct). To post, "
                "run this DAG without dry_run/preview in its conf."
            )
