"""Graph-shaped item ids, change keys and links, all deterministic.

The byte layout copies real Outlook REST ids (decoded from the filter examples):
    master:     00 03 24 00 <mailbox guid, 36 ASCII> 00 46 <70-byte MAPI entry id>
    occurrence: 00 03 24 00 <mailbox guid> 01 51 00 08 <8-byte .NET ticks of the
                original date, big-endian> 00 46 <the master's entry id> 10
URL-safe base64 with padding, so ids start "AAMkAG" like Outlook's.  An occurrence
id is a pure function of its master id and original date, so it is stable.
"""
from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import date, datetime, timezone
from functools import lru_cache

_PREFIX = b"\x00\x03\x24\x00"
_OCCURRENCE_TAG = b"\x01\x51\x00\x08"
_NET_EPOCH_ORDINAL = date(1, 1, 1).toordinal()
_TICKS_PER_DAY = 864_000_000_000
_IMMUTABLE_TAG = b"\x00\x00\x00\x00\x2e\x00"


def _h(*parts: object) -> bytes:
    return hashlib.sha256("|".join(map(str, parts)).encode()).digest()


def mailbox_guid(oid: str) -> str:
    return str(uuid.UUID(bytes=_h("mailbox", oid)[:16]))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _unb64(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
    except (ValueError, UnicodeEncodeError):
        return b""


def _entry_id(oid: str, counter: int) -> bytes:
    # flags, provider uid, message type, folder key (db guid + counter), item key.
    db = _h("db", oid)[:16]
    return (bytes(4) + _h("provider", oid)[:16] + b"\x07\x00"
            + db + (0x2C1).to_bytes(6, "big") + b"\0\0"
            + db + counter.to_bytes(6, "big") + b"\0\0")


def master_id(oid: str, counter: int) -> str:
    """The id of a series master or single event in one mailbox."""
    return _b64(_PREFIX + mailbox_guid(oid).encode() + b"\x00\x46" + _entry_id(oid, counter))


def calendar_id(oid: str) -> str:
    return _b64(_PREFIX + mailbox_guid(oid).encode() + b"\x00\x2e" + _entry_id(oid, 0)[:46])


@lru_cache(maxsize=65536)
def _master_raw(master: str) -> bytes:
    return _unb64(master)


def occurrence_id(master: str, original_date: date) -> str:
    raw = _master_raw(master)
    ticks = (original_date.toordinal() - _NET_EPOCH_ORDINAL) * _TICKS_PER_DAY
    return _b64(raw[:40] + _OCCURRENCE_TAG + ticks.to_bytes(8, "big") + raw[40:] + b"\x10")


def parse_occurrence_id(value: str) -> tuple[str, date] | None:
    """(master id, original date) for an occurrence id, else None."""
    raw = _unb64(value)
    if len(raw) != 125 or not raw.startswith(_PREFIX) or raw[40:44] != _OCCURRENCE_TAG:
        return None
    days = int.from_bytes(raw[44:52], "big") // _TICKS_PER_DAY
    try:
        original = date.fromordinal(days + _NET_EPOCH_ORDINAL)
    except ValueError:
        return None
    return _b64(raw[:40] + raw[52:124]), original


def change_key(event_id: str, revision: int) -> str:
    """22 bytes in standard base64, as Outlook's change keys look."""
    return base64.b64encode(_h("ck", event_id, revision)[:22]).decode()


def web_link(event_id: str) -> str:
    # Ids are URL-safe base64, so only the padding needs escaping (quote() is slow).
    return ("https://outlook.office365.com/owa/?itemid=" + event_id.replace("=", "%3D")
            + "&exvsurl=1&path=/calendar/item")


def occurrence_marker(master: str, original_date: date) -> str:
    """The `OID.<master>.<date>` form Graph uses in cancelledOccurrences."""
    return f"OID.{master}.{original_date.isoformat()}"


def to_immutable(event_id: str) -> str:
    """A reversible stand-in for Prefer: IdType="ImmutableId" (starts "AAAAAC4A")."""
    return _b64(_IMMUTABLE_TAG + _unb64(event_id))


def from_immutable(value: str) -> str | None:
    raw = _unb64(value)
    if not raw.startswith(_IMMUTABLE_TAG):
        return None
    return _b64(raw[len(_IMMUTABLE_TAG):])


def join_url(seed: object, tenant_id: str, organizer_oid: str) -> str:
    token = base64.urlsafe_b64encode(_h("teams", seed)[:36]).decode().rstrip("=")
    return ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_" + token
            + "%40thread.v2/0?context=%7b%22Tid%22%3a%22" + tenant_id
            + "%22%2c%22Oid%22%3a%22" + organizer_oid + "%22%7d")


def stamp(moment: datetime) -> str:
    """DateTimeOffset as Outlook writes it: UTC, 7 fractional digits and Z."""
    moment = moment.astimezone(timezone.utc)
    return moment.isoformat()[:19] + f".{moment.microsecond:06d}0Z"
