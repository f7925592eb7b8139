"""The rows a sync writes come from the calendar_items table itself: its columns by name, their
PostgreSQL types for binary COPY, and what an upsert replaces."""
from __future__ import annotations

from datetime import UTC, datetime

from psycopg import postgres

from listening.core.crypto import KeyRing, aad_for
from listening.core.models import CalendarItem, Connection
from listening.outlook import events
from listening.sync import mailbox, store

KEYS = KeyRing.parse("k1:" + "A" * 43 + "=")


def test_the_written_columns_are_every_column_of_the_table_but_its_id():
    table = CalendarItem.__table__
    assert store.COLUMNS == tuple(c.name for c in table.columns if c.name != "id")
    assert "trim_version" in store.COLUMNS


def test_every_written_column_has_a_type_binary_copy_knows():
    assert len(store._TYPES) == len(store.COLUMNS)
    for name, type_name in zip(store.COLUMNS, store._TYPES, strict=True):
        assert postgres.types.get(type_name) is not None, (name, type_name)
    assert dict(zip(store.COLUMNS, store._TYPES, strict=True))["provider_data"] == "bytea"


def test_an_upsert_replaces_every_column_but_the_event_key():
    assert set(store._UPDATED) == set(store.COLUMNS) - {"connection_id", "provider_event_id"}


def test_the_row_of_an_event_names_every_written_column():
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    make_row = mailbox._RowMaker(Connection(id=7, org_id=3), KEYS, now, events.STORED)
    row = make_row({"id": "AAMk1", "changeKey": "ck", "type": "occurrence", "seriesMasterId": "S",
                    "sensitivity": "normal", "isCancelled": False, "body": {"content": "never kept"},
                    "start": {"dateTime": "2026-03-02T09:30:00.0000000", "timeZone": "UTC"}}, 1)
    assert row.keys() == set(store.COLUMNS)
    assert (row["org_id"], row["connection_id"], row["provider_event_id"], row["series_id"]) == (3, 7, "AAMk1", "S")
    assert row["start_utc"] == datetime(2026, 3, 2, 9, 30, tzinfo=UTC) and row["end_utc"] is None
    assert row["trim_version"] == events.STORED.version and row["updated_at"] == now
    assert b"never kept" not in KEYS.decrypt(row["provider_data"], aad_for("event", 7, "AAMk1"))
    assert store._in_copy_order(row) == tuple(row[name] for name in store.COLUMNS)
