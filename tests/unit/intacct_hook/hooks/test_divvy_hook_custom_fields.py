"""DivvyHook's custom-field writes against the local Divvy API: create, rename (either answer
about PATCH), retire, and which failures are retried."""

from __future__ import annotations

import pytest
import tenacity

from intacct_hook.divvy.errors import DivvyApiError, DivvyTransientError

FAST = {"wait": tenacity.wait_none()}
GL = "tty_glaccount000000000000000001"


def field(hook, name: str):
    return next(f for f in hook.iter_custom_fields() if f.name == name)


def texts(hook, cfield) -> list[str]:
    return sorted(v.value for v in hook.iter_custom_field_values(cfield))


def writes(api) -> list[tuple[str, int | None]]:
    return [(r.method, r.status) for r in api.requests if r.method != "GET"]


def test_create_field_and_value(api, connect) -> None:
    hook = connect(api)
    created = hook.create_custom_field("Cost Center")
    assert created.name == "Cost Center" and created.uuid.startswith("tty_")
    assert created.type == "CUSTOM_SELECTOR" and not created.multi_select
    value = hook.create_custom_field_value(created, "CC1 - One")
    assert value is not None and value.value == "CC1 - One"
    assert texts(hook, created) == ["CC1 - One"]


def test_rename_without_patch_creates_and_retires_once_asked(api, connect) -> None:
    hook = connect(api)
    gl = field(hook, "GL Account")
    old = {v.value: v.uuid for v in hook.iter_custom_field_values(gl)}
    hook.rename_custom_field_value(gl, old["6200 - Travel"], "6200 - Travel & Lodging")
    hook.rename_custom_field_value(gl, old["6300 - Meals"], "6300 - Meals & Drinks")
    values = texts(hook, gl)
    assert "6200 - Travel & Lodging" in values and "6200 - Travel" not in values
    assert "6300 - Meals & Drinks" in values and "6300 - Meals" not in values
    # PATCH answered 405 once; the second rename went straight to create + retire
    assert writes(api) == [
        ("PATCH", 405), ("POST", 201), ("DELETE", 204), ("POST", 201), ("DELETE", 204),
    ]  # fmt: skip


def test_rename_with_patch_keeps_the_value(api, connect) -> None:
    api.state.value_patch = True
    hook = connect(api)
    gl = field(hook, "GL Account")
    uuid = next(v.uuid for v in hook.iter_custom_field_values(gl) if v.value == "6200 - Travel")
    renamed = hook.rename_custom_field_value(gl, uuid, "6200 - Travel & Lodging")
    assert renamed is not None and renamed.uuid == uuid
    assert writes(api) == [("PATCH", 200)]


def test_retire_and_retire_again(api, connect) -> None:
    hook = connect(api)
    gl = field(hook, "GL Account")
    uuid = next(v.uuid for v in hook.iter_custom_field_values(gl) if v.value == "6200 - Travel")
    assert hook.retire_custom_field_value(gl, uuid) is True
    assert hook.retire_custom_field_value(gl, uuid) is False  # already gone: 404
    assert "6200 - Travel" not in texts(hook, gl)


def test_refusals_raise_with_status(api, connect) -> None:
    hook = connect(api)
    gl = field(hook, "GL Account")
    with pytest.raises(DivvyApiError) as info:
        hook.create_custom_field_value(gl, "6100 - Office Supplies")
    assert info.value.status == 409
    with pytest.raises(DivvyApiError) as info:
        hook.create_custom_field("GL Account")
    assert info.value.status == 409


def test_a_create_is_retried_on_429_only(api, connect) -> None:
    hook = connect(api, hook_kwargs={"retry_args": FAST})
    gl = field(hook, "GL Account")
    api.queue_fault("rate_limit", retry_after=0)
    assert hook.create_custom_field_value(gl, "8000 - A") is not None
    api.queue_fault("server_error", status=502)
    # a 5xx may have created the value: not sent again (the next run plans from what is there)
    with pytest.raises(DivvyTransientError):
        hook.create_custom_field_value(gl, "8001 - B")
    assert [m for m, _ in writes(api)] == ["POST", "POST", "POST"]
    # a retire is idempotent: retried after a 5xx
    uuid = next(v.uuid for v in hook.iter_custom_field_values(gl) if v.value == "8000 - A")
    api.queue_fault("server_error", status=503)
    assert hook.retire_custom_field_value(gl, uuid) is True
