"""Re-trim every stored copy now, after the stored fields changed (``flask sync --retrim``).

Each stored copy records the version of the stored fields it was trimmed with, and
every sync rewrites the copies of other versions, so a change reaches each mailbox
at its next scheduled sync anyway. This use case does it at once, and also reaches
the copies that no sync reads:

1. every linked connection of an organization with sync on gets a full sync that
   rewrites every event it reads, current or not. Only this can ADD a field: its
   values come from Graph, never from what we hold;
2. then every copy still held under other fields (a connection that is not linked,
   an organization with sync off, a sync that failed, an item that ended before the
   window and waits for retention) is decrypted, trimmed with the current fields and
   encrypted again in place. That REMOVES what is no longer kept, at the cost of a
   decryption per copy and no Graph request. Such a copy keeps its old version: it
   still lacks any added field, so the first sync that reads it rewrites it from Graph.

Step 2 alone would be cheaper but cannot add a field; step 1 alone would leave removed
fields in copies no sync reads until retention deletes them.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import bindparam, select, update

from listening import audit
from listening.audit import Action
from listening.core import crypto
from listening.core.models import CalendarItem
from listening.outlook import events
from listening.outlook.events import StoredFields
from listening.sync import mailbox, store
from listening.sync.mailbox import SyncReport

if TYPE_CHECKING:
    from listening.services import Services

BATCH = 500  # copies per transaction of the in-place pass


@dataclass
class RetrimReport:
    """What ``retrim`` did: one sync report per linked connection, then the in-place pass."""
    syncs: list[SyncReport] = field(default_factory=list)
    trimmed: int = 0        # copies rewritten in place without a field they no longer keep
    already_trimmed: int = 0  # copies of another version that held no field to remove
    unreadable: int = 0     # copies that did not decrypt (a key gone from the ring): left as they are


def run(services: Services, now: datetime | None = None,
        progress: Callable[[list[int]], object] = iter) -> RetrimReport:
    """Rewrite every linked connection's copies from Graph, then trim the rest in place.

    ``progress`` wraps the list of connection ids (the CLI's progress bar)."""
    now = now or datetime.now(UTC)
    report = RetrimReport()
    with services.db.unit_of_work() as session:
        ids = store.linked_connection_ids(session)
    for connection_id in progress(ids):
        report.syncs.append(mailbox.run(services, connection_id, trigger="retrim", now=now, rewrite=True))
    trim_in_place(services, report, now)
    return report


def trim_in_place(services: Services, report: RetrimReport, now: datetime,
                  stored: StoredFields | None = None) -> None:
    """Trim every copy of another version than ``stored``'s in place (step 2 above).

    One transaction per batch; each UPDATE applies only if the row still holds the
    ciphertext that was read, so a sync writing the same row meanwhile wins."""
    stored = stored or events.STORED
    trimmed_per_org: Counter = Counter()
    after = 0
    while True:
        with services.db.unit_of_work() as session:
            rows = session.execute(
                select(CalendarItem.id, CalendarItem.org_id, CalendarItem.connection_id,
                       CalendarItem.provider_event_id, CalendarItem.provider_data)
                .where(CalendarItem.id > after, CalendarItem.trim_version.is_distinct_from(stored.version))
                .order_by(CalendarItem.id).limit(BATCH)).all()
            if not rows:
                break
            after = rows[-1].id
            changes = _retrimmed(rows, services.keys, stored, report)
            for org_id, change in changes:
                if session.execute(_GUARDED, change | {"b_at": now}).rowcount:
                    trimmed_per_org[org_id] += 1
    report.trimmed = sum(trimmed_per_org.values())
    _audit(services, trimmed_per_org, stored.version)


_TABLE = CalendarItem.__table__
_GUARDED = (update(_TABLE)
            .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.provider_data == bindparam("b_old"))
            .values(provider_data=bindparam("b_new"), updated_at=bindparam("b_at")))


def _retrimmed(rows, keys: crypto.KeyRing, stored: StoredFields,
               report: RetrimReport) -> list[tuple[int, dict]]:
    """(org id, new ciphertext) of each row whose copy holds a field the current fields do not keep."""
    changes = []
    for row in rows:
        aad = crypto.aad_for("event", row.connection_id, row.provider_event_id)
        try:
            held = orjson.loads(keys.decrypt(row.provider_data, aad))
        except (crypto.CryptoError, orjson.JSONDecodeError):
            report.unreadable += 1
            continue
        kept = stored.trim(held)
        if kept == held:
            report.already_trimmed += 1
            continue
        changes.append((row.org_id, {"b_id": row.id, "b_old": row.provider_data,
                                     "b_new": keys.encrypt(orjson.dumps(kept), aad)}))
    return changes


def _audit(services: Services, trimmed_per_org: Counter, version: str) -> None:
    with services.db.unit_of_work() as session:
        for org_id, count in sorted(trimmed_per_org.items()):
            audit.record(session, Action.calendar_retrimmed, None, None,
                         {"calendar_items": count, "trim_version": version}, org_id=org_id)
