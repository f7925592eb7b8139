"""Fixtures the integration tests share beyond the suite's own (tests/conftest.py)."""
from __future__ import annotations

import pytest

from tests.support.apps import clean, make_app


@pytest.fixture(scope="module")
def big_emulator():
    """Two mailboxes of 2,500 events each: three pages of calendarView at $top=1000."""
    from emulator.testing import running_emulator

    with running_emulator(seed="scale", people=2, events=2500) as emu:
        yield emu


@pytest.fixture
def big_app(database_url, redis_url, key_prefix, big_emulator, tmp_path):
    """The app on the big emulator, with a 2-second Graph wait budget and 1-second RQ retries."""
    app = make_app(database_url, redis_url, key_prefix, big_emulator.url, tmp_path,
                   graph_max_wait=2.0, sync_retry=(2, (1,)))
    yield app
    clean(app, key_prefix)
    big_emulator.reset(world=True, tokens=True)


@pytest.fixture
def receiver():
    """A Standard Webhooks receiver on loopback (tests/support/webhook_receiver.py)."""
    from tests.support.webhook_receiver import Receiver

    r = Receiver()
    yield r
    r.close()
