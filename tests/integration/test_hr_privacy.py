"""Per-person export (one JSON file) and erasure (the chain still verifies; a pseudonym shows)."""
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from listening import audit
from listening.audit import Action
from listening.core.models import (
    AuditEvent,
    CalendarItem,
    Connection,
    OneOnOne,
    Person,
    Role,
)
from tests.support import calendars as cal
from tests.support import factories as f

NOW = datetime.now(UTC)


@pytest.fixture
def world(app, services, session, client):
    org = f.org(session, name="Contoso")
    admin = f.person(session, org, role=Role.hr_admin, name="Hana Admin")
    boss = f.person(session, org, role=Role.manager, name="Bea Boss", email="bea@contoso.example",
                    oid="oid-bea", aliases=["b.boss@contoso.example"])
    report = f.person(session, org, manager=boss, name="Rory Report")
    conn = f.connection(session, boss, NOW - timedelta(hours=1))
    cal.item(services, session, conn, "evt-1", NOW + timedelta(days=1), NOW + timedelta(days=1, hours=1),
             event_type="occurrence", series_id="series-1", subject="Bea / Rory 1:1")
    cal.item(services, session, conn, "series-1", NOW - timedelta(days=90), NOW - timedelta(days=90, hours=-1),
             event_type="seriesMaster")
    f.one_on_one(session, boss, report)
    audit.record(session, Action.link, boss, boss, {"scopes": "Calendars.Read"})
    audit.record(session, Action.attach, boss, report, {"series": "series-1"})
    audit.record(session, Action.sign_in, report, report)
    session.commit()
    f.sign_in_as(client, admin)
    return org, admin, boss, report, conn


def test_the_person_page_says_what_is_held(client, world):
    _, _, boss, _, _ = world
    page = client.get(f"/admin/people/{boss.id}").get_data(as_text=True)
    assert "Bea Boss" in page and "linked as bea@contoso.example" in page
    assert "<dt>Stored calendar items</dt><dd>2</dd>" in page
    assert "keeps the IP address and browser user agent" in page  # what erasure leaves, said up front


def test_export_is_one_json_file_with_everything_but_tokens(client, session, world):
    org, admin, boss, report, conn = world
    token = f.csrf_token(client, f"/admin/people/{boss.id}")
    response = client.post(f"/admin/people/{boss.id}/export", data={"csrf_token": token})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert f'filename="person-{boss.id}.json"' in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert "placeholder" not in body  # the token columns' content
    document = json.loads(body)
    assert document["person"] | {"created_at": None, "updated_at": None} == {
        "id": boss.id, "email": "bea@contoso.example", "display_name": "Bea Boss",
        "aliases": ["b.boss@contoso.example"], "oid": "oid-bea", "role": "manager", "manager_id": None,
        "time_zone": "UTC", "active": True, "erased_at": None, "created_at": None, "updated_at": None}
    assert document["connection"]["state"] == "linked" and document["connection"]["has_tokens"] is True
    assert not {"access_token", "refresh_token"} & set(document["connection"])
    items = {i["provider_event_id"]: i for i in document["calendar_items"]}
    assert items["evt-1"]["data"]["subject"] == "Bea / Rory 1:1"
    assert items["series-1"]["event_type"] == "seriesMaster"
    assert [(p["manager_id"], p["report_id"]) for p in document["one_on_ones"]] == [(boss.id, report.id)]
    actions = [e["action"] for e in document["audit_entries"]]
    assert actions == ["connection:link", "one_on_one:attach", "person:exported"]
    exported = session.scalar(select(AuditEvent).where(AuditEvent.action == "person:exported"))
    assert (exported.actor_id, exported.subject_id) == (admin.id, boss.id)


def test_an_unreadable_item_is_said_in_the_export_not_skipped(client, session, world):
    _, _, boss, _, conn = world
    session.execute(text("UPDATE calendar_items SET provider_data = :blob WHERE provider_event_id = 'evt-1'"),
                    {"blob": b"\x01\x02k1" + bytes(40)})
    session.commit()
    token = f.csrf_token(client, f"/admin/people/{boss.id}")
    document = client.post(f"/admin/people/{boss.id}/export", data={"csrf_token": token}).get_json()
    broken = next(i for i in document["calendar_items"] if i["provider_event_id"] == "evt-1")
    assert broken["data"] is None and broken["data_error"].startswith("could not be decrypted")


def test_erasure_removes_what_is_held_and_the_chain_still_verifies(client, session, world):
    org, admin, boss, report, conn = world
    hashes_before = dict(session.execute(select(AuditEvent.seq, AuditEvent.hash)
                                         .where(AuditEvent.org_id == org.id)).all())
    token = f.csrf_token(client, f"/admin/people/{boss.id}")
    response = client.post(f"/admin/people/{boss.id}/erase", data={"csrf_token": token, "confirm": "erase"})
    assert response.status_code == 302
    session.expire_all()
    erased = session.get(Person, boss.id)
    assert (erased.display_name, erased.email, erased.oid, erased.aliases) == (None, None, None, [])
    assert erased.active is False and erased.erased_at is not None
    assert session.scalar(select(func.count()).select_from(Connection).where(Connection.person_id == boss.id)) == 0
    assert session.scalar(select(func.count()).select_from(CalendarItem).where(CalendarItem.org_id == org.id)) == 0
    assert session.scalar(select(func.count()).select_from(OneOnOne).where(OneOnOne.org_id == org.id)) == 0
    assert session.get(Person, report.id).display_name == "Rory Report"  # only the erased person
    # No audit row was rewritten, and the chain verifies.
    hashes_after = dict(session.execute(select(AuditEvent.seq, AuditEvent.hash)
                                        .where(AuditEvent.org_id == org.id)).all())
    assert {s: h for s, h in hashes_after.items() if s in hashes_before} == hashes_before
    assert audit.verify(session, org.id).whole
    last = session.scalar(select(AuditEvent).where(AuditEvent.org_id == org.id).order_by(AuditEvent.seq.desc()))
    assert last.action == "person:erased" and (last.actor_id, last.subject_id) == (admin.id, boss.id)
    assert last.details == {"connection_removed": True, "calendar_items": 2, "one_on_ones": 1}
    log = client.get(f"/admin/audit?actor={boss.id}").get_data(as_text=True)
    assert f"person #{boss.id} (erased)" in log and "Bea Boss" not in log
    assert "bea@contoso.example" not in client.get("/admin/audit/export.csv").get_data(as_text=True)


def test_the_erased_person_can_no_longer_use_a_session(client, session, world):
    _, admin, boss, _, _ = world
    token = f.csrf_token(client, f"/admin/people/{boss.id}")
    client.post(f"/admin/people/{boss.id}/erase", data={"csrf_token": token, "confirm": "erase"})
    f.sign_in_as(client, session.get(Person, boss.id))
    assert client.get("/one-on-ones").status_code == 302


@pytest.mark.parametrize("confirm", [None, "", "yes", "ERASE now"])
def test_erasure_needs_the_typed_confirmation(client, session, world, confirm):
    _, _, boss, _, _ = world
    token = f.csrf_token(client, f"/admin/people/{boss.id}")
    data = {"csrf_token": token} | ({"confirm": confirm} if confirm is not None else {})
    response = client.post(f"/admin/people/{boss.id}/erase", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Type the word erase" in page
    assert 'id="erase-error"' in page and 'aria-invalid="true"' in page  # inline, on the same form
    if confirm:
        assert f'value="{confirm}"' in page  # what was typed is kept
    session.expire_all()
    assert session.get(Person, boss.id).erased_at is None


def test_an_admin_cannot_erase_themselves_or_erase_twice(client, session, world):
    _, admin, boss, _, _ = world
    token = f.csrf_token(client, f"/admin/people/{boss.id}")
    response = client.post(f"/admin/people/{admin.id}/erase", data={"csrf_token": token, "confirm": "erase"})
    assert response.status_code == 409 and "cannot erase yourself" in response.get_data(as_text=True)
    assert client.post(f"/admin/people/{boss.id}/erase", data={"csrf_token": token, "confirm": "erase"}).status_code == 302
    response = client.post(f"/admin/people/{boss.id}/erase", data={"csrf_token": token, "confirm": "erase"})
    assert response.status_code == 409 and "already erased" in response.get_data(as_text=True)


def test_the_export_holds_the_persons_own_addresses_not_their_admins(client, session, world):
    org, admin, boss, _, _ = world
    for who, ip in ((boss, "10.0.0.7"), (admin, "10.9.9.9")):
        token = audit.origin.set(audit.Origin(ip=ip, user_agent=f"agent of {who.id}"))
        audit.record(session, Action.check, who, boss)
        audit.origin.reset(token)
    session.commit()
    token = f.csrf_token(client, f"/admin/people/{boss.id}")
    document = client.post(f"/admin/people/{boss.id}/export", data={"csrf_token": token}).get_json()
    checks = [(e["actor_id"], e["ip"], e["user_agent"]) for e in document["audit_entries"]
              if e["action"] == "connection:check"]
    assert checks == [(boss.id, "10.0.0.7", f"agent of {boss.id}"), (admin.id, None, None)]
