"""The filter's command-line contract, through a real ``python -m listening.filters``
(docs/filter-rules.md, "Command-line contract")."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import FILTER_EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
MANAGER = {"email": "rosa@tailspin.test", "aliases": ["rdelgado@tailspin.test"]}
REPORTS = [{"email": "femi@tailspin.test", "aliases": ["femi.a@tailspin.test"]},
           {"email": "hannah@tailspin.test"}]
GOOD = {"now": "2027-03-10T09:00:00Z", "manager": MANAGER, "reports": REPORTS, "events": []}


def cli(stdin: bytes | str) -> subprocess.CompletedProcess:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([sys.executable, "-m", "listening.filters"], input=data,
                          capture_output=True, cwd=ROOT, timeout=60)


def with_(**changes) -> str:
    obj = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key)
        else:
            obj[key] = value
    return json.dumps(obj)


def test_a_good_input_prints_one_json_object_and_exits_0():
    event = {"id": "x", "type": "singleInstance", "subject": "Café ↔ 1:1",
             "start": {"dateTime": "2027-03-12T13:00:00", "timeZone": "UTC"}}
    done = cli(with_(events=[event, "junk"]))
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.count(b"\n") == 1
    assert json.loads(done.stdout) == {"candidates": [], "rejected": [
        {"series_id": "x", "reason": "not_recurring"}, {"series_id": None, "reason": "malformed"}]}


def test_the_output_is_the_same_json_whatever_the_characters():
    event = {"id": "\ud800é", "type": "singleInstance", "isCancelled": True}
    done = cli(json.dumps({**GOOD, "events": [event]}))
    assert done.returncode == 0
    assert json.loads(done.stdout)["rejected"] == [
        {"series_id": "\ud800é", "reason": "not_recurring"}]


@pytest.mark.parametrize("changes", [
    {"reports": [{"email": "femi@tailspin.test", "aliases": None}]},
    {"manager": {"email": "rosa@tailspin.test"}},
    {"manager": {"email": "rosa@tailspin.test", "aliases": []}, "extra": 1},
    {"reports": []},
    {"now": "2027-03-10T10:00:00.123456789+01:00"},
    {"now": "2027-03-10T04:00:00-0500"},
    {"now": "2027-03-10T10:00:00+01"},
    {"reports": [{"email": "femi@tailspin.test", "aliases": ["femi@tailspin.test", " "]}]},
], ids=["null-aliases", "absent-aliases", "extra-keys", "no-reports", "offset-and-fraction",
        "basic-offset", "hour-offset", "own-and-blank-aliases"])
def test_acceptable_inputs(changes):
    done = cli(with_(**changes))
    assert (done.returncode, done.stderr) == (0, b""), done.stderr


@pytest.mark.parametrize("path", sorted(FILTER_EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_examples_through_the_command_line(path):
    example = json.loads(path.read_text("utf-8"))
    done = cli(json.dumps(example["input"]))
    assert (done.returncode, done.stderr) == (0, b"")
    assert json.loads(done.stdout) == example["expected"]


BAD = {
    "bad JSON": "{",
    "bad JSON (empty)": "",
    "bad JSON (trailing garbage)": json.dumps(GOOD) + " x",
    "bad JSON (NaN)": with_(events=[]).replace("[]", "[NaN]"),
    "bad JSON (not UTF-8)": b'{"now": "\xff"}',
    "not an object (list)": "[]",
    "not an object (string)": '"now"',
    "not an object (null)": "null",
    "missing now": with_(now=...),
    "missing manager": with_(manager=...),
    "missing reports": with_(reports=...),
    "missing events": with_(events=...),
    "now without offset": with_(now="2027-03-10T09:00:00"),
    "now a date": with_(now="2027-03-10"),
    "now garbage": with_(now="yesterday"),
    "now a number": with_(now=1806000000),
    "now null": with_(now=None),
    "now impossible date": with_(now="2027-02-30T09:00:00Z"),
    "now offset out of range": with_(now="2027-03-10T09:00:00+24:00"),
    "now with a space": with_(now="2027-03-10 09:00:00Z"),
    "manager not an object": with_(manager="rosa@tailspin.test"),
    "manager null": with_(manager=None),
    "manager without email": with_(manager={"aliases": []}),
    "manager email empty": with_(manager={"email": ""}),
    "manager email blank": with_(manager={"email": "   "}),
    "manager email a number": with_(manager={"email": 7}),
    "manager aliases a string": with_(manager={"email": "rosa@tailspin.test", "aliases": "r"}),
    "manager aliases with a number": with_(manager={"email": "rosa@tailspin.test",
                                                    "aliases": ["r@tailspin.test", 3]}),
    "reports not a list": with_(reports={"email": "femi@tailspin.test"}),
    "reports null": with_(reports=None),
    "report not an object": with_(reports=["femi@tailspin.test"]),
    "report without email": with_(reports=[{"aliases": ["f@tailspin.test"]}]),
    "report email null": with_(reports=[{"email": None}]),
    "report aliases an object": with_(reports=[{"email": "femi@tailspin.test", "aliases": {}}]),
    "report aliases with null": with_(reports=[{"email": "femi@tailspin.test",
                                                "aliases": [None]}]),
    "manager is a report": with_(reports=[{"email": " ROSA@tailspin.test"}]),
    "manager alias is a report": with_(reports=[{"email": "rdelgado@tailspin.test"}]),
    "two reports share an alias": with_(reports=[
        {"email": "femi@tailspin.test", "aliases": ["team@tailspin.test"]},
        {"email": "hannah@tailspin.test", "aliases": ["Team@tailspin.test"]}]),
    "a report's alias is another's email": with_(reports=[
        {"email": "femi@tailspin.test"},
        {"email": "hannah@tailspin.test", "aliases": ["femi@tailspin.test"]}]),
    "events not a list": with_(events={"id": "x"}),
    "events null": with_(events=None),
}


@pytest.mark.parametrize("stdin", list(BAD.values()), ids=list(BAD))
def test_bad_input_exits_2_with_one_line_on_stderr(stdin):
    done = cli(stdin)
    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].strip(), done.stderr
    assert done.stderr.endswith(b"\n")


def test_bad_input_messages_name_the_problem():
    assert "missing key: events" in cli(with_(events=...)).stderr.decode()
    assert "now" in cli(with_(now="soon")).stderr.decode()
    assert "claimed by two people" in cli(with_(reports=[{"email": "rosa@tailspin.test"}])
                                          ).stderr.decode()
    message = cli(with_(reports=[{"email": "femi@tailspin.test", "aliases": "x"}])).stderr.decode()
    assert "reports[0]" in message and "aliases" in message
