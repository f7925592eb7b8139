"""Headers and hosts: no page or download is cached, production pins HTTPS, its one host and a
__Host- cookie, and every link sent out is built from PUBLIC_URL, never from the Host header."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from listening.core.models import Role
from tests.support import factories as f

PUBLIC = "https://listening.example.com"


@pytest.fixture
def people(session):
    org = f.org(session)
    hr = f.person(session, org, role=Role.hr_admin)
    boss = f.person(session, org, role=Role.manager)
    f.connection(session, boss, None)
    session.commit()
    return hr, boss


@pytest.mark.parametrize("role, method, path", [
    ("hr", "GET", "/admin/directory"), ("hr", "GET", "/admin/audit"), ("hr", "GET", "/admin/audit/export.csv"),
    ("hr", "GET", "/admin/people"), ("hr", "GET", "/admin/people/{hr}"), ("hr", "POST", "/admin/people/{hr}/export"),
    ("hr", "GET", "/admin/settings"), ("hr", "GET", "/admin/consent-waiting"), ("boss", "GET", "/one-on-ones"),
    ("boss", "GET", "/"), (None, "GET", "/"), (None, "GET", "/healthz"),
])
def test_no_page_or_download_may_be_cached(app, client, people, role, method, path):
    hr, boss = people
    app.config["WTF_CSRF_ENABLED"] = False
    if role:
        f.sign_in_as(client, {"hr": hr, "boss": boss}[role])
    response = client.open(path.format(hr=hr.id), method=method)
    assert response.status_code in (200, 302)
    assert response.headers["Cache-Control"] == "no-store"
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "base-uri 'none'" in policy


@pytest.mark.parametrize("app_overrides", [{"public_url": PUBLIC}], indirect=True)
def test_links_sent_out_use_the_public_url_whatever_host_arrives(app, client, people):
    import re

    from listening.web.security import session_fields

    hr, boss = people
    evil = "http://evil.example"  # the Host header a forged request (or a confused proxy) brings

    def sign_in(person):
        with client.session_transaction(base_url=evil) as s:
            s.clear()
            s.update(session_fields(person.id, person.org_id, person.session_version or 0))

    start = client.get("/auth/sign-in", base_url=evil)
    assert parse_qs(urlsplit(start.headers["Location"]).query)["redirect_uri"] == [PUBLIC + "/auth/callback"]
    sign_in(boss)
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/one-on-ones", base_url=evil).get_data(as_text=True)).group(1)
    link = client.post("/outlook/link", base_url=evil, data={"csrf_token": token})
    assert link.status_code == 302, link.get_data(as_text=True)[-900:]
    assert parse_qs(urlsplit(link.headers["Location"]).query)["redirect_uri"] == [PUBLIC + "/outlook/callback"]
    sign_in(hr)
    page = client.get("/admin/consent-waiting", base_url=evil).get_data(as_text=True)
    assert f'value="{PUBLIC}/outlook/approve/' in page and "evil.example" not in page
    approve = client.get(urlsplit(page.split(f'value="{PUBLIC}')[1].split('"')[0]).path, base_url=evil)
    assert parse_qs(urlsplit(approve.headers["Location"]).query)["redirect_uri"] == \
        [PUBLIC + "/outlook/adminconsent/callback"]


@pytest.fixture
def production(databases, redis_url, key_prefix, tmp_path):
    from listening import create_app
    from tests.support.apps import services_of

    app = create_app({
        "env": "production", "database_url": databases.runtime, "redis_url": redis_url,
        "queue_prefix": key_prefix, "secret_key": "production-test", "keys": "k1:" + "A" * 43 + "=",
        "ms_client_id": "id", "ms_client_secret": "secret", "ms_authority": "https://login.example.com",
        "graph_url": "https://graph.example.com/v1.0", "public_url": PUBLIC, "instance_path": tmp_path})
    yield app
    services_of(app).db.dispose()


def test_production_answers_only_its_public_host(production):
    client = production.test_client()
    assert client.get("/healthz", base_url=PUBLIC).status_code == 200
    for host in ("evil.example", "listening.example.com.evil.example", "localhost"):
        response = client.get("/healthz", base_url=f"https://{host}")
        assert response.status_code == 400, host


def test_production_sends_hsts_and_a_host_only_secure_session_cookie(production, session, people):
    from listening.web.security import session_fields

    hr, _ = people
    client = production.test_client()
    with client.session_transaction(base_url=PUBLIC) as s:
        s.update(session_fields(hr.id, hr.org_id, hr.session_version or 0))
    response = client.get("/admin/directory", base_url=PUBLIC)
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie and "HttpOnly" in cookie
    assert response.headers["Cache-Control"] == "no-store"
