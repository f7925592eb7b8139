"""Verification of one organization's audit chain (queue "maintenance"), for chains too long
to verify while an HR admin waits (listening/audit/log.py). The verdict is recorded as an
``audit:verified`` entry, which the audit log page shows.
"""
from __future__ import annotations

import logging

from jobs import runtime
from listening import audit
from listening.audit import Action
from listening.audit import log as audit_log

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
