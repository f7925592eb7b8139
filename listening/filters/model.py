"""The filter's inputs and results as plain frozen dataclasses.

The command line prints only the fields the spec names (``to_json``); the app
also reads the extra fields to explain, meeting by meeting, why a series is not
listed. Extra fields never carry anything of a private meeting: a rejection
whose meeting is private keeps its reason code and nothing else, since the
manager may read the reasons and a private meeting's details are not theirs to see.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Reason codes, in the order the rules are checked (spec "Rules"), then malformed.
NOT_RECURRING = "not_recurring"
CANCELLED = "cancelled"
ENDED = "ended"
ALL_DAY = "all_day"
PRIVATE = "private"
NOT_TWO_PEOPLE = "not_two_people"
MANAGER_NOT_PARTICIPANT = "manager_not_participant"
NOT_DIRECT_REPORT = "not_direct_report"
DECLINED = "declined"
COPIED = "copied"
MALFORMED = "malformed"
REASONS = (NOT_RECURRING, CANCELLED, ENDED, ALL_DAY, PRIVATE, NOT_TWO_PEOPLE,
           MANAGER_NOT_PARTICIPANT, NOT_DIRECT_REPORT, DECLINED, COPIED, MALFORMED)


class FilterInputError(ValueError):
    """The input as a whole is unusable (spec "Command-line contract": exit 2).

    The message is one line and never quotes event content or addresses."""


@dataclass(frozen=True)
class Person:
    """The manager or a direct report: a primary email and its aliases (spec "Inputs")."""

    email: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Participant:
    """One person of a meeting after alias mapping.

    ``email`` is the owner's primary address (trimmed, lower case); ``name`` the
    first display name Graph gave for that person, if any; ``role`` is
    ``"manager"``, ``"report"`` or ``"other"``."""

    email: str
    name: str | None
    role: str


@dataclass(frozen=True)
class Candidate:
    """A series that passed every rule (spec "Output of a candidate").

    Extras for the app: ``starts`` (every live start, ascending, UTC) for the
    cadence and the next few occurrences; ``organizer`` (owner's primary email)
    for "who organizes it"."""

    series_id: str
    report: str
    subject: str | None
    next_start: datetime
    occurrences: int
    starts: tuple[datetime, ...] = ()
    organizer: str | None = None

    def to_json(self) -> dict:
        return {"series_id": self.series_id, "report": self.report, "subject": self.subject,
                "next_start": format_utc(self.next_start), "occurrences": self.occurrences}


@dataclass(frozen=True)
class Rejected:
    """A group or malformed entry that is not a candidate, with what explains it.

    ``kind``: ``"series"``, ``"single"`` (a singleInstance) or ``"entry"`` (malformed).
    ``withheld``: the meeting is private, so subject and people are left out.
    ``subject`` / ``people``: of the latest live occurrence (or, with none, of the
    latest occurrence at all); empty when withheld.
    ``occurrences`` / ``first_start`` / ``last_start`` / ``next_start``: the live
    occurrences' count and span, and the first one at or after now (UTC).
    ``declined_by``: primary emails of who declined (rule 9).
    ``copies``: the other series sharing the series key (rule 10).
    ``problem``: for malformed entries, what is wrong (a fixed code, see
    ``reading.PROBLEMS``); ``position``: the entry's index in ``events``."""

    series_id: str | None
    reason: str
    kind: str = "series"
    withheld: bool = False
    subject: str | None = None
    people: tuple[Participant, ...] = ()
    occurrences: int = 0
    first_start: datetime | None = None
    last_start: datetime | None = None
    next_start: datetime | None = None
    declined_by: tuple[str, ...] = ()
    copies: tuple[str, ...] = ()
    problem: str | None = None
    position: int | None = None

    def to_json(self) -> dict:
        return {"series_id": self.series_id, "reason": self.reason}


@dataclass(frozen=True)
class Result:
    """Candidates sorted by next_start then series_id; rejected by series_id
    (code-point order, None last, ties in input order) (spec "Command-line contract")."""

    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    rejected: tuple[Rejected, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {"candidates": [c.to_json() for c in self.candidates],
                "rejected": [r.to_json() for r in self.rejected]}


def format_utc(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``; zero-padded by hand because strftime's %Y does
    not pad years below 1000 on every platform."""
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z")
