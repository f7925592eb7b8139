"""The Graph client's pure parts: Retry-After, backoff, error envelopes, window bounds."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from listening.outlook import graph


@pytest.mark.parametrize("header, seconds", [
    ("2", 2.0), ("2.128", 2.128), ("0.25", 0.25), ("0", 0.0), (" 7 ", 7.0), ("-3", 0.0),
    ("", None), (None, None), ("soon", None), ("nan", None),
])
def test_retry_after_reads_integer_and_fractional_seconds(header, seconds):
    assert graph.retry_after_seconds(header) == seconds


def test_retry_after_reads_an_http_date():
    now = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
    assert graph.retry_after_seconds("Mon, 02 Mar 2026 09:00:30 GMT", now) == 30.0
    assert graph.retry_after_seconds("Mon, 02 Mar 2026 08:00:00 GMT", now) == 0.0


@pytest.mark.parametrize("attempt, low, high", [(0, 0.5, 1.0), (1, 1.0, 2.0), (3, 4.0, 8.0), (10, 15.0, 30.0)])
def test_backoff_grows_exponentially_with_jitter_and_a_cap(attempt, low, high):
    assert graph.backoff_seconds(attempt, rng=lambda: 0.0) == low
    assert graph.backoff_seconds(attempt, rng=lambda: 0.999999) == pytest.approx(high, rel=1e-5)


def _response(status: int, body: bytes, content_type="application/json") -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    response.headers["Content-Type"] = content_type
    response.headers["request-id"] = "rid-1"
    return response


@pytest.mark.parametrize("status, code, kind", [
    (404, "MailboxNotEnabledForRESTAPI", graph.PermanentGraphError),
    (400, "MailboxNotEnabledForRESTAPI", graph.PermanentGraphError),
    (403, "ErrorAccessDenied", graph.PermanentGraphError),
    (403, "Authorization_RequestDenied", graph.PermanentGraphError),
    (401, "InvalidAuthenticationToken", graph.GraphAuthError),
    (400, "ErrorInvalidParameter", graph.GraphRequestError),
    (404, "ErrorItemNotFound", graph.GraphNotFound),  # a GraphRequestError
])
def test_error_envelopes_map_to_our_exception_types(status, code, kind):
    body = b'{"error":{"code":"%s","message":"m","innerError":{"request-id":"r"}}}' % code.encode()
    error = graph._error_for(_response(status, body))
    assert type(error) is kind
    assert error.status == status and error.code == code and error.request_id == "rid-1"


def test_permanent_errors_explain_themselves_in_plain_words():
    mailbox = graph._error_for(_response(404, b'{"error":{"code":"MailboxNotEnabledForRESTAPI"}}'))
    denied = graph._error_for(_response(403, b'{"error":{"code":"ErrorAccessDenied"}}'))
    assert "licence" in mailbox.reason and "Reconnect" in denied.reason


def test_an_error_without_a_json_envelope_is_still_classified():
    error = graph._error_for(_response(400, b"<html>bad</html>", "text/html"))
    assert type(error) is graph.GraphRequestError and error.code is None


@pytest.mark.parametrize("body, message", [
    (b"<html>gateway</html>", "is not JSON"),
    (b'{"values": []}', "has no 'value' list"),
    (b'{"value": {}}', "has no 'value' list"),
    (b'[1, 2]', "has no 'value' list"),
    (b'{"value": [], "@odata.nextLink": 3}', "nextLink is not a string"),
])
def test_malformed_pages_are_refused_with_a_clear_message(body, message):
    with pytest.raises(graph.MalformedResponseError, match=message):
        graph._page(_response(200, body, "text/html"), 2)


def test_window_bounds_are_sent_in_utc_and_must_be_aware():
    assert graph._iso(datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=1)))) == "2026-03-02T09:00:00Z"
    with pytest.raises(ValueError):
        graph._iso(datetime(2026, 3, 2))


def test_next_links_to_another_host_are_not_followed():
    client = graph.GraphClient("https://graph.microsoft.com/v1.0", "t")
    client._check_next_link("https://graph.microsoft.com/v1.0/me/calendarView?$skip=1000", 1)
    with pytest.raises(graph.MalformedResponseError, match="another host"):
        client._check_next_link("https://evil.example/v1.0/me/calendarView?$skip=1000", 1)
