"""Which RECORD_URL values become the load task's extra link: only links into Intacct."""

from __future__ import annotations

import pytest

from intacct_hook.links import airflow_task_link, offerable_link, trusted_record_url

INTACCT = "https://api.intacct.com/ia/xml/xmlgw.phtml"
LOCAL = "http://127.0.0.1:8081/ia/xml/xmlgw.phtml"


@pytest.mark.parametrize(
    ("url", "gateway"),
    [
        ("https://www.intacct.com/ia/acct/ur.phtml?.r=42", INTACCT),
        ("https://www-p02.intacct.com/ia/acct/ur.phtml?.r=42", INTACCT),
        ("https://WWW.Intacct.com:443/ia/acct/ur.phtml?.r=42", INTACCT),
        ("https://www.intacct.com/ia/acct/ur.phtml?.r=42", LOCAL),
        # The configured gateway's own origin: the local sandbox speaks plain http.
        ("http://127.0.0.1:8081/ia/acct/ur.phtml?.r=7", LOCAL),
        ("https://gw.acme.example/ia/acct/ur.phtml?.r=7", "https://gw.acme.example/ia/xml"),
    ],
)
def test_links_into_intacct_or_the_gateway_are_kept(url, gateway):
    assert trusted_record_url(url, gateway) == url
    assert offerable_link(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)//https://www.intacct.com/",
        "data:text/html,<script>alert(1)</script>",
        "http://www.intacct.com/ia/acct/ur.phtml?.r=42",  # not https
        "https://evil.example/ia/acct/ur.phtml?.r=42",
        "https://www.intacct.com.evil.example/",
        "https://evilintacct.com/",
        "https://evil.example\\.intacct.com/",
        "https://www.intacct.com@evil.example/",
        "https://user:pw@www.intacct.com/",
        "https://www.intacct.com:8443/",
        "//www.intacct.com/ia/acct/ur.phtml",
        " https://www.intacct.com/",
        "https://www.intacct.com/\nSet-Cookie: x",
        "http://127.0.0.1:9999/ia/acct/ur.phtml?.r=7",  # gateway host, another port
        "https://127.0.0.1:8081/ia/acct/ur.phtml?.r=7",  # gateway host, another scheme
        "",
        None,
        42,
    ],
)
def test_anything_else_is_dropped(url):
    assert trusted_record_url(url, LOCAL) is None


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "//evil.example/",
        "https://evil.example\\.intacct.com/",
        "https://a b/",
        None,
        {"url": "https://www.intacct.com/"},
    ],
)
def test_the_link_never_offers_a_script_or_a_malformed_url(url):
    # The UI side has no connection to compare with; it still refuses what a browser would run.
    assert offerable_link(url) == ""


# --- the reconciliation link: a page of this Airflow, never elsewhere ------------------------

RUN = "manual__2026-11-18T12:00:00+00:00"
PAGE = "/dags/divvy_intacct_sync/runs/manual__2026-11-18T12%3A00%3A00%2B00%3A00/tasks/reconcile"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (None, PAGE),
        ("", PAGE),
        ("/", PAGE),
        ("https://airflow.acme.example", "https://airflow.acme.example" + PAGE),
        ("https://airflow.acme.example/", "https://airflow.acme.example" + PAGE),
        ("http://localhost:8080/airflow/", "http://localhost:8080/airflow" + PAGE),
        ("javascript:alert(1)//", PAGE),
        ("https://user:pw@airflow.acme.example/", PAGE),
        ("https://airflow.acme.example/?next=//evil.example", PAGE),
        (" https://airflow.acme.example/", PAGE),
        ("//evil.example", PAGE),
    ],
)
def test_the_reconciliation_link_is_a_page_of_this_airflow(base_url, expected):
    assert airflow_task_link("divvy_intacct_sync", RUN, "reconcile", base_url) == expected


@pytest.mark.parametrize("run_id", ["../../../evil", "a/b", "x\ny", "//evil.example", "r?x=1#f"])
def test_ids_cannot_leave_the_task_page(run_id):
    link = airflow_task_link("divvy_intacct_sync", run_id, "reconcile", None)
    assert link.startswith("/dags/divvy_intacct_sync/runs/") and link.endswith("/tasks/reconcile")
    assert link.count("/") == 6 and "?" not in link and "#" not in link and "\n" not in link
