"""The demo company end to end without a browser: link Daniel (the decoy mailbox) with real
minted tokens, sync from the emulator over loopback, and read his 1-on-1s page."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import select

from listening import filters, sync
from listening.core import crypto
from listening.core.models import (
    CalendarItem,
    Connection,
    ConnectionState,
    OneOnOne,
    OneOnOneStatus,
    Role,
)
from listening.one_on_ones.judged import filter_person, judge_calendar
from tests.integration import one_on_ones_helpers as h
from tests.support import factories as f
from tests.support.apps import services_of

DANIEL = "daniel.okafor@contoso.com"


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def contoso(app, session, emu):
    """Contoso's directory as the demo imports it, and Daniel's calendar synced."""
    users = [u for u in emu.users() if u["email"].endswith("@contoso.com")]
    org = f.org(session, tenant_id=users[0]["tenant"], name="Contoso")
    people = {u["email"]: f.person(session, org, u["email"], Role.manager if u["directReports"] else Role.employee,
                                   name=u["name"], oid=u["oid"], aliases=u["aliases"]) for u in users}
    for u in users:
        people[u["email"]].manager_id = people[u["manager"]].id if u["manager"] else None
    daniel = people[DANIEL]
    daniel.time_zone = "America/Los_Angeles"
    connection = Connection(org_id=org.id, person_id=daniel.id, state=ConnectionState.linked,
                            account_email=DANIEL, linked_at=datetime.now(UTC))
    session.add(connection)
    session.flush()
    with app.app_context():
        services_of(app).tokens.save(session, connection, emu.mint_token(DANIEL))
    session.commit()
    report = sync.run(services_of(app), connection.id, trigger="test")
    assert report.outcome.value == "ok", report.detail
    yield people, connection
    emu.reset(world=True)  # tests below edit the shared emulator's calendars


def _page(client, person) -> str:
    f.sign_in_as(client, person)
    return client.get("/one-on-ones").get_data(as_text=True)


def _report_block(html, person) -> str:
    return _text(re.search(rf'id="report-{person.id}".*?</article>', html, re.S).group(0))


def test_daniels_candidates_and_why_not_rows(client, contoso):
    people, _ = contoso
    html = _page(client, people[DANIEL])
    block = lambda name: _report_block(html, people[f"{name}@contoso.com"])  # noqa: E731
    assert "“James / Daniel weekly 1:1” weekly" in block("james.smith")   # invited by alias
    assert "“Ravi <> Daniel 1:1” weekly" in block("ravi.patel") and "Ravi Patel" in block("ravi.patel")
    assert "“Ana / Daniel 1:1” every 2 weeks" in block("ana.costa")        # with a room
    assert "“Olivia / Daniel monthly career check-in” monthly" in block("olivia.brooks")
    assert "“Fatima / Daniel monthly 1:1” monthly" in block("fatima.noor")
    assert "“Lucas / Daniel 1:1” every 2 weeks" in block("lucas.meyer")
    for name in ("wei.zhang", "kenji.watanabe"):
        assert "No recurring 1-on-1" in block(name)
    why = _text(re.search(r'id="why-not".*?</section>', html, re.S).group(0))
    for line in ("“Canceled: Lucas / Daniel weekly sync” the whole series was cancelled",
                 "“Fatima onboarding check-in” it has ended",
                 "“Wei / Daniel on-site day” it is an all-day event",
                 "a private recurring meeting it is marked private",
                 "“Focus time” nobody else is invited",
                 "“Engineering weekly sync” more than two people: ",
                 "“Product / Engineering triage” you are not one of its two people",
                 "“Elena / Daniel 1:1” Elena Marsh does not report to you",
                 "“Daniel / Priya peer sync” Priya Raman does not report to you",
                 "“Northwind / Contoso integration sync” sarah.lee@northwindtraders.com does not report",
                 "“Olivia / Daniel test strategy 1:1” Olivia Brooks declined it",
                 "“Lucas / Daniel release planning” you declined it",
                 "“Kenji / Daniel 1:1” organized by you; first occurrence"):
        assert line in why, line
    # The two copies say what tells them apart, and where to open each in Outlook.
    assert why.count("“Kenji / Daniel 1:1”") == 2 and why.count("Open this copy in Outlook") == 2
    assert "it is a copy of another series" in why
    assert "Wei / Daniel career conversation" not in html
    assert "and 3 others" in why  # eight reports in the team sync: five named, three counted


def test_one_decryption_per_series_and_the_same_verdict_as_decrypting_everything(app, session, contoso):
    people, connection = contoso
    daniel = people[DANIEL]
    reports = [filter_person(p) for p in people.values() if p.manager_id == daniel.id]
    rows = list(session.scalars(select(CalendarItem).where(CalendarItem.connection_id == connection.id)))
    now = datetime.now(UTC)

    class Counting(crypto.KeyRing):
        calls = 0

        def decrypt(self, blob, aad):
            Counting.calls += 1
            return super().decrypt(blob, aad)

    with app.app_context():
        ring = services_of(app).keys
        everything = [json.loads(ring.decrypt(r.provider_data, crypto.aad_for("event", connection.id,
                                                                               r.provider_event_id)))
                      for r in rows]
        lean = judge_calendar(session, Counting(ring.keys, ring.current), daniel, now)
    series = {r.series_id for r in rows if r.event_type != "singleInstance"}
    assert Counting.calls == len(series) < len(rows) / 3
    full = filters.judge(now, filter_person(daniel), reports, everything)
    assert lean.result.candidates == full.candidates
    unplaced = [replace(r, position=None) for r in full.rejected if r.kind != "single"]
    assert [replace(r, position=None) for r in lean.result.rejected] == unplaced
    assert len(full.candidates) == 6 and len(unplaced) > 10


def test_attach_then_outlook_changes_flag_it_after_the_next_sync(app, client, session, emu, contoso):
    people, connection = contoso
    daniel, james = people[DANIEL], people["james.smith@contoso.com"]
    html = _page(client, daniel)
    series_id = re.search(rf'name="report_id" value="{james.id}">\s*<input type="hidden" name="series_id" '
                          r'value="([^"]+)"', html).group(1)
    assert h.post(client, "/one-on-ones/attach", report_id=james.id, series_id=series_id).status_code == 303

    emu.calendar(action="set_sensitivity", event_id=series_id, sensitivity="private")
    assert sync.run(services_of(app), connection.id, trigger="test").outcome.value == "ok"
    session.expire_all()
    pair = session.scalar(select(OneOnOne).where(OneOnOne.report_id == james.id))
    assert pair.status is OneOnOneStatus.needs_attention and "made private" in pair.attention_reason

    emu.calendar(action="delete_series", event_id=series_id)
    start = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0)
    emu.calendar(action="create_meeting", organizer=DANIEL, attendees=["james.smith@contoso.com"],
                 subject="James / Daniel 1:1 (new)", start=start.isoformat(),
                 end=start.replace(minute=30).isoformat(),
                 recurrence={"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [
                     start.strftime("%A").lower()]}, "range": {"type": "noEnd", "startDate": start.date().isoformat()}})
    assert sync.run(services_of(app), connection.id, trigger="test").outcome.value == "ok"
    session.expire_all()
    pair = session.scalar(select(OneOnOne).where(OneOnOne.report_id == james.id))
    assert "no longer in your Outlook calendar" in pair.attention_reason
    assert pair.replacement_series_id and pair.replacement_series_id != series_id
    page = _text(client.get("/one-on-ones").get_data(as_text=True))
    assert "Replace with “James / Daniel 1:1 (new)”" in page
