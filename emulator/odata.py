"""Query options and Prefer headers for event collections (docs/microsoft-graph.md §1-3)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
from datetime import datetime, timezone

from flask import request

from . import timezones
from .graph_core import GraphError

DEFAULT_PAGE = 10  # default page size without $top [OBS, docs/microsoft-graph.md §1]
MAX_TOP = 1000
EVENT_PROPERTIES = frozenset("""
allowNewTimeProposals attendees body bodyPreview cancelledOccurrences categories changeKey
createdDateTime end hasAttachments hideAttendees iCalUId id importance isAllDay isCancelled isDraft
isOnlineMeeting isOrganizer isReminderOn lastModifiedDateTime location locations onlineMeeting
onlineMeetingProvider onlineMeetingUrl organizer originalEndTimeZone originalStart
originalStartTimeZone recurrence reminderMinutesBeforeStart responseRequested responseStatus
sensitivity seriesMasterId showAs start subject transactionId type webLink""".split())
UNSELECTABLE = {"createdDateTime", "lastModifiedDateTime"}  # docs/microsoft-graph.md §1: not via $select
BODY_FIELDS = ("body", "bodyPreview")
_TAG = re.compile(r"<[^>]+>")
_HEAD = re.compile(r"<head.*?</head>|<style.*?</style>", re.S | re.I)


def parse_instant(name: str, value: str) -> datetime:
    """ISO 8601; an offset is honoured and a value without one is UTC (docs/microsoft-graph.md §1)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise GraphError(400, "ErrorInvalidParameter",
                         f"The value '{value}' of parameter '{name}' is invalid.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def window() -> tuple[datetime, datetime]:
    args = {k.lower(): v for k, v in request.args.items()}
    if not args.get("startdatetime") or not args.get("enddatetime"):
        raise GraphError(400, "ErrorInvalidParameter", "This request requires a time window "
                         "specified by the query string parameters StartDateTime and EndDateTime.")
    start = parse_instant("StartDateTime", args["startdatetime"])
    end = parse_instant("EndDateTime", args["enddatetime"])
    if end < start:
        raise GraphError(400, "ErrorInvalidParameter", "The parameter 'EndDateTime' must be later "
                         "than 'StartDateTime'.")
    return start, end


def select(basic_only: bool = False) -> list[str] | None:
    """$select names. Under Calendars.ReadBasic, asking for body/bodyPreview is a 403: the
    emulator refuses rather than silently omitting what the caller explicitly asked for."""
    raw = request.args.get("$select")
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        if name not in EVENT_PROPERTIES:
            raise GraphError(400, "RequestBroker--ParseUri", f"Could not find a property named "
                             f"'{name}' on type 'microsoft.graph.event'.")
    if basic_only and set(names) & set(BODY_FIELDS):
        raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try "
                         "again. (Calendars.ReadBasic does not cover body or bodyPreview.)")
    if "location" in names and "locations" not in names:
        names.append("locations")  # observed in Microsoft's own sample (docs/microsoft-graph.md §1)
    return [n for n in names if n not in UNSELECTABLE]


def prefer() -> dict[str, str]:
    """All Prefer preferences, from one or several headers: name -> value ("" if bare)."""
    out = {}
    for header in request.headers.getlist("Prefer"):
        for part in re.findall(r'(?:[^,"]|"[^"]*")+', header):
            name, _, value = part.strip().partition("=")
            out[name.strip().lower()] = value.strip().strip('"')
    return out


def page_size(prefs: dict, allow_top: bool = True) -> tuple[int, str | None]:
    """$top wins, then Prefer: odata.maxpagesize, else 10. Returns (size, Preference-Applied)."""
    top = request.args.get("$top")
    if top is not None and allow_top:
        if not top.isdigit() or not 1 <= int(top) <= MAX_TOP:
            raise GraphError(400, "ErrorInvalidParameter", f"The value '{top}' of $top is out of "
                             f"range; it must be between 1 and {MAX_TOP}.")
        return int(top), None
    if "odata.maxpagesize" in prefs:
        raw = prefs["odata.maxpagesize"]
        if raw.isdigit() and int(raw) >= 1:
            size = min(int(raw), MAX_TOP)
            return size, f"odata.maxpagesize={size}"
    return DEFAULT_PAGE, None


def orderby() -> str:
    raw = (request.args.get("$orderby") or "start/dateTime").strip()
    field, _, direction = raw.partition(" ")
    if field not in ("start/dateTime", "end/dateTime") or direction.strip() not in ("", "asc", "desc"):
        raise GraphError(400, "ErrorInvalidProperty", f"The emulator supports $orderby on "
                         f"start/dateTime and end/dateTime only, not '{raw}'.")
    return f"{field} {direction.strip() or 'asc'}"


def reject_unsupported() -> None:
    for name in ("$filter", "$search", "$expand"):
        if name in request.args:
            raise GraphError(501, "NotImplemented", f"The emulator does not implement {name}.")


def shape(event: dict, fields: list[str] | None, basic_only: bool, tz: tuple | None,
          text_body: bool) -> dict:
    """One event as served: projection, ReadBasic stripping, time zone and body type."""
    etag = event.get("@odata.etag") or f'W/"{event.get("changeKey", "")}"'
    if fields is None:
        out = {"@odata.etag": etag, **{k: v for k, v in event.items() if k != "@odata.etag"}}
    else:
        out = {"@odata.etag": etag, "id": event["id"]}
        out.update((k, event[k]) for k in fields if k in event and k != "id")
    if basic_only:
        for name in BODY_FIELDS:
            out.pop(name, None)
    if tz is not None:
        for name in ("start", "end"):
            if name in out and out[name]:
                out[name] = convert(out[name], tz, bool(event.get("isAllDay")))
    if text_body and isinstance(out.get("body"), dict) and out["body"].get("contentType") == "html":
        out["body"] = {"contentType": "text", "content": html_to_text(out["body"]["content"])}
    return out


def html_to_text(content: str) -> str:
    """Roughly what outlook.body-content-type="text" gives: the visible text."""
    text = _TAG.sub("", _HEAD.sub("", content))
    return html.unescape(re.sub(r"(\r?\n){3,}", "\r\n\r\n", text)).strip()


_UTC_KEYS = frozenset(("UTC", "Etc/UTC"))


def convert(value: dict, tz: tuple, all_day: bool) -> dict:
    name, zone = tz
    if all_day:  # all-day events stay at midnight in whatever zone they are shown in
        return {"dateTime": value["dateTime"], "timeZone": name}
    if getattr(zone, "key", None) in _UTC_KEYS and value.get("timeZone") == "UTC":
        # Stored times are UTC in Graph's own format (events.graph_time): nothing to convert.
        # The sync asks for UTC, and converting 40,000 times a view cost more than the JSON.
        return {"dateTime": value["dateTime"], "timeZone": name}
    moment = datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=timezone.utc)
    local = moment.astimezone(zone)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": name}


def time_zone(prefs: dict) -> tuple[tuple | None, str | None]:
    """((name, zone) or None, Preference-Applied). Unknown zones fall back to UTC, unapplied."""
    name = prefs.get("outlook.timezone")
    zone = timezones.zone(name)
    if zone is None:
        return None, None
    return (name, zone), f'outlook.timezone="{name}"'


class Signer:
    """Opaque, tamper-evident paging tokens: the state travels in the link, signed, so the
    server keeps no paging state and a client that edits a link is refused."""

    def __init__(self, key: bytes):
        self.key = key

    def dump(self, data: dict) -> str:
        raw = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=")
        mac = hmac.new(self.key, raw, hashlib.sha256).digest()[:12]
        return raw.decode() + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def load(self, token: str) -> dict | None:
        raw, _, mac = token.partition(".")
        want = base64.urlsafe_b64encode(hmac.new(self.key, raw.encode(), hashlib.sha256)
                                        .digest()[:12]).rstrip(b"=").decode()
        if not hmac.compare_digest(want, mac):
            return None
        return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
