"""CSV export cells: anything a spreadsheet would run as a formula is made text."""
import csv
import io
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from listening.audit import log as audit_log


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+1+2", "'+1+2"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("plain text", "plain text"),
    ("a=b", "a=b"),
    ("", ""),
    (None, ""),
    (42, "42"),
])
def test_formula_cells_are_escaped(value, expected):
    assert audit_log.csv_cell(value) == expected


def test_a_row_escapes_every_cell_and_shows_the_viewer_zone():
    entry = SimpleNamespace(
        seq=7, occurred_at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC), action="auth:sign_in",
        actor_id=3, subject_id=4, ip="10.0.0.1", user_agent="=cmd|' /C calc'!A0",
        details={"note": "-1"}, hash=b"\x01" * 32)
    names = {3: "@admin", 4: "+report"}
    row = audit_log._csv_row(entry, names, ZoneInfo("Europe/Paris"))
    assert row[1] == "2026-01-15T13:00:00+01:00"
    assert row[4] == "'@admin" and row[6] == "'+report"
    assert row[8] == "'=cmd|' /C calc'!A0"
    assert row[9] == '{"note": "-1"}'
    assert row[10] == "01" * 32
    # Written and read back as CSV, the escaped cells survive quoting unchanged.
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == row
