"""Plain words for why a series is not listed, and for why an attached 1-on-1 needs attention.

Why-not lines name people: directory names where known, else addresses
(``Names``). Attention reasons are stored in plain text (one_on_ones.
attention_reason), so they carry no event content at all: no subject and no
address from a meeting, only names the directory already holds.
"""
from __future__ import annotations

from typing import Callable, Sequence

from listening.filters import Rejected
from listening.filters.model import (
    ALL_DAY,
    CANCELLED,
    COPIED,
    DECLINED,
    ENDED,
    MALFORMED,
    MANAGER_NOT_PARTICIPANT,
    NOT_DIRECT_REPORT,
    NOT_RECURRING,
    NOT_TWO_PEOPLE,
    PRIVATE,
)
from listening.outlook.linking import UNLINKED

Names = Callable[[str], str]  # primary email -> "you", a directory name, or the address
MOST_NAMED = 5

_WHY_NOT = {
    NOT_RECURRING: "it is a single event, not a recurring series",
    CANCELLED: "the whole series was cancelled",
    ENDED: "it has ended: no occurrence from now on",
    ALL_DAY: "it is an all-day event",
    PRIVATE: "it is marked private, so Listening does not look at it",
    COPIED: "it is a copy of another series (copied and pasted in Outlook), so Listening cannot "
            "tell which one is your 1-on-1: open each copy in Outlook and delete the one you do not use",
    MALFORMED: "its stored copy is incomplete; the next sync reads it again",
}

_ATTENTION = {
    CANCELLED: "The meeting series was cancelled in Outlook.",
    ENDED: "The meeting series has ended: there is no occurrence from now on.",
    ALL_DAY: "The meeting series became an all-day event.",
    PRIVATE: "The meeting series was made private, so Listening no longer looks at it.",
    NOT_TWO_PEOPLE: "More people were invited to the meeting series, so it is no longer a 1-on-1.",
    MANAGER_NOT_PARTICIPANT: "You are no longer one of the meeting's two people.",
    NOT_DIRECT_REPORT: "The meeting series is now with someone who does not report to you.",
    COPIED: "The meeting series was copied in Outlook, and the copies cannot be told apart.",
}
GONE = ("This meeting series is no longer in your Outlook calendar: it was deleted, "
        "or recreated as a new series.")


def join_names(names: Sequence[str]) -> str:
    """'Ana', 'Ana and Bo', 'Ana, Bo and Chen', 'Ana, Bo, Chen, Dee, Eve and 3 others'."""
    names = list(names)
    if len(names) > MOST_NAMED + 1:
        rest = len(names) - MOST_NAMED
        return ", ".join(names[:MOST_NAMED]) + f" and {rest} others"
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def why_not(rejected: Rejected, names: Names) -> str:
    """Why this series is not a candidate, in words (never called with its subject)."""
    reason = rejected.reason
    if reason == NOT_TWO_PEOPLE:
        return _people_count(rejected, names)
    if reason == MANAGER_NOT_PARTICIPANT:
        who = join_names([names(p.email) for p in rejected.people])
        return (f"you are not one of its two people ({who}); it reached your calendar another way, "
                "e.g. through a group")
    if reason == NOT_DIRECT_REPORT:
        others = [names(p.email) for p in rejected.people if p.role != "manager"]
        return f"{join_names(others) or 'the other person'} does not report to you in the directory"
    if reason == DECLINED:
        return f"{join_names([names(e) for e in rejected.declined_by]) or 'someone'} declined it"
    return _WHY_NOT.get(reason, "it does not meet the rules for a 1-on-1")


def _people_count(rejected: Rejected, names: Names) -> str:
    people = rejected.people
    others = [p for p in people if p.role != "manager"]
    if len(people) > 2:
        shown = others if len(others) < len(people) else people
        return f"more than two people: {join_names([names(p.email) for p in shown])}"
    if people and not others:
        return "nobody else is invited"
    return "it has no organizer or attendees"


def attention_reason(reason: str, report_label: str, declined_by_manager: bool) -> str:
    """Why an attached series stopped qualifying (stored; no event content)."""
    if reason == DECLINED:
        return ("You declined the meeting series." if declined_by_manager
                else f"{report_label} declined the meeting series.")
    return _ATTENTION.get(reason, "The meeting series no longer meets the rules for a 1-on-1.")


def moved_away(report_label: str) -> str:
    return f"{report_label} no longer reports to you in the directory."


def now_with(other_label: str, report_label: str) -> str:
    return f"The meeting series is now with {other_label}, not {report_label}."


# --- what the report is told --------------------------------------------------------------------
DECLINED_BY_MANAGER = "declined_by_manager"
DECLINED_BY_REPORT = "declined_by_report"
_CHOOSE = "{m} has been asked to choose the meeting that is your 1-on-1 now, or to detach this one."
# code -> (what happened, what the manager has been asked to do), in the report's words. Nothing
# from the manager's calendar but this one meeting's fate; ``{m}`` is the manager's name.
_FOR_REPORT = {
    UNLINKED: ("{m} unlinked their Outlook calendar from Listening, so Listening no longer follows "
               "this meeting.", "{m} has been asked to link Outlook again."),
    "gone": ("This meeting series is no longer in {m}'s calendar: it was deleted, or recreated as a "
             "new series.", _CHOOSE),
    CANCELLED: ("The meeting series was cancelled in Outlook.", _CHOOSE),
    ENDED: ("The meeting series has ended: there is no occurrence to come.", _CHOOSE),
    ALL_DAY: ("The meeting series became an all-day event.", _CHOOSE),
    PRIVATE: ("The meeting series was made private, so Listening no longer looks at it.", _CHOOSE),
    NOT_TWO_PEOPLE: ("More people were invited to the meeting series, so it is no longer a 1-on-1.",
                     _CHOOSE),
    MANAGER_NOT_PARTICIPANT: ("{m} is no longer one of the meeting's two people.", _CHOOSE),
    NOT_DIRECT_REPORT: ("The meeting series is now with someone else.", _CHOOSE),
    "other_report": ("The meeting series is now with someone else.", _CHOOSE),
    DECLINED_BY_REPORT: ("You declined the meeting series in Outlook.",
                         "{m} has been asked to choose another meeting or to detach this one. If you "
                         "declined by mistake, accept the meeting in Outlook again."),
    DECLINED_BY_MANAGER: ("{m} declined the meeting series in Outlook.", _CHOOSE),
    COPIED: ("The meeting series was copied in Outlook, and Listening cannot tell the copies apart.",
             "{m} has been asked to delete the copy in Outlook."),
    "not_your_report": ("You no longer report to {m} in the directory.",
                        "{m} has been asked to detach this 1-on-1. Your HR admin keeps the directory."),
}
_FOR_REPORT_DEFAULT = ("This meeting no longer counts as your 1-on-1.", _CHOOSE)


def for_report(code: str | None, manager_label: str) -> tuple[str, str]:
    """(what happened, what the manager has been asked to do), for the report's own page."""
    happened, asked = _FOR_REPORT.get(code or "", _FOR_REPORT_DEFAULT)
    return happened.format(m=manager_label), asked.format(m=manager_label)
