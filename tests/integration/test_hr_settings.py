"""Organization settings page: saved, audited with old and new values, bad forms refused."""
import pytest
from sqlalchemy import select

from listening.core.models import AuditEvent, Organization, Role
from tests.support import factories as f

FORM = {"sync_enabled": "on", "sync_interval_minutes": "60", "window_past_days": "30",
        "window_future_days": "120", "calendar_scope": "Calendars.Read",
        "retention_calendar_days": "30", "retention_audit_days": "730", "safety_net_hours": "24"}


@pytest.fixture
def admin(session, client):
    org = f.org(session, name="Contoso")
    person = f.person(session, org, role=Role.hr_admin)
    session.commit()
    f.sign_in_as(client, person)
    return person


def post(client, **changes):
    token = f.csrf_token(client, "/admin/settings")
    form = {k: v for k, v in (FORM | changes).items() if v is not None}
    return client.post("/admin/settings", data=form | {"csrf_token": token})


def settings_entries(session, org_id):
    return session.scalars(select(AuditEvent).where(
        AuditEvent.org_id == org_id, AuditEvent.action == "org:settings_changed").order_by(AuditEvent.seq)).all()


def test_the_page_shows_the_current_settings(client, admin):
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="sync_interval_minutes" min="5" max="1440" value="60"' in page
    assert '<option value="Calendars.Read" selected>' in page


def test_the_calendar_permission_is_offered_in_words_with_its_scope_name(client, admin):
    page = client.get("/admin/settings").get_data(as_text=True)
    assert '<option value="Calendars.Read" selected>Read calendars, meeting details included ' \
           '(Calendars.Read)</option>' in page
    assert '<option value="Calendars.ReadBasic">Read calendars without meeting details: times, people ' \
           'and subjects only (Calendars.ReadBasic)</option>' in page


def test_a_change_is_saved_and_audited_with_old_and_new_values(client, session, admin):
    response = post(client, sync_enabled=None, sync_interval_minutes="15", calendar_scope="Calendars.ReadBasic")
    assert response.status_code == 302
    session.expire_all()
    org = session.get(Organization, admin.org_id)
    assert (org.sync_enabled, org.sync_interval_minutes, org.calendar_scope) == (False, 15, "Calendars.ReadBasic")
    [entry] = settings_entries(session, admin.org_id)
    assert entry.actor_id == admin.id
    assert entry.details == {"changes": {
        "sync_enabled": {"old": True, "new": False},
        "sync_interval_minutes": {"old": 60, "new": 15},
        "calendar_scope": {"old": "Calendars.Read", "new": "Calendars.ReadBasic"}}}
    assert ("Calendar sync turned off. Sync interval set to 15 minutes. Calendar permission set to "
            "“Read calendars without meeting details” (Calendars.ReadBasic); it applies when managers "
            "link or reconnect Outlook.") in \
        client.get("/admin/settings").get_data(as_text=True)


def test_saving_without_changes_records_nothing(client, session, admin):
    assert post(client).status_code == 302
    assert settings_entries(session, admin.org_id) == []
    assert "Nothing changed." in client.get("/admin/settings").get_data(as_text=True)


@pytest.mark.parametrize("changes, message", [
    ({"sync_interval_minutes": "0"}, "The sync interval must be between 5 and 1440 minutes (one day)."),
    ({"window_past_days": "3650", "retention_calendar_days": "3650"},
     "The sync window into the past must be between 0 and 365 days."),
    ({"window_future_days": "3650"}, "The sync window into the future must be between 1 and 365 days."),
    ({"sync_interval_minutes": "soon"}, "The sync interval must be a whole number of minutes."),
    ({"calendar_scope": "Calendars.ReadWrite"}, "The calendar scope must be one of"),
])
def test_bad_settings_are_refused_with_a_message_and_change_nothing(client, session, admin, changes, message):
    response = post(client, **({"sync_interval_minutes": "15", "window_future_days": "60"} | changes))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing was saved" in page and message in page
    session.expire_all()
    org = session.get(Organization, admin.org_id)
    assert (org.sync_interval_minutes, org.window_past_days, org.window_future_days) == (60, 30, 120)
    assert settings_entries(session, admin.org_id) == []
