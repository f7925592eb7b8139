"""Arrange an organization for the API and webhook tests: a manager whose stored calendar holds
weekly 1-on-1s with two reports, attached through the real attach form, and API keys."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from listening.api import keys
from listening.core.models import OneOnOne
from tests.integration import one_on_ones_helpers as h
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of

SUBJECTS = ("Ana / Dana 1:1", "Bo / Dana 1:1")


@dataclass
class Seeded:
    team: h.Team
    one_on_ones: list[int]


def seeded(app, session, client, *, attach: int = 2) -> Seeded:
    """Dana manages Ana, Bo and Chen; 1-on-1s with the first ``attach`` reports are attached
    (12 weekly occurrences each, four in the past; Ana's third one is cancelled)."""
    t = h.team(session)
    m = t.manager.email
    t.events = (cal.series(m, [t.reports[0].email], SUBJECTS[0], h.weekly_from(cal.NOW), 12,
                         series_id="S-ana", key=1, cancelled=(2,))
                + cal.series(m, [t.reports[1].email], SUBJECTS[1], h.weekly_from(cal.NOW, hour=15), 12,
                           series_id="S-bo", key=2))
    cal.store(services_of(app), session, t.connection, t.events)
    f.sign_in_as(client, t.manager)
    for report, series_id in list(zip(t.reports, ("S-ana", "S-bo")))[:attach]:
        response = h.post(client, "/one-on-ones/attach", report_id=report.id, series_id=series_id)
        assert response.status_code == 303, response.get_data(as_text=True)
    with client.session_transaction() as s:
        s.clear()
    pairs = h.pairs(session, t.org.id)
    ids = [row.id for row in session.query(OneOnOne).filter_by(org_id=t.org.id).order_by(OneOnOne.id)]
    assert len(pairs) == attach
    return Seeded(t, ids)


def new_key(session, org_id: int, *scopes: str, name: str = "platform") -> str:
    made = keys.create(session, org_id, name, scopes or ("one_on_ones:read",), None, datetime.now(UTC))
    session.commit()
    return made.secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}
