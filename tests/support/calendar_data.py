"""Arranging a linked connection with stored (encrypted) calendar items, as sync would store them."""
from __future__ import annotations

import json
from datetime import datetime

from listening.core import crypto
from listening.core.models import CalendarItem, Connection, ConnectionState, OneOnOne
from tests.support.apps import services_of


def connection(session, person, last_sync_at: datetime | None, account_email: str | None = None) -> Connection:
    conn = Connection(org_id=person.org_id, person_id=person.id, state=ConnectionState.linked,
                      ms_tenant_id="tenant", ms_oid=f"oid-{person.id}", account_email=account_email or person.email,
                      scopes="offline_access User.Read Calendars.Read",
                      access_token=b"placeholder", refresh_token=b"placeholder",
                      last_sync_at=last_sync_at, linked_at=last_sync_at)
    session.add(conn)
    session.flush()
    return conn


def item(session, app, conn: Connection, event_id: str, start: datetime, end: datetime,
         event_type: str = "singleInstance", series_id: str | None = None, subject: str = "1:1") -> CalendarItem:
    data = {"id": event_id, "type": event_type, "subject": subject, "sensitivity": "normal",
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"}}
    blob = services_of(app).keys.encrypt(json.dumps(data).encode(), crypto.aad_for("event", conn.id, event_id))
    row = CalendarItem(org_id=conn.org_id, connection_id=conn.id, provider_event_id=event_id,
                       series_id=series_id, event_type=event_type, start_utc=start, end_utc=end,
                       is_cancelled=False, provider_data=blob, updated_at=start)
    session.add(row)
    session.flush()
    return row


def one_on_one(session, manager, report, series_id: str = "series-1") -> OneOnOne:
    pair = OneOnOne(org_id=manager.org_id, manager_id=manager.id, report_id=report.id, series_id=series_id)
    session.add(pair)
    session.flush()
    return pair
