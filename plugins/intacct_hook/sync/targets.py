"""Every coding the mapping can produce, for preflight to check against Intacct up front."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Protocol

from intacct_hook.divvy.records import DivvyCustomField, DivvyCustomFieldValue
from intacct_hook.sync.dimensions import BY_KEY
from intacct_hook.sync.preflight import CodingTarget
from intacct_hook.sync.rules import RuleSet, intacct_id
from intacct_hook.sync.settings import SyncSettings

log = logging.getLogger(__name__)


class CustomFieldSource(Protocol):
    def iter_custom_fields(self) -> Iterator[DivvyCustomField]: ...
    def iter_custom_field_values(
        self, field: DivvyCustomField
    ) -> Iterator[DivvyCustomFieldValue]: ...


def coding_targets(
    rules: RuleSet, settings: SyncSettings, divvy: CustomFieldSource | None
) -> list[CodingTarget]:
    """Rules and the default account (configuration: problems block the sync), then every value
    the mapped Divvy custom fields offer (data: problems are warnings, the map step holds the
    transactions that use them)."""
    from_divvy = frozenset(d for d, name in settings.custom_field_names.items() if name)
    targets: list[CodingTarget] = []
    for rule in rules:
        coding: dict[str, Any] = {BY_KEY[dim].attr: value for dim, value in rule.values.items()}
        targets.append(
            CodingTarget(source=rule.provenance, may_come_from_divvy=from_divvy, **coding)
        )
    if settings.default_gl_account:
        targets.append(
            CodingTarget(
                source="setting 'default_gl_account'",
                gl_account=settings.default_gl_account,
                may_come_from_divvy=from_divvy,
            )
        )
    if divvy is not None:
        targets.extend(_divvy_targets(settings, divvy, from_divvy))
    return targets


def _divvy_targets(
    settings: SyncSettings, divvy: CustomFieldSource, from_divvy: frozenset[str]
) -> Iterator[CodingTarget]:
    wanted = {name: dim for dim, name in settings.custom_field_names.items() if name}
    fields = {f.name: f for f in divvy.iter_custom_fields() if not f.retired}
    for name, dim in wanted.items():
        field = fields.get(name)
        if field is None:
            log.warning("Divvy has no custom field named %r (mapped to %s)", name, dim)
            continue
        for value in divvy.iter_custom_field_values(field):
            if value.deleted or not intacct_id(value.value):
                continue
            kwargs: dict[str, Any] = {BY_KEY[dim].attr: intacct_id(value.value)}
            yield CodingTarget(
                source=f"Divvy custom field '{name}' value '{value.value}'",
                blocking=False,
                may_come_from_divvy=from_divvy,
                **kwargs,
            )
