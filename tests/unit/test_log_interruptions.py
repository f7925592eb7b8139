"""A signal that lands while a line is being logged: the exception its handler raises must reach
the code it interrupts (RQ's worker stops on SIGTERM by raising StopRequested), not be reported
as a logging error and swallowed."""
from __future__ import annotations

import io
import logging
import signal
import time

import pytest

from listening.core.logs import PassingHandler


class Interrupted(Exception):
    """Stands for rq.exceptions.StopRequested."""


class SlowFormatter(logging.Formatter):
    def format(self, record):
        time.sleep(0.5)  # the signal arrives in here, as it did inside our masking formatter
        return super().format(record)


def _logger(handler) -> logging.Logger:
    handler.setFormatter(SlowFormatter())
    handler.stream = io.StringIO()
    log = logging.getLogger(f"test-interruptions-{id(handler)}")
    log.propagate, log.handlers = False, [handler]
    return log


def _raise_on_alarm(signum, frame):
    raise Interrupted()


@pytest.fixture
def alarm():
    before = signal.signal(signal.SIGALRM, _raise_on_alarm)
    yield lambda: signal.setitimer(signal.ITIMER_REAL, 0.1)
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, before)


def test_an_interruption_during_a_log_line_reaches_the_caller(alarm):
    log = _logger(PassingHandler(interruptions=(Interrupted,)))
    alarm()
    with pytest.raises(Interrupted):
        log.warning("a job was dequeued")


def test_a_plain_handler_would_have_swallowed_it(alarm, capsys):
    log = _logger(logging.StreamHandler())
    alarm()
    log.warning("a job was dequeued")  # returns: the stop request is lost
    assert "Interrupted" in capsys.readouterr().err  # reported as "--- Logging error ---"


def test_failures_of_the_logging_itself_are_still_reported_and_swallowed(capsys):
    log = _logger(PassingHandler(interruptions=(Interrupted,)))
    log.warning("%d events", "not a number")
    assert "Logging error" in capsys.readouterr().err
