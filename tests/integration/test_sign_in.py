"""Sign-in with Microsoft through the emulator over loopback: success and every refusal."""
import pytest
from sqlalchemy import func, select

from listening.core.models import AuditEvent, Person, Role, SignInRefusal
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.browserless import MicrosoftBrowser, local_path, sign_in

CONTOSO = "8c3a5e2d-4b1f-4e7a-9d6c-2f0b7a1e5c93"
MANAGER = "daniel.okafor@contoso.com"


@pytest.fixture
def contoso(session):
    org = f.org(session, tenant_id=CONTOSO, name="Contoso")
    manager = f.person(session, org, email=MANAGER, role=Role.manager, name="Daniel Okafor")
    session.commit()
    return org, manager


def audit_actions(session):
    session.expire_all()
    return [a for a in session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))]


def refusals(session) -> list[tuple[str, int, str | None]]:
    """The operators' counts of refused sign-ins that belong to no organization."""
    session.expire_all()
    return [(r.reason, r.count, r.last_detail) for r in
            session.scalars(select(SignInRefusal).order_by(SignInRefusal.id))]


def test_first_sign_in_binds_the_oid_and_opens_a_session(client, session, emu, contoso):
    org, manager = contoso
    response = sign_in(client, emu.url, MANAGER)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    session.refresh(manager)
    users = {u["email"]: u for u in emu.users()}
    assert manager.oid == users[MANAGER]["oid"]
    assert "Daniel Okafor" in client.get("/one-on-ones").get_data(as_text=True)
    assert audit_actions(session) == ["auth:sign_in"]
    with client.session_transaction() as s:
        assert s["person_id"] == manager.id and "next" not in s


def test_a_second_sign_in_finds_the_person_by_oid_even_after_an_email_change(client, session, emu, contoso):
    org, manager = contoso
    sign_in(client, emu.url, MANAGER)
    session.refresh(manager)
    manager.email = "renamed@contoso.com"
    session.commit()
    client.post("/auth/sign-out", data={"csrf_token": f.csrf_token(client, "/one-on-ones")})
    response = sign_in(client, emu.url, MANAGER)
    assert response.status_code == 302
    with client.session_transaction() as s:
        assert s["person_id"] == manager.id


def test_alias_binds_when_primary_email_differs(client, session, emu):
    org = f.org(session, tenant_id=CONTOSO)
    person = f.person(session, org, email="d.okafor@corp.example", aliases=[MANAGER])
    session.commit()
    assert sign_in(client, emu.url, MANAGER).status_code == 302
    session.refresh(person)
    assert person.oid is not None


def test_someone_not_in_the_directory_is_refused_and_audited(client, session, emu, contoso):
    response = sign_in(client, emu.url, "ravi.patel@contoso.com")
    assert response.status_code == 403
    assert "Ask your HR admin" in response.get_data(as_text=True)
    assert audit_actions(session) == ["auth:sign_in_refused"]
    assert session.scalar(select(func.count()).select_from(Person)) == 1
    with client.session_transaction() as s:
        assert "person_id" not in s


def test_a_tenant_without_an_organization_is_refused_and_nothing_is_created(client, session, emu):
    response = sign_in(client, emu.url, MANAGER)
    assert response.status_code == 403
    assert "does not use Listening yet" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Person)) == 0
    assert refusals(session) == [("unknown tenant", 1, None)]
    [row] = session.scalars(select(SignInRefusal)).all()
    assert row.last_tenant_id == CONTOSO and str(row.ip) == "127.0.0.1" and row.last_user_agent


def test_deactivated_person_is_refused(client, session, emu, contoso):
    _, manager = contoso
    manager.active = False
    session.commit()
    assert sign_in(client, emu.url, MANAGER).status_code == 403


def test_wrong_or_missing_state_is_refused(client, session, emu, contoso):
    start = client.get("/auth/sign-in")
    back = MicrosoftBrowser(emu.url).authorize(start.headers["Location"], MANAGER)
    forged = local_path(back).replace("state=", "state=forged")
    assert client.get(forged).status_code == 400
    no_state = "&".join(p for p in local_path(back).split("&") if not p.startswith("state="))
    assert client.get(no_state).status_code == 400
    with client.session_transaction() as s:
        assert "person_id" not in s
    # One hourly count (two if the hour turned in between): a flood adds to a number, not rows.
    counted = refusals(session)
    assert {r[0] for r in counted} == {"invalid response"} and sum(r[1] for r in counted) == 2
    assert len(counted) <= 2 and counted[-1][2] == "mismatching_state"
    assert audit_actions(session) == []  # no organization's log holds what is nobody's


def test_a_replayed_callback_is_refused(client, session, emu, contoso):
    start = client.get("/auth/sign-in")
    back = local_path(MicrosoftBrowser(emu.url).authorize(start.headers["Location"], MANAGER))
    assert client.get(back).status_code == 302
    client.post("/auth/sign-out", data={"csrf_token": f.csrf_token(client, "/one-on-ones")})
    assert client.get(back).status_code == 400
    with client.session_transaction() as s:
        assert "person_id" not in s


def test_replayed_code_with_fresh_state_is_refused_by_microsoft(client, session, emu, contoso):
    """The code is single-use at the token endpoint (AADSTS54005), whatever our state says."""
    first = client.get("/auth/sign-in")
    back = local_path(MicrosoftBrowser(emu.url).authorize(first.headers["Location"], MANAGER))
    code = [p for p in back.split("?")[1].split("&") if p.startswith("code=")][0]
    assert client.get(back).status_code == 302
    client.post("/auth/sign-out", data={"csrf_token": f.csrf_token(client, "/one-on-ones")})
    second = client.get("/auth/sign-in")
    state = [p for p in second.headers["Location"].split("?")[1].split("&") if p.startswith("state=")][0]
    assert client.get(f"/auth/callback?{code}&{state}").status_code == 400
    assert refusals(session) == [("invalid response", 1, "invalid_grant")]


def test_a_tampered_id_token_is_refused(app, client, session, emu, contoso, monkeypatch):
    from listening.web import oauth

    with app.app_context():
        signin = oauth.client("signin")  # the app's own client object, as the view will get it
    real_fetch = signin.fetch_access_token

    def tamper(**kwargs):
        token = real_fetch(**kwargs)
        header, payload, signature = token["id_token"].split(".")
        token["id_token"] = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
        return token

    monkeypatch.setattr(signin, "fetch_access_token", tamper)
    assert sign_in(client, emu.url, MANAGER).status_code == 400
    with client.session_transaction() as s:
        assert "person_id" not in s
    [(reason, count, detail)] = refusals(session)
    assert (reason, count) == ("invalid response", 1) and detail.endswith("Error")


def test_issuer_must_match_the_tokens_own_tenant(app):
    from listening.outlook import identity
    from listening.web import oauth

    with app.app_context():
        options = identity.issuer_options(oauth.client("signin"))
    valid = options["iss"]["validate"]
    other = "f4b2c7e1-0d3a-4a58-b6e9-71c5d2a8e04f"
    base = services_of(app).settings.ms_authority
    assert valid({"tid": CONTOSO}, f"{base}/{CONTOSO}/v2.0")
    assert not valid({"tid": CONTOSO}, f"{base}/{other}/v2.0")
    assert not valid({"tid": "not-a-guid"}, f"{base}/not-a-guid/v2.0")
    assert not valid({"tid": CONTOSO}, f"https://evil.example/{CONTOSO}/v2.0")


def test_cancelled_sign_in_shows_a_message_and_no_session(client, emu, contoso):
    start = client.get("/auth/sign-in")
    # prompt=consent makes the consent page show even where consent was given before.
    url = start.headers["Location"].replace("prompt=select_account", "prompt=consent")
    back = MicrosoftBrowser(emu.url).authorize(url, MANAGER, consent="cancel")
    assert "error_subcode=cancel" in back
    response = client.get(local_path(back))
    assert response.status_code == 400 and "cancelled" in response.get_data(as_text=True)
    with client.session_transaction() as s:
        assert "person_id" not in s


def test_session_is_rotated_at_sign_in(client, session, emu, contoso):
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    sign_in(client, emu.url, MANAGER)
    with client.session_transaction() as s:
        assert "planted" not in s and s.get("signed_in_at")


def test_sign_out_clears_the_session_and_is_audited(client, session, emu, contoso):
    sign_in(client, emu.url, MANAGER)
    token = f.csrf_token(client, "/one-on-ones")
    assert client.post("/auth/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/one-on-ones").status_code == 302
    assert audit_actions(session) == ["auth:sign_in", "auth:sign_out"]


def test_sign_out_needs_a_csrf_token(client, session, emu, contoso):
    sign_in(client, emu.url, MANAGER)
    assert client.post("/auth/sign-out").status_code == 400
    assert client.get("/one-on-ones").status_code == 200


def test_off_site_next_is_ignored(client, session, emu, contoso):
    client.get("/auth/sign-in?next=//evil.example/x")
    with client.session_transaction() as s:
        assert s.get("next") is None
    client.get("/auth/sign-in?next=/one-on-ones")
    with client.session_transaction() as s:
        assert s.get("next") == "/one-on-ones"


@pytest.mark.parametrize("error, logged", [
    ("server_error", "sign-in refused: microsoft error (server_error)"),
    ("x INFO forged log line", "sign-in refused: microsoft error (unrecognised error)"),
    ("<script>" * 20, "sign-in refused: microsoft error (unrecognised error)"),
])
def test_a_redirect_error_is_logged_only_in_the_shape_of_an_oauth_code(client, session, caplog, error, logged):
    """Anyone can open the callback: what they put in ``error`` never reaches the log as is."""
    with caplog.at_level("WARNING", logger="listening.web.auth"):
        response = client.get("/auth/callback", query_string={"error": error})
    assert response.status_code == 400
    assert [r.getMessage() for r in caplog.records] == [logged]
    assert refusals(session) == [("microsoft error", 1, logged.split("(")[1].rstrip(")"))]


def test_a_line_break_in_a_redirect_error_is_refused_before_anything_logs_it(client, session, caplog):
    with caplog.at_level("INFO"):
        response = client.get("/auth/callback", query_string={"error": "x\nINFO forged log line"})
    assert response.status_code == 400 and "control character" in response.get_data(as_text=True)
    assert "forged" not in caplog.text and refusals(session) == []


def test_sign_out_ends_every_copy_of_the_session(app, client, session, emu, contoso):
    """Sessions are signed cookies: a copy taken before sign-out must stop working too."""
    sign_in(client, emu.url, MANAGER)
    stolen = app.test_client()
    stolen.set_cookie("session", client.get_cookie("session").value)
    assert stolen.get("/one-on-ones").status_code == 200
    client.post("/auth/sign-out", data={"csrf_token": f.csrf_token(client, "/one-on-ones")})
    assert stolen.get("/one-on-ones").status_code == 302  # to the sign-in page
    # A new sign-in works again.
    assert sign_in(client, emu.url, MANAGER).status_code == 302
    assert client.get("/one-on-ones").status_code == 200


def test_refused_sign_in_counts_are_listed_and_purged_after_90_days(app, session):
    from datetime import UTC, datetime, timedelta

    from listening.admin import retention
    from listening.audit import refusals as counts

    now = datetime.now(UTC)
    for when, reason in ((now, "invalid response"), (now, "invalid response"),
                         (now - timedelta(days=91), "unknown tenant")):
        counts.record(session, reason, when, detail="mismatching_state")
    session.commit()
    listed = app.test_cli_runner().invoke(args=["audit", "refused-sign-ins", "--days", "90"])
    assert listed.exit_code == 0
    assert "     2  invalid response" in listed.output and "unknown tenant" not in listed.output
    assert retention.purge_sign_in_refusals(services_of(app).db, now) == 1
    assert [r[0] for r in refusals(session)] == ["invalid response"]
    bad = app.test_cli_runner().invoke(args=["audit", "refused-sign-ins", "--days", "0"])
    assert bad.exit_code == 2
    assert bad.stderr.splitlines() == ["error: --days must be from 1 to 90 (older counts are purged)"]


def test_refusal_sources_are_bounded_per_hour(app, session, monkeypatch):
    """IPv6 sources count by /64, and past the cap further sources share one count."""
    from datetime import UTC, datetime

    from listening import audit
    from listening.audit import refusals

    monkeypatch.setattr(refusals, "MAX_SOURCES_PER_HOUR", 2)
    now = datetime.now(UTC).replace(minute=30)
    for ip in ("2001:db8:1:2::1", "2001:db8:1:2::99", "198.51.100.1", "198.51.100.2", "198.51.100.3"):
        audit.origin.set(audit.Origin(ip=ip, user_agent="flood/1.0"))
        refusals.record(session, "invalid response", now, detail="mismatching_state")
    audit.origin.set(audit.Origin())
    session.commit()
    rows = {str(r.ip): r.count for r in session.scalars(select(SignInRefusal))}
    assert rows == {"2001:db8:1:2::/64": 2, "198.51.100.1": 1, "None": 2}


def _signed_in_manager_client(app, session, contoso):
    """A second browser holding a valid session of the manager (as a copied cookie would)."""
    _, manager = contoso
    other = app.test_client()
    f.sign_in_as(other, manager)
    assert other.get("/one-on-ones").status_code == 200
    return other


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(app, session, contoso):
    from listening.admin import directory

    org, manager = contoso
    old = _signed_in_manager_client(app, session, contoso)
    csv = "email,name,manager_email,role\nhr@contoso.com,Hal,,hr_admin\n"
    directory.apply_import(session, org, directory.parse_csv(csv.encode()))
    session.commit()
    assert old.get("/one-on-ones").status_code == 302
    back = csv + f"{MANAGER},Daniel Okafor,,manager\n"
    directory.apply_import(session, org, directory.parse_csv(back.encode()))
    session.commit()
    assert old.get("/one-on-ones").status_code == 302  # still signed out: a new sign-in is needed


@pytest.mark.parametrize("change", ["no start time", "older than 8 hours", "no version"])
def test_sessions_end_8_hours_after_sign_in_and_old_style_ones_are_refused(app, session, contoso, change):
    other = _signed_in_manager_client(app, session, contoso)
    with other.session_transaction() as s:
        if change == "no start time":
            del s["signed_in_at"]
        elif change == "older than 8 hours":
            s["signed_in_at"] -= 8 * 3600 + 1
        else:
            del s["session_version"]
    assert other.get("/one-on-ones").status_code == 302
    with other.session_transaction() as s:
        assert "person_id" not in s


def test_a_signed_out_cookie_cannot_write_audit_entries_through_a_forged_form(app, client, session, emu, contoso):
    org, _ = contoso
    sign_in(client, emu.url, MANAGER)
    stolen = app.test_client()
    stolen.set_cookie("session", client.get_cookie("session").value)
    client.post("/auth/sign-out", data={"csrf_token": f.csrf_token(client, "/one-on-ones")})
    before = audit_actions(session)
    assert stolen.post("/one-on-ones/attach", data={"report_id": "1", "series_id": "S"}).status_code == 400
    assert audit_actions(session) == before


def test_a_forged_form_of_a_signed_in_manager_is_audited_with_its_own_address(app, client, session, emu, contoso):
    sign_in(client, emu.url, MANAGER)
    response = client.post("/one-on-ones/attach", data={"report_id": "1", "series_id": "S"},
                           environ_base={"REMOTE_ADDR": "192.0.2.44"}, headers={"User-Agent": "forger/2"})
    assert response.status_code == 400
    entry = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert entry.action == "one_on_one:attach_refused" and entry.details["reason"] == "csrf"
    assert (str(entry.ip), entry.user_agent) == ("192.0.2.44", "forger/2")


@pytest.mark.parametrize("query", ["error=access_denied", "error=access_denied&error_subcode=cancel",
                                   "error=access_denied&state=forged", "code=stolen&state=forged", "code=x"])
def test_a_cross_site_callback_does_not_sign_anyone_out(client, session, emu, contoso, query):
    """Any site can send a signed-in browser to /auth/callback?error=access_denied; that used to
    end the session. Only an answer to the sign-in this browser started may."""
    assert sign_in(client, emu.url, MANAGER).status_code == 302
    client.get("/auth/sign-in")  # even with a sign-in of its own pending, the forged answer is not its
    response = client.get("/auth/callback?" + query)
    assert response.status_code == 400 and "Sign-in not completed" in response.get_data(as_text=True)
    assert client.get("/one-on-ones").status_code == 200  # still signed in


def test_a_refusal_of_the_browsers_own_pending_sign_in_ends_its_session(client, session, emu, contoso):
    from urllib.parse import parse_qs, urlsplit

    assert sign_in(client, emu.url, MANAGER).status_code == 302
    state = parse_qs(urlsplit(client.get("/auth/sign-in").headers["Location"]).query)["state"][0]
    response = client.get(f"/auth/callback?error=access_denied&error_subcode=cancel&state={state}")
    assert response.status_code == 400 and "You are not signed in" in response.get_data(as_text=True)
    assert client.get("/one-on-ones").status_code == 302  # to the sign-in page


@pytest.mark.parametrize("app_overrides", [{"rate_limit_sign_in": "100 per minute"}], indirect=True)
def test_only_the_newest_pending_sign_in_is_kept(client, session, emu, contoso):
    """Each start added ~180 bytes of OAuth state; after ~20 the cookie passed 4 KB."""
    for _ in range(25):
        assert client.get("/auth/sign-in").status_code == 302
    with client.session_transaction() as s:
        assert len([k for k in s if k.startswith("_state_signin_")]) == 1
    assert len(client.get_cookie("session").value) < 1024
    assert sign_in(client, emu.url, MANAGER).status_code == 302  # and the newest one works


def test_only_the_newest_pending_link_is_kept(app, client, session, emu, contoso):
    from tests.support.browserless import link_outlook, start_link

    _, manager = contoso
    assert sign_in(client, emu.url, MANAGER).status_code == 302
    for _ in range(25):
        start_link(client)
    with client.session_transaction() as s:
        assert len([k for k in s if k.startswith("_state_outlook_")]) == 1
        assert len([k for k in s if k.startswith("_state_")]) == 1  # the sign-in's was spent
    assert len(client.get_cookie("session").value) < 1024
    assert link_outlook(client, emu.url, MANAGER).status_code == 302
