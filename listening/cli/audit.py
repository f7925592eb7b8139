"""``flask audit verify``, ``flask audit checkpoint``, ``flask audit refused-sign-ins`` and
``flask retention run``.

``audit verify`` exits 1 when a chain is broken (a finding, not bad input), and
2 with one line on stderr for bad input, like every command of ours.
"""
from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from listening import audit
from listening.admin import retention
from listening.audit import checkpoint, refusals
from listening.cli import fail, organization, services
from listening.core import store
from listening.core.models import Organization

audit_cli = AppGroup("audit", help="The tamper-evident audit log.")
retention_cli = AppGroup("retention", help="Removal of data older than the organizations' retention.")


def _describe(org: Organization, verdict: audit.Verdict) -> str:
    who = f"{org.name} ({org.tenant_id})"
    if verdict.whole:
        start = f", starting at #{verdict.first_seq} after retention" if (verdict.first_seq or 1) > 1 else ""
        return f"{who}: chain whole, {verdict.checked} entries checked{start}"
    return (f"{who}: chain BROKEN at entry #{verdict.broken_at_seq}: {verdict.problem} "
            f"({verdict.checked} entries before it are intact)")


def _checkpoint(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as err:
        fail(f"{path}: {err.strerror}")
    try:
        return checkpoint.parse(services().keys, raw)
    except checkpoint.CheckpointError as err:
        fail(f"{path}: {err}")


@audit_cli.command("verify")
@click.option("--org", "tenant_id", help="Only this organization's chain (Microsoft tenant id).")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A checkpoint file (or receipt): also report entries missing after it.")
def verify(tenant_id: str | None, checkpoint_file: Path | None):
    """Say whether each organization's audit chain is whole and where it breaks."""
    doc = _checkpoint(checkpoint_file) if checkpoint_file else None
    with services().db.unit_of_work() as sess:
        if doc is not None:
            org = sess.get(Organization, doc["org_id"])
            if org is None:
                fail(f"{checkpoint_file}: no organization {doc['org_id']} (the checkpoint's)")
            orgs = [org]
        elif tenant_id:
            org = store.organization_by_tenant(sess, tenant_id)
            if org is None:
                fail(f"no organization for tenant {tenant_id}")
            orgs = [org]
        else:
            orgs = list(sess.scalars(select(Organization).order_by(Organization.id)))
        verdicts = [(org, audit.verify(sess, org.id)) for org in orgs]
        compared = checkpoint.compare(sess, doc["org_id"], doc) if doc is not None else None
    for org, verdict in verdicts:
        click.echo(_describe(org, verdict))
    if not verdicts:
        click.echo("no organizations")
    if compared is not None:
        click.echo(f"checkpoint of entry #{compared.seq} ({compared.at}): " +
                   (f"NOT MET: {compared.problem}" if compared.problem else "the chain still holds it"))
    if any(not v.whole for _, v in verdicts) or (compared is not None and compared.problem):
        sys.exit(1)


@audit_cli.command("checkpoint")
@click.option("--org", "tenant_id", help="Only this organization (its tenant id); default: every one.")
def checkpoint_now(tenant_id: str | None):
    """Sign a checkpoint of each chain now, as the daily job does, and print the files written."""
    svc = services()
    with svc.db.unit_of_work() as sess:
        orgs = [organization(sess, tenant_id)] if tenant_id else \
            list(sess.scalars(select(Organization).order_by(Organization.id)))
        signed = [(org.tenant_id, checkpoint.take(sess, org.id, org.tenant_id, datetime.now(UTC))) for org in orgs]
    # Written after the commit, so that a file names only entries that exist. One that cannot be
    # written stops none of the others; each is named, and the command then exits 1.
    unwritten = 0
    for tenant, doc in signed:
        if doc is None:
            click.echo(f"{tenant}: no entries yet, no checkpoint")
            continue
        try:
            path = checkpoint.write(svc.settings.checkpoint_dir, doc)
        except OSError as err:
            unwritten += 1
            click.echo(f"error: {tenant}: the checkpoint of entry #{doc['seq']} is in the log (the HR admins' "
                       f"receipt) but no file was written: {err.filename or svc.settings.checkpoint_dir}: "
                       f"{err.strerror}", err=True)
            continue
        click.echo(f"{tenant}: entry #{doc['seq']} -> {path}")
    if unwritten:
        sys.exit(1)


@retention_cli.command("run")
def run():
    """Apply every organization's retention now (the daily job's purge; the job then also verifies
    each chain and signs a checkpoint: 'flask audit checkpoint')."""
    summary = retention.run(services(), datetime.now(UTC))
    for report in summary.organizations:
        click.echo(f"organization {report.org_id}: removed {report.calendar_items} calendar items "
                   f"and {report.audit_entries} audit entries")
    click.echo(f"refused sign-ins: removed {summary.sign_in_refusal_buckets} hourly counts older than "
               f"{refusals.KEEP.days} days")


@audit_cli.command("refused-sign-ins")
@click.option("--days", type=int, default=7, show_default=True, help="How far back to look.")
def refused_sign_ins(days: int):
    """Refused sign-ins we cannot tie to an organization, per hour, reason and source."""
    if not 1 <= days <= refusals.KEEP.days:
        fail(f"--days must be from 1 to {refusals.KEEP.days} (older counts are purged)")
    since = datetime.now(UTC) - timedelta(days=days)
    with services().db.unit_of_work() as sess:
        rows, total = refusals.latest(sess, since), refusals.count(sess, since)
        lines = [f"{r.hour:%Y-%m-%d %H:00}Z  {r.count:>6}  {r.reason:<16} {str(r.ip or 'many'):<22} "
                 f"{r.last_detail or ''}{f'  tenant {r.last_tenant_id}' if r.last_tenant_id else ''}"
                 for r in rows]
    if not lines:
        click.echo(f"no refused sign-ins in the last {days} days")
        return
    click.echo("\n".join(lines))
    if total > len(lines):
        click.echo(f"(the newest {len(lines)} of {total} hourly counts)")
