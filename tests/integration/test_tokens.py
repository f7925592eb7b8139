"""The token vault against the emulator: refresh before expiry and after a 401, rotation of the
refresh token, and each failure classified into the right state and plain-words reason."""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from listening.core import crypto
from listening.core.models import Connection, ConnectionState
from listening.outlook import connection as states
from listening.outlook import tokens
from tests.integration.outlook_helpers import company, connection_of, last_audit
from tests.support import factories as f
from tests.support.apps import services_of

SCOPES = ["User.Read", "Calendars.Read", "offline_access"]


def linked(app, session, emu, c) -> tuple[Connection, dict]:
    """A linked connection holding freshly minted tokens (the link flow itself is test_link's)."""
    minted = emu.mint_token(c.manager_email, SCOPES)
    connection = Connection(org_id=c.org.id, person_id=c.manager.id, state=ConnectionState.linked,
                            ms_oid=c.manager.oid, ms_tenant_id=c.org.tenant_id,
                            account_email=c.manager_email, linked_at=datetime.now(UTC))
    session.add(connection)
    session.flush()
    with app.app_context():
        services_of(app).tokens.save(session, connection, minted)
    session.commit()
    return connection, minted


def stored(app, connection, field: str) -> str:
    blob = getattr(connection, f"{field}_token")
    return services_of(app).keys.decrypt(blob, crypto.aad_for("token", connection.id, field)).decode()


def me(emu, access: str) -> int:
    return requests.get(emu.url + "/v1.0/me", headers={"Authorization": "Bearer " + access}, timeout=10).status_code


def test_a_fresh_token_is_used_as_stored(app, session, emu):
    c = company(session, emu)
    connection, minted = linked(app, session, emu, c)
    with app.app_context():
        assert services_of(app).tokens.access_token(session, connection) == minted["access_token"]
    assert stored(app, connection, "refresh") == minted["refresh_token"]


def test_refresh_before_expiry_saves_the_new_refresh_token(app, session, emu):
    c = company(session, emu)
    connection, minted = linked(app, session, emu, c)
    connection.access_expires_at = datetime.now(UTC) + timedelta(minutes=2)  # inside the margin
    with app.app_context():
        access = services_of(app).tokens.access_token(session, connection)
    session.commit()
    assert access != minted["access_token"] and me(emu, access) == 200
    connection = connection_of(session, c.manager)
    assert stored(app, connection, "access") == access
    assert stored(app, connection, "refresh") != minted["refresh_token"]  # Microsoft's new one, kept
    assert connection.access_expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert connection.state is ConnectionState.linked


def test_expired_token_fault_is_cured_by_a_forced_refresh(app, session, emu):
    c = company(session, emu)
    connection, minted = linked(app, session, emu, c)
    emu.fault(type="expire_tokens", user=c.manager_email)
    assert me(emu, minted["access_token"]) == 401
    with app.app_context():
        assert services_of(app).tokens.access_token(session, connection) == minted["access_token"]  # we cannot know yet
        access = services_of(app).tokens.access_token(session, connection, force_refresh=True)
    assert me(emu, access) == 200


@pytest.mark.parametrize("fault, code, words", [
    ({"type": "revoke_grant"}, 50173, states.REVOKED),
    ({"advance_days": 91}, 700082, states.INACTIVE),
])
def test_a_dead_grant_means_needs_reconnect_in_plain_words(app, session, emu, fault, code, words):
    c = company(session, emu)
    connection, _ = linked(app, session, emu, c)
    if "advance_days" in fault:
        emu.advance_clock(fault["advance_days"] * 86400)
    else:
        emu.fault(user=c.manager_email, **fault)
    with app.app_context(), pytest.raises(states.ReconnectNeeded) as raised:
        services_of(app).tokens.access_token(session, connection, force_refresh=True)
    assert raised.value.code == code and raised.value.reason == words
    session.commit()  # what a job or view does with the recorded state
    connection = connection_of(session, c.manager)
    assert connection.state is ConnectionState.needs_reconnect and connection.state_reason == words
    assert connection.refresh_token is None and connection.access_token is None
    failure = last_audit(session, c.org.id, "connection:refresh_failed")
    assert failure.details == {"error": "invalid_grant", "code": code, "retry": False}
    change = last_audit(session, c.org.id, "connection:state_changed")
    assert change.details["from"] == "linked" and change.details["to"] == "needs_reconnect"
    assert change.subject_id == c.manager.id
    # Afterwards nothing calls Microsoft again until the person reconnects.
    with app.app_context(), pytest.raises(states.ReconnectNeeded):
        services_of(app).tokens.access_token(session, connection)


class StubTokenEndpoint:
    """A loopback token endpoint that answers with one fixed response (a Microsoft outage)."""

    def __init__(self, status: int, body: dict | str):
        def wsgi(environ, start_response):
            payload = body if isinstance(body, str) else json.dumps(body)
            kind = "text/html" if isinstance(body, str) else "application/json"
            return Response(payload, status, content_type=kind)(environ, start_response)

        self.server = make_server("127.0.0.1", 0, wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def token_endpoint_at(app, monkeypatch):
    """Refreshes go to ``url`` instead of the token endpoint Microsoft's discovery names."""
    def point(url: str):
        wired = services_of(app)
        endpoint = tokens.TokenEndpoint(wired.settings, url=url)
        monkeypatch.setitem(app.extensions, "listening", replace(wired, tokens=tokens.Tokens(wired.keys, endpoint)))
    return point


@pytest.mark.parametrize("status, body", [
    (503, "<html>Service Unavailable</html>"),
    (500, {"error": "server_error", "error_description": "AADSTS90033: A transient error has occurred."}),
    (400, {"error": "temporarily_unavailable", "error_description": "AADSTS90033: try again"}),
])
def test_outages_are_transient_and_change_nothing(app, session, emu, token_endpoint_at, status, body):
    c = company(session, emu)
    connection, minted = linked(app, session, emu, c)
    stub = StubTokenEndpoint(status, body)
    try:
        token_endpoint_at(stub.url)
        with app.app_context(), pytest.raises(states.TransientTokenError):
            services_of(app).tokens.access_token(session, connection, force_refresh=True)
    finally:
        stub.close()
    session.commit()
    connection = connection_of(session, c.manager)
    assert connection.state is ConnectionState.linked
    assert stored(app, connection, "refresh") == minted["refresh_token"]
    assert last_audit(session, c.org.id, "connection:refresh_failed").details["retry"] is True


def test_a_network_failure_is_transient(app, session, emu, token_endpoint_at):
    c = company(session, emu)
    connection, _ = linked(app, session, emu, c)
    stub = StubTokenEndpoint(200, {})
    url = stub.url
    stub.close()  # nothing listens there any more: connection refused
    token_endpoint_at(url)
    with app.app_context(), pytest.raises(states.TransientTokenError):
        services_of(app).tokens.access_token(session, connection, force_refresh=True)
    assert connection.state is ConnectionState.linked


def test_our_registration_refused_is_an_operations_problem_not_the_persons(app, session, emu, token_endpoint_at):
    c = company(session, emu)
    connection, _ = linked(app, session, emu, c)
    stub = StubTokenEndpoint(401, {"error": "invalid_client",
                                   "error_description": "AADSTS7000215: Invalid client secret provided."})
    try:
        token_endpoint_at(stub.url)
        with app.app_context(), pytest.raises(states.TokenConfigurationError):
            services_of(app).tokens.access_token(session, connection, force_refresh=True)
    finally:
        stub.close()
    assert connection.state is ConnectionState.linked and connection.refresh_token is not None


def test_a_token_under_an_unknown_key_is_an_error_not_a_fallback(app, session, emu, caplog):
    c = company(session, emu)
    connection, _ = linked(app, session, emu, c)
    other = crypto.KeyRing.parse(crypto.new_key_spec("elsewhere"))
    connection.refresh_token = other.encrypt(b"x", crypto.aad_for("token", connection.id, "refresh"))
    with app.app_context(), pytest.raises(states.UnreadableToken):
        services_of(app).tokens.access_token(session, connection, force_refresh=True)
    assert "no key 'elsewhere'" in caplog.text and f"connection {connection.id}" in caplog.text


def test_a_token_copied_to_another_connection_does_not_decrypt(app, session, emu, caplog):
    c = company(session, emu)
    connection, _ = linked(app, session, emu, c)
    thief = f.person(session, c.org)
    copy = Connection(org_id=c.org.id, person_id=thief.id, state=ConnectionState.linked,
                      refresh_token=connection.refresh_token,
                      access_expires_at=datetime.now(UTC) - timedelta(minutes=1))
    session.add(copy)
    session.flush()
    with app.app_context(), pytest.raises(states.UnreadableToken):
        services_of(app).tokens.access_token(session, copy)
    assert "failed authentication" in caplog.text
