"""``NoRedirectSession.prepare_request``: a body-only request is a copy of one prepared per
method, URL and session headers (issue 10); what requests sends stays what it sent before."""

from __future__ import annotations

from intacct_hook.hooks.http_util import http_session
from tests.scripted_http import Reply, respond, scripted_server

# The scripted server hangs up after each answer; saying so keeps the client from reusing the
# connection (a race that would fail a request, whatever prepared it).
CLOSE = {"Connection": "close"}


def ok(body: bytes, **headers: str) -> Reply:
    return respond(200, body, headers={**CLOSE, **headers})


def test_each_body_only_post_carries_its_own_body_and_length():
    session = http_session({"Content-Type": "application/xml; charset=utf-8"})
    bodies = [b"<request>one</request>", b"<request>" + b"x" * 70_000 + b"</request>", b"<r/>"]
    with scripted_server(ok(b"<ok/>")) as server:
        for body in bodies:
            answer = session.post(server.url + "/gw", data=body, allow_redirects=False)
            assert answer.status_code == 200 and answer.content == b"<ok/>"
    assert [seen.body for seen in server.requests] == bodies
    for seen, body in zip(server.requests, bodies, strict=True):
        assert seen.headers["Content-Length"] == str(len(body))
        assert seen.headers["Content-Type"] == "application/xml; charset=utf-8"
        assert seen.headers["User-Agent"].startswith("divvy-intacct-airflow/")
        assert seen.headers["Accept-Encoding"] == "gzip, deflate"
        assert "Cookie" not in seen.headers and "Authorization" not in seen.headers


def test_a_cookie_the_server_sets_is_sent_back():
    session = http_session({})
    with scripted_server() as server:
        server.then(ok(b"a", **{"Set-Cookie": "lb=node7; Path=/"}))
        server.then(ok(b"b"), ok(b"c"))
        for _ in range(3):
            session.post(server.url + "/gw", data=b"<r/>", allow_redirects=False)
    assert "Cookie" not in server.requests[0].headers
    assert [seen.headers.get("Cookie") for seen in server.requests[1:]] == ["lb=node7"] * 2


def test_a_session_header_changed_between_requests_is_sent():
    session = http_session({"Content-Type": "application/xml"})
    with scripted_server(ok(b"ok")) as server:
        session.post(server.url + "/gw", data=b"<r/>", allow_redirects=False)
        session.headers["Content-Type"] = "text/xml"
        session.post(server.url + "/gw", data=b"<r/>", allow_redirects=False)
        session.post(server.url + "/other", data=b"<r/>", allow_redirects=False)
    assert [seen.headers["Content-Type"] for seen in server.requests] == [
        "application/xml",
        "text/xml",
        "text/xml",
    ]
    assert [seen.path for seen in server.requests] == ["/gw", "/gw", "/other"]


def test_requests_with_more_than_a_body_are_prepared_by_requests_itself():
    session = http_session({})
    with scripted_server(ok(b"ok")) as server:
        session.get(server.url + "/list", params={"max": "50"}, headers={"Authorization": "t"})
        session.post(server.url + "/token", data={"grant_type": "client_credentials"})
    first, second = server.requests
    assert first.path == "/list?max=50" and first.headers["Authorization"] == "t"
    assert second.body == b"grant_type=client_credentials"
    assert second.headers["Content-Type"] == "application/x-www-form-urlencoded"
