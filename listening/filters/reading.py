"""From the raw ``events`` list to groups and malformed entries (spec "Reading
events" and "Grouping")."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .times import read_start

SINGLE, OCCURRENCE, EXCEPTION, MASTER = "singleInstance", "occurrence", "exception", "seriesMaster"
TYPES = frozenset((SINGLE, OCCURRENCE, EXCEPTION, MASTER))

# What can make an entry malformed (Rejected.problem), in the order they are checked.
NOT_AN_OBJECT = "not_an_object"
NO_ID = "no_id"
BAD_TYPE = "bad_type"
NO_SERIES_MASTER_ID = "no_series_master_id"
NO_READABLE_START = "no_readable_start"
PROBLEMS = (NOT_AN_OBJECT, NO_ID, BAD_TYPE, NO_SERIES_MASTER_ID, NO_READABLE_START)


@dataclass(slots=True)
class Entry:
    """A well-formed surviving event. ``start`` is read only for live events."""

    position: int
    id: str
    type: str
    live: bool
    start: int | None
    raw: dict


@dataclass(slots=True)
class Malformed:
    position: int
    id: str | None
    problem: str


@dataclass(slots=True)
class Group:
    """A singleInstance (``single``) or a series: its occurrences/exceptions and master."""

    series_id: str
    single: bool
    position: int
    occurrences: list[Entry] = field(default_factory=list)
    master: Entry | None = None


def read_events(events: list) -> tuple[list[Group], list[Malformed]]:
    """Groups (in input order of their first entry) and malformed entries."""
    groups: list[Group] = []
    series: dict[str, Group] = {}
    malformed: list[Malformed] = []
    for position, ident, value in _survivors(events):
        entry = _classify(position, ident, value)
        if isinstance(entry, Malformed):
            malformed.append(entry)
        elif entry.type == SINGLE:
            # Spec "Grouping": a singleInstance is its own group, even if a
            # series happens to carry the same id.
            groups.append(Group(entry.id, True, position, master=entry))
        else:
            _add_to_series(entry, series, groups)
    return groups, malformed


def _survivors(events: list) -> list[tuple[int, str | None, Any]]:
    """(position, id, entry) left once repeats and deletions are applied, in input order.

    Spec: events with the same non-empty string id are one event, the last one
    wins; a surviving entry with an ``@removed`` member deletes the event and is
    reported nowhere (a wrong-typed ``@removed`` counts as missing, so only an
    object, as Graph's delta sends it, deletes)."""
    idents = [_event_id(value) for value in events]
    last = {ident: position for position, ident in enumerate(idents) if ident is not None}
    kept = []
    for position, (ident, value) in enumerate(zip(idents, events)):
        if ident is not None and last[ident] != position:
            continue
        if isinstance(value, dict) and isinstance(value.get("@removed"), dict):
            continue
        kept.append((position, ident, value))
    return kept


def _event_id(value: Any) -> str | None:
    if isinstance(value, dict):
        ident = value.get("id")
        if isinstance(ident, str) and ident:
            return ident
    return None


def _classify(position: int, ident: str | None, value: Any) -> Entry | Malformed:
    """Spec "Reading events": the malformed conditions, else a well-formed entry."""
    if not isinstance(value, dict):
        return Malformed(position, None, NOT_AN_OBJECT)
    if ident is None:
        return Malformed(position, None, NO_ID)
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        return Malformed(position, ident, BAD_TYPE)
    if kind in (OCCURRENCE, EXCEPTION) and not _non_empty(value.get("seriesMasterId")):
        return Malformed(position, ident, NO_SERIES_MASTER_ID)
    live = value.get("isCancelled") is not True
    start = read_start(value.get("start")) if live else None
    if live and start is None:
        return Malformed(position, ident, NO_READABLE_START)
    return Entry(position, ident, kind, live, start, value)


def _add_to_series(entry: Entry, series: dict[str, Group], groups: list[Group]) -> None:
    series_id = entry.id if entry.type == MASTER else entry.raw["seriesMasterId"]
    group = series.get(series_id)
    if group is None:
        group = series[series_id] = Group(series_id, False, entry.position)
        groups.append(group)
    if entry.type == MASTER:
        group.master = entry
    else:
        group.occurrences.append(entry)


def _non_empty(value: Any) -> bool:
    return isinstance(value, str) and value != ""
