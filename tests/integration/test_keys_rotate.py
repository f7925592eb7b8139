"""``flask keys rotate``: everything ends under the newest key, re-runs change nothing, and an
unknown key stops the command with exit 2 and one line."""
from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from listening.core import crypto
from listening.core.models import AuditEvent, CalendarItem, Connection, ConnectionState, WebhookEndpoint
from listening.webhooks import endpoints
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import make_app, services_of

K1 = "k1:" + base64.b64encode(b"\x11" * 32).decode()
K2 = "k2:" + base64.b64encode(b"\x22" * 32).decode()


def app_with(keys: str, database_url, redis_url, key_prefix, emulator, tmp_path):
    return make_app(database_url, redis_url, key_prefix, emulator.url, tmp_path, keys=keys)


@pytest.fixture
def old_app(app, database_url, redis_url, key_prefix, emulator, tmp_path):
    """An app on the same database whose newest key is k1 (``app`` truncates afterwards)."""
    old = app_with(K1, database_url, redis_url, key_prefix, emulator, tmp_path)
    yield old
    services_of(old).db.dispose()


def arrange(old_app, session, connections: int = 3, items_each: int = 2):
    """Connections with both tokens and calendar items, all written under k1."""
    org = f.org(session)
    plain = {}
    with old_app.app_context():
        for n in range(connections):
            person = f.person(session, org)
            connection = Connection(org_id=org.id, person_id=person.id, state=ConnectionState.linked)
            session.add(connection)
            session.flush()
            services_of(old_app).tokens.save(session, connection, {"access_token": f"at-{n}", "refresh_token": f"rt-{n}"})
            for i in range(items_each):
                event_id = f"AAMk-{n}-{i}"
                data = {"id": event_id, "subject": f"event {n}/{i}"}
                cal.item(services_of(old_app), session, connection, event_id, event_type="occurrence", data=data)
                plain[event_id] = cal.plaintext(data)
        made = endpoints.add(session, services_of(old_app).keys, org.id, "http://127.0.0.1:9/hook", ["occurrence.ended"], None,
                             datetime.now(UTC), production=False)
        plain["webhook"] = made.secret.encode()
    session.commit()
    return org, plain


def key_ids(session) -> set[str]:
    session.expire_all()
    ring = crypto.KeyRing.parse(f"{K1},{K2}")
    blobs = [b for c in session.scalars(select(Connection)) for b in (c.access_token, c.refresh_token)]
    blobs += list(session.scalars(select(CalendarItem.provider_data)))
    blobs += list(session.scalars(select(WebhookEndpoint.secret)))
    return {ring.key_id(b) for b in blobs}


def test_rotate_moves_everything_to_the_newest_key_and_is_safe_to_rerun(
        old_app, session, database_url, redis_url, key_prefix, emulator, tmp_path):
    org, plain = arrange(old_app, session)
    assert key_ids(session) == {"k1"}
    new_app = app_with(f"{K1},{K2}", database_url, redis_url, key_prefix, emulator, tmp_path)
    try:
        result = new_app.test_cli_runner().invoke(args=["keys", "rotate", "--batch-size", "2"])
        assert result.exit_code == 0, result.output
        assert ("6 of 6 connection tokens, 6 of 6 calendar items and 1 of 1 webhook secrets re-encrypted"
                in result.output)
        assert key_ids(session) == {"k2"}
        again = new_app.test_cli_runner().invoke(args=["keys", "rotate"])
        assert again.exit_code == 0 and "0 of 6 connection tokens, 0 of 6 calendar items and 0 of 1" in again.output
    finally:
        services_of(new_app).db.dispose()
    # Only k2 is needed now, and every value is intact.
    only_k2 = crypto.KeyRing.parse(K2)
    for c in session.scalars(select(Connection)):
        n = only_k2.decrypt(c.access_token, crypto.aad_for("token", c.id, "access")).decode()[3:]
        assert only_k2.decrypt(c.refresh_token, crypto.aad_for("token", c.id, "refresh")) == f"rt-{n}".encode()
    for item in session.scalars(select(CalendarItem)):
        aad = crypto.aad_for("event", item.connection_id, item.provider_event_id)
        assert only_k2.decrypt(item.provider_data, aad) == plain[item.provider_event_id]
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    assert only_k2.decrypt(endpoint.secret, crypto.aad_for("webhook", endpoint.id, "secret")) == plain["webhook"]
    rotated = session.scalars(select(AuditEvent).where(AuditEvent.org_id == org.id,
                                                       AuditEvent.action == "keys:rotated")).all()
    assert [e.details for e in rotated] == [{"key_id": "k2", "tokens": 6, "items": 6, "webhook_secrets": 1}]


def test_an_unknown_key_id_stops_rotation_with_one_line(old_app, session, database_url, redis_url,
                                                         key_prefix, emulator, tmp_path):
    arrange(old_app, session, connections=1, items_each=1)
    k3 = crypto.new_key_spec("k3")
    new_app = app_with(f"{K2},{k3}", database_url, redis_url, key_prefix, emulator, tmp_path)
    try:
        result = new_app.test_cli_runner().invoke(args=["keys", "rotate"])
    finally:
        services_of(new_app).db.dispose()
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: no key 'k1'")
    assert key_ids(session) == {"k1"}  # nothing was half-changed


def test_generate_prints_a_usable_key(app):
    result = app.test_cli_runner().invoke(args=["keys", "generate", "2027-01"])
    assert result.exit_code == 0
    assert crypto.KeyRing.parse(result.output.strip()).current == "2027-01"
    bad = app.test_cli_runner().invoke(args=["keys", "generate", "no spaces"])
    assert bad.exit_code == 2



def test_rotate_also_moves_subscription_secrets_and_delta_links(
        old_app, session, database_url, redis_url, key_prefix, emulator, tmp_path):
    from datetime import UTC, datetime

    from listening.core.models import CalendarDelta, GraphSubscription

    org, _ = arrange(old_app, session, connections=1, items_each=0)
    connection = session.scalar(select(Connection))
    old_ring = services_of(old_app).keys
    session.add(GraphSubscription(org_id=org.id, connection_id=connection.id, subscription_id="sub-1",
                                  notification_url="https://x/graph/notifications", expires_at=datetime.now(UTC),
                                  client_state=old_ring.encrypt(b"state", crypto.aad_for(
                                      "subscription", connection.id, "client_state"))))
    session.add(CalendarDelta(org_id=org.id, connection_id=connection.id, delta_link=old_ring.encrypt(
        b"https://graph/delta?$deltatoken=t", crypto.aad_for("delta", connection.id, "link"))))
    session.commit()
    new_app = app_with(f"{K1},{K2}", database_url, redis_url, key_prefix, emulator, tmp_path)
    try:
        result = new_app.test_cli_runner().invoke(args=["keys", "rotate"])
    finally:
        services_of(new_app).db.dispose()
    assert result.exit_code == 0 and "4 of 4 connection tokens" in result.output, result.output
    session.expire_all()
    only_k2 = crypto.KeyRing.parse(K2)
    row = session.scalar(select(GraphSubscription))
    assert only_k2.decrypt(row.client_state, crypto.aad_for("subscription", connection.id, "client_state")) == b"state"
    link = session.scalar(select(CalendarDelta.delta_link))
    assert only_k2.decrypt(link, crypto.aad_for("delta", connection.id, "link")).endswith(b"deltatoken=t")
