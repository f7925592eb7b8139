"""The 1-on-1s page: candidates per report, cadence, zone, organizer, why-not rows, employees' view."""
from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from listening.core.models import OneOnOne, Role
from tests.integration import one_on_ones_helpers as h
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of

W = h.weekly_from
# Mondays at 17:00 UTC (09:00 in Los Angeles in winter, 10:00 in summer), four weeks back: anchored
# to a Monday so that what the page shows does not depend on the day the suite runs.
MONDAY = W(h.NOW) - timedelta(days=h.NOW.weekday())


def _text(html: str) -> str:
    """The page's visible text on one line (tags dropped, white space collapsed)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def _section(html: str, element_id: str) -> str:
    match = re.search(rf'<(section|article)[^>]*id="{element_id}".*?</\1>', html, re.S)
    assert match, f"no #{element_id} on the page"
    return _text(match.group(0))


def _page(client, person) -> str:
    f.sign_in_as(client, person)
    response = client.get("/one-on-ones")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def dana(app, session):
    t = h.team(session)
    m, (ana, bo, chen) = t.manager.email, (r.email for r in t.reports)
    first = MONDAY  # the page shows its times in the manager's zone
    t.events = (
        cal.series(m, [ana], "Ana / Dana 1:1", first, 12)
        + cal.series(m, [bo], "Bo / Dana 1:1", MONDAY - timedelta(weeks=2), 8, timedelta(days=14),
                   organizer=bo)
        + cal.series("d.boss@example.com", [ana], "Ana monthly career chat", W(h.NOW, 8), 8,
                   timedelta(days=28), resource="room-1@example.com")
        + cal.series(m, [ana, bo, chen], "Team sync", first, 10)
        + cal.series(m, [chen], "Chen / Dana career", first, 10, sensitivity="private")
        + cal.series(m, [], "Focus time", first, 10)
        + cal.series(m, [chen], "Chen / Dana old 1:1", W(h.NOW, 10), 5)             # ended
        + cal.series(m, [chen], "Chen / Dana cancelled 1:1", first, 10, cancelled=tuple(range(10)))
        + cal.series(m, [chen], "Chen / Dana on-site day", first, 10, all_day=True)
        + cal.series(ana, [bo], "Ana / Bo pairing", first, 10)                      # manager not in it
        + cal.series(m, ["olga@example.com"], "Dana / Olga peer sync", first, 10)
        + cal.series(m, ["vendor@northwind.example"], "Northwind sync", first, 10)
        + cal.series(m, [chen], "Chen / Dana test strategy", first, 10, responses={chen: "declined"})
        + cal.series(chen, [m], "Chen / Dana release planning", first, 10, responses={m: "declined"})
        + cal.series(m, [bo], "Bo / Dana copied 1:1", first, 10, key=77)
        + cal.series(m, [bo], "Bo / Dana copied 1:1", first, 10, key=77)
        + [cal.single(m, ana, "Promotion review", h.NOW + timedelta(days=2))])
    cal.store(services_of(app), session, t.connection, t.events)
    return t


def _la_hour(first, weeks: int) -> int:
    """The Los Angeles hour of a series' next start: 9 in winter, 10 in summer."""
    upcoming = next(s for s in (first + timedelta(weeks=weeks * i) for i in range(12)) if s >= h.NOW)
    return upcoming.astimezone(ZoneInfo("America/Los_Angeles")).hour


def test_candidates_per_report_with_cadence_next_occurrence_in_the_managers_zone_and_organizer(client, dana):
    html = _page(client, dana.manager)
    ana = _section(html, f"report-{dana.reports[0].id}")
    assert "“Ana / Dana 1:1” weekly" in ana
    assert re.search(rf"Mon \d+ \w{{3}} \d{{4}}, {_la_hour(MONDAY, 1):02d}:00 you", ana), ana
    # Organized from the manager's alias, with a room: still "you", still two people.
    assert "“Ana monthly career chat” monthly" in ana and ana.count("Attach") == 2
    bo = _section(html, f"report-{dana.reports[1].id}")
    assert "“Bo / Dana 1:1” every 2 weeks" in bo
    assert f"{_la_hour(MONDAY - timedelta(weeks=2), 2):02d}:00 Bo Berg" in bo
    chen = _section(html, f"report-{dana.reports[2].id}")
    assert "No recurring 1-on-1 with Chen Li found" in chen
    assert "America/Los_Angeles" in _section(html, "reports")


def test_why_not_lists_each_rejected_series_in_plain_words(client, dana):
    rows = _section(_page(client, dana.manager), "why-not")
    expected = [
        "“Chen / Dana cancelled 1:1” the whole series was cancelled",
        "“Chen / Dana old 1:1” it has ended: no occurrence from now on",
        "“Chen / Dana on-site day” it is an all-day event",
        "a private recurring meeting it is marked private",
        "“Focus time” nobody else is invited",
        "“Team sync” more than two people: Ana Costa, Bo Berg and Chen Li",
        "“Ana / Bo pairing” you are not one of its two people (Ana Costa and Bo Berg)",
        "“Dana / Olga peer sync” Olga Other does not report to you in the directory",
        "“Northwind sync” vendor@northwind.example does not report to you in the directory",
        "“Chen / Dana release planning” you declined it",
        "“Chen / Dana test strategy” Chen Li declined it",
        "“Bo / Dana copied 1:1” organized by you; first occurrence",
    ]
    positions = [rows.find(line) for line in expected]
    assert -1 not in positions, [line for line, p in zip(expected, positions) if p == -1]
    assert positions == sorted(positions), "rows follow the spec's rule order"
    assert rows.count("it is a copy of another series") == 2
    # What tells the two copies apart: organizer, first occurrence (in Dana's zone), count.
    copies = re.findall(r"“Bo / Dana copied 1:1” (organized by [^;]+; first occurrence [^;]+; \d+ occurrences in view)", rows)
    assert len(copies) == 2, rows
    assert "Promotion review" not in rows, "single events are not series"


def test_a_private_series_never_shows_its_subject_anywhere(client, dana):
    html = _page(client, dana.manager)
    assert "Chen / Dana career" not in html
    assert "a private recurring meeting" in html


def test_no_connection_shows_reports_and_the_link_panel_but_no_why_not(app, client, session):
    t = h.team(session)
    session.delete(t.connection)
    session.commit()
    html = _page(client, t.manager)
    assert "Link your Outlook calendar" in html and "Ana Costa" in html
    assert 'id="why-not"' not in html and "/one-on-ones/attach" not in html


def test_a_stored_event_that_cannot_be_decrypted_leaves_its_series_out(app, client, session, dana):
    from sqlalchemy import select, update

    from listening.core.models import CalendarItem

    latest = session.scalar(select(CalendarItem.provider_event_id).where(
        CalendarItem.series_id == dana.events[0]["seriesMasterId"])
        .order_by(CalendarItem.start_utc.desc()).limit(1))
    session.execute(update(CalendarItem).where(CalendarItem.provider_event_id == latest)
                    .values(provider_data=b"\x01\x02k1" + b"\x00" * 40))
    session.commit()
    html = _page(client, dana.manager)
    assert "1 of your recurring meetings could not be read" in _text(html)
    assert "Ana / Dana 1:1" not in html and "Ana monthly career chat" in html


def test_the_employee_sees_the_attached_series_read_only(app, client, session, dana):
    ana = dana.reports[0]
    assert "has not chosen a meeting" in _section(_page(client, ana), "my-one-on-one")
    session.add(OneOnOne(org_id=dana.org.id, manager_id=dana.manager.id, report_id=ana.id,
                         series_id=dana.events[0]["seriesMasterId"]))
    session.commit()
    html = _page(client, ana)
    mine = _section(html, "my-one-on-one")
    assert "Your 1-on-1 with Dana Boss" in mine and "“Ana / Dana 1:1”, weekly, organized by Dana Boss" in mine
    assert "Next occurrences" in mine
    assert "<form" not in re.search(r'id="my-one-on-one".*?</section>', html, re.S).group(0)
    assert not re.search(r'action="/one-on-ones/', html) and 'id="why-not"' not in html
    # Times in the employee's own zone (one without summer time: 17:00 UTC is always 22:30).
    ana.time_zone = "Asia/Kolkata"
    session.commit()
    assert "22:30" in _section(_page(client, ana), "my-one-on-one")


def test_a_manager_with_a_manager_sees_both_sections(app, client, session, dana):
    boss = f.person(session, dana.org, "boss@example.com", Role.manager, name="Big Boss")
    dana.manager.manager_id = boss.id
    session.commit()
    html = _page(client, dana.manager)
    assert 'id="reports"' in html and "Your 1-on-1 with Big Boss" in _section(html, "my-one-on-one")


def test_hr_admin_and_employees_without_a_manager_see_no_manager_sections(app, client, session):
    org = f.org(session)
    admin = f.person(session, org, role=Role.hr_admin)
    session.commit()
    html = _page(client, admin)
    assert 'id="reports"' not in html and 'id="my-one-on-one"' not in html


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/one-on-ones")
    assert response.status_code == 302 and "/auth/" in response.headers["Location"]
