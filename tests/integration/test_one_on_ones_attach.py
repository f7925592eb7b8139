"""Attach, replace, detach: the happy paths and every refusal (message, nothing changed, audited)."""
from __future__ import annotations

import json
import re

import pytest

from listening.core.models import Role
from tests.integration import one_on_ones_helpers as h
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of

W = h.weekly_from


@pytest.fixture
def dana(app, session, client):
    t = h.team(session)
    m, (ana, bo, chen) = t.manager.email, (r.email for r in t.reports)
    t.events = (cal.series(m, [ana], "Ana / Dana 1:1", W(h.NOW), 12, series_id="S-ana")
                + cal.series(ana, [m], "Ana / Dana Friday 1:1", W(h.NOW, 2, 20), 10, series_id="S-ana2")
                + cal.series(m, [bo], "Bo / Dana 1:1", W(h.NOW), 12, series_id="S-bo")
                + cal.series(m, [chen], "Chen secret", W(h.NOW), 12, series_id="S-private",
                           sensitivity="private")
                + cal.series(m, [ana, bo], "Trio", W(h.NOW), 12, series_id="S-trio"))
    cal.store(services_of(app), session, t.connection, t.events)
    f.sign_in_as(client, t.manager)
    return t


def _refusals(session, org_id):
    return [e.details for e in h.audits(session, org_id, "one_on_one:attach_refused")]


def _no_subjects_in_audit(session, org_id, dana):
    text = json.dumps([e.details for e in h.audits(session, org_id)])
    for event in dana.events:
        assert event["subject"] not in text


def test_attach_shows_next_occurrences_and_is_audited_without_the_subject(client, session, dana):
    ana = dana.reports[0]
    response = h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"#report-{ana.id}")
    assert h.pairs(session, dana.org.id) == [(dana.manager.id, ana.id, "S-ana", "ok")]
    flashed = json.dumps(client.application.session_interface.get_signing_serializer(
        client.application).loads(client.get_cookie("session").value))
    assert "Ana Costa" in flashed and "Ana / Dana" not in flashed  # no calendar text in the cookie
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Attached: the meeting is now your 1-on-1 with Ana Costa." in page
    block = re.search(r'class="attached".*?</div>\s*</div>', page, re.S).group(0)
    assert "Next occurrences" in block and len(re.findall(r"<li>", block)) == 4
    [entry] = h.audits(session, dana.org.id, "one_on_one:attach")
    assert entry.actor_id == dana.manager.id and entry.subject_id == ana.id
    assert entry.details["series_id"] == "S-ana" and entry.details["operation"] == "attach"
    _no_subjects_in_audit(session, dana.org.id, dana)


def test_attaching_the_attached_series_again_changes_nothing(client, session, dana):
    ana = dana.reports[0]
    h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana")
    response = h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana")
    assert response.status_code == 303
    assert len(h.audits(session, dana.org.id, "one_on_one:attach")) == 1
    assert "already your 1-on-1" in client.get("/one-on-ones").get_data(as_text=True)


def test_replace_swaps_the_series_and_records_the_previous_one(client, session, dana):
    ana = dana.reports[0]
    h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana")
    assert "Use this instead" in client.get("/one-on-ones").get_data(as_text=True)
    response = h.post(client, "/one-on-ones/replace", report_id=ana.id, series_id="S-ana2")
    assert response.status_code == 303
    assert h.pairs(session, dana.org.id) == [(dana.manager.id, ana.id, "S-ana2", "ok")]
    last = h.audits(session, dana.org.id, "one_on_one:attach")[-1]
    assert last.details["previous_series_id"] == "S-ana" and last.details["operation"] == "replace"


def test_detach_removes_the_pair_and_is_audited(client, session, dana):
    ana = dana.reports[0]
    h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana")
    response = h.post(client, "/one-on-ones/detach", report_id=ana.id)
    assert response.status_code == 303 and h.pairs(session, dana.org.id) == []
    [entry] = h.audits(session, dana.org.id, "one_on_one:detach")
    assert entry.subject_id == ana.id and entry.details["series_id"] == "S-ana"
    assert "Nothing changed in Outlook" in client.get("/one-on-ones").get_data(as_text=True)


def _other_org_person(session):
    other = f.org(session)
    stranger = f.person(session, other, "stranger@elsewhere.example")
    session.commit()
    return stranger


@pytest.mark.parametrize("case, path, form, status, reason, message", [
    ("rejected series", "attach", {"series_id": "S-private"}, 409, "not_a_candidate",
     "not a current 1-on-1 candidate with Chen Li"),
    ("three people", "attach", {"series_id": "S-trio"}, 409, "not_a_candidate", "not a current"),
    ("another report's series", "attach", {"series_id": "S-bo"}, 409, "not_a_candidate", "not a current"),
    ("unknown series", "attach", {"series_id": "S-nope"}, 409, "not_a_candidate", "not a current"),
    ("no series", "attach", {"series_id": None}, 400, "bad_form", "which meeting"),
    ("blank series", "attach", {"series_id": "   "}, 400, "bad_form", "which meeting"),
    ("huge series id", "attach", {"series_id": "x" * 5000}, 400, "bad_form", "which meeting"),
    ("no report", "attach", {"report_id": None, "series_id": "S-ana"}, 400, "bad_form", "whose 1-on-1"),
    ("report not a number", "attach", {"report_id": "2; drop", "series_id": "S-ana"}, 400, "bad_form",
     "whose 1-on-1"),
    ("unknown person", "attach", {"report_id": 99999, "series_id": "S-ana"}, 404, "unknown_person",
     "no such person"),
    ("not my report", "attach", {"report_id": "outsider", "series_id": "S-ana"}, 403, "not_your_report",
     "Olga Other does not report to you"),
    ("another org's person", "attach", {"report_id": "stranger", "series_id": "S-ana"}, 404,
     "unknown_person", "no such person"),
    ("replace with nothing attached", "replace", {"series_id": "S-ana"}, 409, "nothing_to_replace",
     "attach one instead"),
    ("detach with nothing attached", "detach", {}, 404, "nothing_attached", "No 1-on-1"),
    ("detach another org's person", "detach", {"report_id": "stranger"}, 404, "nothing_attached", "No 1-on-1"),
    ("detach without a report", "detach", {"report_id": ""}, 400, "bad_form", "whose 1-on-1"),
])
def test_bad_input_is_refused_with_a_message_changes_nothing_and_is_audited(
        client, session, dana, case, path, form, status, reason, message):
    chen = dana.reports[2] if "S-private" in form.values() or case == "another report's series" else dana.reports[0]
    ids = {"outsider": dana.outsider.id, "stranger": lambda: _other_org_person(session).id}
    report_id = form.pop("report_id", chen.id)
    report_id = ids[report_id]() if report_id == "stranger" else ids.get(report_id, report_id)
    before = h.pairs(session, dana.org.id)
    response = h.post(client, f"/one-on-ones/{path}", report_id=report_id, **form)
    assert response.status_code == status, case
    assert message.lower() in response.get_data(as_text=True).lower(), case
    assert h.pairs(session, dana.org.id) == before
    [details] = _refusals(session, dana.org.id)
    assert details["reason"] == reason and details["operation"] == path


def test_attach_when_another_series_is_attached_asks_for_replace(client, session, dana):
    ana = dana.reports[0]
    h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana")
    response = h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana2")
    assert response.status_code == 409 and "Replace" in response.get_data(as_text=True)
    assert h.pairs(session, dana.org.id) == [(dana.manager.id, ana.id, "S-ana", "ok")]
    assert _refusals(session, dana.org.id)[0]["reason"] == "already_attached"


def test_a_report_who_moved_to_another_manager_cannot_be_attached(client, session, dana):
    ana = dana.reports[0]
    ana.manager_id = dana.outsider.id
    session.commit()
    response = h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana")
    assert response.status_code == 403 and h.pairs(session, dana.org.id) == []
    assert _refusals(session, dana.org.id)[0]["reason"] == "not_your_report"


def test_a_deleted_connection_is_refused(client, session, dana):
    session.delete(dana.connection)
    session.commit()
    response = h.post(client, "/one-on-ones/attach", report_id=dana.reports[0].id, series_id="S-ana")
    assert response.status_code == 409 and "not linked" in response.get_data(as_text=True)
    assert h.pairs(session, dana.org.id) == []
    assert _refusals(session, dana.org.id)[0]["reason"] == "no_connection"


def test_a_stale_candidate_is_refused_after_the_series_changed(app, client, session, dana):
    token = f.csrf_token(client, "/one-on-ones")
    ana = dana.reports[0]
    private = [dict(e, sensitivity="private", changeKey=e["changeKey"] + "x")
               if e["seriesMasterId"] == "S-ana" else e for e in dana.events]
    cal.store(services_of(app), session, dana.connection, private)
    response = h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana",
                      csrf_token=token)
    assert response.status_code == 409 and h.pairs(session, dana.org.id) == []


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_forged_form_without_a_valid_csrf_token_is_refused_and_audited(client, session, dana, token):
    response = h.post(client, "/one-on-ones/attach", report_id=dana.reports[0].id, series_id="S-ana",
                      csrf_token=token)
    assert response.status_code == 400 and "security token" in response.get_data(as_text=True)
    assert h.pairs(session, dana.org.id) == []
    assert _refusals(session, dana.org.id) == [{"operation": "attach", "reason": "csrf"}]


def test_employees_cannot_post_and_anonymous_visitors_are_sent_to_sign_in(app, client, session, dana):
    f.sign_in_as(client, dana.reports[0])
    token = f.csrf_token(client, "/one-on-ones")
    response = client.post("/one-on-ones/attach", data={"csrf_token": token, "report_id": dana.reports[1].id,
                                                        "series_id": "S-bo"})
    assert response.status_code == 403 and h.pairs(session, dana.org.id) == []
    fresh = app.test_client()
    assert fresh.post("/one-on-ones/detach", data={}).status_code in (302, 400)


def test_get_is_not_allowed_on_the_form_endpoints(client, dana):
    for path in ("attach", "replace", "detach"):
        assert client.get(f"/one-on-ones/{path}").status_code == 405


def test_a_former_report_can_still_be_detached(client, session, dana):
    ana = dana.reports[0]
    h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana")
    ana.manager_id = dana.outsider.id
    session.commit()
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "no longer report to you" in page
    assert h.post(client, "/one-on-ones/detach", report_id=ana.id).status_code == 303
    assert h.pairs(session, dana.org.id) == []


def test_one_series_per_pair_even_with_two_reports_and_two_managers(app, client, session, dana):
    ana, bo = dana.reports[:2]
    h.post(client, "/one-on-ones/attach", report_id=ana.id, series_id="S-ana")
    h.post(client, "/one-on-ones/attach", report_id=bo.id, series_id="S-bo")
    assert [p[1:] for p in h.pairs(session, dana.org.id)] == [(ana.id, "S-ana", "ok"), (bo.id, "S-bo", "ok")]
    assert dana.manager.role is Role.manager
