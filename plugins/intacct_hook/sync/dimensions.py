"""The coding a posting line carries: GL account and four dimensions, defined once.

Every other name for them derives from :data:`CODING`: the settings' keys and default Divvy
custom fields, the rules file's columns, the ledger's ``mapped_line`` columns, the wording of
the map step's and preflight's messages, the ``GLACCOUNT`` flags that make a dimension
required, and the attributes of preflight's coding targets. Adding a dimension is one row here
(plus its ledger column and request field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Dimension:
    """One coding column.

    :param key: the coding key: settings (``custom_field_names``), rules CSV column, the
        ``valid_ids`` / ``required_dimensions`` keys.
    :param noun: how a sentence names it (``GL account``, ``department``).
    :param title: Intacct's name for the dimension (``Department``); ``None`` for the account,
        which is no dimension in Intacct.
    :param id_column: the ledger column (``mapped_line``) and request field holding the ID.
    :param default_custom_field: the Divvy custom field read for it unless the settings say
        otherwise.
    :param required_flag: the ``GLACCOUNT`` flag that makes it mandatory on an account's lines.
    :param target_attr: the attribute of :class:`~intacct_hook.sync.preflight.CodingTarget`.
    """

    key: str
    noun: str
    title: str | None
    id_column: str
    default_custom_field: str
    required_flag: str | None = None
    target_attr: str | None = None

    @property
    def rule_column(self) -> str:
        """The ledger column naming the rule (or custom field) that produced the ID."""
        return f"{self.key}_rule"

    @property
    def attr(self) -> str:
        return self.target_attr or self.key


#: The coding columns, in the order used everywhere (rules file, ledger, messages).
CODING: tuple[Dimension, ...] = (
    Dimension("gl_account", "GL account", None, "gl_account_no", "GL Account"),
    Dimension("location", "location", "Location", "location_id", "Location", "REQUIRELOC"),
    Dimension(
        "department", "department", "Department", "department_id", "Department", "REQUIREDEPT"
    ),
    Dimension("class", "class", "Class", "class_id", "Class", "REQUIRECLASS", "class_"),
    Dimension("project", "project", "Project", "project_id", "Project", "REQUIREPROJECT"),
)
BY_KEY: Mapping[str, Dimension] = MappingProxyType({d.key: d for d in CODING})

#: The coding keys, in order.
DIMENSIONS: tuple[str, ...] = tuple(d.key for d in CODING)
#: The Intacct dimensions proper (everything but the GL account), by key.
INTACCT_DIMENSIONS: Mapping[str, Dimension] = MappingProxyType(
    {d.key: d for d in CODING if d.title is not None}
)
DEFAULT_CUSTOM_FIELD_NAMES: Mapping[str, str | None] = MappingProxyType(
    {d.key: d.default_custom_field for d in CODING}
)
#: Ledger ID column per coding key.
ID_COLUMNS: Mapping[str, str] = MappingProxyType({d.key: d.id_column for d in CODING})
#: Ledger provenance column per coding key.
RULE_COLUMNS: Mapping[str, str] = MappingProxyType({d.key: d.rule_column for d in CODING})
#: Provenance column per ID column (``gl_account_no`` → ``gl_account_rule``).
RULE_OF_ID_COLUMN: Mapping[str, str] = MappingProxyType(
    {d.id_column: d.rule_column for d in CODING}
)
#: ``GLACCOUNT`` flag → the coding key it requires, for the dimensions this sync can supply.
REQUIRED_FLAGS: Mapping[str, str] = MappingProxyType(
    {d.required_flag: d.key for d in CODING if d.required_flag}
)


#: Where a line's location came from when nothing else gave one (a line's provenance): the
#: credit card account's default location, or the settings' ``default_location`` (an account's
#: or the top level's), which replaces the card's.
CARD_DEFAULT_LOCATION = "card default location"
SETTING_DEFAULT_LOCATION = "setting default_location"
