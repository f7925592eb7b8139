"""The `demo` seed: Contoso (42 people) and Fabrikam (6 people, admin consent).

Daniel Okafor (VP Engineering) holds a decoy for every rule of
docs/filter-rules.md next to valid 1-on-1s; every other manager has
ordinary 1-on-1s with most reports, weekly, biweekly or monthly, organized by
either side.  The module is mostly data; build_demo() reads like a table of contents.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from .factory import clone, room
from .meeting import Attendee
from .seeds import Seeder
from .world import Tenant, World

CONTOSO = Tenant("8c3a5e2d-4b1f-4e7a-9d6c-2f0b7a1e5c93", "Contoso", "contoso.com", False)
FABRIKAM = Tenant("f4b2c7e1-0d3a-4a58-b6e9-71c5d2a8e04f", "Fabrikam", "fabrikam.com", True)
PST, EST, CST = "Pacific Standard Time", "Eastern Standard Time", "Central Standard Time"
GMT, CET, PAR = "GMT Standard Time", "W. Europe Standard Time", "Romance Standard Time"
IST, JST, BRT = "India Standard Time", "Tokyo Standard Time", "E. South America Standard Time"

# key, name, job title, department, manager key, zone, aliases
CONTOSO_PEOPLE = [
    ("ceo", "Elena Marsh", "Chief Executive Officer", "Executive", None, PST, ("elena",)),
    ("eng", "Daniel Okafor", "VP Engineering", "Engineering", "ceo", PST, ("dokafor",)),
    ("prod", "Priya Raman", "Director of Product", "Product", "ceo", EST, ()),
    ("sales", "Tom Hughes", "Sales Director", "Sales", "ceo", GMT, ()),
    ("mkt", "Sofia Lindgren", "Marketing Director", "Marketing", "ceo", CET, ()),
    ("cs", "Marcus Chen", "Head of Customer Success", "Customer Success", "ceo", CST, ()),
    ("fin", "Aisha Karim", "Finance and Operations Director", "Finance", "ceo", EST, ()),
    ("hrd", "Grace Whitfield", "HR Director", "Human Resources", "ceo", EST, ()),
    ("james", "James Smith", "Senior Software Engineer", "Engineering", "eng", PST,
     ("j.smith", "jsmith")),
    ("ravi", "Ravi Patel", "Software Engineer", "Engineering", "eng", IST, ()),
    ("ana", "Ana Costa", "Software Engineer", "Engineering", "eng", EST, ()),
    ("wei", "Wei Zhang", "Staff Engineer", "Engineering", "eng", PST, ()),
    ("olivia", "Olivia Brooks", "QA Engineer", "Engineering", "eng", CST, ()),
    ("kenji", "Kenji Watanabe", "Site Reliability Engineer", "Engineering", "eng", JST, ()),
    ("fatima", "Fatima Noor", "Software Engineer", "Engineering", "eng", GMT, ()),
    ("lucas", "Lucas Meyer", "Software Engineer", "Engineering", "eng", CET, ()),
    ("hannah", "Hannah Kim", "Senior Product Manager", "Product", "prod", EST, ()),
    ("diego", "Diego Ramos", "Product Manager", "Product", "prod", CST, ()),
    ("chloe", "Chloe Martin", "Product Designer", "Product", "prod", PAR, ()),
    ("sam", "Sam Taylor", "UX Researcher", "Product", "prod", EST, ("s.taylor",)),
    ("noah", "Noah Wilson", "Product Analyst", "Product", "prod", PST, ()),
    ("oliver", "Oliver Bennett", "Account Executive", "Sales", "sales", GMT, ()),
    ("amelia", "Amelia Clarke", "Account Executive", "Sales", "sales", GMT, ()),
    ("felix", "Felix Wagner", "Account Executive", "Sales", "sales", CET, ()),
    ("isla", "Isla Murray", "Sales Development Representative", "Sales", "sales", GMT, ()),
    ("jack", "Jack Turner", "Solutions Engineer", "Sales", "sales", GMT, ()),
    ("leonie", "Leonie Roth", "Account Manager", "Sales", "sales", CET, ()),
    ("emil", "Emil Larsson", "Content Lead", "Marketing", "mkt", CET, ()),
    ("maja", "Maja Nowak", "Marketing Manager", "Marketing", "mkt", CET, ()),
    ("lina", "Lina Holm", "Brand Designer", "Marketing", "mkt", CET, ()),
    ("paul", "Paul Dubois", "Events Manager", "Marketing", "mkt", PAR, ()),
    ("megan", "Megan Ortiz", "Customer Success Manager", "Customer Success", "cs", CST, ()),
    ("tyler", "Tyler Nguyen", "Support Engineer", "Customer Success", "cs", PST, ()),
    ("zoe", "Zoe Adams", "Customer Success Manager", "Customer Success", "cs", CST, ()),
    ("ben", "Ben Carter", "Support Engineer", "Customer Success", "cs", EST, ()),
    ("aiko", "Aiko Tanaka", "Support Engineer", "Customer Success", "cs", JST, ()),
    ("michael", "Michael Ross", "Controller", "Finance", "fin", EST, ()),
    ("laura", "Laura Evans", "Financial Analyst", "Finance", "fin", EST, ()),
    ("victor", "Victor Silva", "Operations Manager", "Finance", "fin", BRT, ()),
    ("nina", "Nina Alvarez", "HR Business Partner", "Human Resources", "hrd", PST, ()),
    ("owen", "Owen Price", "Recruiter", "Human Resources", "hrd", EST, ()),
    ("maya", "Maya Singh", "People Operations Specialist", "Human Resources", "hrd", IST, ()),
]
FABRIKAM_PEOPLE = [
    ("f_ceo", "Hanna Vogel", "Chief Executive Officer", "Executive", None, CET, ()),
    ("f_ops", "Lukas Berg", "Head of Operations", "Operations", "f_ceo", CET, ()),
    ("f_mia", "Mia Schulz", "Operations Analyst", "Operations", "f_ops", CET, ()),
    ("f_jonas", "Jonas Weber", "Logistics Coordinator", "Operations", "f_ops", CET, ()),
    ("f_emma", "Emma Fischer", "Procurement Specialist", "Operations", "f_ops", GMT, ()),
    # Fabrikam's HR admin (the demo's directory load makes "HR" titles HR admins), so that its
    # waiting-for-approval page can be seen with people on it.
    ("f_sara", "Sara Klein", "HR Coordinator", "Operations", "f_ops", CET, ()),
]
# Ordinary 1-on-1 shapes, cycled over the reports: (who organizes, recurrence, weeks back).
_SHAPES = [
    ("manager", {"type": "weekly"}, 12),
    ("report", {"type": "weekly", "interval": 2}, 16),
    ("manager", {"type": "relativeMonthly", "index": "second"}, None),
    ("report", {"type": "weekly"}, 9),
    ("manager", {"type": "weekly", "count": 52}, 10),
    ("report", {"type": "absoluteMonthly"}, None),
]
_HOURS = ["09:00", "10:30", "11:00", "13:30", "14:00", "15:30", "16:00"]
DECOY_MANAGER = "eng"           # Daniel: every decoy lives in his mailbox
# "most of their reports"; Elena's 1-on-1 with Daniel is set up with his decoys.
SKIPPED = {("sales", "isla"), ("hrd", "owen"), ("cs", "zoe"), ("ceo", "eng")}


def build_demo(anchor: date) -> World:
    world = World("demo", anchor)
    s = Seeder(world)
    for tenant, table in ((CONTOSO, CONTOSO_PEOPLE), (FABRIKAM, FABRIKAM_PEOPLE)):
        world.add_tenant(tenant)
        for row in table:
            s.person(row[0], tenant, *row[1:])
    for manager in ("ceo", "prod", "sales", "mkt", "cs", "fin", "hrd", "f_ceo", "f_ops"):
        ordinary_one_on_ones(s, manager)
        team_meeting(s, manager)
    team_meeting(s, "eng")
    daniel_one_on_ones(s)
    daniel_decoys(s)
    other_decoys(s)
    return world


def _reports(s: Seeder, manager: str) -> list[str]:
    oid = s.people[manager].oid
    return [k for k, u in s.people.items() if u.manager_oid == oid]


def _title(s: Seeder, a: str, b: str) -> str:
    return f"{s.people[a].name.split()[0]} / {s.people[b].name.split()[0]} 1:1"


def ordinary_one_on_ones(s: Seeder, manager: str) -> None:
    """Valid candidates: one per report (bar a few), shapes and zones varied."""
    for n, report in enumerate(_reports(s, manager)):
        if (manager, report) in SKIPPED:
            continue
        side, rec, weeks_back = _SHAPES[(n + len(manager)) % len(_SHAPES)]
        org, other = (manager, report) if side == "manager" else (report, manager)
        weekday = (n * 2 + len(manager)) % 5
        if rec["type"] == "relativeMonthly":
            first = s.nth_weekday(4, weekday, rec["index"])
        elif rec["type"] == "absoluteMonthly":
            first = s.month_day(3, 3 + n * 5 % 24)
        else:
            first = s.weeks(weeks_back, weekday)
        length = 45 if rec["type"].endswith("Monthly") else 30
        s.meet(org, [s.invite(other)], _title(s, manager, report), first,
               _HOURS[(n + weekday) % len(_HOURS)], length, rec)


def team_meeting(s: Seeder, manager: str) -> None:
    team = _reports(s, manager)
    if len(team) < 2:
        return      # a "team" of two would just be another 1-on-1
    name = s.people[manager].department
    if manager in ("ceo", "f_ceo"):
        name = "Leadership"
    s.meet(manager, [s.invite(r) for r in team], f"{name} weekly sync", s.weeks(20, 0),
           "10:00" if manager != "eng" else "09:00", 60, {"type": "weekly"}, kind="team")


def daniel_one_on_ones(s: Seeder) -> None:
    """Daniel's valid 1-on-1s, including a moved and cancelled occurrences, a room,
    an alias address, a report-organized series in IST, and monthly 'last' Thursday."""
    james = s.meet("eng", [s.invite("james", address="j.smith@contoso.com")],
                   "James / Daniel weekly 1:1", s.weeks(14, 1), "10:00", 30, {"type": "weekly"})
    james.cancelled |= {s.weeks(2, 1), s.weeks(-1, 1)}     # one past, one next week
    moved = s.weeks(-2, 1)
    start, end = james.pattern_times(moved)
    shifted = james.override(moved, james.created)     # one day later, two hours later
    shifted.start, shifted.end = start + timedelta(days=1, hours=2), end + timedelta(days=1, hours=2)
    james.touch(james.created, series_wide=False)
    ravi = s.meet("ravi", [s.invite("eng")], "Ravi <> Daniel 1:1", s.weeks(11, 2), "20:30",
                  30, {"type": "weekly"})
    ravi.cancelled.add(s.weeks(1, 2))
    s.meet("ana", [s.invite("eng"), room("room-2.01@contoso.com", "Conf Room 2.01 (Boston)")],
           "Ana / Daniel 1:1", s.weeks(18, 3), "09:00", 30, {"type": "weekly", "interval": 2})
    s.meet("eng", [s.invite("olivia")], "Olivia / Daniel monthly career check-in",
           s.nth_weekday(5, 3, "last"), "13:00", 45, {"type": "relativeMonthly", "index": "last"})
    s.meet("fatima", [s.invite("eng")], "Fatima / Daniel monthly 1:1", s.month_day(4, 15),
           "16:00", 45, {"type": "absoluteMonthly", "end": s.anchor + timedelta(days=400)})
    s.meet("lucas", [s.invite("eng")], "Lucas / Daniel 1:1", s.weeks(7, 4), "17:00", 30,
           {"type": "weekly", "interval": 2})


def daniel_decoys(s: Seeder) -> None:
    """One decoy per rule of docs/filter-rules.md, all in Daniel's mailbox."""
    a = s.anchor
    # not_recurring: a one-off between manager and report, and one last month.
    s.meet("eng", [s.invite("ravi")], "Promotion packet review", a + timedelta(days=2),
           "08:00", 45, kind="review")
    s.meet("wei", [s.invite("eng")], "Wei / Daniel: design doc walkthrough",
           a - timedelta(days=17), "11:00", 60, kind="review")
    # cancelled: the report cancelled the whole series; Daniel keeps a "Canceled:" copy.
    gone = s.meet("lucas", [s.invite("eng")], "Lucas / Daniel weekly sync", s.weeks(10, 1),
                  "16:00", 30, {"type": "weekly"})
    gone.is_cancelled = True
    s.drop_copy(gone, "lucas")
    # ended: an onboarding series that finished before the anchor (numbered).
    s.meet("eng", [s.invite("fatima")], "Fatima onboarding check-in", s.weeks(8, 0),
           "09:30", 30, {"type": "weekly", "days": ("monday", "thursday"), "count": 14})
    # all_day: a monthly all-day on-site day with a report.
    s.meet("wei", [s.invite("eng")], "Wei / Daniel on-site day", s.nth_weekday(3, 2, "first"),
           "00:00", 24 * 60, {"type": "relativeMonthly", "index": "first"},
           is_all_day=True, show_as="workingElsewhere")
    # private: a weekly 1-on-1 marked private.
    s.meet("eng", [s.invite("wei")], "Wei / Daniel career conversation", s.weeks(6, 0),
           "14:00", 30, {"type": "weekly"}, sensitivity="private")
    # not_two_people: Daniel's own daily focus block (one person), team sync (above).
    s.meet("eng", [], "Focus time", a - timedelta(days=30), "08:00", 60,
           {"type": "daily", "count": 200}, online=False, kind="review")
    # manager_not_participant: a two-address meeting reaching Daniel through a group.
    group = Attendee("product-eng@contoso.com", "Product & Engineering", "required", "none")
    holders = [Attendee(s.people[k].email, s.people[k].name, "required", "accepted",
                        listed=False) for k in ("eng", "james", "wei", "hannah")]
    s.meet("prod", [group, *holders], "Product / Engineering triage", s.weeks(15, 3),
           "12:00", 30, {"type": "weekly"}, kind="team")
    # not_direct_report: his own manager, a peer manager, HR, and an outside vendor.
    s.meet("ceo", [s.invite("eng")], "Elena / Daniel 1:1", s.weeks(20, 4), "11:00", 45,
           {"type": "weekly"})
    s.meet("eng", [s.invite("prod")], "Daniel / Priya peer sync", s.weeks(12, 2), "09:00",
           30, {"type": "weekly", "interval": 2})
    s.meet("nina", [s.invite("eng")], "HRBP check-in: Engineering", s.nth_weekday(4, 1, "first"),
           "15:00", 30, {"type": "relativeMonthly", "index": "first"})
    vendor = Attendee("sarah.lee@northwindtraders.com", "Sarah Lee", "required", "accepted")
    s.meet("eng", [vendor], "Northwind / Contoso integration sync", s.weeks(9, 3), "08:30",
           30, {"type": "weekly", "interval": 2}, kind="review")
    # declined: the report declined one series; Daniel declined another.
    s.meet("eng", [s.invite("olivia", "declined")], "Olivia / Daniel test strategy 1:1",
           s.weeks(8, 4), "10:00", 30, {"type": "weekly", "interval": 2})
    s.meet("lucas", [s.invite("eng", "declined")], "Lucas / Daniel release planning",
           s.weeks(5, 2), "15:00", 30, {"type": "weekly"})
    # copied: Kenji's 1-on-1 pasted into a second series with the same GOID.
    kenji = s.meet("eng", [s.invite("kenji")], "Kenji / Daniel 1:1", s.weeks(13, 3), "16:00",
                   30, {"type": "weekly"}, tz="Pacific Standard Time")
    s.world.add_meeting(clone(s.world, kenji))


def other_decoys(s: Seeder) -> None:
    """Decoys outside Daniel's mailbox: peer 1-on-1s, a copy of an ended series."""
    s.meet("james", [s.invite("wei")], "James / Wei pairing", s.weeks(10, 3), "13:00", 60,
           {"type": "weekly"}, kind="review")
    s.meet("hannah", [s.invite("diego")], "Hannah / Diego roadmap sync", s.weeks(6, 1),
           "10:00", 30, {"type": "weekly", "interval": 2}, kind="review")
    # As tests/data/filter-examples/15-copy-of-ended-series.json: the old series ended, its copy carries on.
    old = s.meet("prod", [s.invite("noah")], "Noah / Priya 1:1", s.weeks(14, 2), "17:00", 30,
                 {"type": "weekly", "end": s.weeks(2, 2)})
    restart = s.weeks(1, 3)
    fresh = clone(s.world, old, start=datetime.combine(restart, old.start.time()))
    fresh.recurrence["range"].update(startDate=restart.isoformat(), type="noEnd",
                                     endDate="0001-01-01")
    fresh.recurrence["pattern"]["daysOfWeek"] = ["thursday"]
    s.world.add_meeting(fresh)
    # An all-day out-of-office block (a single, all-day, one person).
    s.meet("eng", [], "OOF - KubeCon", s.anchor + timedelta(days=22), "00:00", 3 * 24 * 60,
           is_all_day=True, show_as="oof")
