"""flask sync and flask graph-fetch: output, summaries, and bad input (exit 2, one line on stderr)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from listening.core.models import Organization
from tests.integration import sync_helpers as h
from tests.support import factories as f
from tests.support.apps import services_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def flask(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_sync_one_connection_prints_its_report_and_a_summary(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    result = flask(app, "sync", "--connection", str(connection.id))
    assert result.exit_code == 0, result.stderr
    report_line, summary = result.stdout.strip().splitlines()
    report = json.loads(report_line)
    assert report["outcome"] == "ok" and report["inserted"] == h.count(session, connection.id) > 0
    assert summary.startswith("1 connections: 1 ok;") and "1 Graph requests" in summary


def test_sync_all_syncs_every_linked_connection(app, session, emu):
    first = f.linked(services_of(app), session, emu, f.manager_emails(emu)[0])
    second = f.linked(services_of(app), session, emu, f.manager_emails(emu)[1], org=session.get(Organization, first.org_id))
    result = flask(app, "sync", "--all")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().startswith("2 connections: 2 ok;")
    assert h.count(session, first.id) > 0 and h.count(session, second.id) > 0


def test_a_failed_sync_exits_1(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    emu.fault(type="mailbox_not_enabled", mailbox=connection.account_email)
    result = flask(app, "sync", "--connection", str(connection.id))
    assert result.exit_code == 1 and "1 error" in result.stdout


@pytest.mark.parametrize("args, message", [
    ((), "exactly one of --all or --connection"),
    (("--all", "--connection", "1"), "exactly one of --all or --connection"),
    (("--connection", "abc"), "must be a connection id"),
    (("--connection", "424242"), "no connection 424242"),
    (("--bogus",), "No such option"),
])
def test_sync_bad_input_exits_2_with_one_line(app, args, message):
    assert message in one_error_line(flask(app, "sync", *args))


def test_graph_fetch_prints_trimmed_events_then_a_summary(app, emu):
    email = f.manager_emails(emu)[0]
    token = emu.mint_token(email)["access_token"]
    result = flask(app, "graph-fetch", "--token", token, "--graph-url", emu.url + "/v1.0",
                   "--start", "2020-01-01", "--end", "2030-01-01T00:00:00Z")
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    events, summary = lines[:-1], lines[-1]
    assert summary["summary"] is True and summary["events"] == len(events) > 20
    assert summary["requests"] == 1 and summary["seconds"] >= 0
    assert all("body" not in e and "bodyPreview" not in e and "id" in e for e in events)
    assert token not in result.stdout + result.stderr


@pytest.mark.parametrize("args, message", [
    (("--graph-url", "http://x/v1.0"), "Missing option '--token'"),
    (("--token", "t", "--graph-url", "ftp://x"), "must be an http(s) URL"),
    (("--token", "t", "--graph-url", "http://x/v1.0", "--start", "yesterday"), "--start must be an ISO 8601"),
    (("--token", "t", "--graph-url", "http://x/v1.0", "--start", "2026-03-02", "--end", "2026-03-01"),
     "--end must be later"),
    (("--token", " ", "--graph-url", "http://x/v1.0"), "--token is empty"),
])
def test_graph_fetch_bad_input_exits_2_with_one_line(app, args, message):
    assert message in one_error_line(flask(app, "graph-fetch", *args))


def test_graph_fetch_with_a_token_graph_refuses_exits_2(app, emu):
    line = one_error_line(flask(app, "graph-fetch", "--token", "not-a-token", "--graph-url", emu.url + "/v1.0"))
    assert "401 InvalidAuthenticationToken" in line


def test_graph_fetch_runs_as_a_command(database_url, redis_url, emu, tmp_path):
    token = emu.mint_token(f.manager_emails(emu)[0])["access_token"]
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, LISTENING_INSTANCE=str(tmp_path),
               LISTENING_KEYS="k1:" + "A" * 43 + "=")
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "flask", "--app", "wsgi", "graph-fetch",
                          "--token", token, "--graph-url", emu.url + "/v1.0"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["events"] == len(out.stdout.splitlines()) - 1 and summary["requests"] == 1
    # Found as a plugin command (pyproject.toml, installed by requirements.txt): the app is never
    # built, so neither the web layer nor the database layer is imported, and nothing is written.
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "import time:" in line}
    assert "listening.outlook.graph" in imported  # what the command needs (the list is complete enough)
    assert not {"sqlalchemy", "listening.web", "listening.core.models", "redis"} & imported
    assert not any(tmp_path.iterdir())
