"""``flask sync`` (run syncs now, in this process; ``--retrim``: trim every stored copy again
after the stored fields changed) and ``flask graph-fetch`` (what Microsoft returns for a
mailbox, trimmed as the sync would keep it).

Bad input exits with status 2 and exactly one line on stderr; a sync or fetch
that fails for another reason exits with status 1.
"""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import click
import orjson
from flask.cli import with_appcontext

from listening import sync
from listening.cli import fail, services
from listening.core.models import Connection
from listening.outlook import graph
from listening.outlook.connection import FAILURES
from listening.outlook.events import trim
from listening.sync import retrim, store

DEFAULT_PAST, DEFAULT_FUTURE = timedelta(days=30), timedelta(days=120)


class OneLineErrors(click.Command):
    """Click's usage errors print a usage block; our rule is one line on stderr and status 2."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            fail(err.format_message().replace("\n", " "))


# --- flask sync --------------------------------------------------------------------------------
@click.command("sync", cls=OneLineErrors)
@click.option("--all", "everyone", is_flag=True, help="Every linked connection of every organization "
                                                      "that has sync turned on.")
@click.option("--connection", "connection_id", metavar="ID", help="One connection, by id.")
@click.option("--retrim", "retrim_all", is_flag=True,
              help="Trim every stored copy again with the current stored fields: rewrite every event of every "
                   "linked connection from Graph, then trim the copies no sync reads in place.")
@with_appcontext
def sync_command(everyone: bool, connection_id: str | None, retrim_all: bool):
    """Sync calendars now, in this process (the worker does it on schedule)."""
    if everyone + (connection_id is not None) + retrim_all != 1:
        fail("give exactly one of --all or --connection ID, or --retrim")
    if retrim_all:
        sys.exit(_retrim())
    if connection_id is not None:
        ids = [_existing_connection(connection_id)]
    else:
        ids = _linked_connection_ids()
    reports = []
    with click.progressbar(ids, label="Syncing", file=sys.stderr, show_pos=True) as bar:
        for cid in bar:
            reports.append(sync.run(services(), cid, trigger="cli"))
    for report in reports if connection_id is not None else []:
        click.echo(json.dumps(report.public()))
    click.echo(_summary(reports))
    if any(r.outcome in FAILURES for r in reports):
        sys.exit(1)


def _retrim() -> int:
    """The exit status: 1 when a sync failed or a copy would not decrypt (not all are re-trimmed)."""
    def bar(ids):
        with click.progressbar(ids, label="Rewriting", file=sys.stderr, show_pos=True) as shown:
            yield from shown

    report = retrim.run(services(), progress=bar)
    click.echo(_summary(report.syncs))
    click.echo(f"in place: {report.trimmed} stored copies trimmed, {report.already_trimmed} held nothing "
               f"to remove, {report.unreadable} would not decrypt")
    return 1 if report.unreadable or any(r.outcome in FAILURES for r in report.syncs) else 0


def _existing_connection(raw: str) -> int:
    if not raw.isdigit():
        fail(f"--connection must be a connection id (a whole number), got {raw!r}")
    with services().db.unit_of_work() as session:
        if session.get(Connection, int(raw)) is None:
            fail(f"no connection {raw}")
    return int(raw)


def _linked_connection_ids() -> list[int]:
    with services().db.unit_of_work() as session:
        return store.linked_connection_ids(session)


def _summary(reports: list[sync.SyncReport]) -> str:
    outcomes = Counter(r.outcome.value for r in reports)
    return (f"{len(reports)} connections: " + (", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
                                                 or "nothing to do")
            + f"; {sum(r.fetched for r in reports)} events read, "
              f"{sum(r.rows_written for r in reports)} rows written, "
              f"{sum(r.requests for r in reports)} Graph requests, "
              f"{sum(r.seconds for r in reports):.1f} s")


# --- flask graph-fetch -------------------------------------------------------------------------
@click.command("graph-fetch", cls=OneLineErrors)
@click.option("--token", required=True, help="A Graph access token for the mailbox (never logged).")
@click.option("--graph-url", required=True, help="Graph's base URL, e.g. https://graph.microsoft.com/v1.0")
@click.option("--start", help="Window start, ISO 8601 (default: 30 days ago).")
@click.option("--end", help="Window end, ISO 8601 (default: 120 days ahead).")
@with_appcontext
def graph_fetch_command(token: str, graph_url: str, start: str | None, end: str | None):
    """Print the trimmed events the sync would keep, one JSON object per line, then a summary line."""
    window = _window(start, end)
    parts = urlsplit(graph_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"--graph-url must be an http(s) URL, got {graph_url!r}")
    if not token.strip():
        fail("--token is empty")
    started, count = time.perf_counter(), 0
    out = sys.stdout.buffer  # orjson writes UTF-8 bytes: ~15x the stdlib encoder per event
    with graph.GraphClient(graph_url, token.strip(), timeout=services().settings.http_timeout) as client:
        try:
            for page in client.calendar_view(*window):
                out.write(b"".join(orjson.dumps(trim(e)) + b"\n" for e in page))
                count += len(page)
        except (graph.GraphAuthError, graph.GraphRequestError, graph.PermanentGraphError) as err:
            fail(str(err))
        except graph.GraphError as err:
            fail(str(err), status=1)
    out.flush()
    click.echo(json.dumps({"summary": True, "requests": client.requests, "events": count,
                           "seconds": round(time.perf_counter() - started, 3)}))


def _window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    begin = _instant("--start", start) if start else now - DEFAULT_PAST
    finish = _instant("--end", end) if end else now + DEFAULT_FUTURE
    if finish <= begin:
        fail("--end must be later than --start")
    return begin, finish


def _instant(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"{name} must be an ISO 8601 date or date-time, got {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def init_app(app) -> None:
    app.cli.add_command(sync_command)
    app.cli.add_command(graph_fetch_command)
