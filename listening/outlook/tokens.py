"""A connection's Microsoft tokens: stored encrypted, refreshed before they expire.

Ciphertexts live in ``connections.access_token`` / ``refresh_token`` under
``crypto.aad_for("token", connection.id, "access" | "refresh")``.

Nothing here commits: the caller's transaction holds the new tokens together
with any state change, and the caller commits once. On ``ReconnectNeeded`` the
connection's new state and its audit entries are in that session too, so the
caller should commit before giving up (a job marks its run failed; a view
shows the reason).

Failures of the token endpoint are classified from ``error`` first and the
AADSTS code as a hint (docs/microsoft-graph.md §8), and applied to the connection
through its state machine (listening/outlook/connection.py):
- the ``invalid_grant`` family (expired, revoked, inactive, password change,
  MFA or consent now required) -> state ``needs_reconnect`` + ``ReconnectNeeded``;
- ``temporarily_unavailable``, 5xx, timeouts, network errors ->
  ``TransientTokenError``: try again at the next scheduled run, never in a loop;
- our own registration refused (``invalid_client``...) -> ``TokenConfigurationError``
  (a ``TransientTokenError``: the operators must fix it, the person need not act).
"""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from requests import RequestException

from listening import audit
from listening.audit import Action
from listening.core import crypto
from listening.core.models import Connection, ConnectionState, Organization
from listening.outlook import connection as states
from listening.outlook import identity
from listening.outlook.connection import (
    AADSTS_WORDS,
    GENERIC,
    NO_TOKEN,
    Failure,
    ReconnectNeeded,
    TokenConfigurationError,
    TokenError,
    TransientTokenError,
    UnreadableToken,
    aadsts_code,
)

log = logging.getLogger(__name__)
# Refresh this long before Microsoft's expiry, so a token never dies mid-sync.
EXPIRY_MARGIN = timedelta(minutes=5)
GRAPH_PREFIX = "https://graph.microsoft.com/"
RECONNECT_ERRORS = ("invalid_grant", "interaction_required", "consent_required", "login_required")
# Our request or registration is wrong: the person can do nothing about it.
CONFIG_ERRORS = ("invalid_client", "unauthorized_client", "invalid_request", "invalid_scope",
                 "unsupported_grant_type")


# --- storing and using --------------------------------------------------------------------------
def short_scopes(scope: str | None) -> list[str]:
    """Short names of a token response's ``scope`` (Graph ones come as full URIs,
    docs/microsoft-graph.md §8)."""
    return [s[len(GRAPH_PREFIX):] if s.startswith(GRAPH_PREFIX) else s for s in (scope or "").split()]


class TokenEndpoint:
    """Microsoft's token endpoint, for refreshes: found through the OpenID Connect discovery
    document once per process, then called with our registration. Every call is bounded."""

    def __init__(self, settings, url: str | None = None):
        self._settings = settings
        self._url = url  # None: read from the discovery document on first use
        self._lock = threading.Lock()

    def url(self) -> str:
        if self._url is None:
            with self._lock:
                if self._url is None:
                    response = requests.get(identity.metadata_url(self._settings),
                                            timeout=self._settings.http_timeout)
                    response.raise_for_status()
                    self._url = response.json()["token_endpoint"]
        return self._url

    def refresh(self, refresh_token: str, scope: str) -> dict:
        """The token response; raises authlib's OAuthError when Microsoft refuses it, and
        requests' errors (or ValueError for a body that is not JSON) when it cannot answer."""
        settings = self._settings
        with OAuth2Session(settings.ms_client_id, settings.ms_client_secret, scope=scope,
                           token_endpoint_auth_method="client_secret_post",
                           default_timeout=settings.http_timeout) as http:
            return dict(http.refresh_token(self.url(), refresh_token=refresh_token))


class Tokens:
    """A connection's tokens: encrypted with the key ring, refreshed through the token endpoint.

    Nothing here commits: the new tokens (and any state change with its audit entries)
    are in the caller's session, and the caller commits once."""

    def __init__(self, keys: crypto.KeyRing, endpoint: TokenEndpoint):
        self.keys, self.endpoint = keys, endpoint

    def save(self, session, connection: Connection, token_response: dict) -> None:
        """Encrypt and store a token endpoint response; the newest refresh token replaces the old."""
        if connection.id is None:
            session.flush()  # the row's id is part of the associated data
        connection.access_token = self.keys.encrypt(token_response["access_token"].encode(),
                                                    _aad(connection, "access"))
        if token_response.get("refresh_token"):
            connection.refresh_token = self.keys.encrypt(token_response["refresh_token"].encode(),
                                                         _aad(connection, "refresh"))
        expires_in = int(token_response.get("expires_in") or 3600)
        connection.access_expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
        if token_response.get("scope"):
            connection.scopes = " ".join(short_scopes(token_response["scope"]))

    def read(self, connection: Connection, field: str) -> str | None:
        """The stored ``access`` or ``refresh`` token in clear (the one place they are decrypted)."""
        blob = getattr(connection, f"{field}_token")
        if blob is None:
            return None
        try:
            return self.keys.decrypt(blob, _aad(connection, field)).decode()
        except crypto.CryptoError as err:
            log.error("the stored %s token of connection %s cannot be decrypted: %s", field, connection.id, err)
            raise UnreadableToken(UnreadableToken.reason) from None

    def access_token(self, session, connection: Connection, *, force_refresh: bool = False) -> str:
        """A usable access token: the stored one, or a fresh one when it is (nearly) expired or
        ``force_refresh`` (after Graph answered 401). Raises ReconnectNeeded / TransientTokenError."""
        if connection.state is not ConnectionState.linked:
            raise ReconnectNeeded(connection.state_reason or NO_TOKEN)
        expires = connection.access_expires_at
        fresh = expires is not None and expires - EXPIRY_MARGIN > datetime.now(UTC)
        if fresh and not force_refresh and connection.access_token is not None:
            return self.read(connection, "access")
        # No lock around the refresh: Microsoft keeps older refresh tokens valid, so two workers
        # refreshing at once both succeed and the last one saved is as good as the other.
        return self.refresh(session, connection)

    def refresh(self, session, connection: Connection) -> str:
        """Redeem the stored refresh token; the new tokens are saved in the caller's transaction."""
        refresh_token = self.read(connection, "refresh")
        if refresh_token is None:
            raise _needs_reconnect(session, connection, Failure.no_refresh_token, NO_TOKEN,
                                   {"error": "no_refresh_token"})
        org = session.get(Organization, connection.org_id)
        try:
            token = self.endpoint.refresh(refresh_token, identity.refresh_scopes(org.calendar_scope))
        except OAuthError as exc:
            raise _classify(session, connection, exc.error or "", exc.description or "") from None
        except (RequestException, ValueError, KeyError) as exc:
            # 5xx, timeouts, connection errors, a non-JSON page from a gateway.
            raise _transient(session, connection, type(exc).__name__) from None
        if not token.get("access_token"):
            raise _transient(session, connection, "no access_token in the response")
        self.save(session, connection, token)
        return token["access_token"]


def _aad(connection: Connection, field: str) -> bytes:
    return crypto.aad_for("token", connection.id, field)


def _classify(session, connection: Connection, error: str, description: str) -> TokenError:
    """Record the failure and return the exception for the caller to raise."""
    code = aadsts_code(description)
    details = {"error": error[:64], "code": code}
    if error in RECONNECT_ERRORS or code in AADSTS_WORDS:
        return _needs_reconnect(session, connection, Failure.refresh_refused,
                                AADSTS_WORDS.get(code, GENERIC), details)
    if error in CONFIG_ERRORS:
        log.error("token endpoint refused our registration: %s AADSTS%s", error, code)
        _audit_failure(session, connection, details | {"retry": True})
        return TokenConfigurationError(f"{error} (AADSTS{code})")
    return _transient(session, connection, error or "unknown", code)


def _audit_failure(session, connection: Connection, details: dict) -> None:
    audit.record(session, Action.refresh_failed, None, connection.person_id, details,
                 org_id=connection.org_id)


def _transient(session, connection: Connection, error: str, code: int | None = None) -> TokenError:
    log.warning("token refresh failed, will retry later: %s", error)
    _audit_failure(session, connection, {"error": error[:64], "code": code, "retry": True})
    return TransientTokenError(error)


def _needs_reconnect(session, connection: Connection, failure: Failure, reason: str,
                     details: dict) -> TokenError:
    _audit_failure(session, connection, details | {"retry": False})
    states.fail(session, connection, failure, reason, datetime.now(UTC), schedule=False)
    return ReconnectNeeded(reason, details.get("code"))
