"""Audit log filters from query parameters: what is accepted and what is refused with a message."""
from datetime import date

import pytest

from listening.audit import Action
from listening.audit import log as audit_log


def test_empty_parameters_mean_no_filter():
    assert audit_log.parse_filters({"actor": "", "action": " ", "since": ""}) == audit_log.Filters()


def test_every_filter_is_read():
    filters = audit_log.parse_filters({"actor": "12", "subject": "7", "action": Action.link.value,
                                       "since": "2026-01-01", "until": "2026-01-31", "before": "900"})
    assert filters == audit_log.Filters(actor=12, subject=7, action="connection:link",
                                        since=date(2026, 1, 1), until=date(2026, 1, 31), before=900)


def test_system_actor():
    filters = audit_log.parse_filters({"actor": "system"})
    assert filters.system_actor and filters.actor is None
    assert filters.query_args() == {"actor": "system"}


@pytest.mark.parametrize("args, message", [
    ({"since": "yesterday"}, "since must be a date written YYYY-MM-DD."),
    ({"until": "2026-02-30"}, "until must be a date written YYYY-MM-DD."),
    ({"since": "2026-03-01", "until": "2026-02-01"}, "since must not be after until."),
    ({"action": "connection:delete_everything"}, "action is not a known action."),
    ({"action": "DROP TABLE"}, "action is not a known action."),
    ({"actor": "alice@example.com"}, "actor must be a person id or 'system'."),
    ({"actor": "-1"}, "actor must be a person id or 'system'."),
    ({"subject": "x"}, "subject must be a person id (a whole number)."),
    ({"subject": "0"}, "subject must be a positive id."),
    ({"before": "abc"}, "before is not a page."),
])
def test_bad_filters_are_refused_with_a_message(args, message):
    with pytest.raises(audit_log.FilterError) as caught:
        audit_log.parse_filters(args)
    assert message in str(caught.value)


def test_query_args_round_trip():
    args = {"actor": "3", "action": Action.sync.value, "since": "2026-01-01", "before": "10"}
    filters = audit_log.parse_filters(args)
    assert audit_log.parse_filters({k: str(v) for k, v in filters.query_args().items()}) == filters
    assert "before" not in filters.query_args(before=None)


def test_unknown_zone_falls_back_to_utc():
    assert audit_log.zone("Mars/Olympus").key == "UTC"
    assert audit_log.zone("Asia/Tokyo").key == "Asia/Tokyo"


@pytest.mark.parametrize("args", [{"until": "9999-12-31"}, {"since": "0001-01-01"}, {"subject": "2147483648"},
                                  {"actor": "9999999999"}, {"before": "9223372036854775808"}])
def test_values_beyond_what_the_log_can_hold_are_refused(args):
    with pytest.raises(audit_log.FilterError):
        audit_log.parse_filters(args)
