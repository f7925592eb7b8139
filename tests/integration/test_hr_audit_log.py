"""The audit log page: entries newest first, filters, keyset pages, zones, CSV export, verification."""
import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from listening import audit
from listening.audit import Action
from listening.core.models import AuditEvent, Role
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.audit_chain import append_at, append_many, tamper


@pytest.fixture
def world(session):
    org = f.org(session, name="Contoso")
    admin = f.person(session, org, role=Role.hr_admin, name="Hana Admin")
    admin.time_zone = "Asia/Tokyo"
    boss = f.person(session, org, role=Role.manager, name="Bea Boss")
    report = f.person(session, org, name="=HYPERLINK(\"http://x\")", email="report@contoso.example")
    session.commit()
    return org, admin, boss, report


def seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'/admin/audit/\d+" aria-label="Entry \d+">(\d+)</a>', page)]


def test_entries_newest_first_with_names_and_times_in_the_viewers_zone(client, session, world):
    org, admin, boss, report = world
    append_at(session, org.id, Action.link, datetime(2026, 3, 1, 23, 30, tzinfo=UTC), boss.id, boss.id)
    append_at(session, org.id, Action.attach, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), boss.id, report.id)
    session.commit()
    f.sign_in_as(client, admin)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert seqs(page) == [2, 1]
    assert "Times are in your time zone (Asia/Tokyo)" in page
    assert "Mon 2 Mar 2026, 08:30:00" in page  # 23:30 UTC is the next morning in Tokyo
    assert "Mon 2 Mar 2026, 18:00:00" in page
    assert "Bea Boss" in page and "1-on-1 attached" in page and "Outlook linked" in page
    assert "one_on_one:attach" not in page.split('id="entries"')[1]  # the code is in the entry's detail


def test_the_admins_own_views_of_the_log_are_hidden_unless_asked_for(client, session, world):
    org, admin, boss, _ = world
    append_at(session, org.id, Action.link, datetime(2026, 3, 1, 23, 30, tzinfo=UTC), boss.id, boss.id)
    append_at(session, org.id, Action.audit_viewed, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), boss.id)
    session.commit()
    f.sign_in_as(client, admin)
    client.get("/admin/audit")
    client.get("/admin/audit")  # two views of mine: entries 3 and 4
    assert seqs(client.get("/admin/audit").get_data(as_text=True)) == [2, 1]  # another's view stays
    shown = client.get("/admin/audit?own_views=1").get_data(as_text=True)
    assert seqs(shown) == [5, 4, 3, 2, 1] and 'name="own_views" value="1" checked' in shown
    assert seqs(client.get("/admin/audit?action=audit:viewed").get_data(as_text=True))[:3] == [6, 5, 4]


def test_the_filter_menus_list_the_organization_by_label_and_keep_the_choice(client, session, world):
    org, admin, boss, report = world
    gone = f.person(session, org, name="Gone Person")
    gone.erased_at, gone.display_name, gone.email = datetime.now(UTC), None, None
    f.person(session, f.org(session), name="Stranger Elsewhere")
    session.commit()
    f.sign_in_as(client, admin)
    page = client.get(f"/admin/audit?actor={boss.id}").get_data(as_text=True)
    actor_menu = re.search(r'<select id="f-actor" name="actor">(.*?)</select>', page, re.S).group(1)
    subject_menu = re.search(r'<select id="f-subject" name="subject">(.*?)</select>', page, re.S).group(1)
    assert f'<option value="{boss.id}" selected>Bea Boss</option>' in actor_menu
    assert f'<option value="{boss.id}">Bea Boss</option>' in subject_menu
    assert f'<option value="{gone.id}">person #{gone.id} (erased)</option>' in subject_menu
    assert "Gone Person" not in page and "Stranger Elsewhere" not in page
    assert "=HYPERLINK(&#34;http://x&#34;)" in actor_menu  # escaped like any name


def test_viewing_the_log_is_itself_audited(client, session, world):
    org, admin, boss, _ = world
    f.sign_in_as(client, admin)
    client.get(f"/admin/audit?action=connection:link&actor={boss.id}")
    entry = session.scalar(select(AuditEvent).where(AuditEvent.org_id == org.id)
                           .order_by(AuditEvent.seq.desc()).limit(1))
    assert entry.action == "audit:viewed" and entry.actor_id == admin.id
    assert entry.details == {"filters": {"action": "connection:link", "actor": boss.id}}


def test_filters_by_actor_subject_action_and_system(client, session, world):
    org, admin, boss, report = world
    t = datetime(2026, 3, 1, tzinfo=UTC)
    append_at(session, org.id, Action.link, t, boss.id, boss.id)                        # 1
    append_at(session, org.id, Action.attach, t + timedelta(hours=1), boss.id, report.id)  # 2
    append_at(session, org.id, Action.sync, t + timedelta(hours=2))                      # 3
    append_at(session, org.id, Action.sign_in, t + timedelta(hours=3), report.id, report.id)  # 4
    session.commit()
    f.sign_in_as(client, admin)
    assert seqs(client.get(f"/admin/audit?actor={boss.id}").get_data(as_text=True)) == [2, 1]
    assert seqs(client.get(f"/admin/audit?subject={report.id}").get_data(as_text=True)) == [4, 2]
    assert seqs(client.get("/admin/audit?action=calendar:sync").get_data(as_text=True)) == [3]
    assert seqs(client.get("/admin/audit?actor=system&action=calendar:sync").get_data(as_text=True)) == [3]
    assert seqs(client.get(f"/admin/audit?actor={boss.id}&subject={report.id}&action=one_on_one:attach")
                .get_data(as_text=True)) == [2]
    assert seqs(client.get(f"/admin/audit?actor={report.id}&action=connection:link").get_data(as_text=True)) == []


def test_date_range_is_in_the_viewers_calendar_days(client, session, world):
    org, admin, _, _ = world  # admin is in Tokyo (UTC+9)
    append_at(session, org.id, Action.sync, datetime(2026, 3, 1, 14, 0, tzinfo=UTC))  # 1: Mar 1 23:00 JST
    append_at(session, org.id, Action.sync, datetime(2026, 3, 1, 15, 30, tzinfo=UTC))  # 2: Mar 2 00:30 JST
    append_at(session, org.id, Action.sync, datetime(2026, 3, 2, 14, 59, tzinfo=UTC))  # 3: Mar 2 23:59 JST
    append_at(session, org.id, Action.sync, datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # 4: Mar 3 00:00 JST
    session.commit()
    f.sign_in_as(client, admin)
    get = lambda q: seqs(client.get("/admin/audit?" + q).get_data(as_text=True))  # noqa: E731
    assert get("since=2026-03-02&until=2026-03-02") == [3, 2]
    assert get("since=2026-03-02&until=2026-03-10") == [4, 3, 2]
    assert get("until=2026-03-01") == [1]
    assert get("since=2026-03-02&until=2026-03-02&action=calendar:sync") == [3, 2]
    # Viewing the page appends audit:viewed entries stamped now: only syncs are in this range.
    assert get("since=2026-03-04&action=calendar:sync") == []


def test_keyset_pages_cover_everything_once(client, session, world):
    org, admin, boss, _ = world
    t = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(120):
        append_at(session, org.id, Action.sync if n % 2 else Action.check, t + timedelta(minutes=n), boss.id)
    session.commit()
    f.sign_in_as(client, admin)
    seen, url = [], f"/admin/audit?actor={boss.id}"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += seqs(page)
        found = re.search(r'href="([^"]+)">Older entries', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == list(range(120, 0, -1))
    assert len(seqs(client.get(f"/admin/audit?actor={boss.id}").get_data(as_text=True))) == 50


@pytest.mark.parametrize("query, message", [
    ("since=last-week", "since must be a date written YYYY-MM-DD."),
    ("until=2026-13-01", "until must be a date written YYYY-MM-DD."),
    ("action=everything", "action is not a known action."),
    ("actor=bob", "actor must be a person id or &#39;system&#39;."),
    ("subject=1.5", "subject must be a person id"),
    ("since=2026-02-01&until=2026-01-01", "since must not be after until."),
])
def test_bad_filters_are_400_with_a_message(client, session, world, query, message):
    _, admin, _, _ = world
    f.sign_in_as(client, admin)
    for path in ("/admin/audit?", "/admin/audit/export.csv?"):
        response = client.get(path + query)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)


def test_dates_that_cannot_be_used_are_said_on_the_page_which_keeps_the_form(client, session, world):
    """A From after its To is a slip of the person's, not a tampered URL: the audit page answers
    with the reason beside the filters, everything chosen still in them, and no entries."""
    org, admin, boss, _ = world
    append_at(session, org.id, Action.link, datetime(2026, 1, 15, tzinfo=UTC), boss.id, boss.id)
    session.commit()
    f.sign_in_as(client, admin)
    response = client.get(f"/admin/audit?actor={boss.id}&action=connection:link"
                          "&since=2026-02-01&until=2026-01-01")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'role="alert" id="filter-problem">[^<]*since must not be after until', page)
    assert re.search(r'id="f-since" type="date" name="since" value="2026-02-01"[^>]*aria-invalid="true"', page)
    assert re.search(r'id="f-until" type="date" name="until" value="2026-01-01"[^>]*aria-invalid="true"', page)
    assert f'<option value="{boss.id}" selected>' in page
    assert re.search(r'<option value="connection:link"\s*selected>', page)
    assert seqs(page) == []


def test_an_unknown_person_id_is_404(client, world):
    _, admin, _, _ = world
    f.sign_in_as(client, admin)
    assert client.get("/admin/audit?actor=999999").status_code == 404


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_csv_export_is_the_whole_filtered_set_escaped_and_audited(client, session, world):
    org, admin, boss, report = world
    t = datetime(2026, 3, 1, tzinfo=UTC)
    append_many(session, org.id, [  # more than one export batch
        {"action": Action.sync, "occurred_at": t + timedelta(seconds=n), "details": {"n": n}} for n in range(2100)])
    append_at(session, org.id, Action.attach, t + timedelta(hours=2), boss.id, report.id,
              {"note": "+SUM(A1:A9)"}, user_agent="@evil")
    session.commit()
    f.sign_in_as(client, admin)
    response = client.get(f"/admin/audit/export.csv?subject={report.id}&before=1")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert len(rows) == 1  # "before" (a page cursor) is ignored: the export is the whole filtered set
    row = rows[0]
    assert row["subject"] == "'=HYPERLINK(\"http://x\")" and row["actor"] == "Bea Boss"
    assert row["user_agent"] == "'@evil" and row["details"] == '{"note": "+SUM(A1:A9)"}'
    assert row["occurred_at"] == "2026-03-01T11:00:00+09:00"
    everything = read_csv(client.get("/admin/audit/export.csv?action=calendar:sync"))
    assert [int(r["seq"]) for r in everything] == list(range(2100, 0, -1))
    exported = session.scalars(select(AuditEvent).where(
        AuditEvent.org_id == org.id, AuditEvent.action == "audit:exported").order_by(AuditEvent.seq)).all()
    assert [e.details["filters"] for e in exported] == [{"subject": report.id}, {"action": "calendar:sync"}]
    assert all(e.actor_id == admin.id for e in exported)


def test_cells_starting_with_minus_or_at_are_escaped_in_names(client, session, world):
    org, admin, _, _ = world
    minus = f.person(session, org, name="-2+3")
    at = f.person(session, org, name="@Mallory")
    audit.record(session, Action.sign_in, minus, at)
    session.commit()
    f.sign_in_as(client, admin)
    row = read_csv(client.get("/admin/audit/export.csv?action=auth:sign_in"))[0]
    assert row["actor"] == "'-2+3" and row["subject"] == "'@Mallory"


def test_verification_on_the_page_whole_then_broken(client, session, world, database_admin_url):
    org, admin, boss, _ = world
    for _ in range(3):
        audit.record(session, Action.sync, boss, None)
    session.commit()
    f.sign_in_as(client, admin)
    token = f.csrf_token(client, "/admin/audit")
    page = client.post("/admin/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "The chain is whole." in page
    tamper(database_admin_url, "UPDATE audit_events SET actor_id = NULL WHERE org_id = :org AND seq = 2", org=org.id)
    page = client.post("/admin/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "The chain is broken at entry #2:" in page and "was altered after it was written" in page
    broken_id = session.scalar(select(AuditEvent.id).where(AuditEvent.org_id == org.id, AuditEvent.seq == 2))
    assert f'href="/admin/audit/{broken_id}"' in page
    last = session.scalar(select(AuditEvent).where(AuditEvent.org_id == org.id).order_by(AuditEvent.seq.desc()))
    assert last.action == "audit:verified" and last.details["whole"] is False and last.details["broken_at_seq"] == 2


def test_entry_page_shows_details_and_hashes(client, session, world):
    org, admin, boss, _ = world
    entry = audit.record(session, Action.link, boss, boss, {"scopes": "Calendars.Read"})
    session.commit()
    f.sign_in_as(client, admin)
    page = client.get(f"/admin/audit/{entry.id}").get_data(as_text=True)
    assert entry.hash.hex() in page and "Calendars.Read" in page and "Bea Boss" in page


def test_a_long_chain_is_verified_by_a_job_whose_verdict_the_page_shows(app, client, session, world, monkeypatch, database_admin_url):
    from rq import SimpleWorker

    from jobs import runtime
    from listening.audit import log as audit_log
    from listening.core import queue

    org, admin, boss, _ = world
    for _ in range(4):
        audit.record(session, Action.sync, boss, None)
    session.commit()
    tamper(database_admin_url, "UPDATE audit_events SET details = '{\"x\": 1}' WHERE org_id = :org AND seq = 3", org=org.id)
    monkeypatch.setattr(audit_log, "INLINE_VERIFY_LIMIT", 2)
    f.sign_in_as(client, admin)
    token = f.csrf_token(client, "/admin/audit")
    response = client.post("/admin/audit/verify", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.post("/admin/audit/verify", data={"csrf_token": token}).status_code == 302  # deduplicated
    maintenance = services_of(app).jobs.queue(queue.QUEUE_MAINTENANCE)
    assert maintenance.job_ids == [services_of(app).settings.queue_prefix + f"audit-verify-{org.id}"]
    runtime.use(services_of(app))
    try:
        SimpleWorker([maintenance], connection=maintenance.connection).work(burst=True)
    finally:
        runtime.use(None)
    verdict = audit_log.last_verdict(session, org.id)
    assert (verdict.actor_id, verdict.details["whole"], verdict.details["broken_at_seq"]) == (admin.id, False, 3)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "The chain is being verified in the background." in page  # the first request
    assert "A verification of the chain is already running." in page  # the second, while queued
    assert "the chain is broken at entry #3</strong>: was altered after it was written" in page
    assert "Last verified" in page and "by Hana Admin" in page
