"""Fixtures: one emulator per test session over loopback, reset after every test."""
from __future__ import annotations

import os
from datetime import date

import pytest
import requests
from emu_helpers import Browser
from receiver import Receiver

from emulator.testing import running_emulator

ANCHOR = date(2026, 3, 2)


def world_kwargs() -> dict:
    """EMULATOR_TEST_WORLD=module:function swaps the seed builder (local debugging only)."""
    spec = os.environ.get("EMULATOR_TEST_WORLD")
    if not spec:
        return {}
    module, _, name = spec.partition(":")
    return {"world_factory": getattr(__import__(module), name)}


@pytest.fixture(scope="session")
def emulator():
    with running_emulator(seed="demo", anchor=ANCHOR, **world_kwargs()) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _clean(request):
    yield
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").reset()


@pytest.fixture
def fresh_world(emulator):
    """For tests that edit calendars: rebuild the seed afterwards."""
    yield
    emulator.reset(world=True)


@pytest.fixture(scope="session")
def people(emulator) -> list[dict]:
    return emulator.users()


@pytest.fixture(scope="session")
def tenants(emulator) -> list[dict]:
    return emulator.http.get(emulator.url + "/_emulator/tenants").json()


@pytest.fixture(scope="session")
def manager(people, tenants) -> dict:
    """A manager with direct reports, in a tenant that does not require admin consent."""
    easy = {t["id"] for t in tenants if not t["requiresAdminConsent"]}
    return next(p for p in people if p["directReports"] and p["tenant"] in easy)


@pytest.fixture(scope="session")
def guarded_tenant(tenants) -> dict:
    return next(t for t in tenants if t["requiresAdminConsent"])


@pytest.fixture
def graph(emulator):
    """graph(token, path, **params) -> requests.Response, path relative to /v1.0."""
    def call(token: str, path: str, headers: dict | None = None, **params):
        url = path if path.startswith("http") else emulator.url + "/v1.0" + path
        return requests.get(url, params=params or None, timeout=30,
                            headers={"Authorization": f"Bearer {token}", **(headers or {})})
    return call


@pytest.fixture
def browser(emulator):
    return Browser(emulator)


@pytest.fixture(scope="session")
def notify_emulator():
    """A second emulator with short webhook timeouts (1 s instead of Microsoft's 10 s and 3 s),
    so the tests of slow endpoints stay quick."""
    with running_emulator(seed="demo", anchor=ANCHOR, validation_timeout=1.0,
                          delivery_timeout=1.0, **world_kwargs()) as emu:
        yield emu


@pytest.fixture
def emu(notify_emulator):
    """notify_emulator, rebuilt after the test (which forgets subscriptions and deliveries)."""
    yield notify_emulator
    notify_emulator.reset(world=True)


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()
