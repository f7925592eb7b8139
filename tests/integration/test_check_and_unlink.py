"""The connection panel's buttons: Check connection (Graph /me) and Unlink, with relinking."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from listening.core.models import (
    CalendarItem,
    ConnectionState,
    OneOnOne,
    OneOnOneStatus,
    Role,
)
from tests.integration.outlook_helpers import company, connection_of, last_audit
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.browserless import link_outlook


def _post(client, path: str):
    return client.post(path, data={"csrf_token": f.csrf_token(client, "/one-on-ones")})


def _linked(client, session, emu):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    assert link_outlook(client, emu.url, c.manager_email).status_code == 302
    return c, connection_of(session, c.manager)


def test_check_connection_calls_me_with_the_stored_token(app, client, session, emu):
    c, connection = _linked(client, session, emu)
    response = _post(client, f"/outlook/connections/{connection.id}/check")
    assert response.status_code == 302
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert f"Connected: Microsoft answered as {c.manager.display_name}" in page
    entry = last_audit(session, c.org.id, "connection:check")
    assert entry.details == {"connection_id": connection.id, "ok": True} and entry.actor_id == c.manager.id


def test_check_connection_survives_an_expired_token(app, client, session, emu):
    c, connection = _linked(client, session, emu)
    before = connection.access_token
    emu.fault(type="expire_tokens", user=c.manager_email)
    _post(client, f"/outlook/connections/{connection.id}/check")
    assert "Connected: Microsoft answered" in client.get("/one-on-ones").get_data(as_text=True)
    assert connection_of(session, c.manager).access_token != before  # refreshed after the 401


def test_check_connection_after_a_revoked_grant_asks_to_reconnect_then_relink_works(app, client, session, emu):
    c, connection = _linked(client, session, emu)
    emu.fault(type="revoke_grant", user=c.manager_email)
    emu.fault(type="expire_tokens", user=c.manager_email)
    _post(client, f"/outlook/connections/{connection.id}/check")
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Microsoft withdrew Listening&#39;s access" in page
    assert 'id="connection-state">Needs reconnecting<' in page
    assert 'id="link-outlook">Reconnect Outlook<' in page and 'id="refresh-now"' not in page
    assert connection_of(session, c.manager).state is ConnectionState.needs_reconnect
    assert last_audit(session, c.org.id, "connection:check").details["ok"] is False
    assert last_audit(session, c.org.id, "connection:state_changed").details["to"] == "needs_reconnect"

    assert link_outlook(client, emu.url, c.manager_email).status_code == 302
    again = connection_of(session, c.manager)
    assert again.id == connection.id and again.state is ConnectionState.linked and again.state_reason is None
    assert last_audit(session, c.org.id, "connection:link").details["relinked"] is True


@contextmanager
def _graph_answering(body: bytes, content_type: str):
    """A stand-in for Graph on loopback whose every GET answers 200 with ``body``: the emulator
    only ever answers JSON, and a proxy or gateway in front of Graph need not."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1.0", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("body, content_type", [
    (b"<html><body>Service temporarily unavailable</body></html>", "text/html"),
    (b"", "application/json"),
    (b'["not", "an", "object"]', "application/json"),
])
def test_check_connection_with_an_unreadable_answer_from_graph_fails_plainly(
        app, client, session, emu, monkeypatch, body, content_type):
    c, connection = _linked(client, session, emu)
    with _graph_answering(body, content_type) as (graph_url, seen):
        monkeypatch.setattr(services_of(app).graph, "base", graph_url)
        response = _post(client, f"/outlook/connections/{connection.id}/check")
    assert response.status_code == 302 and seen == ["/v1.0/me"]
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Microsoft Graph sent an answer Listening could not read. Try again later." in page
    assert last_audit(session, c.org.id, "connection:check").details == {"connection_id": connection.id,
                                                                          "ok": False}
    assert connection_of(session, c.manager).state is ConnectionState.linked  # nothing for them to fix


@pytest.mark.parametrize("field", ["access", "refresh"])
def test_check_connection_with_a_stored_token_that_does_not_decrypt_fails_plainly(
        app, client, session, emu, field):
    c, connection = _linked(client, session, emu)
    blob = bytearray(getattr(connection, f"{field}_token"))
    blob[-1] ^= 0x01  # the GCM tag no longer matches: tampered with, or a key gone from the ring
    setattr(connection, f"{field}_token", bytes(blob))
    if field == "refresh":
        connection.access_expires_at = datetime.now(UTC) - timedelta(minutes=1)  # so it is redeemed
    session.commit()
    response = _post(client, f"/outlook/connections/{connection.id}/check")
    assert response.status_code == 302
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Listening cannot read the saved permission for this connection." in page
    assert "ciphertext" not in page and "authentication" not in page  # no exception text
    assert last_audit(session, c.org.id, "connection:check").details == {"connection_id": connection.id,
                                                                          "ok": False}


def test_unlink_deletes_tokens_and_calendar_items_and_says_how_to_revoke_consent(app, client, session, emu):
    c, connection = _linked(client, session, emu)
    report = f.person(session, c.org, manager=c.manager)
    for n in range(3):
        cal.item(services_of(app), session, connection, f"evt-{n}")
    session.add(OneOnOne(org_id=c.org.id, manager_id=c.manager.id, report_id=report.id, series_id="s1"))
    # Someone else's connection and items must survive.
    other_client = app.test_client()
    other = f.person(session, c.org, role=Role.manager, email=c.other_manager_email)
    other.oid = next(u["oid"] for u in emu.users() if u["email"] == c.other_manager_email)
    session.commit()
    f.sign_in_as(other_client, other)
    assert link_outlook(other_client, emu.url, c.other_manager_email).status_code == 302
    kept = cal.item(services_of(app), session, connection_of(session, other), "evt-other")
    session.commit()

    ask = client.get(f"/outlook/connections/{connection.id}/unlink").get_data(as_text=True)
    assert "Unlink Outlook?" in ask and "the 3 calendar entries Listening stored" in ask
    assert "Your 1 attached 1-on-1 stay" in ask and "Unlink and delete" in ask
    assert connection_of(session, c.manager) is not None  # asking deletes nothing

    response = _post(client, f"/outlook/connections/{connection.id}/unlink")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Outlook is unlinked" in page
    assert "myaccount.microsoft.com" in page and "Apps &amp; permissions" in page
    assert connection_of(session, c.manager) is None
    assert session.scalar(select(func.count()).select_from(CalendarItem)) == 1
    assert session.get(CalendarItem, kept.id) is not None
    one = session.scalar(select(OneOnOne).where(OneOnOne.manager_id == c.manager.id))
    assert one.status is OneOnOneStatus.needs_attention and "unlinked" in one.attention_reason
    assert one.attention_code == "unlinked"
    entry = last_audit(session, c.org.id, "connection:unlink")
    assert entry.details["calendar_items_deleted"] == 3 and entry.details["one_on_ones_flagged"] == 1
    assert entry.actor_id == entry.subject_id == c.manager.id
    assert "Link Outlook" in client.get("/one-on-ones").get_data(as_text=True)
    # Linking again starts afresh.
    assert link_outlook(client, emu.url, c.manager_email).status_code == 302
    assert connection_of(session, c.manager).state is ConnectionState.linked


def test_a_connection_without_a_saved_permission_names_the_button_it_offers(app, client, session, emu):
    """The reason under the badge tells the person what to press: the same words as the button."""
    c, connection = _linked(client, session, emu)
    connection.refresh_token = None
    connection.access_expires_at = datetime.now(UTC) - timedelta(minutes=1)  # so a refresh is needed
    session.commit()
    _post(client, f"/outlook/connections/{connection.id}/check")
    assert connection_of(session, c.manager).state is ConnectionState.needs_reconnect
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert 'id="connection-state">Needs reconnecting<' in page
    assert 'id="link-outlook">Reconnect Outlook<' in page
    reason = page.split('id="connection-reason"', 1)[1].split("</p>", 1)[0]
    assert "Reconnect Outlook" in reason and "not linked" not in reason, reason
