"""Sign-in with Microsoft (OpenID Connect: PKCE, state, nonce) and sign-out."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, g, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError
from requests import RequestException

from listening import audit
from listening.audit import Action, refusals
from listening.core import store
from listening.outlook import identity
from listening.web import deps, oauth, security
from listening.web.limits import by_address, limiter, setting
from listening.web.urls import external_url, safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")
log = logging.getLogger(__name__)


@bp.get("/sign-in")
@limiter.limit(setting("rate_limit_sign_in"), key_func=by_address)
def start():
    session["next"] = safe_next(request.args.get("next"))
    oauth.forget_pending(session, "signin")  # the newest start replaces any earlier one
    return oauth.client("signin").authorize_redirect(
        external_url("auth.callback"), prompt="select_account")


def _refuse(reason: str, message: str, org_id: int | None = None, status: int = 403, *,
            detail: str | None = None, tenant_id: str | None = None, end_session: bool = True):
    """Always a record: the organization's audit log when we know whose organization it
    concerns, else the operators' count of refused sign-ins. The session ends only when
    ``end_session``: the answer belonged to the sign-in this browser started (anyone can send
    a browser to the callback, and that must not sign its owner out)."""
    log.warning("sign-in refused: %s%s", reason, f" ({detail})" if detail else "")
    if end_session:
        session.clear()
    sess = deps.session()
    if org_id is not None:
        audit.record(sess, Action.sign_in_refused, None, None,
                     {"reason": reason} | ({"detail": detail} if detail else {}), org_id=org_id)
    else:
        refusals.record(sess, reason, datetime.now(UTC), detail=detail, tenant_id=tenant_id)
    sess.commit()
    title = "You are not signed in" if end_session else "Sign-in not completed"
    return render_template("message.html", title=title, message=message), status


@bp.get("/callback")
def callback():
    client = oauth.client("signin")
    state = request.args.get("state") or ""
    # Did this browser start the sign-in this answer is for? Only then may a refusal end its session.
    pending = bool(state) and client.framework.get_state_data(session, state) is not None
    if request.args.get("error"):
        cancelled = request.args.get("error_subcode") == "cancel"
        return _refuse("cancelled" if cancelled else "microsoft error",
                       "Sign-in was cancelled." if cancelled else
                       "Microsoft did not sign you in. Try again, or ask your HR admin.", status=400,
                       detail=None if cancelled else identity.redirect_error(request.args["error"]),
                       end_session=pending)
    try:
        token = client.authorize_access_token(claims_options=identity.issuer_options(client))
    except (OAuthError, JoseError, ValueError, RequestException) as exc:
        # Which check failed (state, code, id_token) is in the exception's type and OAuth error.
        return _refuse("invalid response",
                       "The sign-in response was not valid (expired, replayed or tampered with). "
                       "Start again from the sign-in page.", status=400, detail=identity.what_failed(exc),
                       end_session=pending)
    claims = token.get("userinfo") or {}
    sess = deps.session()
    org = store.organization_by_tenant(sess, claims["tid"])
    if org is None:
        return _refuse("unknown tenant", "Your organization does not use Listening yet. Ask your "
                       "HR admin.", tenant_id=claims["tid"])  # verified: from the checked id_token
    person = store.person_for_sign_in(sess, org.id, claims["oid"],
                                      [claims.get("email"), claims.get("preferred_username")])
    if person is None or not person.active:
        return _refuse("not in the directory",
                       "You are not in your organization's Listening directory. Ask your HR admin "
                       "to add you.", org_id=org.id)
    person.oid = claims["oid"]
    next_url = session.get("next")
    security.start_session(person)
    audit.record(sess, Action.sign_in, person, person)
    sess.commit()
    return redirect(next_url or url_for("pages.home"))


@bp.post("/sign-out")
def sign_out():
    person = g.get("person")
    if person is not None:
        sess = deps.session()
        person.end_sessions()  # copies of this cookie included
        audit.record(sess, Action.sign_out, person, person)
        sess.commit()
    session.clear()
    return redirect(url_for("pages.signed_out"))
