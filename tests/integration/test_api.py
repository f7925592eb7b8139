"""/api/v1: bearer keys, organization scope, keyset pages, filters, occurrences without content,
ETags, rate limits, problem details and one audit entry per request."""
from __future__ import annotations

import io
import logging
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import select

from listening.api import keys
from listening.core.models import ApiKey, AuditEvent, OneOnOne, OneOnOneStatus
from tests.integration import api_helpers as a
from tests.integration import one_on_ones_helpers as h
from tests.support import calendars as cal
from tests.support import factories as f

PROBLEM = "application/problem+json"


@pytest.fixture
def org(app, session, client):
    return a.seeded(app, session, client)


def _get(client, path, secret, **headers):
    return client.get(path, headers={**a.bearer(secret), **headers})


def _api_audits(session, org_id):
    session.expire_all()
    return [e.details for e in session.scalars(select(AuditEvent).where(
        AuditEvent.org_id == org_id, AuditEvent.action == "api:request").order_by(AuditEvent.seq))]


def test_the_list_shows_attached_one_on_ones_and_nothing_of_their_content(app, client, session, org):
    t = org.team
    response = _get(client, "/api/v1/one-on-ones", a.new_key(session, t.org.id))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["next_cursor"] is None
    assert [(i["manager"], i["report"], i["status"], i["cadence"]) for i in body["items"]] == [
        ({"id": t.manager.id, "email": t.manager.email}, {"id": r.id, "email": r.email}, "active", "weekly")
        for r in t.reports[:2]]
    assert [i["id"] for i in body["items"]] == org.one_on_ones
    assert set(body["items"][0]) == {"id", "manager", "report", "cadence", "status", "attached_since", "changed_at"}
    text = response.get_data(as_text=True)
    assert not any(word in text for word in (*a.SUBJECTS, "S-ana", "subject", "attendee"))


def test_one_one_on_one_gives_its_occurrences_as_times_only(app, client, session, org):
    t = org.team
    secret = a.new_key(session, t.org.id)
    start = h.weekly_from(cal.NOW) - timedelta(days=1)
    response = _get(client, f"/api/v1/one-on-ones/{org.one_on_ones[0]}?start={start:%Y-%m-%dT%H:%M:%SZ}"
                    f"&end={start + timedelta(days=35):%Y-%m-%dT%H:%M:%SZ}", secret)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    occurrences = body["occurrences"]
    assert len(occurrences) == 5 and [o["cancelled"] for o in occurrences] == [False, False, True, False, False]
    assert all(set(o) == {"id", "start", "end", "cancelled"} for o in occurrences)
    assert occurrences[0]["start"].endswith("+00:00") and len({o["id"] for o in occurrences}) == 5
    assert not any(word in response.get_data(as_text=True) for word in (*a.SUBJECTS, "S-ana", "occ-"))
    assert _get(client, "/api/v1/one-on-ones/999999", secret).status_code == 404
    backwards = _get(client, f"/api/v1/one-on-ones/{org.one_on_ones[0]}?start=2027-01-02T00:00:00Z"
                             "&end=2027-01-01T00:00:00Z", secret)
    assert backwards.status_code == 200 and backwards.get_json()["occurrences"] == []
    bad = _get(client, f"/api/v1/one-on-ones/{org.one_on_ones[0]}?start=yesterday", secret)
    assert bad.status_code == 422 and bad.content_type == PROBLEM and "start" in str(bad.get_json()["errors"])


def test_keyset_pages_and_a_key_revoked_between_two_pages(app, client, session, org):
    t = org.team
    secret = a.new_key(session, t.org.id)
    first = _get(client, "/api/v1/one-on-ones?limit=1", secret).get_json()
    assert [i["id"] for i in first["items"]] == org.one_on_ones[:1] and first["next_cursor"]
    second = _get(client, f"/api/v1/one-on-ones?limit=1&cursor={first['next_cursor']}", secret).get_json()
    assert [i["id"] for i in second["items"]] == org.one_on_ones[1:] and second["next_cursor"] is None
    key = session.scalar(select(ApiKey).where(ApiKey.org_id == t.org.id))
    result = app.test_cli_runner().invoke(args=["api-keys", "revoke", str(key.id), "--org", t.org.tenant_id])
    assert result.exit_code == 0, result.output
    refused = _get(client, f"/api/v1/one-on-ones?limit=1&cursor={first['next_cursor']}", secret)
    assert refused.status_code == 401 and refused.content_type == PROBLEM
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    bad = _get(client, "/api/v1/one-on-ones?cursor=nonsense", a.new_key(session, t.org.id))
    assert bad.status_code == 400 and bad.content_type == PROBLEM


def test_a_key_of_another_organization_sees_nothing_of_this_one(app, client, session, org):
    other = f.org(session, name="Other")
    session.commit()
    secret = a.new_key(session, other.id, "one_on_ones:read", "directory:read")
    assert _get(client, "/api/v1/one-on-ones", secret).get_json()["items"] == []
    assert _get(client, "/api/v1/people", secret).get_json()["items"] == []
    refused = _get(client, f"/api/v1/one-on-ones/{org.one_on_ones[0]}", secret)
    assert refused.status_code == 404 and refused.content_type == PROBLEM


def test_filters(app, client, session, org):
    t = org.team
    secret = a.new_key(session, t.org.id)
    ana, bo = t.reports[0], t.reports[1]

    def ids(query):
        response = _get(client, "/api/v1/one-on-ones?" + query, secret)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [i["report"]["id"] for i in response.get_json()["items"]]

    assert ids(f"report={bo.id}") == [bo.id]
    assert ids(f"manager={t.manager.id}") == [ana.id, bo.id] and ids(f"manager={t.outsider.id}") == []
    session.execute(OneOnOne.__table__.update().where(OneOnOne.report_id == bo.id).values(
        status=OneOnOneStatus.needs_attention))
    session.commit()
    assert ids("status=needs_attention") == [bo.id] and ids("status=active") == [ana.id]
    changed = session.scalar(select(OneOnOne.changed_at).where(OneOnOne.report_id == bo.id))
    assert ids("changed_since=" + changed.isoformat().replace("+", "%2B")) == [bo.id]
    assert _get(client, "/api/v1/one-on-ones?status=gone", secret).status_code == 422


def test_a_recheck_that_changes_nothing_leaves_changed_at(app, client, session, org):
    row = session.scalar(select(OneOnOne).where(OneOnOne.id == org.one_on_ones[0]))
    before = row.changed_at
    session.execute(OneOnOne.__table__.update().where(OneOnOne.id == row.id).values(checked_at=cal.NOW))
    session.commit()
    session.expire_all()
    assert session.get(OneOnOne, row.id).changed_at == before


def test_scopes(app, client, session, org):
    t = org.team
    directory_only = a.new_key(session, t.org.id, "directory:read")
    refused = _get(client, "/api/v1/one-on-ones", directory_only)
    assert refused.status_code == 403 and refused.content_type == PROBLEM
    people = _get(client, "/api/v1/people", directory_only).get_json()["items"]
    assert {p["email"] for p in people} == {t.manager.email, t.outsider.email, *(r.email for r in t.reports)}
    dana = next(p for p in people if p["id"] == t.manager.id)
    assert dana == {"id": t.manager.id, "email": t.manager.email, "name": "Dana Boss", "manager_id": None,
                    "role": "manager", "active": True}
    assert _get(client, "/api/v1/people", a.new_key(session, t.org.id)).status_code == 403


def test_an_etag_answers_304_until_the_list_changes(app, client, session, org):
    secret = a.new_key(session, org.team.org.id)
    first = _get(client, "/api/v1/one-on-ones", secret)
    tag = first.headers["ETag"]
    again = _get(client, "/api/v1/one-on-ones", secret, **{"If-None-Match": tag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == tag
    session.execute(OneOnOne.__table__.update().where(OneOnOne.id == org.one_on_ones[0]).values(
        status=OneOnOneStatus.needs_attention))
    session.commit()
    changed = _get(client, "/api/v1/one-on-ones", secret, **{"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


@pytest.mark.parametrize("app_overrides", [{"api_rate_limit": "3/minute"}], indirect=True)
def test_rate_limits_per_key_with_ratelimit_headers(app, client, session, org):
    secret, other = a.new_key(session, org.team.org.id), a.new_key(session, org.team.org.id)
    answers = [_get(client, "/api/v1/one-on-ones", secret) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"per-key";q=3;w=60'
    assert answers[0].headers["RateLimit"].startswith('"per-key";r=2;t=')
    limited = answers[-1]
    assert limited.content_type == PROBLEM and int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit"].startswith('"per-key";r=0;')
    assert _get(client, "/api/v1/one-on-ones", other).status_code == 200  # each key its own limit


@pytest.mark.parametrize("app_overrides", [{"api_key_failure_limit": "3/minute"}], indirect=True)
def test_keys_that_are_not_valid_are_limited_per_address_and_valid_ones_are_not(app, client, session, org):
    secret = a.new_key(session, org.team.org.id)
    wrong = [_get(client, "/api/v1/one-on-ones", "lst_" + "x" * 40) for _ in range(4)]
    assert [r.status_code for r in wrong] == [401, 401, 401, 429]
    refused = wrong[-1]
    assert refused.content_type == PROBLEM and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "not valid" in refused.get_json()["detail"]
    # The limit holds for every key from that address while it lasts, valid ones included...
    assert _get(client, "/api/v1/one-on-ones", secret).status_code == 429
    # ... and counts only failures: another address with a valid key is served as many times as it asks.
    other = [client.get("/api/v1/one-on-ones", headers=a.bearer(secret), environ_base={"REMOTE_ADDR": "10.0.0.9"})
             for _ in range(5)]
    assert [r.status_code for r in other] == [200] * 5


def test_one_audit_entry_per_request_and_last_used(app, client, session, org):
    t = org.team
    secret = a.new_key(session, t.org.id)
    _get(client, "/api/v1/one-on-ones", secret)
    _get(client, "/api/v1/one-on-ones/999999", secret)
    key = session.scalar(select(ApiKey).where(ApiKey.org_id == t.org.id))
    assert _api_audits(session, t.org.id) == [
        {"api_key_id": key.id, "route": "/api/v1/one-on-ones", "method": "GET", "status": 200, "count": 2},
        {"api_key_id": key.id, "route": "/api/v1/one-on-ones/<int:one_on_one_id>", "method": "GET",
         "status": 404}]
    session.expire_all()
    assert session.get(ApiKey, key.id).last_used_at is not None


def test_a_request_holds_no_lock_on_its_key_while_it_reads(app, client, session, org, database_url,
                                                           monkeypatch):
    """Marking the key used locks its row until the commit: done first, every request of one key
    would wait for the one before it to finish."""
    from listening.api import reading

    secret = a.new_key(session, org.team.org.id)
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == keys.digest(secret)))
    found, read = [], reading.one_on_ones_page

    def reading_while_probed(*args):
        with psycopg.connect(database_url) as other:
            try:
                other.execute("SELECT 1 FROM api_keys WHERE id = %s FOR UPDATE NOWAIT", (key_id,))
                found.append("free")
            except psycopg.errors.LockNotAvailable:
                found.append("locked")
        return read(*args)

    monkeypatch.setattr(reading, "one_on_ones_page", reading_while_probed)
    assert _get(client, "/api/v1/one-on-ones", secret).status_code == 200
    assert found == ["free"]
    session.expire_all()
    assert session.get(ApiKey, key_id).last_used_at is not None


def test_no_session_cookie_and_no_csrf_for_the_api_and_a_signed_in_person_is_not_a_key(app, client, session, org):
    secret = a.new_key(session, org.team.org.id)
    response = _get(client, "/api/v1/one-on-ones", secret)
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    assert client.post("/api/v1/one-on-ones", headers=a.bearer(secret)).status_code == 405
    f.sign_in_as(client, org.team.manager)
    assert client.get("/api/v1/one-on-ones").status_code == 401
    hr = f.person(session, org.team.org, "hr@example.com", f.Role.hr_admin)
    session.commit()
    f.sign_in_as(client, hr)
    refused = client.post("/admin/api-keys", data={"name": "x", "scopes": "directory:read"})
    assert refused.status_code == 400  # forms keep their CSRF token


@pytest.mark.parametrize("path, status", [("/api/v1/nowhere", 404), ("/api/elsewhere", 404)])
def test_unknown_routes_under_api_are_problems(client, path, status):
    response = client.get(path)
    assert response.status_code == status and response.content_type == PROBLEM
    assert response.get_json()["status"] == status


def test_keys_reach_no_log(app, client, session, org):
    from listening.core import logs

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(logs.ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.DEBUG
    try:
        result = app.test_cli_runner().invoke(args=["api-keys", "create", "--org", org.team.org.tenant_id,
                                                    "--name", "ci", "--scope", "one_on_ones:read"])
        secret = result.stdout.strip().splitlines()[-1]
        logging.getLogger("listening.test").warning("a careless message with %s", secret)
        _get(client, "/api/v1/one-on-ones", secret)
        _get(client, "/api/v1/one-on-ones", secret[:-1] + "x")
    finally:
        root.removeHandler(handler)
        root.level = level
    assert "a careless message with lst_[redacted]" in buffer.getvalue()
    assert secret[4:12] not in buffer.getvalue()
