"""Organization settings form: bounds and messages (the audited apply is in tests/integration)."""
import pytest

from listening.admin import settings as org_settings

GOOD = {"sync_enabled": "on", "sync_interval_minutes": "60", "window_past_days": "30",
        "window_future_days": "120", "calendar_scope": "Calendars.ReadBasic",
        "retention_calendar_days": "30", "retention_audit_days": "730", "safety_net_hours": "24",
        "csrf_token": "ignored"}


def test_a_good_form_is_read():
    assert org_settings.parse(GOOD) == {
        "sync_enabled": True, "sync_interval_minutes": 60, "window_past_days": 30,
        "window_future_days": 120, "calendar_scope": "Calendars.ReadBasic",
        "retention_calendar_days": 30, "retention_audit_days": 730, "safety_net_hours": 24}


def test_an_unticked_checkbox_turns_sync_off():
    form = dict(GOOD)
    del form["sync_enabled"]
    assert org_settings.parse(form)["sync_enabled"] is False


@pytest.mark.parametrize("changes, field, message", [
    ({"sync_interval_minutes": "0"}, "sync_interval_minutes", "between 5 and 1440 minutes"),
    ({"sync_interval_minutes": "-5"}, "sync_interval_minutes", "between 5 and 1440 minutes"),
    ({"sync_interval_minutes": "ten"}, "sync_interval_minutes", "whole number of minutes"),
    ({"window_past_days": "3650"}, "window_past_days", "between 0 and 365 days"),
    ({"window_future_days": "3650"}, "window_future_days", "between 1 and 365 days"),
    ({"calendar_scope": "Calendars.ReadWrite"}, "calendar_scope", "Calendars.Read, Calendars.ReadBasic"),
    ({"retention_calendar_days": "7"}, "retention_calendar_days", "at least the sync window into the past"),
    ({"retention_audit_days": "1"}, "retention_audit_days", "between 90 and 3650 days"),
    ({"safety_net_hours": "0"}, "safety_net_hours", "between 1 and 168 hours"),
])
def test_bad_values_are_refused_with_a_message(changes, field, message):
    with pytest.raises(org_settings.SettingsError) as caught:
        org_settings.parse(GOOD | changes)
    assert any(message in m for m in caught.value.problems[field]), caught.value.problems


def test_a_missing_field_is_refused():
    form = dict(GOOD)
    del form["sync_interval_minutes"]
    with pytest.raises(org_settings.SettingsError) as caught:
        org_settings.parse(form)
    assert caught.value.problems["sync_interval_minutes"] == ["The sync interval is required."]
