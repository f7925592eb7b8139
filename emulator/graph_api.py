"""Microsoft Graph v1.0: /me, directReports, calendars, calendarView, events, instances (§1, §7).

Delta lives in delta.py. Every route goes through graph_core.graph_call.
"""
from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from datetime import datetime

from flask import Blueprint, request

from . import odata
from .graph_core import GraphError, graph_call, json_response, state

bp = Blueprint("graph", __name__, url_prefix="/v1.0")
VIEW_CACHE_SIZE = 64
USER_DEFAULT = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id")
USER_EXTRA = ("department", "mailNickname", "accountEnabled")


def base() -> str:
    return request.host_url.rstrip("/") + "/v1.0"


# --- directory ---------------------------------------------------------------------------------
def user_json(user, fields=USER_DEFAULT) -> dict:
    given, _, surname = user.name.partition(" ")
    values = {"businessPhones": [], "displayName": user.name, "givenName": given,
              "jobTitle": user.job_title, "mail": user.email, "mobilePhone": None,
              "officeLocation": None, "preferredLanguage": "en-US", "surname": surname or None,
              "userPrincipalName": user.email, "id": user.oid, "department": user.department,
              "mailNickname": user.email.split("@")[0], "accountEnabled": True}
    return {name: values[name] for name in fields}


def user_fields() -> tuple:
    raw = request.args.get("$select")
    if not raw:
        return USER_DEFAULT
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    unknown = [n for n in names if n not in USER_DEFAULT + USER_EXTRA]
    if unknown:
        raise GraphError(400, "Request_BadRequest", f"Could not find a property named "
                         f"'{unknown[0]}' on type 'microsoft.graph.user'.")
    return names


@bp.get("/me")
@graph_call("directory")
def me(caller):
    body = {"@odata.context": f"{base()}/$metadata#users/$entity"}
    body.update(user_json(caller.user, user_fields()))
    return json_response(body)


@bp.get("/me/directReports")
@graph_call("directory")
def direct_reports(caller):
    people = state().world.direct_reports(caller.user.oid)
    value = [{"@odata.type": "#microsoft.graph.user", **user_json(p, user_fields())} for p in people]
    return json_response({"@odata.context": f"{base()}/$metadata#directoryObjects", "value": value})


@bp.get("/me/manager")
@graph_call("directory")
def manager(caller):
    boss = state().world.users.get(caller.user.manager_oid or "")
    if boss is None:
        raise GraphError(404, "Request_ResourceNotFound", "Resource 'manager' does not exist or "
                         "one of its queried reference-property objects are not present.")
    return json_response({"@odata.context": f"{base()}/$metadata#directoryObjects/$entity",
                          "@odata.type": "#microsoft.graph.user", **user_json(boss)})


# --- calendars ---------------------------------------------------------------------------------
def calendar_id(user) -> str:
    mailbox = state().world.mailbox(user.oid)
    known = getattr(mailbox, "calendar_id", None)
    if known:
        return known
    digest = hashlib.sha256(("calendar:" + user.oid).encode()).digest()
    return "AAMkAD" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "AAA="


def calendar_json(user) -> dict:
    cid = calendar_id(user)
    return {"id": cid, "name": "Calendar", "color": "auto", "hexColor": "",
            "isDefaultCalendar": True, "changeKey": cid[-16:], "canShare": True,
            "canViewPrivateItems": True, "canEdit": True, "isRemovable": False,
            "isTallyingResponses": True, "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "owner": {"name": user.name, "address": user.email}}


@bp.get("/me/calendars")
@graph_call("calendar")
def calendars(caller):
    return json_response({"@odata.context": f"{base()}/$metadata#users('{caller.user.oid}')"
                                            "/calendars", "value": [calendar_json(caller.user)]})


@bp.get("/me/calendar")
@graph_call("calendar")
def default_calendar(caller):
    return json_response({"@odata.context": f"{base()}/$metadata#users('{caller.user.oid}')"
                                            "/calendars/$entity", **calendar_json(caller.user)})


# --- calendarView and instances ------------------------------------------------------------------
def expanded(caller, kind: str, start, end, order: str, master: str | None = None) -> list[dict]:
    """The expanded, ordered list, cached per (mailbox, window, version) so paging is cheap."""
    st = state()
    mailbox = st.world.mailbox(caller.user.oid)
    key = (caller.user.oid, kind, master, start, end, order, mailbox.version, id(st.world))
    cache = st.caches.setdefault("views", OrderedDict())
    with st.lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    if kind == "instances":
        items = mailbox.instances(master, start, end)
    else:
        items = mailbox.view(start, end)
    field, _, direction = order.partition(" ")
    if field == "end/dateTime":
        items = sorted(items, key=lambda e: (e["end"]["dateTime"], e["id"]))
    if direction == "desc":
        items = list(reversed(items))
    with st.lock:
        cache[key] = items
        while len(cache) > VIEW_CACHE_SIZE:
            cache.popitem(last=False)
    return items


def collection_page(caller, kind: str, context: str, master: str | None = None):
    """calendarView and instances: window, $select, $top, Prefer headers, signed nextLink."""
    odata.reject_unsupported()
    prefs = odata.prefer()
    signer = odata.Signer(state().paging_key)
    token = request.args.get("$skiptoken")
    if token:
        spec = signer.load(token)
        if spec is None or spec.get("u") != caller.user.oid or spec.get("k") != kind:
            raise GraphError(400, "ErrorInvalidParameter", "The $skiptoken value is not valid.")
    else:
        start, end = odata.window()
        size, _ = odata.page_size(prefs)
        spec = {"k": kind, "u": caller.user.oid, "m": master, "s": start.isoformat(),
                "e": end.isoformat(), "sel": odata.select(caller.basic_only), "n": size, "o": odata.orderby(),
                "i": int(request.args.get("$skip", "0") or 0)}
    return serve_page(caller, spec, prefs, signer, context)


def serve_page(caller, spec: dict, prefs: dict, signer, context: str):
    start, end = datetime.fromisoformat(spec["s"]), datetime.fromisoformat(spec["e"])
    items = expanded(caller, spec["k"], start, end, spec["o"], spec["m"])
    offset, size = spec["i"], spec["n"]
    tz, tz_applied = odata.time_zone(prefs)
    text = prefs.get("outlook.body-content-type") == "text"
    page = [odata.shape(e, spec["sel"], caller.basic_only, tz, text)
            for e in items[offset:offset + size]]
    fields = spec["sel"]
    body = {"@odata.context": context + (f"({','.join(fields)})" if fields else "")}
    if offset + size < len(items):
        body["@odata.nextLink"] = (f"{request.host_url.rstrip('/')}{request.path}?$skiptoken="
                                   + signer.dump({**spec, "i": offset + size}))
    body["value"] = page
    return json_response(body, headers=applied(prefs, tz_applied, text))


def applied(prefs: dict, tz_applied: str | None, text: bool) -> dict:
    done = [tz_applied] if tz_applied else []
    if text:
        done.append('outlook.body-content-type="text"')
    if prefs.get("idtype", "").lower() == "immutableid":
        done.append('IdType="ImmutableId"')  # ids here never change anyway (see README)
    if "odata.maxpagesize" in prefs and "$top" not in request.args:
        done.append(f"odata.maxpagesize={odata.page_size(prefs, allow_top=False)[0]}")
    return {"Preference-Applied": ", ".join(done)} if done else {}


@bp.get("/me/calendarView")
@bp.get("/me/calendar/calendarView")
@graph_call("calendar")
def calendar_view(caller):
    return collection_page(caller, "view", f"{base()}/$metadata#users('{caller.user.oid}')/calendarView")


@bp.get("/me/calendars/<calendar>/calendarView")
@graph_call("calendar")
def calendar_view_of(caller, calendar):
    if calendar != calendar_id(caller.user):
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return collection_page(caller, "view", f"{base()}/$metadata#users('{caller.user.oid}')"
                                           f"/calendars('{calendar}')/calendarView")


def find_event(caller, event_id: str) -> dict:
    event = state().world.mailbox(caller.user.oid).get(event_id)
    if event is None:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return event


@bp.get("/me/events/<event_id>")
@graph_call("calendar")
def get_event(caller, event_id):
    event = find_event(caller, event_id)
    prefs = odata.prefer()
    tz, tz_applied = odata.time_zone(prefs)
    text = prefs.get("outlook.body-content-type") == "text"
    fields = odata.select(caller.basic_only)
    body = {"@odata.context": f"{base()}/$metadata#users('{caller.user.oid}')/events"
                              + (f"({','.join(fields)})" if fields else "") + "/$entity"}
    body.update(odata.shape(event, fields, caller.basic_only, tz, text))
    return json_response(body, headers=applied(prefs, tz_applied, text))


@bp.get("/me/events/<event_id>/instances")
@graph_call("calendar")
def instances(caller, event_id):
    event = find_event(caller, event_id)
    if event.get("type") != "seriesMaster":
        raise GraphError(400, "ErrorInvalidRequest", "The event is not a recurring series master.")
    context = f"{base()}/$metadata#users('{caller.user.oid}')/events('{event_id}')/instances"
    return collection_page(caller, "instances", context, master=event_id)


from . import delta, subscriptions_api  # noqa: E402,F401  (register their routes on bp)
