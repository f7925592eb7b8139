"""CSV files that a spreadsheet opens as text: every field quoted, and a cell that a spreadsheet
would run as a formula made text (OWASP "CSV Injection")."""
from __future__ import annotations

import csv

# A spreadsheet runs a cell that starts with one of these as a formula; a leading apostrophe
# makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Writer:
    """A csv writer that makes every cell safe as it writes it, so no caller can forget one.

    Every field quoted: a spreadsheet that splits on ';' (common in Europe) would otherwise
    cut an unquoted "Mozilla/5.0;=1+2" into a cell that starts with '=' (a formula)."""

    def __init__(self, buffer, **options):
        self._csv = csv.writer(buffer, quoting=csv.QUOTE_ALL, **options)

    def writerow(self, row) -> None:
        self._csv.writerow([cell(v) for v in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def uncell(text: str) -> str:
    """What ``cell`` made text, read back: a file exported here imports unchanged."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
