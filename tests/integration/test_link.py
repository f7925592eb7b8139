"""Link Outlook through the emulator's consent pages, and the attacks on that flow (forged or
replayed state, a code for another person or tenant, missing scopes...)."""
from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import text

from listening.core import crypto
from listening.core.models import ConnectionState, Role
from listening.web import outlook
from tests.integration.outlook_helpers import (
    actions,
    approval_path,
    company,
    connection_of,
    last_audit,
)
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.browserless import (
    MicrosoftBrowser,
    consent_as,
    link_outlook,
    start_link,
)


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _admin_link(page: str) -> str:
    return re.search(r'id="admin-consent-link" type="url" readonly value="([^"]+)"', page).group(1)


def _tokens(app, connection) -> tuple[str, str]:
    ring = services_of(app).keys
    return (ring.decrypt(connection.access_token, crypto.aad_for("token", connection.id, "access")).decode(),
            ring.decrypt(connection.refresh_token, crypto.aad_for("token", connection.id, "refresh")).decode())


def test_a_manager_links_outlook_read_only_and_sees_linked_as(app, client, session, emu):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    assert "Link Outlook" in client.get("/one-on-ones").get_data(as_text=True)

    authorize = start_link(client)
    params = _query(authorize)
    scopes = params["scope"].split()
    assert set(scopes) == {"openid", "profile", "offline_access", "User.Read", "Calendars.Read"}
    assert not [s for s in scopes if "Write" in s]
    assert params["code_challenge_method"] == "S256" and params["code_challenge"]
    assert params["state"] and params["nonce"] and params["login_hint"] == c.manager_email

    response = client.get(consent_as(authorize, emu.url, c.manager_email))
    assert response.status_code == 302 and response.headers["Location"].endswith("/one-on-ones")
    connection = connection_of(session, c.manager)
    assert connection.state is ConnectionState.linked and connection.linked_at is not None
    assert connection.ms_oid == c.manager.oid and connection.ms_tenant_id == c.org.tenant_id
    assert connection.account_email == c.manager_email
    assert "Calendars.Read" in connection.scopes.split()
    assert connection.next_sync_at is not None
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert f'id="linked-as">{c.manager_email}<' in page and "Check connection" in page
    # The stored (encrypted) access token really works at Graph.
    access, _ = _tokens(app, connection)
    me = requests.get(emu.url + "/v1.0/me", headers={"Authorization": "Bearer " + access}, timeout=10)
    assert me.status_code == 200 and me.json()["id"] == c.manager.oid
    entry = last_audit(session, c.org.id, "connection:link")
    assert entry.actor_id == c.manager.id and entry.details["relinked"] is False
    assert entry.user_agent and "Calendars.Read" in entry.details["scopes"]
    assert str(entry.ip) == "127.0.0.1"  # the test client's address: who, when, from where


def test_an_organization_on_calendars_readbasic_asks_only_for_that(app, client, session, emu):
    c = company(session, emu, calendar_scope="Calendars.ReadBasic")
    f.sign_in_as(client, c.manager)
    scopes = _query(start_link(client))["scope"].split()
    assert "Calendars.ReadBasic" in scopes and "Calendars.Read" not in scopes
    response = link_outlook(client, emu.url, c.manager_email)
    assert response.status_code == 302
    assert connection_of(session, c.manager).scopes.split().count("Calendars.ReadBasic") == 1


def test_no_token_text_is_stored_in_plain(app, client, session, emu):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    assert link_outlook(client, emu.url, c.manager_email).status_code == 302
    access, refresh = _tokens(app, connection_of(session, c.manager))
    assert len(access) > 20 and len(refresh) > 20
    with services_of(app).db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM connections")).all()
        audit_text = " ".join(str(r) for r in conn.execute(text("SELECT details FROM audit_events")))
    dump = repr(rows).encode()
    raw = b"".join(bytes(v) for r in rows for v in r if isinstance(v, (bytes, memoryview)))
    for secret in (access, refresh):
        assert secret.encode() not in dump and secret.encode() not in raw
        assert secret[:16] not in audit_text


@pytest.mark.parametrize("query", ["code=abc&state=forged", "code=abc", "error=access_denied&state=forged"])
def test_a_wrong_or_missing_state_is_refused_and_changes_nothing(app, client, session, emu, query):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    start_link(client)  # a real pending link exists; the forged answer is not its
    response = client.get("/outlook/callback?" + query)
    assert response.status_code == 400
    assert "does not belong to a link you started" in response.get_data(as_text=True)
    assert connection_of(session, c.manager) is None
    assert last_audit(session, c.org.id, "connection:link_refused").details["reason"] == "invalid state"


def test_a_replayed_code_is_refused(app, client, session, emu):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    browser = MicrosoftBrowser(emu.url)
    first = consent_as(start_link(client), emu.url, c.manager_email, browser=browser)
    assert client.get(first).status_code == 302
    # The same callback again: its state was used up.
    assert client.get(first).status_code == 400
    # The old code under a fresh, valid state: Microsoft answers AADSTS54005.
    second = consent_as(start_link(client), emu.url, c.manager_email, browser=browser)
    replay = f"/outlook/callback?code={_query(first)['code']}&state={_query(second)['state']}"
    before = connection_of(session, c.manager).access_token
    response = client.get(replay)
    assert response.status_code == 400 and "already used" in response.get_data(as_text=True)
    assert connection_of(session, c.manager).access_token == before
    assert last_audit(session, c.org.id, "connection:link_refused").details["reason"] == \
        "invalid response: invalid_grant"


def test_an_expired_code_is_refused(app, client, session, emu):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    back = consent_as(start_link(client), emu.url, c.manager_email)
    emu.advance_clock(11 * 60)  # codes live about 10 minutes
    response = client.get(back)
    assert response.status_code == 400
    assert connection_of(session, c.manager) is None


def test_a_missing_pkce_verifier_is_refused(app, client, session, emu):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    back = consent_as(start_link(client), emu.url, c.manager_email)
    with client.session_transaction() as s:
        key = f"_state_outlook_{_query(back)['state']}"
        s[key] = {**s[key], "data": {k: v for k, v in s[key]["data"].items() if k != "code_verifier"}}
    response = client.get(back)
    assert response.status_code == 400
    assert connection_of(session, c.manager) is None


@pytest.mark.parametrize("next_url, lands_on", [
    ("https://evil.example/steal", "/one-on-ones"), ("//evil.example/x", "/one-on-ones"),
    ("/one-on-ones?from=link", "/one-on-ones?from=link"),
])
def test_the_return_url_never_leaves_the_site(app, client, session, emu, next_url, lands_on):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    response = link_outlook(client, emu.url, c.manager_email, next_url=next_url)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost") and "evil" not in response.headers["Location"]
    assert location.path + ("?" + location.query if location.query else "") == lands_on


def test_posts_without_a_csrf_token_are_refused(app, client, session, emu):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    assert link_outlook(client, emu.url, c.manager_email).status_code == 302
    connection = connection_of(session, c.manager)
    for path in ("/outlook/link", f"/outlook/connections/{connection.id}/check",
                 f"/outlook/connections/{connection.id}/unlink"):
        response = client.post(path, data={})
        assert response.status_code == 400, path
        assert "security token" in response.get_data(as_text=True)
    assert connection_of(session, c.manager).state is ConnectionState.linked


def test_a_manager_cannot_act_on_another_persons_connection(app, client, session, emu):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    assert link_outlook(client, emu.url, c.manager_email).status_code == 302
    victim = connection_of(session, c.manager)
    other = f.person(session, c.org, role=Role.manager)
    session.commit()
    other_client = app.test_client()
    f.sign_in_as(other_client, other)
    token = f.csrf_token(other_client, "/one-on-ones")
    for action in ("check", "unlink"):
        response = other_client.post(f"/outlook/connections/{victim.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404, action
    assert connection_of(session, c.manager) is not None
    assert "connection:unlink" not in actions(session, c.org.id)


def test_another_organizations_manager_gets_404(app, client, session, emu):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    assert link_outlook(client, emu.url, c.manager_email).status_code == 302
    victim = connection_of(session, c.manager)
    elsewhere = f.org(session)
    stranger = f.person(session, elsewhere, role=Role.manager)
    session.commit()
    other_client = app.test_client()
    f.sign_in_as(other_client, stranger)
    token = f.csrf_token(other_client, "/one-on-ones")
    assert other_client.post(f"/outlook/connections/{victim.id}/unlink",
                             data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("role", [Role.employee, Role.hr_admin])
def test_only_managers_may_link(app, client, session, emu, role):
    org = f.org(session)
    someone = f.person(session, org, role=role)
    session.commit()
    f.sign_in_as(client, someone)
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Link Outlook" not in page
    response = client.post("/outlook/link", data={"csrf_token": f.csrf_token(client, "/one-on-ones")})
    assert response.status_code == 403


def test_a_different_microsoft_account_is_refused(app, client, session, emu):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    # At Microsoft's page the manager picks someone else's account (login_hint is only a hint).
    response = client.get(consent_as(start_link(client), emu.url, c.other_manager_email))
    assert response.status_code == 403
    assert "not your own" in response.get_data(as_text=True)
    assert connection_of(session, c.manager) is None
    entry = last_audit(session, c.org.id, "connection:link_refused")
    assert entry.details["reason"] == "account mismatch" and entry.details["same_tenant"] is True


def test_an_account_from_another_tenant_is_refused(app, client, session, emu):
    c = company(session, emu)
    emu.fault(type="admin_consent_required", tenant="fabrikam.com", required=False)
    fabrikam = next(u["email"] for u in emu.users() if u["email"].endswith("@fabrikam.com"))
    f.sign_in_as(client, c.manager)
    response = client.get(consent_as(start_link(client), emu.url, fabrikam))
    assert response.status_code == 403
    assert connection_of(session, c.manager) is None
    assert last_audit(session, c.org.id, "connection:link_refused").details["same_tenant"] is False


def test_a_token_response_without_refresh_token_is_refused(app, client, session, emu, monkeypatch):
    """The person declined "Maintain access" (offline_access): Microsoft sends no refresh token.
    The emulator's consent page cannot decline one scope, so its token store drops it here."""
    store = emu.state.tokens
    issue = store.issue

    def without_refresh(*args, **kwargs):
        issued = issue(*args, **kwargs)
        issued.pop("refresh_token", None)
        return issued

    monkeypatch.setattr(store, "issue", without_refresh)
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    response = link_outlook(client, emu.url, c.manager_email)
    assert response.status_code == 403
    assert "lasting access" in response.get_data(as_text=True)
    assert connection_of(session, c.manager) is None
    assert last_audit(session, c.org.id, "connection:link_refused").details["reason"] == "no refresh token"


def test_cancelling_at_microsoft_stores_nothing(app, client, session, emu):
    emu.reset(tokens=True)  # no earlier consent, so the consent page is shown
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    response = link_outlook(client, emu.url, c.manager_email, consent="cancel")
    assert response.status_code == 400 and "cancelled" in response.get_data(as_text=True)
    assert connection_of(session, c.manager) is None
    assert last_audit(session, c.org.id, "connection:link_refused").details["reason"] == "cancelled"


@pytest.mark.parametrize("error, description, status, recorded", [
    ("access_denied", "AADSTS90095: Admin consent is required for the permissions requested.", 403, 90095),
    ("consent_required", "AADSTS65001: The user or administrator has not consented.", 403, 65001),
    ("access_denied", "AADSTS50105: The signed in user is not assigned to a role.", 400, None),
    ("bad code<script>", "AADSTS90095: looks like consent, but the error is not an OAuth code", 400, None),
])
def test_every_admin_consent_code_leads_to_the_approval_page(app, client, session, emu, error,
                                                             description, status, recorded):
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    state = _query(start_link(client))["state"]
    response = client.get("/outlook/callback", query_string={
        "state": state, "error": error, "error_description": description})
    assert response.status_code == status
    if recorded:
        assert f"AADSTS{recorded}" in response.get_data(as_text=True)
        assert last_audit(session, c.org.id, "connection:admin_consent_required").details["code"] == recorded
    else:
        details = last_audit(session, c.org.id, "connection:link_refused").details
        assert details["reason"] == ("microsoft error: access_denied" if error == "access_denied"
                                     else "microsoft error: unrecognised error")
        assert details["code"] == (50105 if error == "access_denied" else 90095)


def test_admin_consent_required_then_granted_then_linked(app, client, session, emu):
    emu.fault(type="admin_consent_required", tenant="fabrikam.com")
    c = company(session, emu, domain="fabrikam.com")
    hr = f.person(session, c.org, role=Role.hr_admin)
    session.commit()
    f.sign_in_as(client, c.manager)
    response = link_outlook(client, emu.url, c.manager_email)
    page = response.get_data(as_text=True)
    assert response.status_code == 403 and "AADSTS90094" in page
    approve = _admin_link(page)
    # A signed token, not the guessable tenant id.
    assert approve.startswith("http://localhost/outlook/approve/") and c.org.tenant_id not in approve
    assert f"{outlook.ADMIN_LINK_MAX_AGE.days} days" in page
    connection = connection_of(session, c.manager)
    assert connection.admin_consent_requested_at is not None and connection.access_token is None
    assert connection.state is ConnectionState.awaiting_approval
    assert last_audit(session, c.org.id, "connection:admin_consent_required").details["code"] == 90094
    # The panel says so, with its own actions: link again once approved, or withdraw; nothing
    # to unlink, check or refresh, since nothing was ever linked.
    panel = client.get("/one-on-ones").get_data(as_text=True)
    assert 'id="admin-consent-waiting"' in panel
    assert "Waiting for your organization&#39;s approval" in panel
    assert 'id="link-outlook">Link Outlook<' in panel and "Withdraw my request" in panel
    assert "Unlink Outlook" not in panel and 'id="check-connection"' not in panel
    assert 'id="refresh-now"' not in panel and "Reconnect" not in panel
    assert 'id="approval-reported"' not in panel  # nobody has approved yet
    hr_client = app.test_client()
    f.sign_in_as(hr_client, hr)
    waiting = hr_client.get("/admin/consent-waiting").get_data(as_text=True)
    assert c.manager.label in waiting
    assert _admin_link(waiting).startswith("http://localhost/outlook/approve/")
    assert client.get(urlsplit(_admin_link(waiting)).path).status_code == 302  # the HR admin's works too
    assert client.get("/admin/consent-waiting").status_code == 403  # managers do not see it

    # An administrator (not a Listening user) opens the link in their own browser.
    admin_client = app.test_client()
    start = admin_client.get(urlsplit(approve).path)
    assert start.status_code == 302
    target = start.headers["Location"]
    assert target.startswith(f"{emu.url}/{c.org.tenant_id}/v2.0/adminconsent?")
    assert "Calendars.Read" in _query(target)["scope"] and "Write" not in _query(target)["scope"]
    back = consent_as(target, emu.url, c.admin_email)
    assert _query(back)["admin_consent"] == "True"
    done = admin_client.get(back)
    thanks = done.get_data(as_text=True)
    assert done.status_code == 200 and "may now read calendars in your organization" in thanks
    assert c.org.name not in thanks  # whoever holds the link learns no customer's name
    entry = last_audit(session, c.org.id, "connection:admin_consent_returned")
    assert entry.details == {"reported": "granted", "verified": False, "error": None, "tenant_matches": True}
    assert "connection:admin_consent_confirmed" not in actions(session, c.org.id)
    # The waiting manager is told on their page, as reported, and what to press.
    panel = client.get("/one-on-ones").get_data(as_text=True)
    reported = panel.split('id="approval-reported"', 1)[1].split("</p>", 1)[0]
    assert "reported approving Listening" in reported and "Link Outlook" in reported

    response = link_outlook(client, emu.url, c.manager_email)
    assert response.status_code == 302
    connection = connection_of(session, c.manager)
    assert connection.state is ConnectionState.linked and connection.admin_consent_requested_at is None
    confirmed = last_audit(session, c.org.id, "connection:admin_consent_confirmed")
    assert confirmed.actor_id == c.manager.id and confirmed.details["reported_at_seq"] == entry.seq
    assert confirmed.details["calendar_scopes"] == ["Calendars.Read"]
    # A later link (another manager, a relink) confirms nothing more.
    assert link_outlook(client, emu.url, c.manager_email).status_code == 302
    assert actions(session, c.org.id).count("connection:admin_consent_confirmed") == 1
    assert c.manager.label not in hr_client.get("/admin/consent-waiting").get_data(as_text=True)


def test_the_admin_consent_return_needs_our_state_and_never_trusts_tenant(app, client, session, emu):
    c = company(session, emu)
    assert client.get("/outlook/adminconsent/callback?admin_consent=True&tenant=x&state=s").status_code == 400
    start = client.get(approval_path(app, c.org))
    state = _query(start.headers["Location"])["state"]
    wrong = client.get(f"/outlook/adminconsent/callback?admin_consent=True&tenant=x&state={state}x")
    assert wrong.status_code == 400  # and the state is spent: the right one no longer works either
    assert client.get(f"/outlook/adminconsent/callback?admin_consent=True&state={state}").status_code == 400
    start = client.get(approval_path(app, c.org))
    state = _query(start.headers["Location"])["state"]
    forged = client.get(f"/outlook/adminconsent/callback?admin_consent=True&tenant=evil-tenant&state={state}")
    assert forged.status_code == 200
    assert last_audit(session, c.org.id, "connection:admin_consent_returned").details["tenant_matches"] is False
    # Whoever holds a genuine link still cannot write text of their choosing into the audit log.
    state = _query(client.get(approval_path(app, c.org)).headers["Location"])["state"]
    client.get("/outlook/adminconsent/callback", query_string={"state": state, "error": "x <b>forged"})
    assert last_audit(session, c.org.id, "connection:admin_consent_returned").details["error"] == \
        "unrecognised error"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _refused_links(app, org, other) -> dict[str, str]:
    """Approval links a stranger could make: none was signed by Listening for that organization."""
    genuine = approval_path(app, org).rsplit("/", 1)[1]
    _, stamp, signature = genuine.rsplit(".", 2)
    with app.test_request_context():
        unknown = outlook.approval_token(999_999, "00000000-0000-0000-0000-00000000dead")
        mismatched = outlook.approval_token(org.id, other.tenant_id)
    forged = URLSafeTimedSerializer("not-our-secret", salt="admin-consent").dumps(
        {"org": org.id, "tenant": org.tenant_id})
    return {
        "old form, a customer's tenant": org.tenant_id,
        "old form, an unknown tenant": "00000000-0000-0000-0000-00000000dead",
        "signed with another key": forged,
        "payload swapped to another organization":
            f"{_b64({'org': other.id, 'tenant': other.tenant_id})}.{stamp}.{signature}",
        "signature changed": genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"),
        "signed for an organization that does not exist": unknown,
        "signed for one organization with another's tenant": mismatched,
        "not a token at all": "x",
    }


def test_forged_unknown_or_tampered_approval_links_get_the_same_404_and_write_nothing(
        app, client, session, emu):
    c = company(session, emu)
    other = f.org(session, name="Other customer")
    session.commit()
    bodies = set()
    for name, token in _refused_links(app, c.org, other).items():
        response = client.get(f"/outlook/approve/{token}")
        assert response.status_code == 404, name
        bodies.add(response.get_data(as_text=True))
        with client.session_transaction() as s:
            assert outlook.ADMIN_STATE_KEY not in s, name  # nothing was started
        back = client.get("/outlook/adminconsent/callback?admin_consent=True&state=guessed")
        assert back.status_code == 400, name
    # One page for every case: a stranger cannot tell a customer's tenant from a made-up one.
    assert len(bodies) == 1 and "not valid" in bodies.pop()
    for org in (c.org, other):
        assert "connection:admin_consent_returned" not in actions(session, org.id)
    assert client.get(approval_path(app, c.org)).status_code == 302  # the genuine link still works


def test_an_approval_link_still_works_a_day_before_it_expires(app, client, session, emu):
    c = company(session, emu)
    link = approval_path(app, c.org, age=outlook.ADMIN_LINK_MAX_AGE - timedelta(days=1))
    assert client.get(link).status_code == 302


def test_an_expired_approval_link_is_refused_and_writes_nothing(app, client, session, emu):
    c = company(session, emu)
    link = approval_path(app, c.org, age=outlook.ADMIN_LINK_MAX_AGE + timedelta(days=1))
    response = client.get(link)
    assert response.status_code == 410
    assert "This approval link has expired; ask for a new one from the 1-on-1s page" in \
        response.get_data(as_text=True)
    with client.session_transaction() as s:
        assert outlook.ADMIN_STATE_KEY not in s
    assert client.get("/outlook/adminconsent/callback?admin_consent=True&state=x").status_code == 400
    assert "connection:admin_consent_returned" not in actions(session, c.org.id)


def test_sign_in_then_link_in_the_same_browser(app, client, session, emu):
    from tests.support.browserless import sign_in

    emu.reset(tokens=True)
    c = company(session, emu)
    browser = MicrosoftBrowser(emu.url)
    assert sign_in(client, emu.url, c.manager_email, browser).status_code == 302
    response = link_outlook(client, emu.url, c.manager_email, browser=browser)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert connection_of(session, c.manager).state is ConnectionState.linked


def test_an_approval_state_is_spent_once_even_when_the_session_cookie_is_replayed(app, client, session, emu):
    """Someone holding an approval link replayed one session cookie against the callback and
    appended 200 "granted" entries in 3 s; the state is now spent server-side on first use."""
    c = company(session, emu)
    state = _query(client.get(approval_path(app, c.org)).headers["Location"])["state"]
    cookie = client.get_cookie("session").value
    answers = []
    for _ in range(20):
        client.set_cookie("session", cookie)  # the same pending approval, again and again
        answers.append(client.get(f"/outlook/adminconsent/callback?admin_consent=True&state={state}").status_code)
    assert answers == [200] + [400] * 19
    assert actions(session, c.org.id).count("connection:admin_consent_returned") == 1
    entry = last_audit(session, c.org.id, "connection:admin_consent_returned")
    assert entry.details["reported"] == "granted" and entry.details["verified"] is False


def test_a_state_from_another_approval_start_is_refused(app, client, session, emu):
    """Only a state /outlook/approve/... issued, for that browser, works."""
    c = company(session, emu)
    other = app.test_client()
    theirs = _query(other.get(approval_path(app, c.org)).headers["Location"])["state"]
    client.get(approval_path(app, c.org))
    assert client.get(f"/outlook/adminconsent/callback?admin_consent=True&state={theirs}").status_code == 400
    assert "connection:admin_consent_returned" not in actions(session, c.org.id)


@pytest.mark.parametrize("extra", ["Calendars.ReadWrite"])
def test_a_grant_with_a_write_scope_is_refused_and_nothing_is_stored(app, client, session, emu, extra):
    """A manager who adds a write scope to the authorize request used to get a linked connection."""
    emu.reset(tokens=True)
    c = company(session, emu)
    f.sign_in_as(client, c.manager)
    authorize = start_link(client)
    parts = urlsplit(authorize)
    query = _query(authorize)
    query["scope"] += " " + extra
    from urllib.parse import urlencode
    tampered = parts._replace(query=urlencode(query)).geturl()
    response = client.get(consent_as(tampered, emu.url, c.manager_email))
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "never keeps write or mail access" in page and extra in page
    assert connection_of(session, c.manager) is None
    entry = last_audit(session, c.org.id, "connection:link_refused")
    assert entry.details["reason"] == "write or mail scope granted" and entry.details["refused_scopes"] == [extra]
    assert "connection:link" not in actions(session, c.org.id)


@pytest.mark.parametrize("scope, refused", [
    ("Calendars.ReadWrite.Shared", True), ("Mail.Send", True), ("Mail.Read", True),
    ("EWS.AccessAsUser.All", True), ("User.ReadWrite.All", True), ("Calendars.Read", False),
    ("Calendars.ReadBasic", False), ("User.Read", False), ("offline_access", False),
])
def test_which_granted_scopes_are_refused(scope, refused):
    from listening.outlook import linking

    assert bool(linking._WRITE_OR_MAIL.search(scope)) is refused
