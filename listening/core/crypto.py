"""Encryption at rest: AES-256-GCM under a key ring from configuration.

Key ring: ``LISTENING_KEYS`` = ``kid:base64key[,kid:base64key...]``, newest LAST.
New writes always use the newest key; older keys only decrypt (until
``flask keys rotate`` has re-encrypted everything under the newest).

Envelope (bytes): ``VERSION (1) | len(kid) (1) | kid (ascii) | nonce (12) | ciphertext+tag``.
The envelope header (version and kid) is part of the associated data, so it
cannot be edited either.

Associated data binds a ciphertext to its purpose and its row, so a blob copied
into another row, column or table does not decrypt. Build it with ``aad_for`` (or, for many
values of one connection, ``aad_maker``):

- tokens:          ``aad_for("token", connection_id, "access" | "refresh")``
- calendar events: ``aad_for("event", connection_id, provider_event_id)``
  (``calendar_items.provider_data``; ``flask keys rotate`` uses this exact form.)
- webhook signing secrets: ``aad_for("webhook", endpoint_id, "secret")`` (the "connection"
  part of the triple is the endpoint's id)
- a Graph subscription's clientState: ``aad_for("subscription", connection_id, "client_state")``
- a calendar's delta link (it carries Graph's token): ``aad_for("delta", connection_id, "link")``

Every failure (unknown kid, tampering, a malformed blob, the wrong aad) raises
``CryptoError``; nothing ever falls back to plaintext or to another key.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
PURPOSES = ("token", "event", "webhook", "subscription", "delta")


class CryptoError(Exception):
    """A ciphertext cannot be trusted or read, or the key ring is unusable."""


def aad_for(purpose: str, connection_id: int, field: str) -> bytes:
    """Associated data for one stored value: purpose, owning connection and field/event id.

    Length-prefixed parts, so no choice of ``field`` can collide with another triple.
    """
    return aad_maker(purpose, connection_id)(field)


def aad_maker(purpose: str, connection_id: int) -> Callable[[str], bytes]:
    """``aad_for(purpose, connection_id, field)`` as a function of ``field`` alone, for the many
    values of one connection (a sync seals thousands): the fixed parts are checked and built once."""
    if purpose not in PURPOSES:
        raise CryptoError(f"unknown purpose {purpose!r}")
    if not isinstance(connection_id, int) or isinstance(connection_id, bool):
        raise CryptoError("connection_id must be an int (flush the row first)")
    prefix = b"listening/v1" + _length_prefixed(purpose.encode()) + _length_prefixed(str(connection_id).encode())
    return lambda field: prefix + _length_prefixed(str(field).encode())


def _length_prefixed(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part


@dataclass(frozen=True)
class KeyRing:
    """Named AES-256 keys; ``current`` is the newest (the last one configured)."""
    keys: dict[str, bytes]
    current: str

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        keys: dict[str, bytes] = {}
        last = None
        for item in (part.strip() for part in (spec or "").split(",")):
            if not item:
                continue
            kid, sep, encoded = item.partition(":")
            kid = kid.strip()
            if not sep or not _KID.match(kid):
                raise CryptoError("each key must be written kid:base64key (kid: letters, digits, _.-)")
            if kid in keys:
                raise CryptoError(f"key id {kid!r} appears twice")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise CryptoError(f"key {kid!r} is not valid base64") from None
            if len(key) != KEY_BYTES:
                raise CryptoError(f"key {kid!r} must be {KEY_BYTES} bytes, got {len(key)}")
            keys[kid] = key
            last = kid
        if last is None:
            raise CryptoError("the key ring is empty")
        return cls(keys=keys, current=last)

    @classmethod
    def from_settings(cls, settings) -> KeyRing:
        if settings.keys:
            return cls.parse(settings.keys)
        if settings.production:
            raise CryptoError("production needs LISTENING_KEYS")
        return cls.parse(demo_key_spec(Path(settings.instance_path)))

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        return self.sealer(batch=1)(plaintext, aad)

    def derived(self, kid: str, purpose: str) -> bytes:
        """A key of its own for ``purpose`` (an HMAC key, not an encryption key), derived from
        key ``kid`` with HKDF-SHA256: the audit chain and its checkpoints never reuse the
        AES key itself, and one purpose's key tells nothing about another's."""
        key = self.keys.get(kid)
        if key is None:
            raise CryptoError(f"no key {kid!r} in the key ring")
        return _hkdf(key, purpose)

    def sealer(self, batch: int = 1000) -> Sealer:
        """``encrypt`` for many values in a row (a sync's thousands of events)."""
        return Sealer(self.current, self.keys[self.current], batch)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        kid, header, body = _split(blob)
        key = self.keys.get(kid)
        if key is None:
            raise CryptoError(f"no key {kid!r} in the key ring")
        nonce, sealed = body[:NONCE_BYTES], body[NONCE_BYTES:]
        try:
            return AESGCM(key).decrypt(nonce, sealed, header + aad)
        except InvalidTag:
            raise CryptoError("ciphertext failed authentication (tampered, or wrong row/purpose)") from None

    def key_id(self, blob: bytes) -> str:
        return _split(blob)[0]

    def needs_rotation(self, blob: bytes) -> bool:
        return self.key_id(blob) != self.current

    def reencrypt(self, blob: bytes, aad: bytes) -> bytes:
        """The same plaintext under the newest key (for rotation)."""
        return self.encrypt(self.decrypt(blob, aad), aad)


class Sealer:
    """Encrypts one value after another under one key, as ``KeyRing.encrypt`` does.

    The cipher is set up once, and nonces come from the OS ``batch`` at a time:
    one ``os.urandom`` call per value cost ~12 µs in a sync, mostly waiting to
    get the GIL back from the page-fetching thread (profiled on the sync
    benchmark's 20,000-event mailbox). Each nonce is still 12 fresh random bytes,
    used once. Not thread-safe.
    """

    def __init__(self, kid: str, key: bytes, batch: int):
        self._header, self._cipher, self._batch = _header(kid), AESGCM(key), max(1, batch)
        self._nonces, self._used = b"", 0

    def __call__(self, plaintext: bytes, aad: bytes) -> bytes:
        if self._used >= len(self._nonces):
            self._nonces, self._used = os.urandom(NONCE_BYTES * self._batch), 0
        nonce = self._nonces[self._used:self._used + NONCE_BYTES]
        self._used += NONCE_BYTES
        header = self._header
        return header + nonce + self._cipher.encrypt(nonce, bytes(plaintext), header + aad)


_DERIVED: dict[tuple[bytes, str], bytes] = {}


def _hkdf(key: bytes, purpose: str) -> bytes:
    found = _DERIVED.get((key, purpose))
    if found is None:
        found = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                     info=b"listening/" + purpose.encode()).derive(key)
        _DERIVED[(key, purpose)] = found
    return found


def _header(kid: str) -> bytes:
    raw = kid.encode("ascii")
    return bytes([VERSION, len(raw)]) + raw


def _split(blob) -> tuple[str, bytes, bytes]:
    """(kid, header, nonce+ciphertext) of an envelope, or CryptoError if it is not one."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise CryptoError("ciphertext must be bytes")
    blob = bytes(blob)
    if len(blob) < 2 or blob[0] != VERSION:
        raise CryptoError("not a Listening ciphertext (unknown version)")
    end = 2 + blob[1]
    try:
        kid = blob[2:end].decode("ascii")
    except UnicodeDecodeError:
        raise CryptoError("malformed ciphertext (key id)") from None
    if not _KID.match(kid) or len(blob) < end + NONCE_BYTES + 16:
        raise CryptoError("malformed ciphertext (truncated)")
    return kid, blob[:end], blob[end:]


def new_key_spec(kid: str) -> str:
    return f"{kid}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def demo_key_spec(instance_path: Path) -> str:
    """Outside production only: one key generated on first run, kept in instance/keys (0600)."""
    path = instance_path / "keys"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting together cannot both write a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(new_key_spec("demo1") + "\n")
    return path.read_text().strip()

