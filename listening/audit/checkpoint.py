"""Signed checkpoints of each organization's audit chain: proof, kept outside the database,
of how far the chain went.

A chain only proves that its entries fit each other: dropping the newest entries leaves a
shorter chain that still verifies. The daily job therefore signs a checkpoint (organization,
last seq, its hash, time) with a key derived from the key ring, records it in the log, and
writes it as a file of its own into AUDIT_CHECKPOINT_DIR, for the operator to ship to
write-once storage; an HR admin can download the latest as a receipt. ``compare`` then says
whether the chain still reaches the checkpoint's entry with the same hash.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from listening.audit.chain import Action, keys_of, record, tip
from listening.core.crypto import CryptoError, KeyRing
from listening.core.models import AuditEvent

PURPOSE = "audit-checkpoint/v1"
FIELDS = ("org_id", "tenant_id", "seq", "hash", "at", "key_id")
MAX_BYTES = 4096


class CheckpointError(ValueError):
    """Not a checkpoint we signed (unreadable, malformed, unknown key or a wrong signature)."""


def _payload(doc: dict) -> bytes:
    return json.dumps({k: doc[k] for k in FIELDS}, sort_keys=True, separators=(",", ":")).encode()


def sign(keys: KeyRing, org_id: int, tenant_id: str, seq: int, last_hash: bytes, at: datetime) -> dict:
    doc = {"org_id": org_id, "tenant_id": tenant_id, "seq": seq, "hash": last_hash.hex(),
           "at": at.astimezone(UTC).isoformat(timespec="seconds"), "key_id": keys.current}
    key = keys.derived(keys.current, PURPOSE)
    return doc | {"signature": hmac.new(key, _payload(doc), hashlib.sha256).hexdigest()}


def parse(keys: KeyRing, raw: bytes | str) -> dict:
    """A checkpoint file's content, checked: raises CheckpointError."""
    if len(raw) > MAX_BYTES:
        raise CheckpointError("a checkpoint is a small JSON file; this one is too large")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError("not a checkpoint file (not JSON)") from None
    if not isinstance(doc, dict) or not all(k in doc for k in (*FIELDS, "signature")) \
            or not isinstance(doc["seq"], int) or isinstance(doc["seq"], bool) or doc["seq"] < 1 \
            or not isinstance(doc["org_id"], int) or not all(isinstance(doc[k], str) for k in
                                                            ("hash", "key_id", "signature", "at")):
        raise CheckpointError("not a checkpoint file (fields missing or malformed)")
    try:
        key = keys.derived(doc["key_id"], PURPOSE)
    except CryptoError:
        raise CheckpointError(f"the checkpoint was signed with key {doc['key_id']!r}, which is not in "
                              "the key ring") from None
    expected = hmac.new(key, _payload(doc), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, doc["signature"]):
        raise CheckpointError("the checkpoint's signature does not match: it was not made by Listening "
                              "with this key ring, or it was edited")
    return doc


def take(session: Session, org_id: int, tenant_id: str, now: datetime) -> dict | None:
    """Sign the chain's current end and record the checkpoint in the log (None: no entries)."""
    last = tip(session, org_id)
    if last is None:
        return None
    doc = sign(keys_of(session), org_id, tenant_id, last.seq, last.hash, now)
    record(session, Action.audit_checkpoint, None, None, doc, org_id=org_id)
    return doc


def write(folder: Path, doc: dict) -> Path:
    """A new file per checkpoint (never overwritten): folder/org-ID/TIME-seqN.json."""
    where = Path(folder) / f"org-{doc['org_id']}"
    where.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(doc["at"]).strftime("%Y%m%dT%H%M%SZ")
    path = where / f"{stamp}-seq{doc['seq']}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "w") as handle:
        json.dump(doc, handle, sort_keys=True, indent=2)
    return path


def latest_file(keys: KeyRing, folder: Path, org_id: int) -> dict | None:
    """The newest valid checkpoint file of the organization in ``folder``, if this host has one."""
    found = sorted((Path(folder) / f"org-{org_id}").glob("*.json"), reverse=True)
    for path in found:
        try:
            doc = parse(keys, path.read_bytes())
        except (OSError, CheckpointError):
            continue
        if doc["org_id"] == org_id:
            return doc
    return None


def latest_recorded(session: Session, org_id: int) -> dict | None:
    """The newest checkpoint recorded in the organization's log (what the receipt is)."""
    details = session.scalar(select(AuditEvent.details).where(
        AuditEvent.org_id == org_id, AuditEvent.action == Action.audit_checkpoint.value)
        .order_by(AuditEvent.seq.desc()).limit(1))
    return dict(details) if details else None


@dataclass(frozen=True)
class Comparison:
    seq: int
    at: str
    problem: str | None  # None: the chain still holds the checkpoint's entry, unchanged


def compare(session: Session, org_id: int, doc: dict) -> Comparison:
    """Does the organization's chain still reach the checkpoint's entry, with its hash?"""
    seq, expected = doc["seq"], doc["hash"]
    if doc["org_id"] != org_id:
        return Comparison(seq, doc["at"], "the checkpoint is of another organization")
    found = session.scalar(select(AuditEvent.hash).where(AuditEvent.org_id == org_id, AuditEvent.seq == seq))
    if found is not None:
        problem = None if bytes(found).hex() == expected else f"entry #{seq} is not the one the checkpoint signed"
        return Comparison(seq, doc["at"], problem)
    first, last = session.execute(select(func.min(AuditEvent.seq), func.max(AuditEvent.seq))
                                  .where(AuditEvent.org_id == org_id)).one()
    if last is None or last < seq:
        after = (last or 0) + 1
        return Comparison(seq, doc["at"], f"entries #{after}..#{seq} are missing: the log was cut back "
                                          "after the checkpoint was signed")
    purged = session.scalar(select(func.max(AuditEvent.details["through_seq"].as_integer())).where(
        AuditEvent.org_id == org_id, AuditEvent.action == Action.audit_purged.value))
    if first > seq and purged is not None and purged >= seq:
        return Comparison(seq, doc["at"], None)  # removed since by a recorded retention purge
    return Comparison(seq, doc["at"], f"entry #{seq} is missing")
