"""The daily retention purge (queue "maintenance", scheduled in jobs/cron.py).

Idempotent: a second run the same day removes nothing more. Returns (and logs)
how much it removed; never a row's content.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobs import audit as audit_jobs
from jobs import runtime
from listening.admin import retention

log = logging.getLogger(__name__)


def purge_expired() -> dict:
    """Apply every organization's retention, then verify each (shortened) chain, so the
    audit page always shows a verdict at most a day old, and sign a checkpoint of each."""
    with runtime.job_scope() as services:
        summary = retention.run(services, datetime.now(UTC))
    reports = summary.organizations
    for report in reports:
        audit_jobs.verify_chain(report.org_id)
        audit_jobs.checkpoint_chain(report.org_id)
    for report in reports:
        if report.calendar_items or report.audit_entries:
            log.info("retention: organization %s, %s calendar items and %s audit entries removed",
                     report.org_id, report.calendar_items, report.audit_entries)
    return {"organizations": len(reports),
            "calendar_items": sum(r.calendar_items for r in reports),
            "audit_entries": sum(r.audit_entries for r in reports),
            "sign_in_refusal_buckets": summary.sign_in_refusal_buckets}
