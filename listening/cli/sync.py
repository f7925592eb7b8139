"""``flask sync``: run syncs now, in this process; ``--retrim``: trim every stored copy again
after the stored fields changed.

Bad input exits with status 2 and exactly one line on stderr; a sync that fails for
another reason exits with status 1.
"""
from __future__ import annotations

import json
import sys
from collections import Counter

import click
from flask.cli import with_appcontext

from listening import sync
from listening.cli import OneLineErrors, fail, services
from listening.core.models import Connection
from listening.outlook.connection import FAILURES
from listening.sync import retrim, store


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
