"""What causes an outbound event, what it carries, and that a receiver written with the
``standardwebhooks`` library accepts its signature. Real HTTP receivers on loopback."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from jobs import webhooks as webhook_jobs
from listening.core.models import OneOnOne
from listening.one_on_ones import recheck_after_sync
from listening.webhooks import outbox
from tests.integration import api_helpers as a
from tests.integration import one_on_ones_helpers as h
from tests.integration import webhook_helpers as w
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.webhook_receiver import Receiver


@pytest.fixture
def org(app, session, client, receiver):
    t = h.team(session)
    w.endpoint(app, session, t.org.id, receiver)
    m = t.manager.email
    t.events = (cal.series(m, [t.reports[0].email], a.SUBJECTS[0], h.weekly_from(cal.NOW), 12, series_id="S-ana", key=1)
                + cal.series(m, [t.reports[1].email], a.SUBJECTS[1], h.weekly_from(cal.NOW, hour=15), 12,
                           series_id="S-bo", key=2))
    cal.store(services_of(app), session, t.connection, t.events)
    f.sign_in_as(client, t.manager)
    return t


def _types(receiver):
    return [r["payload"]["type"] for r in receiver.received]


def test_attach_is_delivered_signed_and_carries_what_the_api_shows(app, client, session, org, receiver):
    assert h.post(client, "/one-on-ones/attach", report_id=org.reports[0].id, series_id="S-ana").status_code == 303
    w.work(app)
    [got] = receiver.wait(1)
    assert got["verified"] and got["id"].startswith("msg_") and _types(receiver) == ["one_on_one.attached"]
    payload = got["payload"]
    row = session.scalar(select(OneOnOne).where(OneOnOne.org_id == org.org.id))
    api = client.get(f"/api/v1/one-on-ones/{row.id}", headers=a.bearer(a.new_key(session, org.org.id))).get_json()
    api.pop("occurrences")
    assert payload["data"] == api
    assert payload["data"]["cadence"] == "weekly" and payload["data"]["report"]["email"] == org.reports[0].email
    assert abs(datetime.fromisoformat(payload["timestamp"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert "Ana / Dana" not in str(payload) and "S-ana" not in str(payload)
    [delivery] = w.deliveries(session)
    assert delivery.status.value == "delivered" and delivery.attempts == 1 and delivery.last_status == 204


def test_a_tampered_body_or_a_wrong_secret_is_refused_by_the_receiver(app, client, session, org, receiver):
    good = receiver.secret
    receiver.secret = "whsec_" + "QUJD" * 8  # another endpoint's secret
    assert h.post(client, "/one-on-ones/attach", report_id=org.reports[0].id, series_id="S-ana").status_code == 303
    w.work(app)
    assert receiver.wait(1)[0]["verified"] is False
    [delivery] = w.deliveries(session)
    assert delivery.status.value == "pending" and delivery.last_status == 400
    receiver.secret = good


def test_detach_needs_attention_restored_unlink_and_erasure(app, client, session, org, receiver):
    ana, bo = org.reports[0], org.reports[1]
    ana_email = ana.email
    for report, series in ((ana, "S-ana"), (bo, "S-bo")):
        assert h.post(client, "/one-on-ones/attach", report_id=report.id, series_id=series).status_code == 303
    assert h.post(client, "/one-on-ones/detach", report_id=bo.id).status_code == 303
    gone = [e for e in org.events if e["seriesMasterId"] != "S-ana"]
    cal.store(services_of(app), session, org.connection, gone)
    keys = services_of(app).keys
    recheck_after_sync(session, keys, session.get(type(org.connection), org.connection.id))
    session.commit()
    recheck_after_sync(session, keys, session.get(type(org.connection), org.connection.id))  # nothing new
    session.commit()
    cal.store(services_of(app), session, org.connection, org.events)
    recheck_after_sync(session, keys, session.get(type(org.connection), org.connection.id))
    session.commit()
    assert client.post(f"/outlook/connections/{org.connection.id}/unlink",
                       data={"csrf_token": f.csrf_token(client, "/one-on-ones")}).status_code == 200
    hr = f.person(session, org.org, "hr@example.com", f.Role.hr_admin)
    session.commit()
    f.sign_in_as(client, hr)
    token = f.csrf_token(client, f"/admin/people/{ana.id}")
    assert client.post(f"/admin/people/{ana.id}/erase", data={"confirm": "erase", "csrf_token": token}).status_code == 302
    w.work(app)
    receiver.wait(7)
    assert sorted(_types(receiver)) == sorted([
        "one_on_one.attached", "one_on_one.attached", "one_on_one.detached", "one_on_one.needs_attention",
        "one_on_one.restored", "one_on_one.needs_attention", "one_on_one.detached"])
    by_type = {}
    for r in receiver.received:
        by_type.setdefault(r["payload"]["type"], []).append(r["payload"]["data"])
    assert [d["status"] for d in by_type["one_on_one.needs_attention"]] == ["needs_attention"] * 2
    assert by_type["one_on_one.restored"][0]["status"] == "active"
    erased = [d for d in by_type["one_on_one.detached"] if d["report"]["id"] == ana.id]
    assert erased and erased[0]["report"]["email"] is None  # the erased address does not leave
    assert [e.type for e in w.events(session) if repr(ana_email) in str(e.payload)] == []  # nor in the outbox
    assert all(r["verified"] for r in receiver.received)
    assert len({r["id"] for r in receiver.received}) == 7


def test_only_the_events_an_endpoint_asked_for(app, client, session, org, receiver):
    other = Receiver()
    try:
        w.endpoint(app, session, org.org.id, other, events=("one_on_one.detached",))
        assert h.post(client, "/one-on-ones/attach", report_id=org.reports[0].id, series_id="S-ana").status_code == 303
        assert h.post(client, "/one-on-ones/detach", report_id=org.reports[0].id).status_code == 303
        w.work(app)
        assert [r["payload"]["type"] for r in other.wait(1)] == ["one_on_one.detached"]
        assert len(receiver.wait(2)) == 2
    finally:
        other.close()


def test_a_rolled_back_cause_sends_nothing(app, session, org, receiver):
    row = OneOnOne(org_id=org.org.id, manager_id=org.manager.id, report_id=org.reports[0].id, series_id="S-ana")
    session.add(row)
    session.flush()
    assert outbox.record(session, org.org.id, "one_on_one.attached", {}, datetime.now(UTC)) == 1
    session.rollback()
    w.work(app)
    assert w.events(session) == [] and receiver.received == []


def test_occurrence_ended_once_for_each_attached_occurrence_not_cancelled(app, client, session, receiver):
    t = h.team(session)
    endpoint_id = w.endpoint(app, session, t.org.id, receiver, events=("occurrence.ended",))
    first = cal.NOW.replace(hour=9, minute=0, second=0) + timedelta(days=1)
    t.events = cal.series(t.manager.email, [t.reports[0].email], "Ana / Dana", first, 8, series_id="S-ana",
                        key=7, cancelled=(2,)) + cal.series(t.manager.email, [t.reports[0].email], "Ana / Dana",
                                                          h.weekly_from(cal.NOW), 4, series_id="S-x", key=8)
    cal.store(services_of(app), session, t.connection, t.events)
    f.sign_in_as(client, t.manager)
    assert h.post(client, "/one-on-ones/attach", report_id=t.reports[0].id, series_id="S-ana").status_code == 303
    session.execute(outbox.WebhookEndpoint.__table__.update().values(created_at=cal.NOW - timedelta(days=1)))
    session.commit()
    end = lambda i: first + timedelta(weeks=i, minutes=30)  # noqa: E731
    ran = [webhook_jobs_sweep(app, end(i) + timedelta(minutes=1)) for i in (1, 2, 3)]
    assert ran == [1, 0, 1]  # the third occurrence (index 2) was cancelled
    assert webhook_jobs_sweep(app, end(3) + timedelta(minutes=2)) == 0  # once only
    session.execute(outbox.WebhookDelivery.__table__.update().values(next_attempt_at=cal.NOW))  # due now
    session.commit()
    w.work(app)
    got = receiver.wait(2)
    assert [r["payload"]["type"] for r in got] == ["occurrence.ended"] * 2
    occurrences = [r["payload"]["data"]["occurrence"] for r in got]
    assert [o["end"] for o in occurrences] == [end(i).isoformat() for i in (1, 3)]
    assert all(o["cancelled"] is False and o["id"].startswith("occ_") for o in occurrences)
    assert got[0]["payload"]["data"]["one_on_one"]["report"]["id"] == t.reports[0].id
    assert all(d.endpoint_id == endpoint_id for d in w.deliveries(session))


def webhook_jobs_sweep(app, now) -> int:
    from jobs import runtime

    runtime.use(services_of(app))
    try:
        return webhook_jobs.sweep(now=now)["occurrences_ended"]
    finally:
        runtime.use(None)
