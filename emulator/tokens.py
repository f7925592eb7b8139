"""Authorization codes, access and refresh tokens, consent grants and the id_token signing key.

Everything lives in memory behind one lock. Time comes from `Clock`, which the control API can
advance, so code expiry (10 minutes, docs/microsoft-graph.md §8) and refresh inactivity can be
tested without sleeping.
"""
from __future__ import annotations

import base64
import json
import math
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CODE_TTL = 600  # authorization codes live about 10 minutes (docs/microsoft-graph.md §8, AADSTS70008)
REFRESH_INACTIVITY = 90 * 24 * 3600  # refresh tokens: 90 days, expiring through inactivity (§8)


class Clock:
    """Wall clock plus an offset that the control API can move forward."""

    def __init__(self):
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class SigningKey:
    """An RS256 key published in the JWKS and used for id_tokens (docs/microsoft-graph.md §8)."""

    def __init__(self):
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self._key.public_key().public_numbers()
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        digest = hashes.Hash(hashes.SHA1())
        digest.update(der)
        self.kid = b64url(digest.finalize())
        self.jwk = {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                    "n": _int_b64(numbers.n), "e": _int_b64(numbers.e), "alg": "RS256"}

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def public_pem(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uris: list[str]
    name: str = "Listening"


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    oid: str
    tid: str
    scopes: list[str]
    challenge: str
    nonce: str | None
    issued: float
    tenant_segment: str
    used: bool = False


@dataclass
class AccessToken:
    oid: str
    tid: str
    client_id: str
    scopes: list[str]
    expires: float
    epoch: int


@dataclass
class RefreshToken:
    oid: str
    tid: str
    client_id: str
    scopes: list[str]
    last_used: float
    epoch: int


@dataclass
class TokenStore:
    """All identity state. Callers hold no references across requests; use the methods."""

    clock: Clock
    access_ttl: int = 3600
    refresh_inactivity: int = REFRESH_INACTIVITY
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    consents: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (oid, client) -> scopes
    admin_consents: dict[str, set[str]] = field(default_factory=dict)  # tid -> scopes
    epochs: dict[str, int] = field(default_factory=dict)  # oid -> revocation counter
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- codes -------------------------------------------------------------------------------
    def new_code(self, **fields) -> str:
        code = "0.A" + secrets.token_urlsafe(48)
        with self.lock:
            self.codes[code] = AuthCode(issued=self.clock.now(), **fields)
        return code

    # --- consent -----------------------------------------------------------------------------
    def consented(self, oid: str, tid: str, client_id: str) -> set[str]:
        with self.lock:
            return set(self.consents.get((oid, client_id), set())) | self.admin_consents.get(tid, set())

    def add_consent(self, oid: str, client_id: str, scopes) -> None:
        with self.lock:
            self.consents.setdefault((oid, client_id), set()).update(scopes)

    def grant_admin_consent(self, tid: str, scopes) -> None:
        with self.lock:
            self.admin_consents.setdefault(tid, set()).update(scopes)

    # --- tokens ------------------------------------------------------------------------------
    def issue(self, oid: str, tid: str, client_id: str, scopes: list[str]) -> dict:
        """Mint an access token, plus a refresh token when offline_access was granted (§8)."""
        now = self.clock.now()
        at = "EwB" + secrets.token_urlsafe(64)
        with self.lock:
            epoch = self.epochs.get(oid, 0)
            self.access[at] = AccessToken(oid, tid, client_id, list(scopes), now + self.access_ttl, epoch)
            out = {"access_token": at, "expires_in": self.access_ttl}
            if "offline_access" in scopes:
                rt = "1.A" + secrets.token_urlsafe(96)
                self.refresh[rt] = RefreshToken(oid, tid, client_id, list(scopes), now, epoch)
                out["refresh_token"] = rt
        return out

    def lookup_access(self, token: str) -> AccessToken | None:
        """The live access token, or None if unknown, expired or revoked."""
        with self.lock:
            at = self.access.get(token)
            if at is None or at.expires <= self.clock.now() or at.epoch != self.epochs.get(at.oid, 0):
                return None
            return at

    def access_expiry(self, token: AccessToken) -> float:
        """When `token` stops working on the clock: its expiry, or -inf once revoked."""
        with self.lock:
            if token.epoch != self.epochs.get(token.oid, 0):
                return -math.inf
            return token.expires

    def revoke_user(self, oid: str) -> None:
        """Like revokeSignInSessions: every token issued so far for the user stops working."""
        with self.lock:
            self.epochs[oid] = self.epochs.get(oid, 0) + 1

    def expire_access_tokens(self, oid: str | None = None) -> int:
        now = self.clock.now()
        with self.lock:
            hits = [t for t in self.access.values() if oid is None or t.oid == oid]
            for t in hits:
                t.expires = min(t.expires, now - 1)
            return len(hits)

    def grants(self) -> list[dict]:
        with self.lock:
            users = [{"oid": o, "client_id": c, "scopes": sorted(s)} for (o, c), s in self.consents.items()]
            admins = [{"tenant": t, "scopes": sorted(s)} for t, s in self.admin_consents.items()]
            return [{"type": "user", **u} for u in users] + [{"type": "admin", **a} for a in admins]


def new_trace_ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())
