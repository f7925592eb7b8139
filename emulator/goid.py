"""Exchange Global Object IDs, the value Graph serves as `iCalUId`.

Layout per docs/microsoft-graph.md §4 (MS-OXOCAL PidLidGlobalObjectId, as parsed by MFCMAPI):
bytes 0-15 class id, 16-19 instance date (year big-endian, month, day; zero for a
series or a single meeting), 20-27 creation FILETIME (little-endian), 28-35 zero,
36-39 little-endian size of the data, then the data.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import date, datetime, timezone

CLASS_ID = bytes.fromhex("040000008200E00074C5B7101A82E008")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Goid:
    instance_date: date | None
    created: datetime
    data: bytes


def filetime(moment: datetime) -> int:
    """100 ns ticks since 1601-01-01 UTC."""
    delta = moment.astimezone(timezone.utc) - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def from_filetime(ticks: int) -> datetime:
    seconds, rest = divmod(ticks, 10_000_000)
    return datetime.fromtimestamp(seconds - 11_644_473_600, timezone.utc).replace(
        microsecond=rest // 10)


def _date_bytes(day: date | None) -> bytes:
    if day is None:
        return b"\0\0\0\0"
    # The year is big-endian, unlike every other field (MFCMAPI: b1 << 8 | b2).
    return bytes([day.year >> 8, day.year & 0xFF, day.month, day.day])


def build(created: datetime, data: bytes, instance_date: date | None = None) -> bytes:
    return (CLASS_ID + _date_bytes(instance_date) + struct.pack("<Q", filetime(created))
            + bytes(8) + struct.pack("<I", len(data)) + data)


def data_for(seed: str) -> bytes:
    """16 opaque bytes, deterministic per seed text (Exchange uses a random GUID)."""
    return hashlib.sha256(seed.encode()).digest()[:16]


def with_instance_date(series_goid: bytes, instance_date: date | None) -> bytes:
    """An occurrence's GOID: the series' with bytes 16-19 set (docs/microsoft-graph.md §4)."""
    return series_goid[:16] + _date_bytes(instance_date) + series_goid[20:]


def to_hex(raw: bytes) -> str:
    return raw.hex().upper()


def parse(value: str | bytes) -> Goid:
    """Decode a GOID (hex string or bytes); raises ValueError if it is not one."""
    raw = bytes.fromhex(value) if isinstance(value, str) else value
    if len(raw) < 40 or raw[:16] != CLASS_ID:
        raise ValueError("not a Global Object ID")
    yh, yl, month, day = raw[16:20]
    year = yh << 8 | yl
    instance = date(year, month, day) if year else None
    (ticks,) = struct.unpack("<Q", raw[20:28])
    (size,) = struct.unpack("<I", raw[36:40])
    data = raw[40:40 + size]
    if len(data) != size:
        raise ValueError("GOID data shorter than its size field")
    return Goid(instance, from_filetime(ticks), data)


def series_key(ical_uid: str) -> str:
    """The series key of docs/filter-rules.md: upper-cased with hex chars 32-39 zeroed."""
    upper = ical_uid.upper()
    return upper[:32] + "00000000" + upper[40:]
