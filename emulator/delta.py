"""GET /v1.0/me/calendarView/delta: rounds of skiptoken pages ending in a deltatoken (§2).

Round state is kept server-side in a bounded LRU, like Outlook's token cache: an evicted or unknown
token answers syncStateNotFound. The next round compares the window now with the id -> changeKey
snapshot taken at the end of the previous one, so edits, cancellations and events that moved out of
the window come back as changes or `@removed` entries.
"""
from __future__ import annotations

import secrets
from collections import OrderedDict
from datetime import datetime

from flask import request

from . import odata
from .graph_api import applied, base, bp, expanded
from .graph_core import GraphError, graph_call, json_response, state

MAX_TOKENS = 2000
REFUSED = ("$select", "$top", "$filter", "$orderby", "$expand", "$search")
EVENT_TYPE = "#microsoft.graph.event"


def store() -> OrderedDict:
    return state().caches.setdefault("delta", OrderedDict())


def remember(entry: dict) -> str:
    token = secrets.token_urlsafe(24)
    st = state()
    with st.lock:
        tokens = store()
        tokens[token] = entry
        while len(tokens) > MAX_TOKENS:
            tokens.popitem(last=False)
    return token


def recall(token: str, caller) -> dict:
    with state().lock:
        entry = store().get(token)
    if entry is None or entry["oid"] != caller.user.oid:
        raise GraphError(400, "syncStateNotFound", "Sync state generation not found; the delta "
                         "token has expired and data must be synchronized again.")
    return entry


@bp.get("/me/calendarView/delta")
@graph_call("calendar")
def calendar_view_delta(caller):
    if caller.email.lower() in state().faults.delta_forbidden:
        raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try "
                         "again.")
    refused = [name for name in REFUSED if name in request.args]
    if refused:  # docs/microsoft-graph.md §2: only the window and the two tokens are accepted
        raise GraphError(400, "ErrorInvalidUrlQuery", "The following parameters are not supported "
                         "with change tracking over the 'CalendarView' resource: "
                         "'$orderby, $filter, $select, $expand, $search, $top'.")
    args = {k.lower(): v for k, v in request.args.items()}
    skip, delta = args.get("$skiptoken"), args.get("$deltatoken")
    if skip or delta:
        entry = recall(skip or delta, caller)
        reset_if_asked(caller, entry)
        if skip:
            return page(caller, entry)
        return page(caller, next_round(caller, entry))
    start, end = odata.window()
    return page(caller, next_round(caller, {"oid": caller.user.oid, "s": start.isoformat(),
                                            "e": end.isoformat(), "snapshot": None, "v": 0}))


def reset_if_asked(caller, entry: dict) -> None:
    """A pending delta_reset fault: forget the mailbox's rounds and answer 410 or 400 (§2)."""
    mode = state().faults.take_delta_reset(caller.email)
    if mode is None:
        return
    st = state()
    with st.lock:
        tokens = store()
        for token in [t for t, e in tokens.items() if e["oid"] == caller.user.oid]:
            del tokens[token]
    if mode == "410":
        location = (f"{base()}/me/calendarView/delta?startDateTime={entry['s']}"
                    f"&endDateTime={entry['e']}&$deltaToken=").replace("+", "%2B")
        raise GraphError(410, "resyncRequired", "The delta token is no longer valid; reset the "
                         "sync state and synchronize again.", {"Location": location})
    raise GraphError(400, "syncStateNotFound", "Sync state generation not found; the delta token "
                     "has expired and data must be synchronized again.")


def removed(event_id: str) -> dict:
    return {"@odata.type": EVENT_TYPE, "id": event_id, "@removed": {"reason": "deleted"}}


def next_round(caller, previous: dict) -> dict:
    """Entries for a new round: everything (first round) or what changed since `previous`.

    Like Outlook (§2), a round also reports as removed the single events and occurrences that
    changed outside the window; the client filters by its own window.
    """
    start, end = datetime.fromisoformat(previous["s"]), datetime.fromisoformat(previous["e"])
    mailbox = state().world.mailbox(caller.user.oid)
    version = mailbox.version  # read first: a change racing the expansion is replayed, not lost
    events = expanded(caller, "view", start, end, "start/dateTime asc")
    snapshot = {e["id"]: e.get("changeKey") for e in events}
    old = previous["snapshot"]
    if old is None:
        pending = list(events)
    else:
        pending = [e for e in events if old.get(e["id"], object()) != e.get("changeKey")]
        pending += [removed(gone) for gone in old if gone not in snapshot]
        pending += [removed(eid) for eid in mailbox.items_touched_since(previous["v"])
                    if eid not in snapshot and eid not in old]
        pending = replayed(caller, pending, events)
    return {"oid": caller.user.oid, "s": previous["s"], "e": previous["e"], "pending": pending,
            "offset": 0, "snapshot": snapshot, "v": version}


def replayed(caller, pending: list, events: list) -> list:
    """A pending delta_replay fault: Graph may send an item again, unchanged, and in any order
    (§2). The round also carries N unchanged events and repeats its changes in reverse."""
    extra = state().faults.take_delta_replay(caller.email)
    if extra is None:
        return pending
    changed = {item["id"] for item in pending}
    unchanged = [e for e in events if e["id"] not in changed][:extra]
    return pending + unchanged + pending[::-1]


def page(caller, entry: dict):
    prefs = odata.prefer()
    size, _ = odata.page_size(prefs, allow_top=False)
    tz, tz_applied = odata.time_zone(prefs)
    text = prefs.get("outlook.body-content-type") == "text"
    offset, pending = entry["offset"], entry["pending"]
    chunk = pending[offset:offset + size]
    value = [item if "@removed" in item else
             {"@odata.type": EVENT_TYPE, **odata.shape(item, None, caller.basic_only, tz, text)}
             for item in chunk]
    body = {"@odata.context": f"{base()}/$metadata#Collection(event)"}
    if offset + size < len(pending):
        token = remember({**entry, "offset": offset + size})
        body["@odata.nextLink"] = f"{base()}/me/calendarView/delta?$skiptoken={token}"
    else:
        token = remember({"oid": entry["oid"], "s": entry["s"], "e": entry["e"],
                          "snapshot": entry["snapshot"], "v": entry["v"], "pending": [],
                          "offset": 0})
        body["@odata.deltaLink"] = f"{base()}/me/calendarView/delta?$deltatoken={token}"
    body["value"] = value
    return json_response(body, headers=applied(prefs, tz_applied, text))
