"""The Graph client against the emulator over loopback: paging, the query it sends, and every
failure it must survive or name (throttling, 503/504, expiry mid-paging, permanent errors,
malformed pages, timeouts)."""
from __future__ import annotations

import math
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from listening.outlook import graph
from listening.outlook.events import SELECT
from tests.integration.sync_helpers import graph_proxy, scale_window

pytestmark = pytest.mark.usefixtures("reset_big")


@pytest.fixture
def reset_big(big_emulator):
    yield
    big_emulator.reset(tokens=True)


def _mailbox(emu) -> str:
    return emu.users()[0]["email"]


def _client(emu, email=None, scopes=("User.Read", "Calendars.Read", "offline_access"), **kw) -> graph.GraphClient:
    token = emu.mint_token(email or _mailbox(emu), scopes)["access_token"]
    return graph.GraphClient(emu.url + "/v1.0", token, **kw)


def _read_all(client, emu) -> list[dict]:
    return [e for page in client.calendar_view(*scale_window(emu)) for e in page]


def test_a_mailbox_is_read_in_ceil_events_over_1000_requests_with_the_exact_query(big_emulator):
    sent = []
    http = requests.Session()
    http.hooks["response"].append(lambda r, *a, **k: sent.append(r.request))
    with _client(big_emulator, http=http) as client:
        pages = [len(page) for page in client.calendar_view(*scale_window(big_emulator))]
    assert pages == [1000, 1000, 500]
    assert client.requests == len(sent) == math.ceil(2500 / 1000)
    first = urlsplit(sent[0].url)
    query = dict(parse_qsl(first.query))
    assert first.path == "/v1.0/me/calendarView"
    assert query["$select"].split(",") == list(SELECT) and query["$top"] == "1000"
    assert query["startDateTime"].endswith("Z") and query["endDateTime"].endswith("Z")
    for request in sent:
        assert request.headers["Prefer"] == 'IdType="ImmutableId", outlook.timezone="UTC"'
    assert "$skiptoken" in sent[1].url  # the nextLink, followed as given


def test_pages_carry_no_bodies_and_times_in_utc(big_emulator):
    with _client(big_emulator) as client:
        events = _read_all(client, big_emulator)
    assert len({e["id"] for e in events}) == 2500
    assert not any("body" in e or "bodyPreview" in e for e in events)
    assert {e["start"]["timeZone"] for e in events} == {"UTC"}


@pytest.mark.parametrize("retry_after, times", [(1, 2), (0.3, 3)])
def test_a_throttling_storm_is_waited_out_as_retry_after_says(big_emulator, retry_after, times):
    big_emulator.fault(type="throttle", retry_after=retry_after, times=times, endpoint="calendarView")
    started = time.monotonic()
    with _client(big_emulator) as client:
        events = _read_all(client, big_emulator)
    assert len(events) == 2500
    assert client.waited == pytest.approx(retry_after * times)
    assert time.monotonic() - started >= retry_after * times
    assert client.requests == 3 + times


def test_503_without_retry_after_backs_off_exponentially(big_emulator):
    big_emulator.fault(type="unavailable", status=503, times=2, endpoint="calendarView")
    with _client(big_emulator, rng=lambda: 0.0) as client:
        assert len(_read_all(client, big_emulator)) == 2500
    assert client.waited == pytest.approx(0.5 + 1.0)  # attempt 0, then 1; half of 1 s, 2 s


def test_504_with_retry_after_is_honoured(big_emulator):
    big_emulator.fault(type="unavailable", status=504, retry_after=0.2, every=2, times=2,
                       endpoint="calendarView")
    with _client(big_emulator) as client:
        assert len(_read_all(client, big_emulator)) == 2500
    assert client.waited == pytest.approx(0.4)


def test_throttling_beyond_the_wait_budget_is_a_transient_error(big_emulator):
    big_emulator.fault(type="throttle", retry_after=0.4, endpoint="calendarView")
    with _client(big_emulator, max_wait=1.0) as client, pytest.raises(graph.TransientGraphError) as caught:
        _read_all(client, big_emulator)
    assert caught.value.status == 429 and caught.value.code == "TooManyRequests"
    assert client.waited == pytest.approx(0.8)


def test_an_access_token_expiring_mid_paging_is_refreshed_once(big_emulator):
    email = _mailbox(big_emulator)
    refreshed = []

    def refresh():
        refreshed.append(1)
        return big_emulator.mint_token(email)["access_token"]

    with _client(big_emulator, refresh=refresh) as client:
        events = []
        for number, page in enumerate(client.calendar_view(*scale_window(big_emulator)), 1):
            events += page
            if number == 1:
                big_emulator.fault(type="expire_tokens", user=email)
    assert len({e["id"] for e in events}) == 2500 and len(refreshed) == 1
    assert client.requests == 4  # page 2 twice: 401, then with the new token


def test_a_401_after_refreshing_is_an_authentication_error(big_emulator):
    with _client(big_emulator, refresh=lambda: "not-a-token") as client:
        client._token = "expired-token"
        with pytest.raises(graph.GraphAuthError):
            _read_all(client, big_emulator)
    assert client.requests == 2


def test_a_mailbox_not_enabled_for_rest_is_permanent(big_emulator):
    big_emulator.fault(type="mailbox_not_enabled", mailbox=_mailbox(big_emulator))
    with _client(big_emulator) as client, pytest.raises(graph.PermanentGraphError) as caught:
        _read_all(client, big_emulator)
    assert caught.value.code == "MailboxNotEnabledForRESTAPI" and client.requests == 1


def test_access_denied_is_permanent(big_emulator):
    with _client(big_emulator, scopes=("User.Read",)) as client, \
            pytest.raises(graph.PermanentGraphError) as caught:
        _read_all(client, big_emulator)
    assert caught.value.code == "ErrorAccessDenied" and caught.value.status == 403


@pytest.mark.parametrize("mode, message", [
    ("html", r"page 2 of calendarView is not JSON \(text/html"),
    ("truncated", "page 2 of calendarView is not JSON"),
    ("no_value", "page 2 of calendarView has no 'value' list"),
    ("foreign_link", "page 2: @odata.nextLink points to another host"),
])
def test_a_malformed_page_stops_the_read_with_a_clear_error(big_emulator, mode, message):
    with graph_proxy(big_emulator.url, spoil_page=2, mode=mode) as proxy:
        token = big_emulator.mint_token(_mailbox(big_emulator))["access_token"]
        with graph.GraphClient(proxy.url + "/v1.0", token) as client:
            pages = client.calendar_view(*scale_window(big_emulator))
            assert len(next(pages)) == 1000
            with pytest.raises(graph.MalformedResponseError, match=message):
                next(pages)


def test_a_server_slower_than_the_timeout_is_retried_then_transient(big_emulator):
    big_emulator.fault(type="latency", ms=800, endpoint="calendarView")
    with _client(big_emulator, timeout=0.2, max_wait=1.0, rng=lambda: 0.0) as client, \
            pytest.raises(graph.TransientGraphError, match="network error"):
        _read_all(client, big_emulator)
    assert client.requests >= 2
