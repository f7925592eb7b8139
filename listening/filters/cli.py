"""The command-line contract (spec "Command-line contract"): one JSON object on
stdin, one on stdout; bad input exits 2 with one line on stderr."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, BinaryIO, TextIO

from .judging import judge
from .model import FilterInputError, Person
from .people import Directory
from .times import parse_now

KEYS = ("now", "manager", "reports", "events")


def parse_input(obj: Any) -> tuple[datetime, Person, list[Person], list]:
    """Check the input object and return ``(now, manager, reports, events)``
    ready for ``judge``; raise FilterInputError naming what is wrong."""
    if not isinstance(obj, dict):
        raise FilterInputError("the input is not a JSON object")
    for key in KEYS:
        if key not in obj:
            raise FilterInputError(f"missing key: {key}")
    now = parse_now(obj["now"])
    if not isinstance(obj["manager"], dict):
        raise FilterInputError("manager is not an object")
    manager = _person(obj["manager"], "manager")
    if not isinstance(obj["reports"], list):
        raise FilterInputError("reports is not a list")
    reports = [_person(entry, f"reports[{i}]") for i, entry in enumerate(obj["reports"])]
    Directory(manager, reports)  # one address claimed by two people
    if not isinstance(obj["events"], list):
        raise FilterInputError("events is not a list")
    return now, manager, reports, obj["events"]


def _person(entry: Any, label: str) -> Person:
    if not isinstance(entry, dict):
        raise FilterInputError(f"{label} is not an object")
    email = entry.get("email")
    if not isinstance(email, str) or not email.strip():
        raise FilterInputError(f"{label} has no non-empty string email")
    aliases = entry.get("aliases")  # missing or null: no aliases
    if aliases is not None and not (
            isinstance(aliases, list) and all(isinstance(a, str) for a in aliases)):
        raise FilterInputError(f"{label} aliases are neither null nor a list of strings")
    return Person(email, tuple(aliases or ()))


def load_json(data: bytes) -> Any:
    """Strict JSON: NaN and Infinity are not JSON. Integers too long for
    Python's int parser become floats: no rule reads a number."""
    try:
        return json.loads(data, parse_constant=_no_constant, parse_int=_integer)
    except UnicodeDecodeError:
        raise FilterInputError("bad JSON: the input is not UTF-8 text") from None
    except RecursionError:
        raise FilterInputError("bad JSON: nested too deeply") from None
    except ValueError as error:
        reason = str(error).splitlines()[0] if str(error) else "unreadable"
        raise FilterInputError(f"bad JSON: {reason}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _integer(text: str) -> int | float:
    return int(text) if len(text) < 4000 else float(text)


def main(stdin: BinaryIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run the contract; return the exit status (0, or 2 for bad input)."""
    stdin = stdin or sys.stdin.buffer
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        result = judge(*parse_input(load_json(stdin.read())))
    except FilterInputError as error:
        stderr.write(f"bad input: {_one_line(str(error))}\n")
        return 2
    # ASCII escapes keep any string (even a lone surrogate) printable; readers
    # compare the parsed JSON, which is the same either way.
    stdout.write(json.dumps(result.to_json()) + "\n")
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unusable input"
