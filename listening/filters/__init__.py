"""Which Outlook meetings are 1-on-1 candidates: the pure filter of
docs/filter-rules.md, "the spec" of this package's comments, which cite its
sections by name (spec "Reading events"). A change of rule changes that
document and this code together.

In process::

    from listening.filters import judge, Person
    result = judge(now, Person("rosa@x.com", ("r@x.com",)), [Person("femi@x.com")], events)
    result.candidates  # tuple[Candidate], sorted by next_start, series_id
    result.rejected    # tuple[Rejected], sorted by series_id (None last)
    result.to_json()   # exactly the command line's output

On the command line: ``python -m listening.filters < input.json``.

Pure: no I/O (apart from reading the packaged tz database once), no clock, no
logging. A package rather than one module so that ``python -m`` runs
``__main__`` without importing this module twice.
"""
from .cli import load_json, main, parse_input
from .judging import judge
from .model import (
                    REASONS,
                    Candidate,
                    FilterInputError,
                    Participant,
                    Person,
                    Rejected,
                    Result,
                    format_utc,
)
from .reading import PROBLEMS

__all__ = ["judge", "parse_input", "load_json", "main", "Person", "Participant", "Candidate",
           "Rejected", "Result", "FilterInputError", "REASONS", "PROBLEMS", "format_utc"]
