"""RQ entry point for the daily retention purge (registered in the rq cron configuration).

Idempotent: running it twice in a day removes nothing the second time. Returns
(and logs) what it removed; never a row's content.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

log = logging.getLogger(__name__)


def purge_expired(app=None) -> dict:
    """Apply every organization's retention; ``app`` is for tests (the worker builds its own)."""
    from listening import create_app, db, retention

    app = app or create_app()
    reports = retention.run(db.sessionmaker_for(app), datetime.now(UTC))
    totals = {"organizations": len(reports),
              "calendar_items": sum(r.calendar_items for r in reports),
              "audit_entries": sum(r.audit_entries for r in reports)}
    for report in reports:
        if report.calendar_items or report.audit_entries:
            log.info("retention org=%s calendar_items=%s audit_entries=%s",
                     report.org_id, report.calendar_items, report.audit_entries)
    log.info("retention done %s", totals)
    return totals
