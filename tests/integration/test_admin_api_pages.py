"""The HR admin's API keys and webhooks pages, and the flask api-keys / webhooks commands."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from listening.core.models import ApiKey, AuditEvent, Organization, Role, WebhookEndpoint
from listening.webhooks import endpoints, outbox, transport
from tests.integration import webhook_helpers as w
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.webhook_receiver import Receiver


@pytest.fixture
def hr(app, session, client):
    org = f.org(session)
    admin = f.person(session, org, "hr@example.com", Role.hr_admin)
    session.commit()
    f.sign_in_as(client, admin)
    return admin


def _form(client, path, page, **data):
    return client.post(path, data={"csrf_token": f.csrf_token(client, page), **data})


def flask(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_a_key_is_shown_once_then_only_its_start(app, client, session, hr):
    made = _form(client, "/admin/api-keys", "/admin/api-keys", name="Wellbeing platform",
                 scopes=["one_on_ones:read", "directory:read"])
    assert made.status_code == 201
    secret = re.search(r'value="(lst_[A-Za-z0-9_-]{43})"', made.get_data(as_text=True)).group(1)
    page = client.get("/admin/api-keys").get_data(as_text=True)
    assert secret not in page and secret[:12] + "…" in page and "Wellbeing platform" in page
    assert client.get("/api/v1/people", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    key = session.scalar(select(ApiKey))
    revoked = _form(client, f"/admin/api-keys/{key.id}/revoke", "/admin/api-keys")
    assert revoked.status_code == 303
    assert client.get("/api/v1/people", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions[:1] == ["api_key:created"] and "api_key:revoked" in actions


def test_a_key_needs_a_name_and_a_scope(client, hr):
    refused = _form(client, "/admin/api-keys", "/admin/api-keys", name="x")
    assert refused.status_code == 400 and "Choose at least one scope" in refused.get_data(as_text=True)
    refused = _form(client, "/admin/api-keys", "/admin/api-keys", name=" ", scopes="directory:read")
    assert refused.status_code == 400 and "Give the key a name" in refused.get_data(as_text=True)


def test_only_hr_admins_of_the_organization(app, client, session, hr):
    other = f.org(session, name="Other")
    key = ApiKey(org_id=other.id, name="theirs", prefix="lst_abcdefgh", key_hash=b"x" * 32,
                 scopes=["directory:read"])
    session.add(key)
    manager = f.person(session, hr_org(session, hr), "m@example.com", Role.manager)
    session.commit()
    assert _form(client, f"/admin/api-keys/{key.id}/revoke", "/admin/api-keys").status_code == 404
    f.sign_in_as(client, manager)
    assert client.get("/admin/api-keys").status_code == 403
    assert client.get("/admin/webhooks").status_code == 403


def hr_org(session, hr):
    return session.get(Organization, hr.org_id)


def test_an_endpoint_its_secret_once_its_log_and_a_redelivery(app, client, session, hr):
    receiver = Receiver()
    try:
        added = _form(client, "/admin/webhooks", "/admin/webhooks", url=receiver.url,
                      events=["one_on_one.attached", "occurrence.ended"])
        assert added.status_code == 201
        receiver.secret = re.search(r'value="(whsec_[A-Za-z0-9+/=]+)"', added.get_data(as_text=True)).group(1)
        assert receiver.secret not in client.get("/admin/webhooks").get_data(as_text=True)
        endpoint = session.scalar(select(WebhookEndpoint))
        outbox.record(session, hr.org_id, "one_on_one.attached", _data(hr), datetime.now(UTC))
        session.commit()
        w.work(app)
        log = client.get(f"/admin/webhooks/{endpoint.id}").get_data(as_text=True)
        assert "one_on_one.attached" in log and "delivered" in log
        [d] = w.deliveries(session)
        again = _form(client, f"/admin/webhooks/deliveries/{d.id}/redeliver", f"/admin/webhooks/{endpoint.id}")
        assert again.status_code == 303
        w.work(app)
        first, second = receiver.wait(2)
        assert first["id"] == second["id"] and second["verified"]
    finally:
        receiver.close()


def _data(person):
    ref = {"id": person.id, "email": person.email}
    return {"id": 1, "manager": ref, "report": ref, "cadence": "weekly", "status": "active",
            "attached_since": cal.NOW, "changed_at": cal.NOW}


@pytest.mark.parametrize("url, words", [
    ("http://example.com/hook", "Plain http:// is only for a receiver on this machine"),
    ("ftp://127.0.0.1/hook", "must start with https://"),
    ("https://user:pw@127.0.0.1/hook", "user name or password"),
    ("not an address", "must start with https://"),
])
def test_addresses_refused_outside_production(client, hr, url, words):
    refused = _form(client, "/admin/webhooks", "/admin/webhooks", url=url, events="occurrence.ended")
    assert refused.status_code == 400 and words in refused.get_data(as_text=True)


@pytest.mark.parametrize("url, allowed", [
    ("https://93.184.215.14/hook", True),
    ("http://93.184.215.14/hook", False),
    ("https://127.0.0.1/hook", False),
    ("https://10.1.2.3/hook", False),
    ("https://169.254.169.254/latest", False),
    ("https://[::1]/hook", False),
    ("https://[fd00::1]/hook", False),
    ("https://localhost/hook", False),
    # IPv6 forms that carry an IPv4 address: judged by it (6to4, NAT64, IPv4-compatible, mapped)
    ("https://[2002:a00:1::1]/hook", False),
    ("https://[64:ff9b::a9fe:a9fe]/hook", False),
    ("https://[::10.0.0.1]/hook", False),
    ("https://[::ffff:127.0.0.1]/hook", False),
    ("https://[64:ff9b:1::808:808]/hook", False),
    ("https://[2002:5db8:d70e::1]/hook", True),
    ("https://[64:ff9b::5db8:d70e]/hook", True),
])
def test_production_wants_https_to_public_addresses(url, allowed):
    if allowed:
        assert endpoints.check_url(url, production=True) == url
    else:
        with pytest.raises(endpoints.EndpointError):
            endpoints.check_url(url, production=True)


def test_production_refuses_to_connect_to_a_private_address_at_delivery():
    receiver = Receiver()
    try:
        with pytest.raises(Exception) as caught:
            transport.client(production=True).post(receiver.url, data=b"{}", timeout=2)
        assert "not a public address" in str(caught.value)
        assert receiver.received == []
    finally:
        receiver.close()


def test_cli_api_keys(app, session):
    org = f.org(session, tenant_id="11111111-2222-3333-4444-555555555555")
    session.commit()
    made = flask(app, "api-keys", "create", "--org", org.tenant_id, "--name", "ci", "--scope", "directory:read",
                 "--scope", "one_on_ones:read")
    assert made.exit_code == 0, made.stderr
    assert re.fullmatch(r"lst_[A-Za-z0-9_-]{43}", made.stdout.strip().splitlines()[-1])
    listed = flask(app, "api-keys", "list", "--org", org.tenant_id)
    assert "ci" in listed.stdout and made.stdout.strip().splitlines()[-1] not in listed.stdout
    bad = flask(app, "api-keys", "create", "--org", org.tenant_id, "--name", "ci", "--scope", "write")
    assert bad.exit_code == 2 and bad.stderr.strip().count("\n") == 0 and "Unknown scope" in bad.stderr
    assert flask(app, "api-keys", "revoke", "999", "--org", org.tenant_id).exit_code == 2
    assert flask(app, "api-keys", "list", "--org", "nope").exit_code == 2


def test_the_audit_log_names_a_receiver_by_its_host_only(app, session):
    """A receiver's address may carry its own secret; the audit log keeps entries for years."""
    org = f.org(session)
    session.commit()
    url = "http://127.0.0.1:9/services/T0/B0/PATH-SECRET?token=QUERY-SECRET"
    made = endpoints.add(session, services_of(app).keys, org.id, url, ["occurrence.ended"], None,
                         datetime.now(UTC), production=False)
    endpoints.remove(session, made.row, None)
    session.commit()
    entries = [e.details for e in session.scalars(select(AuditEvent).where(
        AuditEvent.org_id == org.id, AuditEvent.action.like("webhook:%")).order_by(AuditEvent.seq))]
    assert [e["receiver"] for e in entries] == ["http://127.0.0.1:9", "http://127.0.0.1:9"]
    assert "SECRET" not in str(entries)


def test_cli_webhooks(app, session):
    org = f.org(session, tenant_id="11111111-2222-3333-4444-666666666666")
    session.commit()
    added = flask(app, "webhooks", "add", "--org", org.tenant_id, "--url", "http://127.0.0.1:9/hook",
                  "--event", "occurrence.ended", "--event", "one_on_one.attached")
    assert added.exit_code == 0, added.stderr
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    endpoint = session.scalar(select(WebhookEndpoint))
    assert endpoints.secret_of(services_of(app).keys, endpoint) == secret and secret.encode() not in endpoint.secret
    assert "occurrence.ended" in flask(app, "webhooks", "list", "--org", org.tenant_id).stdout
    bad = flask(app, "webhooks", "add", "--org", org.tenant_id, "--url", "http://127.0.0.1:9/",
                "--event", "everything")
    assert bad.exit_code == 2 and "Unknown event" in bad.stderr and bad.stderr.strip().count("\n") == 0
    assert flask(app, "webhooks", "remove", str(endpoint.id), "--org", org.tenant_id).exit_code == 0
