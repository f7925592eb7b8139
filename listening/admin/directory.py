"""The org directory: import a CSV org chart, all or nothing.

Columns: ``email, name, manager_email, role, aliases`` (aliases separated by
``;``) and an optional ``time_zone`` (IANA name, default UTC). Every row is
validated with marshmallow; any error refuses the whole file with line numbers.
Import is idempotent: upsert by email, people absent from the file are
deactivated (never deleted).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from listening.core import spreadsheet
from listening.core.models import Organization, Person, Role

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
REQUIRED_COLUMNS = ("email", "name", "manager_email", "role")
# NUL cannot be stored (PostgreSQL text), and no name, address, role or zone holds a line
# break or another control character.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
OPTIONAL_COLUMNS = ("aliases", "time_zone")


class DirectoryError(ValueError):
    """The file is refused; ``problems`` lists "line N: what is wrong" strings."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        self.problems = problems


def _split_aliases(raw: str) -> list[str]:
    return [a.strip().lower() for a in raw.replace(",", ";").split(";") if a.strip()]


class RowSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.Email(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    manager_email = fields.Email(load_default=None, allow_none=True)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    aliases = fields.List(fields.Email(), load_default=list)
    time_zone = fields.String(load_default="UTC")

    @pre_load
    def clean(self, data, **_):
        data = {k: (spreadsheet.uncell(v.strip()) if isinstance(v, str) else v) for k, v in data.items()}
        for key in ("email", "manager_email"):
            if isinstance(data.get(key), str):
                data[key] = data[key].lower() or None
        data["aliases"] = _split_aliases(data.get("aliases") or "")
        data["time_zone"] = data.get("time_zone") or "UTC"
        return data

    @validates("time_zone")
    def known_zone(self, value, **_):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone {value!r}") from None


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    name: str
    manager_email: str | None
    role: Role
    aliases: tuple[str, ...]
    time_zone: str


def parse_csv(data: bytes) -> list[Row]:
    """Bytes of a CSV file -> validated rows, or DirectoryError naming every bad line."""
    if len(data) > MAX_BYTES:
        raise DirectoryError([f"the file is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES // 2**20} MB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DirectoryError([f"line {line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DirectoryError([f"line 1: missing column(s) {', '.join(missing)}; expected "
                              f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}"])
    reader.fieldnames = header
    rows, problems, schema = [], [], RowSchema()
    try:
        for record in reader:
            line = reader.line_num
            if len(rows) + len(problems) >= MAX_ROWS:
                raise DirectoryError([f"line {line}: more than {MAX_ROWS} rows"])
            if None in record:
                problems.append(f"line {line}: more fields than the header has")
                continue
            controls = sorted(k for k, v in record.items() if isinstance(v, str) and _CONTROL.search(v))
            if controls:
                problems.extend(f"line {line}: {field}: contains a control character (such as NUL or a "
                                "line break)" for field in controls)
                continue
            try:
                loaded = schema.load({k: v or "" for k, v in record.items()})
            except ValidationError as err:
                problems.extend(f"line {line}: {field}: {' '.join(map(str, msgs))}"
                                for field, msgs in sorted(err.messages.items()))
                continue
            rows.append(Row(line, loaded["email"], loaded["name"], loaded["manager_email"],
                            Role(loaded["role"]), tuple(loaded["aliases"]), loaded["time_zone"]))
    except csv.Error as exc:
        raise DirectoryError([f"line {reader.line_num}: not a CSV file ({exc})"]) from None
    if not rows and not problems:
        problems.append("line 2: the file has no people")
    problems += _chart_problems(rows)
    if problems:
        raise DirectoryError(sorted(problems, key=_line_of))  # stable: a line's problems keep their order
    return rows


def _line_of(problem: str) -> int:
    head = problem.split(":", 1)[0]
    return int(head[5:]) if head.startswith("line ") and head[5:].isdigit() else 0


def _chart_problems(rows: list[Row]) -> list[str]:
    """Cross-row rules: unique addresses, known managers, no cycles."""
    problems, owner = [], {}
    for row in rows:
        for address in (row.email, *row.aliases):
            if address in owner and owner[address] != row.line:
                problems.append(f"line {row.line}: {address} is already used on line {owner[address]}")
            owner.setdefault(address, row.line)
    by_email = {row.email: row for row in rows}
    for row in rows:
        if row.manager_email is None:
            continue
        if row.manager_email == row.email:
            problems.append(f"line {row.line}: {row.email} is their own manager")
        elif row.manager_email not in by_email:
            problems.append(f"line {row.line}: unknown manager {row.manager_email} (not in this file)")
    if problems:
        return problems
    cycle = _first_cycle(rows, by_email)
    return [cycle] if cycle else []


def _first_cycle(rows: list[Row], by_email: dict[str, Row]) -> str | None:
    """The first row (in file order) whose manager chain runs into a cycle, in linear time:
    each person has one manager, so every chain is walked once; a walk stops at a person an
    earlier walk already cleared, and finds a cycle when it meets itself."""
    cleared: set[str] = set()
    for row in rows:
        path: list[str] = []
        on_path: dict[str, int] = {}
        current = row
        while current.manager_email is not None and current.email not in cleared:
            if current.email in on_path:
                chain = path[on_path[current.email]:] + [current.email]
                return f"line {row.line}: the manager chain has a cycle: {' -> '.join(chain)}"
            on_path[current.email] = len(path)
            path.append(current.email)
            current = by_email[current.manager_email]
        cleared.update(path)
    return None


COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
TEMPLATE_ROWS = (
    ("ada.manager@example.com", "Ada Manager", "", "manager", "ada@example.com", "Europe/London"),
    ("ben.report@example.com", "Ben Report", "ada.manager@example.com", "employee", "", "America/New_York"),
    ("cleo.hr@example.com", "Cleo HR", "ada.manager@example.com", "hr_admin", "", ""),
)


def _csv(rows) -> str:
    """Opened in a spreadsheet, a name such as "=HYPERLINK(…)" stays text; imported again, the
    file changes nothing (``clean`` reads the escape back)."""
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\r\n")  # our own names: nothing to quote, easier to read
    writer = spreadsheet.Writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue()


def template_csv() -> str:
    """A file to start from: the header and three example people."""
    return _csv(TEMPLATE_ROWS)


def export_csv(session: Session, org: Organization) -> str:
    """The organization's active people in the import format, so that importing the export
    back changes nothing (the inactive are left out: importing them would reactivate them)."""
    people = list(session.scalars(select(Person).where(
        Person.org_id == org.id, Person.active.is_(True), Person.email.is_not(None)).order_by(Person.email)))
    emails = {p.id: p.email for p in session.scalars(select(Person).where(Person.org_id == org.id))}
    return _csv([(p.email, p.display_name or "", emails.get(p.manager_id) or "", p.role.value,
                  ";".join(p.aliases or ()), p.time_zone or "UTC") for p in people])


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    deactivated: int
    unchanged: int


def apply_import(session: Session, org: Organization, rows: list[Row]) -> ImportResult:
    """Upsert rows by email into ``org``; deactivate the absent. Never commits."""
    existing = {p.email: p for p in session.scalars(select(Person).where(Person.org_id == org.id))
                if p.email is not None}
    created, changed, people = 0, set(), {}
    for row in rows:
        person = existing.get(row.email)
        if person is None:
            person = Person(org_id=org.id, email=row.email)
            session.add(person)
            created += 1
        values = dict(display_name=row.name, role=row.role, aliases=list(row.aliases),
                      time_zone=row.time_zone, active=True)
        if person.id is not None and any(getattr(person, k) != v for k, v in values.items()):
            changed.add(row.email)
        for key, value in values.items():
            setattr(person, key, value)
        people[row.email] = person
    session.flush()  # new people get ids before managers point at them
    for row in rows:
        person = people[row.email]
        manager_id = people[row.manager_email].id if row.manager_email else None
        if person.manager_id != manager_id:
            if row.email in existing:
                changed.add(row.email)
            person.manager_id = manager_id
    deactivated = 0
    for email, person in existing.items():
        if email not in people and person.active:
            person.active = False
            person.end_sessions()  # reactivation later must not revive an old cookie
            deactivated += 1
    session.flush()
    return ImportResult(created, len(changed), deactivated, len(rows) - created - len(changed))
