""""Refresh now" on the 1-on-1s page: managers only, CSRF, own connection only, queued after commit."""
from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from rq.job import Job, JobStatus
from sqlalchemy import select

from listening.core.models import AuditEvent, ConnectionState, Organization, Person, Role
from listening.core.when import local_time, zone_of
from listening.sync import queue as sync_queue
from tests.integration import sync_helpers as h
from tests.support import factories as f
from tests.support.apps import clean, make_app, services_of


def _queued(app, connection_id: int) -> Job | None:
    prefix = services_of(app).settings.queue_prefix
    try:
        return Job.fetch(prefix + sync_queue.sync_job_id(connection_id), connection=services_of(app).jobs.redis)
    except Exception:
        return None


def _signed_in_owner(app, client, session, emu):
    connection = f.linked(services_of(app), session, emu)
    from listening.core.models import Person

    f.sign_in_as(client, session.get(Person, connection.person_id))
    return connection


def _press(client, connection_id: int, token: str | None = "auto"):
    if token == "auto":
        token = f.csrf_token(client, "/one-on-ones")
    data = {"csrf_token": token} if token else {}
    return client.post(f"/outlook/{connection_id}/refresh", data=data)


def test_the_panel_offers_refresh_now_and_pressing_it_queues_a_sync(app, client, session, emu):
    connection = _signed_in_owner(app, client, session, emu)
    assert 'id="refresh-now"' in client.get("/one-on-ones").get_data(as_text=True)
    response = _press(client, connection.id)
    assert response.status_code == 302 and response.headers["Location"].endswith("/one-on-ones")
    job = _queued(app, connection.id)
    assert job.get_status() is JobStatus.QUEUED and job.args == (connection.id, "manual")
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Waiting to read your calendar…" in page and 'data-running="true"' in page
    assert 'id="refresh-now"' not in page  # nothing to press while it waits
    assert client.get("/one-on-ones/status").get_json() == {
        "running": True, "words": "Waiting to read your calendar…", "events": None}
    _press(client, connection.id)
    assert "Your calendar is already being read." in client.get("/one-on-ones").get_data(as_text=True)


def test_without_a_csrf_token_nothing_is_queued(app, client, session, emu):
    connection = _signed_in_owner(app, client, session, emu)
    assert _press(client, connection.id, token=None).status_code == 400
    assert _queued(app, connection.id) is None


def test_another_managers_connection_is_a_404(app, client, session, emu):
    mine = _signed_in_owner(app, client, session, emu)
    other_org = f.org(session)
    other = f.linked(services_of(app), session, emu, f.manager_emails(emu)[1], org=other_org)
    assert _press(client, other.id).status_code == 404
    assert _press(client, 999_999).status_code == 404
    assert _queued(app, other.id) is None and _queued(app, mine.id) is None


def test_employees_cannot_refresh_and_anonymous_people_are_sent_to_sign_in(app, client, session, emu):
    connection = f.linked(services_of(app), session, emu)
    org = session.get(Organization, connection.org_id)
    employee = f.person(session, org, role=Role.employee)
    session.commit()
    assert client.post(f"/outlook/{connection.id}/refresh").status_code in (302, 400)
    f.sign_in_as(client, employee)
    assert _press(client, connection.id).status_code == 403
    assert _queued(app, connection.id) is None


def test_a_connection_in_error_goes_back_to_linked_and_is_queued(app, client, session, emu):
    connection = _signed_in_owner(app, client, session, emu)
    connection.state, connection.state_reason = ConnectionState.error, "mailbox not enabled"
    session.commit()
    _press(client, connection.id)
    after = h.connection(session, connection.id)
    assert after.state is ConnectionState.linked and after.state_reason is None
    assert _queued(app, connection.id) is not None
    change = session.scalar(select(AuditEvent).where(AuditEvent.action == "connection:state_changed"))
    assert change.actor_id == connection.person_id and change.details["to"] == "linked"


@pytest.mark.parametrize("arrange, message", [
    (lambda c, o: setattr(c, "state", ConnectionState.needs_reconnect), "Reconnect Outlook first"),
    (lambda c, o: setattr(o, "sync_enabled", False), "turned off for your organization"),
])
def test_refresh_is_refused_in_plain_words_when_it_cannot_run(app, client, session, emu, arrange, message):
    connection = _signed_in_owner(app, client, session, emu)
    arrange(connection, session.get(Organization, connection.org_id))
    session.commit()
    assert _press(client, connection.id).status_code == 302
    assert message in client.get("/one-on-ones").get_data(as_text=True)
    assert _queued(app, connection.id) is None


def test_graphs_wait_is_said_in_the_persons_own_zone(app, client, session, emu):
    connection = _signed_in_owner(app, client, session, emu)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=50)
    connection.graph_wait_until = until
    session.get(Person, connection.person_id).time_zone = "Asia/Tokyo"
    session.commit()
    _press(client, connection.id)
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert f"(until {local_time(until, zone_of('Asia/Tokyo'))}, in 50 minutes); it will refresh by itself" in page
    assert _queued(app, connection.id) is None


def test_redis_unreachable_is_said_plainly_and_the_request_still_succeeds(database_url, key_prefix, emulator,
                                                                         session, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    app = make_app(database_url, f"redis://127.0.0.1:{dead}/0", key_prefix, emulator.url, tmp_path)
    client = app.test_client()
    try:
        connection = _signed_in_owner(app, client, session, emulator)
        assert _press(client, connection.id).status_code == 302
        assert "could not be queued right now" in client.get("/one-on-ones").get_data(as_text=True)
    finally:
        session.close()
        clean(app, key_prefix)
