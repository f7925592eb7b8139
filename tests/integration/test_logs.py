"""Logs keep no secrets: no bound parameters or row values in SQL errors, tracebacks masked, and
no OAuth callback query string or approval-link token in the access log."""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import exc

from listening.core import logs
from listening.core.models import Person
from tests.support import factories as f

ROOT = Path(__file__).resolve().parents[2]


def _formatted(record) -> str:
    """The line our log handler writes for ``record``."""
    handler = next(h for h in logging.getLogger().handlers
                   if any(isinstance(x, logs.ContextFilter) for x in h.filters))
    handler.filter(record)
    return handler.format(record)


def test_a_failed_statement_shows_neither_its_parameters_nor_the_row(app, session):
    org = f.org(session)
    f.person(session, org, email="secret.person@example.com", name="Secret Name")
    session.commit()
    session.add(Person(org_id=org.id, email="secret.person@example.com", display_name="Secret Name"))
    with pytest.raises(exc.IntegrityError) as raised:
        session.flush()
    session.rollback()
    assert "SQL parameters hidden" in str(raised.value)  # hide_parameters: no [parameters: ...]
    try:
        raise raised.value
    except exc.IntegrityError:
        record = logging.LogRecord("listening", logging.ERROR, __file__, 1, "import failed: %s",
                                   (raised.value.orig,), sys.exc_info())
    line = _formatted(record)
    assert "people_org_email_key" in line  # what failed stays readable
    assert "secret.person@example.com" not in line and "Secret Name" not in line


def test_a_traceback_passes_the_masking(app):
    try:
        raise RuntimeError("refresh failed for refresh_token=0.AXYZsecretsecretsecret")
    except RuntimeError:
        record = logging.LogRecord("listening", logging.ERROR, __file__, 1, "sync %s failed", (7,), sys.exc_info())
    line = _formatted(record)
    assert "sync 7 failed" in line and "Traceback" in line
    assert "secretsecret" not in line and "refresh_token=[redacted]" in line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_access_log_holds_no_callback_query_nor_approval_token(tmp_path):
    """The web process's own settings (Procfile, demo): gunicorn with listening.web.gunicorn_conf."""
    port, log = _free_port(), tmp_path / "access.log"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen([str(gunicorn), "-c", "python:listening.web.gunicorn_conf", "--bind",
                             f"127.0.0.1:{port}", "--access-logfile", str(log), "tests.support.echo_wsgi:app"],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline and proc.poll() is None, "gunicorn did not start"
                time.sleep(0.1)
        secrets = {"/auth/callback?code=CODE-SECRET-1&state=STATE-SECRET-1": "/auth/callback?[redacted]",
                   "/outlook/callback?code=CODE-SECRET-2&state=STATE-SECRET-2": "/outlook/callback?[redacted]",
                   "/outlook/adminconsent/callback?admin_consent=True&state=STATE-SECRET-3&tenant=t":
                       "/outlook/adminconsent/callback?[redacted]",
                   "/outlook/approve/TOKEN-SECRET-4.abc.def": "/outlook/approve/[redacted]"}
        for target in secrets:
            requests.get(base + target, timeout=5)
        requests.get(base + "/one-on-ones?from=link", timeout=5,
                     headers={"Referer": base + "/outlook/callback?code=CODE-SECRET-5"})
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    text = log.read_text()
    assert "SECRET" not in text, text
    for shown in secrets.values():
        assert shown in text
    assert "/one-on-ones?from=link" in text  # other queries are logged as they are
