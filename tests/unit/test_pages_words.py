"""What the pages say: relative times, the connection's state and actions, the report's words,
settings changes in sentences, directory problems in line order."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listening.admin import directory
from listening.admin.settings import in_sentences
from listening.core.models import Connection, ConnectionState
from listening.core.when import local_time, moment, relative, zone_of
from listening.one_on_ones import wording
from listening.one_on_ones.cadence import meeting_words
from listening.outlook.status import status

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("offset, words", [
    (timedelta(seconds=-10), "just now"), (timedelta(seconds=20), "in a few seconds"),
    (timedelta(minutes=-3), "3 minutes ago"), (timedelta(minutes=52), "in 52 minutes"),
    (timedelta(minutes=-1), "1 minute ago"), (timedelta(hours=2), "in 2 hours"),
    (timedelta(hours=-30), "30 hours ago"), (timedelta(days=-5), "5 days ago"),
])
def test_relative_times(offset, words):
    assert relative(NOW + offset, NOW) == words


def test_a_moment_is_shown_in_the_persons_zone():
    shown = moment(NOW, zone_of("America/Los_Angeles"), NOW + timedelta(minutes=3))
    assert (shown.local, shown.relative, shown.iso) == ("Mon 7 Dec 2026, 07:00", "3 minutes ago",
                                                        "2026-12-07T15:00:00+00:00")
    assert local_time(NOW, zone_of("no/such zone")) == "Mon 7 Dec 2026, 15:00"


def test_meeting_words_say_cadence_weekday_time_and_zone():
    starts = [NOW + timedelta(weeks=n) for n in range(-2, 3)]
    assert meeting_words(starts, NOW, zone_of("Europe/Paris")) == "weekly, Mondays at 16:00 (Europe/Paris)"
    assert meeting_words([], NOW, zone_of("UTC")) is None


def _connection(state, **fields) -> Connection:
    values = dict(id=1, state=state, state_reason=None, linked_at=NOW, account_email="a@x.example",
                  scopes="openid profile offline_access User.Read Calendars.Read", last_sync_at=None,
                  last_sync_outcome=None, next_sync_at=NOW + timedelta(minutes=52),
                  admin_consent_requested_at=None)
    values.update(fields)
    return Connection(**values)


def test_nothing_linked_offers_only_link():
    s = status(None, NOW, zone_of("UTC"))
    assert (s.title, s.link_label, s.unlink_label, s.can_check, s.can_refresh) == \
        ("Not linked", "Link Outlook", None, False, False)


def test_a_healthy_connection_offers_no_reconnect_and_speaks_in_words():
    s = status(_connection(ConnectionState.linked), NOW, zone_of("UTC"))
    assert s.title == "Linked" and s.tone == "ok" and s.link_label is None
    assert s.can_refresh and s.can_check and s.unlink_label == "Unlink Outlook"
    assert [p.words for p in s.permissions][0] == "Read your calendar"
    assert s.permissions[0].scope == "Calendars.Read"
    assert s.next_sync.relative == "in 52 minutes" and s.ever_read is False


def test_waiting_for_approval_has_its_own_actions():
    s = status(_connection(ConnectionState.awaiting_approval, linked_at=None, account_email=None,
                           scopes=None, admin_consent_requested_at=NOW - timedelta(minutes=3)),
               NOW, zone_of("UTC"))
    assert s.title == "Waiting for your organization's approval" and s.shows_approval_link
    assert (s.link_label, s.unlink_label, s.can_check, s.can_refresh) == \
        ("Link Outlook", "Withdraw my request", False, False)
    assert s.waiting_since.relative == "3 minutes ago" and s.next_sync is None
    assert s.approval_reported is None


def test_an_approval_reported_since_the_request_is_shown_only_while_waiting():
    waiting = _connection(ConnectionState.awaiting_approval, linked_at=None, account_email=None,
                          scopes=None, admin_consent_requested_at=NOW - timedelta(hours=2))
    s = status(waiting, NOW, zone_of("UTC"), approval_reported_at=NOW - timedelta(minutes=5))
    assert s.approval_reported.relative == "5 minutes ago" and s.link_label == "Link Outlook"
    linked = status(_connection(ConnectionState.linked), NOW, zone_of("UTC"),
                    approval_reported_at=NOW - timedelta(minutes=5))
    assert linked.approval_reported is None


def test_a_refused_permission_asks_to_reconnect():
    s = status(_connection(ConnectionState.needs_reconnect, state_reason="Reconnect Outlook."), NOW,
               zone_of("UTC"))
    assert (s.link_label, s.can_refresh, s.tone) == ("Reconnect Outlook", False, "warn")


def test_the_report_is_told_what_happened_and_what_was_asked():
    happened, asked = wording.for_report("unlinked", "Dana Boss")
    assert happened.startswith("Dana Boss unlinked their Outlook calendar")
    assert asked == "Dana Boss has been asked to link Outlook again."
    assert wording.for_report("declined_by_report", "Dana")[0] == "You declined the meeting series in Outlook."
    assert "choose" in wording.for_report("something new", "Dana")[1]


def test_settings_changes_in_sentences():
    assert in_sentences({"sync_interval_minutes": {"old": 60, "new": 30}}) == "Sync interval set to 30 minutes."
    assert in_sentences({"sync_enabled": {"old": True, "new": False},
                         "retention_audit_days": {"old": 730, "new": 1}}) == \
        "Calendar sync turned off. Audit entries are now kept for 1 day."
    assert in_sentences({}) == "Nothing changed."


def test_directory_problems_come_in_line_order():
    data = ("email,name,manager_email,role\n"
            "a@x.example,A,nobody@x.example,employee\n"      # line 2: unknown manager (a chart problem)
            "b@x.example,B,,chief\n"                          # line 3: a bad role (a row problem)
            "a@x.example,C,,employee\n").encode()             # line 4: a duplicate address
    with pytest.raises(directory.DirectoryError) as refused:
        directory.parse_csv(data)
    lines = [int(p.split(":")[0].removeprefix("line ")) for p in refused.value.problems]
    assert lines == sorted(lines) and lines[0] == 2


def test_the_template_imports_cleanly():
    rows = directory.parse_csv(directory.template_csv().encode())
    assert [r.role.value for r in rows] == ["manager", "employee", "hr_admin"]
