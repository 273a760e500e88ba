"""Operator extra links of the load task: the run's reconciliation (in Airflow) and the last
record it posted (in Intacct). Every URL offered is checked here before the UI gets it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from airflow.sdk import BaseOperatorLink

# Intacct has no documented deep link for one credit card transaction; its reads return a
# RECORD_URL field for records (public SDK field lists), which the load step pushes when Intacct
# gives one. Without it the link stays empty rather than guessing.
RECORD_URL_XCOM_KEY = "intacct_record_url"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
# Whitespace, control characters and backslashes: browsers strip or reinterpret them, so a
# URL carrying one may not go where it appears to.
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def _web_parts(url: object) -> SplitResult | None:
    """The parts of an absolute http(s) URL with a plain host, else None."""
    if not isinstance(url, str) or not url or _UNSAFE_CHARS.search(url):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in _DEFAULT_PORTS or "@" in parts.netloc:
        return None
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    return parts if _HOSTNAME.fullmatch(parts.hostname or "") else None


def _port(parts: SplitResult) -> int:
    return parts.port or _DEFAULT_PORTS[parts.scheme.lower()]


def trusted_record_url(url: object, gateway_url: str) -> str | None:
    """``url`` if it may become the load task's link, else None.

    Kept: https on an Intacct host (``intacct.com`` and its subdomains, default port), or the
    very origin (scheme, host, port) of the configured gateway, which the connection's owner
    chose (a local sandbox speaks plain http). A RECORD_URL comes from a response: anything
    else (``javascript:``, ``data:``, another host) would put a response-chosen target behind a
    link in the Airflow UI.
    """
    parts = _web_parts(url)
    if parts is None:
        return None
    host = parts.hostname or ""
    if (
        parts.scheme.lower() == "https"
        and (host == "intacct.com" or host.endswith(".intacct.com"))
        and _port(parts) == 443
    ):
        return str(url)
    gateway = _web_parts(gateway_url)
    if (
        gateway is not None
        and parts.scheme.lower() == gateway.scheme.lower()
        and host == gateway.hostname
        and _port(parts) == _port(gateway)
    ):
        return str(url)
    return None


def offerable_link(url: object) -> str:
    """What the UI may show: an absolute http(s) URL with a plain host, else ``""``.

    The load task pushes only :func:`trusted_record_url` results; this second check runs where
    the connection is not at hand and refuses what a browser would execute or misread.
    """
    return url if isinstance(url, str) and _web_parts(url) is not None else ""


def airflow_task_link(dag_id: str, run_id: str, task_id: str, base_url: str | None) -> str:
    """The Airflow UI page of one task instance (its log first), or ``""``.

    The form Airflow itself builds for ``TaskInstance.log_url``: ``{[api] base_url}/dags/<dag>/
    runs/<run>/tasks/<task>``, each part percent-encoded. With a ``base_url`` that is not an
    http(s) URL with a plain host (unset, a path, a ``javascript:`` text, credentials in it),
    the link is the path alone: the UI opens it on its own origin.
    """
    path = "/dags/{}/runs/{}/tasks/{}".format(*(quote(str(p), safe="") for p in (
        dag_id, run_id, task_id
    )))  # fmt: skip
    base = _web_parts(base_url)
    url = str(base_url).rstrip("/") + path if base is not None and not base.query else path
    return url if _is_own_page(url, base) else ""


def _is_own_page(url: str, base: SplitResult | None) -> bool:
    """``url`` is a page of this Airflow: a path on the UI's origin, or under ``base``."""
    if _UNSAFE_CHARS.search(url):
        return False
    if url.startswith("/"):
        return not url.startswith("//")
    parts = _web_parts(url)
    return (
        base is not None
        and parts is not None
        and (parts.scheme.lower(), parts.hostname, _port(parts))
        == (base.scheme.lower(), base.hostname, _port(base))
    )


def _reconcile_task_id(operator: Any) -> str | None:
    """The reconcile task downstream of ``operator`` in its DAG, if there is one."""
    from intacct_hook.operators.sync import IntacctReconcileOperator

    try:
        downstream = operator.get_flat_relatives(upstream=False)
    except Exception:  # an operator outside a DAG has no relatives
        return None
    found = sorted(t.task_id for t in downstream if isinstance(t, IntacctReconcileOperator))
    return found[0] if found else None


class IntacctReconciliationLink(BaseOperatorLink):
    """'Reconciliation (this run)' on the load task: the reconcile task of the same run in
    Airflow (its log has the per-day table and each difference; its XCom the totals)."""

    name = "Reconciliation (this run)"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.configuration import conf

        task_id = _reconcile_task_id(operator)
        if task_id is None:
            return ""
        base_url = conf.get("api", "base_url", fallback=None)
        return airflow_task_link(ti_key.dag_id, ti_key.run_id, task_id, base_url)


class IntacctRecordsLink(BaseOperatorLink):
    """'Intacct: last record posted' on the load task: the last credit card transaction this
    load posted, by the RECORD_URL Intacct returned for it (see :func:`trusted_record_url`)."""

    name = "Intacct: last record posted"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return offerable_link(XCom.get_value(ti_key=ti_key, key=RECORD_URL_XCOM_KEY))
