"""POST /{tenant}/oauth2/v2.0/token: authorization_code and refresh_token grants
(docs/microsoft-graph.md §8)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote_plus

from flask import request

from . import scopes as sc
from .identity import bp, resolve_tenant, state
from .tokens import b64url


class TokenError(Exception):
    """An error body in Microsoft's shape; status 400 unless invalid_client (401)."""

    def __init__(self, error: str, code: int, message: str, suberror: str | None = None):
        super().__init__(message)
        self.error, self.code, self.message, self.suberror = error, code, message, suberror

    def response(self):
        trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        body = {"error": self.error,
                "error_description": f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace}"
                                     f"\r\nCorrelation ID: {corr}\r\nTimestamp: {stamp}",
                "error_codes": [self.code], "timestamp": stamp, "trace_id": trace,
                "correlation_id": corr,
                "error_uri": f"https://login.microsoftonline.com/error?code={self.code}"}
        if self.suberror:
            body["suberror"] = self.suberror
        return body, 401 if self.error == "invalid_client" else 400


@bp.post("/<tenant>/oauth2/v2.0/token")
def token(tenant):
    resolve_tenant(tenant)
    try:
        client = authenticate_client()
        grant = request.form.get("grant_type")
        if grant == "authorization_code":
            body = redeem_code(client, tenant)
        elif grant == "refresh_token":
            body = redeem_refresh(client)
        else:
            raise TokenError("unsupported_grant_type", 70003, "The app requested an unsupported "
                             f"grant type '{grant}'.")
    except TokenError as exc:
        return exc.response()
    return body, 200, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def authenticate_client():
    """client_secret_post or HTTP Basic (docs/microsoft-graph.md §8); wrong secret is AADSTS7000215."""
    client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:]).decode()
        except ValueError:
            decoded = ":"
        basic_id, _, basic_secret = decoded.partition(":")
        client_id, secret = unquote_plus(basic_id), unquote_plus(basic_secret)
    client = state().clients.get(client_id or "")
    if client is None:
        raise TokenError("unauthorized_client", 700016, f"Application with identifier "
                         f"'{client_id}' was not found in the directory.")
    if not secret:
        raise TokenError("invalid_client", 7000218, "The request body must contain the following "
                         "parameter: 'client_assertion' or 'client_secret'.")
    if not hmac.compare_digest(secret, client.secret):
        raise TokenError("invalid_client", 7000215, "Invalid client secret provided. Ensure the "
                         "secret being sent in the request is the client secret value, not the "
                         f"client secret ID, for a secret added to app '{client.client_id}'.")
    return client


def redeem_code(client, tenant: str) -> dict:
    st = state()
    raw = request.form.get("code", "")
    with st.tokens.lock:
        code = st.tokens.codes.get(raw)
        if code is None or code.client_id != client.client_id:
            raise TokenError("invalid_grant", 9002313, "Invalid request. Request is malformed or "
                             "invalid. The authorization code is not valid.")
        if code.used:
            raise TokenError("invalid_grant", 54005, "OAuth2 Authorization code was already "
                             "redeemed, please retry with a new valid code or use an existing "
                             "refresh token.")
        code.used = True
    if st.clock.now() - code.issued > st.code_ttl:
        raise TokenError("invalid_grant", 70008, "The provided authorization code or refresh "
                         "token has expired due to inactivity. Send a new interactive "
                         "authorization request for this user and resource.")
    if request.form.get("redirect_uri") != code.redirect_uri:
        raise TokenError("invalid_request", 50011, "The redirect URI "
                         f"'{request.form.get('redirect_uri')}' specified in the request does not "
                         "match the redirect URI used to obtain the authorization code.")
    if tenant != code.tenant_segment and code.tid != tenant:
        raise TokenError("invalid_grant", 700005, "Provided Authorization Code is intended to "
                         "use against other tenant, thus rejected.")
    check_verifier(code.challenge, request.form.get("code_verifier"))
    return token_response(client, code.oid, code.tid, code.scopes, code.nonce)


def check_verifier(challenge: str, verifier: str | None) -> None:
    expected = b64url(hashlib.sha256((verifier or "").encode()).digest())
    if not verifier or not hmac.compare_digest(expected, challenge):
        raise TokenError("invalid_grant", 501481, "The Code_Verifier does not match the "
                         "code_challenge supplied in the authorization request.")


def redeem_refresh(client) -> dict:
    """Rotation: every use returns a new refresh token; the old one stays usable, as at Microsoft."""
    st = state()
    store = st.tokens
    with store.lock:
        rt = store.refresh.get(request.form.get("refresh_token", ""))
        if rt is None or rt.client_id != client.client_id:
            raise TokenError("invalid_grant", 9002313, "Invalid request. Request is malformed or "
                             "invalid. The refresh token is not valid.")
        if rt.epoch != store.epochs.get(rt.oid, 0):
            raise TokenError("invalid_grant", 50173, "The provided grant has expired due to it "
                             "being revoked, a fresh auth token is needed. The user might have "
                             "changed or reset their password.", suberror="bad_token")
        now = st.clock.now()
        if now - rt.last_used > store.refresh_inactivity:
            raise TokenError("invalid_grant", 700082, "The refresh token has expired due to "
                             "inactivity. The token was issued on a date and was inactive for "
                             f"{store.refresh_inactivity} seconds.", suberror="bad_token")
        rt.last_used = now
    wanted = requested_scopes(rt.scopes)
    return token_response(client, rt.oid, rt.tid, wanted, None)


def requested_scopes(granted: list[str]) -> list[str]:
    """A refresh may ask for the same scopes or a subset; more is consent_required (AADSTS65001)."""
    raw = request.form.get("scope")
    if not raw:
        return granted
    try:
        wanted = sc.parse(raw)
    except sc.ScopeError as exc:
        raise TokenError("invalid_scope", 70011, "The provided value for the input parameter "
                         f"'scope' is not valid. The scope {exc} is not valid.") from None
    # offline_access/openid/profile ride along with any refresh, like Microsoft's.
    extra = [s for s in wanted if s not in granted and s not in sc.OIDC]
    if extra:
        raise TokenError("invalid_grant", 65001, "The user or administrator has not consented to "
                         f"use the application. Send an interactive authorization request for "
                         f"this user and resource. Missing: {' '.join(extra)}",
                         suberror="consent_required")
    keep = [s for s in wanted if s in granted]
    return keep + [s for s in sc.OIDC if s in granted and s not in keep]


def token_response(client, oid: str, tid: str, scopes: list[str], nonce: str | None) -> dict:
    st = state()
    issued = st.tokens.issue(oid, tid, client.client_id, scopes)
    body = {"token_type": "Bearer", "scope": sc.response_string(scopes),
            "expires_in": issued["expires_in"], "ext_expires_in": issued["expires_in"],
            "access_token": issued["access_token"]}
    if "refresh_token" in issued:
        body["refresh_token"] = issued["refresh_token"]
    if "openid" in scopes:
        body["id_token"] = id_token(client.client_id, oid, tid, scopes, nonce)
    return body


def id_token(client_id: str, oid: str, tid: str, scopes: list[str], nonce: str | None) -> str:
    """Claims from docs/microsoft-graph.md §8; `sub` is pairwise per app, so derive it from oid + client."""
    st = state()
    user = st.world.users[oid]
    now = int(st.clock.now())
    sub = b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest())[:43]
    claims = {"aud": client_id, "iss": f"{request.host_url.rstrip('/')}/{tid}/v2.0",
              "iat": now, "nbf": now, "exp": now + 3600, "oid": oid, "tid": tid, "sub": sub,
              "ver": "2.0", "uti": b64url(uuid.uuid4().bytes), "rh": "0.emulator",
              "aio": b64url(uuid.uuid4().bytes)}
    if nonce:
        claims["nonce"] = nonce
    if "profile" in scopes:
        claims.update(name=user.name, preferred_username=user.email)
    if "email" in scopes:
        claims["email"] = user.email
    return st.signing_key.sign(claims)
