"""The directory CSV rules (pure: parsing and validation, no database)."""
import pytest

from listening.admin import directory
from listening.admin.directory import DirectoryError, parse_csv
from listening.core.models import Role

HEADER = "email,name,manager_email,role,aliases\n"
GOOD = HEADER + (
    "ceo@acme.test,Cleo CEO,,manager,\n"
    "ana@acme.test,Ana A,ceo@acme.test,manager,a.a@acme.test;ana.alias@acme.test\n"
    "bo@acme.test,Bo B,ana@acme.test,employee,\n"
    "hr@acme.test,Hal HR,ceo@acme.test,hr_admin,\n")


def problems(data: str | bytes) -> list[str]:
    with pytest.raises(DirectoryError) as err:
        parse_csv(data.encode() if isinstance(data, str) else data)
    return err.value.problems


def test_good_file_parses_with_normalised_fields():
    rows = parse_csv(GOOD.replace("bo@acme.test,Bo B", " Bo@ACME.test ,Bo B").encode())
    assert [r.email for r in rows] == ["ceo@acme.test", "ana@acme.test", "bo@acme.test", "hr@acme.test"]
    assert rows[1].aliases == ("a.a@acme.test", "ana.alias@acme.test")
    assert rows[2].manager_email == "ana@acme.test" and rows[2].role is Role.employee
    assert rows[0].manager_email is None and rows[0].time_zone == "UTC"


def test_bom_and_time_zone_column_accepted():
    data = "\ufeffemail,name,manager_email,role,aliases,time_zone\nx@a.test,X,,manager,,Europe/Paris\n"
    assert parse_csv(data.encode())[0].time_zone == "Europe/Paris"


@pytest.mark.parametrize("data, expected", [
    ("email,name,role\nx@a.test,X,employee\n", "line 1: missing column(s) manager_email"),
    (GOOD + "bo@acme.test,Bo Again,,employee,\n", "line 6: bo@acme.test is already used on line 4"),
    (GOOD + "cy@acme.test,Cy,ana.alias@acme.test,employee,\n", "line 6: unknown manager ana.alias@acme.test"),
    (GOOD + "dee@acme.test,Dee,nobody@acme.test,employee,\n", "line 6: unknown manager nobody@acme.test"),
    (GOOD + "eve@acme.test,Eve,,boss,\n", "line 6: role: Must be one of"),
    (GOOD + "not-an-email,Fay,,employee,\n", "line 6: email: Not a valid email address."),
    (GOOD + "gus@acme.test,,,employee,\n", "line 6: name:"),
    (GOOD + "hu@acme.test,Hu,,employee,,Mars/Base\n", "line 6: more fields than the header has"),
    (GOOD + "ivy@acme.test,Ivy,,employee,ana@acme.test\n", "line 6: ana@acme.test is already used on line 3"),
    (GOOD + "jo@acme.test,Jo,jo@acme.test,employee,\n", "line 6: jo@acme.test is their own manager"),
    (HEADER, "the file has no people"),
])
def test_bad_rows_are_named_by_line(data, expected):
    assert any(expected in p for p in problems(data)), problems(data)


def test_cycle_in_manager_chain_is_refused():
    data = HEADER + "a@x.test,A,c@x.test,manager,\nb@x.test,B,a@x.test,manager,\nc@x.test,C,b@x.test,manager,\n"
    found = problems(data)
    assert any("cycle" in p and "a@x.test" in p for p in found)


def test_non_utf8_file_names_the_line():
    before = HEADER + "a@x.test,A,,manager,\nb@x.test,Bj"
    data = before.encode() + "\u00f6rn,,employee,\n".encode("latin-1")
    assert problems(data) == [f"line 3: not UTF-8 text (byte {len(before)}); save the file as UTF-8"]


def test_junk_and_oversized_files_are_refused():
    assert "missing column" in problems(bytes(range(32, 127)) * 10)[0]
    assert problems(b"x" * (50 * 1024 * 1024))[0].startswith("the file is 52.4 MB; the limit is 5 MB")


def test_every_problem_is_reported_not_just_the_first():
    data = GOOD + "bad,,,nope,\nbo@acme.test,Bo,,employee,\n"
    found = problems(data)
    assert sum(p.startswith("line 6:") for p in found) == 3
    assert any(p.startswith("line 7:") for p in found)


def test_nul_and_line_breaks_in_fields_are_refused_by_line():
    data = HEADER + 'a@x.test,"A\x00nna",,manager,\nb@x.test,"B\nB",,employee,\n'
    assert problems(data) == [
        "line 2: name: contains a control character (such as NUL or a line break)",
        "line 4: name: contains a control character (such as NUL or a line break)"]


def _chart(shape: str, n: int) -> str:
    """n people: one manager chain n deep ("chain"), everyone under one boss ("star"), or a
    balanced binary tree ("tree"); "cycle" closes the chain back on its last person."""
    lines = [HEADER.strip()]
    for i in range(n):
        if shape in ("chain", "cycle"):
            manager = f"p{i - 1}@x.test" if i else (f"p{n - 1}@x.test" if shape == "cycle" else "")
        elif shape == "star":
            manager = "p0@x.test" if i else ""
        else:
            manager = f"p{(i - 1) // 2}@x.test" if i else ""
        lines.append(f"p{i}@x.test,P {i},{manager},{'manager' if i < n - 1 else 'employee'},")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("shape", ["chain", "star", "tree"])
def test_a_50000_row_chart_of_any_shape_is_accepted(shape):
    """Checked in linear time: a chain this deep took the old check days (it walked every
    person's whole chain and searched a list at each step); bench/directory_bench.py times it."""
    assert len(directory.parse_csv(_chart(shape, directory.MAX_ROWS).encode())) == directory.MAX_ROWS


def test_a_cycle_through_50000_people_is_named_at_the_first_line_it_reaches():
    found = problems(_chart("cycle", directory.MAX_ROWS))
    assert len(found) == 1 and found[0].startswith("line 2: the manager chain has a cycle: p0@x.test -> ")
    assert found[0].endswith(" -> p1@x.test -> p0@x.test") and found[0].count(" -> ") == directory.MAX_ROWS


def test_a_cycle_below_a_long_clean_chain_is_named_at_the_first_line_that_reaches_it():
    data = HEADER + ("a@x.test,A,,manager,\nb@x.test,B,a@x.test,manager,\n"
                     "c@x.test,C,d@x.test,manager,\nd@x.test,D,e@x.test,manager,\ne@x.test,E,d@x.test,manager,\n")
    assert problems(data) == ["line 4: the manager chain has a cycle: d@x.test -> e@x.test -> d@x.test"]
