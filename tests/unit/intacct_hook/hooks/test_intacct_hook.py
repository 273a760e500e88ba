"""IntacctHook over real HTTP against the local Intacct gateway (no mocks)."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest
import tenacity

from intacct_hook.hooks.intacct import IntacctHook
from intacct_hook.intacct import errors as e
from intacct_hook.intacct import request as rq
from intacct_hook.intacct.records import CCLine, CCTransaction, control_id_for
from sandbox.intacct_gateway.schema import load_schema
from sandbox.intacct_gateway.state import User
from sandbox.intacct_gateway.testing import running_gateway

USER_PASSWORD = "ws-user-pass-0001"
SENDER_PASSWORD = "sender-pass-0001"
CARD = "Divvy CC Object"
OPEN_DAY = date(2026, 10, 5)  # books are closed through 2026-09-30 in the default seed


@pytest.fixture
def gw():
    with running_gateway() as handle:
        yield handle


@pytest.fixture
def connect(gw, monkeypatch):
    """Point ``intacct_default`` at the gateway; keyword overrides change single fields."""

    def _connect(**overrides) -> None:
        extra = {
            "company_id": "ACME-DEMO",
            "sender_id": "bill.com",
            "sender_password": SENDER_PASSWORD,
            "entity_id": "E100",
            "timeout": 10,
        }
        conn = {"conn_type": "intacct", "host": gw.url, "login": "Divvy", "password": USER_PASSWORD}
        for key, value in overrides.items():
            (conn if key in ("host", "login", "password") else extra)[key] = value
        conn["extra"] = {k: v for k, v in extra.items() if v is not None}
        monkeypatch.setenv("AIRFLOW_CONN_INTACCT_DEFAULT", json.dumps(conn))

    _connect()
    return _connect


FAST_RETRY = {"wait": tenacity.wait_none(), "stop": tenacity.stop_after_attempt(4)}


def make_hook(**kwargs) -> IntacctHook:
    kwargs.setdefault("retry_args", FAST_RETRY)
    return IntacctHook(**kwargs)


@pytest.fixture
def hook(connect) -> IntacctHook:
    return make_hook()


def txn(
    ref: str,
    *,
    day: date = OPEN_DAY,
    account: str = "6100",
    amount: str = "12.34",
    card: str = CARD,
    **line,
) -> CCTransaction:
    return CCTransaction(
        card_id=card,
        payment_date=day,
        reference_no=ref,
        payee="Staples",
        lines=(CCLine(account, Decimal(amount), location_id="100", **line),),
    )


def logged(caplog, capsys) -> str:
    """Everything logged: stdlib records (caplog) and Airflow's structlog output (stdout)."""
    out, err = capsys.readouterr()
    return caplog.text + out + err


def functions_sent(gw, name: str) -> list:
    return [r for r in gw.requests if r.find(f"operation/content/function/{name}") is not None]


def stored(gw, ref: str) -> list[dict]:
    return [t for t in gw.cctransactions() if t["RECORDID"] == ref]


# --- sessions -----------------------------------------------------------------------------------


def test_one_login_then_session_requests_with_entity(gw, hook):
    hook.get_locations()
    hook.get_departments()
    logins = [r for r in gw.requests if r.find("operation/authentication/login") is not None]
    assert len(logins) == 1
    assert logins[0].findtext("operation/authentication/login/locationid") == "E100"
    assert logins[0].find("operation/content/function/getAPISession") is not None
    later = gw.requests[1:]
    assert len(later) == 2
    assert all(r.findtext("operation/authentication/sessionid") for r in later)


def test_expired_session_is_renewed_transparently(gw, hook):
    before = hook.get_classes()
    first_session = hook._session_id
    gw.expire_sessions()
    assert hook.get_classes() == before
    assert hook._session_id != first_session
    assert len(functions_sent(gw, "getAPISession")) == 2


def test_threads_share_one_api_session_each_with_its_own_http_session(gw, hook):
    # The load's workers call one hook from several threads at once.
    barrier = threading.Barrier(4)
    sessions: list[object] = []

    def work() -> list:
        barrier.wait()  # all four ask for the API session together
        sessions.append(hook.session)
        return hook.get_locations()

    with ThreadPoolExecutor(4) as pool:
        answers = [f.result() for f in [pool.submit(work) for _ in range(4)]]
    assert all(a == answers[0] and a for a in answers)
    assert len(functions_sent(gw, "getAPISession")) == 1
    assert len({id(s) for s in sessions}) == 4
    used = list(hook._http_sessions)
    hook.close()
    assert hook._http_sessions == []
    assert all(hook.session is not s for s in used)  # closed ones are never handed out again


def test_a_rejected_session_is_renewed_once_for_all_threads(gw, hook):
    hook.get_locations()
    gw.expire_sessions()
    barrier = threading.Barrier(3)

    def work() -> list:
        barrier.wait()
        return hook.get_classes()

    with ThreadPoolExecutor(3) as pool:
        answers = [f.result() for f in [pool.submit(work) for _ in range(3)]]
    assert answers[0] and answers.count(answers[0]) == 3
    assert len(functions_sent(gw, "getAPISession")) == 2


def test_every_request_sent_validates_against_the_schema(gw, hook):
    hook.record_cctransactions([txn("schema-1")])
    list(hook.iter_read_by_query("GLACCOUNT", page_size=2))
    hook.find_cctransactions(CARD, OPEN_DAY, OPEN_DAY, ["schema-1"])
    hook.get_credit_card(CARD)
    schema = load_schema()
    assert schema is not None
    for request in gw.requests:
        assert schema.validate(request), schema.error_log


def test_http_session_carries_no_credentials(hook):
    headers = {k.lower() for k in hook.get_conn().headers}
    assert headers == {"content-type", "user-agent", "accept-encoding"}


# --- error levels -------------------------------------------------------------------------------


def test_control_error_bad_sender_password(connect):
    connect(sender_password="wrong-sender-pass")
    hook = make_hook()
    with pytest.raises(e.IntacctSenderCredentialsError) as info:
        hook.get_locations()
    assert info.value.level == "control" and info.value.errorno == "XL03000006"
    ok, message = hook.test_connection()
    assert not ok and "sender_password" in message


def test_authentication_error_sender_not_authorized(gw, connect):
    gw.state.senders["other.partner"] = "other-pass-0001"
    connect(sender_id="other.partner", sender_password="other-pass-0001")
    hook = make_hook()
    with pytest.raises(e.IntacctSenderNotAuthorized) as info:
        hook.get_locations()
    assert info.value.level == "authentication"
    ok, message = hook.test_connection()
    assert not ok
    assert "'other.partner' is not authorized" in message
    assert "Web Services authorizations" in message


def test_authentication_error_bad_user_password(connect):
    connect(password="not-the-password")
    hook = make_hook()
    with pytest.raises(e.IntacctSignInError) as info:
        hook.get_locations()
    assert "not-the-password" not in str(info.value)
    ok, message = hook.test_connection()
    assert not ok and "Sign-in failed for Web Services user 'Divvy'" in message


def test_authentication_error_bad_entity(connect):
    connect(entity_id="E999")
    ok, message = make_hook().test_connection()
    assert not ok and "entity ID 'E999'" in message


def test_function_error_permission(gw, connect):
    gw.state.companies["ACME-DEMO"].users["Viewer"] = User("Viewer", "viewer-pass-0001", set())
    connect(login="Viewer", password="viewer-pass-0001")
    hook = make_hook()
    with pytest.raises(e.IntacctPermissionError) as info:
        hook.get_locations()
    assert info.value.level == "function" and info.value.errorno == "PL04000005"
    ok, message = hook.test_connection()
    assert not ok and "Administrator role" in message


def test_business_failures_do_not_stop_the_others(gw, hook):
    batch = [
        txn("good-1"),
        txn("inactive-account", account="6999"),
        txn("closed-period", day=date(2026, 9, 15)),
        txn("unknown-card", card="No Such Card"),
        txn("missing-dept", account="6250"),
        txn("good-2", amount="0.99"),
    ]
    outcomes = {o.reference_no: o for o in hook.record_cctransactions(batch)}
    assert outcomes["good-1"].status == "posted" and outcomes["good-2"].status == "posted"
    for ref in ("inactive-account", "closed-period", "unknown-card", "missing-dept"):
        assert outcomes[ref].status == "failed", ref
        assert isinstance(outcomes[ref].error, e.IntacctRecordError), ref
        assert outcomes[ref].error.record == ref and ref in str(outcomes[ref].error)
    assert isinstance(outcomes["closed-period"].error, e.IntacctClosedPeriod)
    assert {t["RECORDID"] for t in gw.cctransactions()} == {"good-1", "good-2"}
    assert outcomes["good-1"].record_no == stored(gw, "good-1")[0]["RECORDNO"]


def test_test_connection_ok(hook):
    ok, message = hook.test_connection()
    assert ok, message
    assert "ACME-DEMO" in message and "E100" in message


def test_unreachable_gateway_is_a_connection_error(connect):
    connect(host="http://127.0.0.1:9/ia/xml/xmlgw.phtml")
    hook = make_hook(
        retry_args={"wait": tenacity.wait_none(), "stop": tenacity.stop_after_attempt(2)}
    )
    with pytest.raises(e.IntacctConnectionError):
        hook.get_locations()
    ok, message = hook.test_connection()
    assert not ok and "Could not reach" in message


# --- batching, transactions, idempotency --------------------------------------------------------


def test_batches_are_split_and_matched_by_control_id(gw, connect):
    hook = make_hook(batch_size=3)
    batch = [txn(f"batch-{i}", amount=f"{i + 1}.00") for i in range(10)]
    outcomes = hook.record_cctransactions(batch)
    assert len(functions_sent(gw, "record_cctransaction")) == 4
    assert [o.reference_no for o in outcomes] == [t.reference_no for t in batch]
    assert all(o.status == "posted" for o in outcomes)
    for o in outcomes:
        (record,) = stored(gw, o.reference_no)
        assert record["RECORDNO"] == o.record_no
        assert o.control_id == control_id_for(o.reference_no)
    sent = functions_sent(gw, "record_cctransaction")[0]
    assert sent.findtext("control/uniqueid") == "true"


def test_execute_matches_results_by_control_id(hook):
    fns = [rq.read_by_name("GLACCOUNT", ["6100"]), rq.read_by_name("GLACCOUNT", ["2150"])]
    results = hook.execute(fns)
    assert [r.control_id for r in results] == [f.control_id for f in fns]
    assert [r.data[0]["ACCOUNTNO"] for r in results] == ["6100", "2150"]


def test_transaction_rolls_back_with_aborted_results(gw, hook):
    batch = [txn("tx-1"), txn("tx-bad", account="6999"), txn("tx-3")]
    outcomes = {o.reference_no: o for o in hook.record_cctransactions(batch, transaction=True)}
    assert all(o.status == "failed" for o in outcomes.values())
    assert isinstance(outcomes["tx-1"].error, e.IntacctTransactionAborted)
    assert isinstance(outcomes["tx-3"].error, e.IntacctTransactionAborted)
    assert isinstance(outcomes["tx-bad"].error, e.IntacctRecordError)
    assert not isinstance(outcomes["tx-bad"].error, e.IntacctTransactionAborted)
    assert gw.cctransactions() == []
    # Aborted functions were not processed, so the same control IDs post fine afterwards.
    again = hook.record_cctransactions([batch[0], batch[2]], transaction=True)
    assert [o.status for o in again] == ["posted", "posted"]


def test_rerun_reports_already_posted_and_creates_nothing(gw, hook):
    batch = [txn("rerun-1"), txn("rerun-2")]
    first = hook.record_cctransactions(batch)
    second = make_hook().record_cctransactions(batch)
    assert [o.status for o in second] == ["already_posted", "already_posted"]
    assert [o.record_no for o in second] == [o.record_no for o in first]
    assert len(gw.cctransactions()) == 2


def test_check_first_finds_a_record_posted_outside_the_hook(gw, hook):
    # Its control ID was never used, so uniqueid cannot catch it; check_first looks it up.
    record_no = gw.add_cctransaction(
        date=OPEN_DAY, reference_no="elsewhere", lines=[{"ACCOUNTNO": "6100", "AMOUNT": "12.34"}]
    )
    outcomes = hook.record_cctransactions([txn("elsewhere"), txn("new-one")], check_first=True)
    assert (outcomes[0].status, outcomes[0].record_no) == ("already_posted", record_no)
    assert outcomes[1].status == "posted"
    assert len(stored(gw, "elsewhere")) == 1 and len(stored(gw, "new-one")) == 1


@pytest.mark.parametrize("fault", ["drop_after_commit", "cf_524_after_commit"])
def test_ambiguous_write_is_resolved_by_lookup(gw, hook, fault, caplog, capsys):
    hook.get_locations()  # open the session so the fault hits the write itself
    gw.queue_fault(fault)
    with caplog.at_level(logging.WARNING):
        outcomes = hook.record_cctransactions([txn("amb-1"), txn("amb-2", amount="3.00")])
    assert [o.status for o in outcomes] == ["already_posted", "already_posted"]
    for o in outcomes:
        (record,) = stored(gw, o.reference_no)
        assert record["RECORDNO"] == o.record_no
    # Resolved by a lookup: the write was never sent a second time.
    assert len(functions_sent(gw, "record_cctransaction")) == 1
    assert "looking them up" in logged(caplog, capsys)


def test_timeout_then_lookup_then_safe_resend(gw, connect):
    # The write is committed only after the client gave up: the lookup finds nothing, the
    # re-send posts it, and uniqueid stops the late original from creating a second record.
    connect(timeout=0.5)
    hook = make_hook()
    hook.get_locations()
    gw.queue_fault("latency", seconds=1.5)
    (outcome,) = hook.record_cctransactions([txn("slow-1")])
    assert outcome.status in ("posted", "already_posted")
    time.sleep(1.5)  # let the delayed original finish on the server
    assert len(stored(gw, "slow-1")) == 1


def test_server_error_on_write_is_looked_up_then_resent(gw, hook):
    hook.get_locations()
    gw.queue_fault("server_error", status=500)
    (outcome,) = hook.record_cctransactions([txn("after-500")])
    assert outcome.status == "posted"
    # The faulted request never reached the gateway's log; what did is a lookup first, then
    # exactly one write.
    names = [r.find("operation/content/function")[0].tag for r in gw.requests]
    assert names[-2:] == ["query", "record_cctransaction"]
    assert len(stored(gw, "after-500")) == 1


# --- retries -----------------------------------------------------------------------------------


def test_rate_limit_is_retried_with_one_log_line_per_wait(gw, hook, caplog, capsys):
    hook.get_locations()
    capsys.readouterr()
    gw.queue_fault("rate_limit", count=2)
    with caplog.at_level(logging.WARNING):
        assert len(hook.get_locations()) >= 3
    waits = [line for line in logged(caplog, capsys).splitlines() if "before attempt" in line]
    assert len(waits) == 2 and "IntacctRateLimited" in waits[0]


def test_rate_limit_gives_up_after_the_configured_attempts(gw, connect):
    hook = make_hook(
        retry_args={"wait": tenacity.wait_none(), "stop": tenacity.stop_after_attempt(2)}
    )
    hook.get_locations()
    gw.queue_fault("rate_limit", count=5)
    with pytest.raises(e.IntacctRateLimited) as info:
        hook.get_locations()
    assert info.value.http_status == 429 and info.value.errorno == "GW-0010"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_on_reads_are_retried(gw, hook, status):
    hook.get_locations()
    gw.queue_fault("server_error", status=status, html=True)
    assert hook.get_gl_accounts(["2150"])[0].title == "Divvy GL Account"


# --- reads and paging ---------------------------------------------------------------------------


def test_pagination_over_hundreds_of_records(gw, connect):
    hook = make_hook(batch_size=100)
    refs = [f"page-{i:04d}" for i in range(250)]
    outcomes = hook.record_cctransactions([txn(r, amount="1.00") for r in refs])
    assert all(o.status == "posted" for o in outcomes)

    rows = list(
        hook.iter_read_by_query("CCTRANSACTION", "", fields=("RECORDNO", "RECORDID"), page_size=40)
    )
    assert sorted(r["RECORDID"] for r in rows) == refs
    assert len(functions_sent(gw, "readMore")) == 6  # 40 + 6 * 40 >= 250

    rows = list(
        hook.iter_query("CCTRANSACTION", ["RECORDNO", "RECORDID", "TOTALENTERED"], page_size=60)
    )
    assert sorted(r["RECORDID"] for r in rows) == refs
    assert len({r["RECORDNO"] for r in rows}) == 250
    assert rows[0]["TOTALENTERED"] == Decimal("1.00")
    offsets = [
        int(q.findtext("operation/content/function/query/offset"))
        for q in functions_sent(gw, "query")
    ]
    assert offsets[-5:] == [0, 60, 120, 180, 240]

    found = hook.find_cctransactions(CARD, OPEN_DAY, OPEN_DAY, [*refs[:5], "absent"])
    assert sorted(r["RECORDID"] for r in found) == refs[:5]
    assert len(hook.find_cctransactions(CARD, OPEN_DAY, OPEN_DAY)) == 250
    assert hook.find_cctransactions(CARD, date(2026, 11, 1), date(2026, 11, 30)) == []


def test_read_and_read_by_name(hook):
    accounts = hook.get_gl_accounts(["2150", "6100", "9999"])
    assert sorted(a.account_no for a in accounts) == ["2150", "6100"]
    by_no = hook.read("GLACCOUNT", [accounts[0].fields["RECORDNO"]])
    assert by_no[0]["ACCOUNTNO"] == accounts[0].account_no
    assert isinstance(accounts[0].fields["REQUIREDEPT"], bool)


# --- typed helpers ------------------------------------------------------------------------------


def test_setup_helpers(hook):
    card = hook.get_credit_card(CARD)
    assert (card.offset_account_no, card.offset_account_field) == ("2150", "LIABACCTNO")
    assert (card.default_location_id, card.default_location_field) == ("100", "LOCATION")
    assert card.expires == date(2035, 12, 31)
    assert card.active is True
    assert hook.get_credit_card("No Such Card") is None
    assert {"100", "200", "300"} <= {r.id for r in hook.get_locations()}
    assert {"10", "20", "30"} <= {r.id for r in hook.get_departments()}
    assert {"C1", "C2"} <= {r.id for r in hook.get_classes()}
    assert {"P-100", "P-200"} <= {r.id for r in hook.get_projects()}
    assert {"E100", "E200"} <= {r.entity_id for r in hook.get_entities()}
    assert len(hook.get_gl_accounts()) >= 10
    assert hook.get_books_closed_through() == date(2026, 9, 30)


def test_reverse_cctransaction(gw, hook):
    (posted,) = hook.record_cctransactions([txn("to-reverse")])
    key = hook.reverse_cctransaction(posted.record_no, date(2026, 10, 20), memo="duplicate")
    assert key
    with pytest.raises(e.IntacctFunctionError):
        hook.reverse_cctransaction("999999", date(2026, 10, 20))


def test_a_reversal_with_a_control_id_is_sent_once(gw, hook):
    # The re-coding step's reversal carries a control ID derived from its link, with
    # uniqueid=true: Intacct refuses a second one with it as a duplicate, whatever record it names.
    (posted,) = hook.record_cctransactions([txn("to-reverse-once")])
    control = "divvy-to-reverse-once#rev1"
    key = hook.reverse_cctransaction(posted.record_no, date(2026, 10, 20), control_id=control)
    assert key
    [request] = [r for r in gw.requests if r.find(".//reverse_cctransaction") is not None]
    assert request.findtext("control/uniqueid") == "true"
    assert request.find(".//function").get("controlid") == control
    with pytest.raises(e.IntacctDuplicateControlId):
        hook.reverse_cctransaction(posted.record_no, date(2026, 10, 20), control_id=control)


# --- secrets ------------------------------------------------------------------------------------


def test_secrets_never_reach_logs_or_exceptions(gw, connect, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    hook = make_hook()
    sessions: list[str] = []
    hook.get_locations()
    sessions.append(hook._session_id)
    gw.expire_sessions()
    gw.queue_fault("rate_limit")
    hook.get_locations()
    sessions.append(hook._session_id)
    messages = []
    with pytest.raises(e.IntacctError) as info:
        hook.reverse_cctransaction("999999", date(2026, 10, 20))
    messages += [str(info.value), repr(info.value)]
    gw.queue_fault("drop_after_commit")
    outcomes = hook.record_cctransactions([txn("secret-1"), txn("bad", account="6999")])
    messages += [str(o.error) for o in outcomes] + [repr(o) for o in outcomes]
    connect(password="wrong-user-pass-0002")
    bad = make_hook()
    with pytest.raises(e.IntacctSignInError) as info:
        bad.get_locations()
    messages += [str(info.value), repr(info.value), bad.test_connection()[1]]
    messages += [repr(hook), repr(hook.conn_params)]

    assert all(sessions) and sessions[0] != sessions[1]
    logs = logged(caplog, capsys)
    assert "before attempt" in logs and "signing in again" in logs  # the logs captured the run
    haystack = logs + "\n".join(messages)
    for secret in (USER_PASSWORD, SENDER_PASSWORD, "wrong-user-pass-0002", *sessions):
        assert secret not in haystack


def test_processed_control_id_without_a_record_is_reported_not_guessed(gw, hook):
    hook.record_cctransactions([txn("vanished")])
    # The record disappears (e.g. deleted in Intacct) but its control ID stays processed.
    company = gw.state.companies["ACME-DEMO"]
    with gw.state.lock:
        company.objects["CCTRANSACTION"] = [
            r for r in company.records("CCTRANSACTION") if r.get("RECORDID") != "vanished"
        ]
    (outcome,) = hook.record_cctransactions([txn("vanished")])
    assert outcome.status == "failed"
    assert isinstance(outcome.error, e.IntacctDuplicateControlId)
    assert "no record with this reference number exists" in str(outcome.error)
    assert stored(gw, "vanished") == []


def test_retry_after_is_honoured_and_bounded(connect):
    sleeps: list[float] = []
    hook = IntacctHook(
        retry_args={
            "wait": tenacity.wait_fixed(7),
            "sleep": sleeps.append,
            "stop": tenacity.stop_after_attempt(4),
        },
        max_retry_after=30,
    )
    failures = iter(
        [
            _rate_limited(0.25),
            _rate_limited(600),
            e.IntacctServerError("HTTP 503"),
        ]
    )

    def flaky() -> str:
        exc = next(failures, None)
        if exc is not None:
            raise exc
        return "done"

    assert hook._retrying()(flaky) == "done"
    assert sleeps == [0.25, 30, 7]


def _rate_limited(seconds: float) -> e.IntacctRateLimited:
    exc = e.IntacctRateLimited("HTTP 429", http_status=429)
    exc.retry_after = seconds
    return exc


def test_session_endpoint_must_stay_on_a_trusted_host(gw, hook):
    assert hook._trusted_endpoint(gw.url) == gw.url
    assert (
        hook._trusted_endpoint("https://na12.intacct.com/ia/xml/xmlgw.phtml")
        == "https://na12.intacct.com/ia/xml/xmlgw.phtml"
    )
    assert hook._trusted_endpoint("https://evil.example.com/ia/xml/xmlgw.phtml") == gw.url
    assert hook._trusted_endpoint("http://x.intacct.com/ia/xml/xmlgw.phtml") == gw.url


def test_missing_connection_fields_are_named(connect):
    connect(company_id=None, sender_password=None)
    with pytest.raises(ValueError, match="company_id, sender_password"):
        make_hook().get_locations()
    ok, message = make_hook().test_connection()
    assert not ok and "company_id" in message


def test_control_ids_are_scoped_by_attempt():
    first, second = control_id_for("txr_a"), control_id_for("txr_a", 2)
    assert first == "divvy-txr_a" and second == "divvy-txr_a#2"
    # No reference number can produce another reference's retry control ID.
    assert control_id_for("txr_a#2") not in {first, second}
    with pytest.raises(ValueError):
        control_id_for("txr_a", 0)


def test_retry_after_a_definitive_refusal_uses_a_new_control_id(gw, hook):
    closed_day = date(2026, 9, 15)
    [refused] = hook.record_cctransactions([txn("txr_closed", day=closed_day)])
    assert refused.status == "failed" and isinstance(refused.error, e.IntacctClosedPeriod)
    # The controller reopens September: the books are now closed through August.
    with gw.state.lock:
        for row in gw.state.companies["ACME-DEMO"].objects["BOOKSCLOSED"]:
            row["CLOSEDTHROUGH"] = "08/31/2026"
    retry = CCTransaction(
        card_id=CARD,
        payment_date=closed_day,
        reference_no="txr_closed",
        payee="Staples",
        attempt=2,
        lines=(CCLine("6100", Decimal("12.34"), location_id="100"),),
    )
    [posted] = hook.record_cctransactions([retry])
    assert (posted.status, posted.control_id) == ("posted", "divvy-txr_closed#2")
    assert len(stored(gw, "txr_closed")) == 1


# --- the request budget of lookups and range reads (issue 10) -----------------------------------


def _plant(gw, count: int, *, day: date = OPEN_DAY, prefix: str = "held") -> list[str]:
    """``count`` records on the card put there by someone else; their reference numbers."""
    refs = [f"{prefix}-{i:05d}" for i in range(count)]
    for ref in refs:
        gw.add_cctransaction(date=day, reference_no=ref, lines=[{"ACCOUNTNO": "6100", "AMOUNT": 1}])
    return refs


def _queries(gw) -> list:
    return [q.find("operation/content/function/query") for q in functions_sent(gw, "query")]


def _has_in_list(query) -> bool:
    return query.find(".//in") is not None


def test_a_large_lookup_reads_the_range_when_intacct_holds_few_records(gw, hook):
    held = _plant(gw, 3)
    _plant(gw, 1, day=date(2026, 10, 9), prefix="other-day")  # outside the range asked for
    asked = [f"ready-{i:05d}" for i in range(1500)] + [held[0], held[2], "other-day-00000"]
    gw.requests.clear()

    found = hook.find_cctransactions(CARD, OPEN_DAY, date(2026, 10, 6), asked)

    assert sorted(r["RECORDID"] for r in found) == [held[0], held[2]]
    queries = _queries(gw)
    # the count (page size 1), then one page of the range; no `in` list sent
    assert [q.findtext("pagesize") for q in queries] == ["1", "2000"]
    assert not any(_has_in_list(q) for q in queries)


def test_a_large_lookup_uses_in_lists_when_the_range_is_larger(gw, hook):
    held = _plant(gw, 2001)  # two pages of the range, as many reads as the in lists
    asked = [f"ready-{i:05d}" for i in range(1500)] + [held[7], held[2000]]
    gw.requests.clear()

    found = hook.find_cctransactions(CARD, OPEN_DAY, OPEN_DAY, asked)

    assert sorted(r["RECORDID"] for r in found) == [held[7], held[2000]]
    queries = _queries(gw)
    assert queries[0].findtext("pagesize") == "1"
    assert [_has_in_list(q) for q in queries[1:]] == [True, True]  # ceil(1502 / 1000)


def test_a_large_lookup_in_an_empty_range_costs_one_read(gw, hook):
    gw.requests.clear()
    assert hook.find_cctransactions(CARD, OPEN_DAY, OPEN_DAY, [f"r-{i}" for i in range(5000)]) == []
    assert [q.findtext("pagesize") for q in _queries(gw)] == ["1"]


def test_a_small_lookup_is_one_in_list_read(gw, hook):
    held = _plant(gw, 2)
    gw.requests.clear()
    found = hook.find_cctransactions(CARD, OPEN_DAY, OPEN_DAY, [held[1], "absent"])
    assert [r["RECORDID"] for r in found] == [held[1]]
    assert [_has_in_list(q) for q in _queries(gw)] == [True]


def test_a_count_costs_one_read_and_may_count_only_records_with_a_reference(gw, hook):
    _plant(gw, 3)
    for _ in range(2):  # entered by hand: no reference number
        gw.add_cctransaction(date=OPEN_DAY, lines=[{"ACCOUNTNO": "6100", "AMOUNT": 1}])
    _plant(gw, 1, day=date(2026, 10, 9), prefix="other-day")  # outside the range asked for
    gw.requests.clear()

    assert hook.count_cctransactions(CARD, OPEN_DAY, date(2026, 10, 6)) == 5
    assert hook.count_cctransactions(CARD, OPEN_DAY, date(2026, 10, 6), with_reference=True) == 3
    assert [q.findtext("pagesize") for q in _queries(gw)] == ["1", "1"]


def test_range_reads_use_pages_of_2000(gw, hook):
    _plant(gw, 2500)
    gw.requests.clear()
    rows = list(hook.iter_cctransactions(CARD, OPEN_DAY, OPEN_DAY, ("RECORDNO", "RECORDID")))
    assert len({r["RECORDID"] for r in rows}) == 2500
    assert set(rows[0]) == {"RECORDNO", "RECORDID"}
    assert [(q.findtext("pagesize"), q.findtext("offset")) for q in _queries(gw)] == [
        ("2000", "0"),
        ("2000", "2000"),
    ]


def test_the_gateway_refuses_a_query_page_of_2001_with_the_schema_error(hook):
    fn = rq.query("CCTRANSACTION", ["RECORDNO"], page_size=2000)
    fn.element.find("pagesize").text = "2001"
    with pytest.raises(e.IntacctSchemaError):
        hook.execute([fn])


def test_an_accounts_entity_replaces_the_connections(connect):
    # Several Divvy accounts on one Intacct login, one entity each (settings 'accounts').
    connect(entity_id="E999")
    ok, message = make_hook(entity_id="E100").test_connection()
    assert ok, message
    assert make_hook(entity_id="E200")._get_conn_params().entity_id == "E200"
    assert make_hook()._get_conn_params().entity_id == "E999"


def test_a_wrong_entity_of_an_account_is_named_as_the_accounts(connect):
    connect(entity_id="E100")
    ok, message = make_hook(entity_id="E404").test_connection()
    assert not ok
    assert "The entity ID 'E404' of the settings' Divvy account" in message
    assert "extra 'entity_id'" not in message.split("(")[0]
