"""Verification of one organization's audit chain (queue "maintenance"), for chains too long
to verify while an HR admin waits (listening/audit/log.py). The verdict is recorded as an
``audit:verified`` entry, which the audit log page shows.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobs import runtime
from listening import audit
from listening.audit import Action, checkpoint
from listening.audit import log as audit_log
from listening.core.models import Organization

log = logging.getLogger(__name__)


def verify_chain(org_id: int, requested_by: int | None = None) -> dict:
    """Verify and record the verdict in one unit of work; returns the verdict's details."""
    with runtime.job_scope() as services, services.db.unit_of_work() as session:
        verdict = audit.verify(session, org_id)
        details = audit_log.verdict_details(verdict)
        audit.record(session, Action.audit_verified, requested_by, None, details, org_id=org_id)
    if not verdict.whole:
        log.warning("audit chain of organization %s is broken at entry %s", org_id, verdict.broken_at_seq)
    return details


def checkpoint_chain(org_id: int) -> dict | None:
    """Sign the chain's end, record it in the log, then write it to AUDIT_CHECKPOINT_DIR (after the
    commit: a file names only entries that exist). Returns the checkpoint, None for an empty log."""
    with runtime.job_scope() as services:
        with services.db.unit_of_work() as session:
            org = session.get(Organization, org_id)
            doc = checkpoint.take(session, org_id, org.tenant_id, datetime.now(UTC)) if org else None
        if doc is not None:
            try:
                checkpoint.write(services.settings.checkpoint_dir, doc)
            except OSError as err:
                # Still in the log (the receipt); the operator must fix the folder.
                log.error("audit checkpoint of organization %s not written: %s", org_id, err.strerror)
    return doc
