"""CSV export cells: anything a spreadsheet would run as a formula is made text."""
import csv
import io
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from listening.audit import log as audit_log
from listening.core import spreadsheet


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
    assert spreadsheet.cell(value) == expected


def test_a_row_escapes_every_cell_and_shows_the_viewer_zone():
    entry = SimpleNamespace(
        seq=7, occurred_at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC), action="auth:sign_in",
        actor_id=3, subject_id=4, ip="10.0.0.1", user_agent="=cmd|' /C calc'!A0",
        details={"note": "-1"}, hash=b"\x01" * 32)
    names = {3: "@admin", 4: "+report"}
    # Written as the export writes it, and read back as a spreadsheet reads the file.
    buffer = io.StringIO()
    spreadsheet.Writer(buffer).writerow(audit_log._csv_row(entry, names, ZoneInfo("Europe/Paris")))
    row = next(csv.reader(io.StringIO(buffer.getvalue())))
    assert row[1] == "2026-01-15T13:00:00+01:00"
    assert row[4] == "'@admin" and row[6] == "'+report"
    assert row[8] == "'=cmd|' /C calc'!A0"
    assert row[9] == '{"note": "-1"}'
    assert row[10] == "01" * 32


def test_every_field_is_quoted_so_a_semicolon_split_makes_no_formula():
    """A spreadsheet splitting on ';' turned an unquoted user agent "Mozilla/5.0;=1+2" into the
    formula cell "=1+2"; quoted, the whole field stays one text cell."""
    entry = SimpleNamespace(
        seq=1, occurred_at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC), action="auth:sign_in",
        actor_id=None, subject_id=None, ip=None, user_agent="Mozilla/5.0;=1+2", details={}, hash=b"\x02" * 32)
    buffer = io.StringIO()
    spreadsheet.Writer(buffer).writerow(audit_log._csv_row(entry, {}, ZoneInfo("UTC")))
    line = buffer.getvalue().strip()
    assert line.startswith('"1","2026-01-15T12:00:00+00:00"') and '"Mozilla/5.0;=1+2"' in line
    # As a spreadsheet splitting on ';' reads it (a quote toggles quoting): no cell starts with '='.
    assert not any(cell.startswith("=") for cell in _split_outside_quotes(line, ";"))
    assert _split_outside_quotes('1,Mozilla/5.0;=1+2', ";") == ["1,Mozilla/5.0", "=1+2"]  # unquoted


def _split_outside_quotes(line: str, delimiter: str) -> list[str]:
    cells, current, quoted = [], "", False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            cells.append(current)
            current = ""
            continue
        current += char
    return cells + [current]
