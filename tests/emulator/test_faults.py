"""Fault injection over loopback: throttling, 503/504, latency, concurrency, mailbox, tokens."""
from __future__ import annotations

import threading
import time

import pytest
import requests
from emu_helpers import WINDOW


@pytest.fixture
def token(emulator, manager):
    return emulator.mint_token(manager["email"])["access_token"]


def statuses(graph, token, n, path="/me"):
    return [graph(token, path) for _ in range(n)]


def test_throttle_every_third_request_with_integer_retry_after(emulator, graph, token):
    emulator.fault(type="throttle", every=3, retry_after=2)
    got = statuses(graph, token, 6)
    assert [r.status_code for r in got] == [200, 200, 429, 200, 200, 429]
    throttled = got[2]
    assert throttled.headers["Retry-After"] == "2"
    error = throttled.json()["error"]
    assert error["code"] == "TooManyRequests" and error["message"] == "Please retry again later."
    assert error["innerError"]["status"] == "429" and error["innerError"]["request-id"]


def test_fractional_retry_after_and_times_limit(emulator, graph, token):
    emulator.fault(type="throttle", retry_after=2.128, times=2)
    got = statuses(graph, token, 3)
    assert [r.status_code for r in got] == [429, 429, 200]
    assert float(got[0].headers["Retry-After"]) == pytest.approx(2.128)


def test_throttle_a_share_of_requests(emulator, graph, token):
    emulator.fault(type="throttle", share=0.5, retry_after=1)
    codes = [r.status_code for r in statuses(graph, token, 40)]
    assert 5 < codes.count(429) < 35 and codes.count(200) + codes.count(429) == 40


def test_throttle_only_one_mailbox_and_endpoint(emulator, graph, manager, people):
    other = next(p for p in people if p["email"] != manager["email"])
    mine = emulator.mint_token(manager["email"])["access_token"]
    theirs = emulator.mint_token(other["email"])["access_token"]
    emulator.fault(type="throttle", mailbox=manager["email"], endpoint="calendarView")
    assert graph(mine, "/me/calendarView", **WINDOW).status_code == 429
    assert graph(mine, "/me").status_code == 200
    assert graph(theirs, "/me/calendarView", **WINDOW).status_code == 200


@pytest.mark.parametrize("status,retry_after", [(503, 5), (503, None), (504, None), (504, 1.5)])
def test_unavailable_and_gateway_timeout(emulator, graph, token, status, retry_after):
    emulator.fault(type="unavailable", status=status, retry_after=retry_after, times=1)
    first, second = statuses(graph, token, 2)
    assert first.status_code == status and second.status_code == 200
    assert first.headers.get("Retry-After") == (None if retry_after is None else str(retry_after))
    assert first.json()["error"]["code"]


def test_added_latency(emulator, graph, token):
    emulator.fault(type="latency", ms=300)
    began = time.perf_counter()
    assert graph(token, "/me").status_code == 200
    assert time.perf_counter() - began >= 0.3


def test_fifth_concurrent_request_on_a_mailbox_is_throttled(emulator, graph, token):
    emulator.fault(type="latency", ms=400)
    results = []

    def call():
        results.append(graph(token, "/me"))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 200, 200, 200, 429]
    refused = next(r for r in results if r.status_code == 429).json()["error"]
    assert refused["code"] == "ApplicationThrottled"
    assert refused["innerError"]["code"] == "MailboxConcurrency"
    assert emulator.stats()["peak_concurrency"]


def test_concurrency_limit_can_be_lifted(emulator, graph, token):
    emulator.fault(type="concurrency", limit=None)
    emulator.fault(type="latency", ms=200)
    results = []
    threads = [threading.Thread(target=lambda: results.append(graph(token, "/me")))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200] * 6


def test_mailbox_not_enabled_for_rest(emulator, graph, manager, token):
    emulator.fault(type="mailbox_not_enabled", mailbox=manager["email"])
    r = graph(token, "/me/calendarView", **WINDOW)
    assert r.status_code == 404 and r.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    assert graph(token, "/me").status_code == 200  # the directory still answers


def test_expire_access_tokens_now(emulator, graph, manager, token):
    emulator.fault(type="expire_tokens", user=manager["email"])
    r = graph(token, "/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_clear_faults(emulator, graph, token):
    emulator.fault(type="throttle")
    assert graph(token, "/me").status_code == 429
    emulator.clear_faults()
    assert graph(token, "/me").status_code == 200
    emulator.fault(type="throttle")
    emulator.fault(type="clear")
    assert graph(token, "/me").status_code == 200


def test_bad_fault_bodies_are_400(emulator):
    for body in ({"type": "nope"}, {"type": "unavailable", "status": 500},
                 {"type": "throttle", "every": 0}, {"type": "revoke_grant", "user": "x@y.z"}):
        r = requests.post(emulator.url + "/_emulator/faults", json=body, timeout=10)
        assert r.status_code == 400 and r.json()["error"]
