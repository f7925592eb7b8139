"""The 1-on-1s use cases: no Flask, no commit; the caller commits once. Each takes the key
ring (``keys``) that decrypts the stored calendar.

- ``manager_page(session, keys, manager, now)``: per direct report the candidate series
  (subject, cadence in words, next occurrence in the manager's zone, organizer),
  the attached 1-on-1 with its next few occurrences, and the "why isn't my
  meeting listed?" rows.
- ``my_manager(session, keys, person, now)``: which of the manager's series is the
  person's 1-on-1 (read-only).
- ``attach`` / ``detach`` (``attach(..., replace=True)`` replaces): one series per
  manager-report pair, each audited; a refusal raises ``Refused`` after auditing it.
- ``recheck_after_sync(session, keys, connection)``: called by the sync after
  each successful sync.

The stored calendar is read through ``calendar.load_recurring``, which decrypts
one event per series (see its docstring), and judged by ``listening.filters``.
"""
from listening.one_on_ones.attaching import Done, Refused, attach, detach
from listening.one_on_ones.judged import Judgement, judge_calendar
from listening.one_on_ones.page import ManagerPage, MyManager, manager_page, my_manager
from listening.one_on_ones.recheck import Rechecked, assess, recheck_after_sync

__all__ = ["attach", "detach", "Done", "Refused", "judge_calendar", "Judgement", "manager_page",
           "my_manager", "ManagerPage", "MyManager", "recheck_after_sync", "assess", "Rechecked"]
