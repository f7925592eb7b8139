"""Link Outlook: incremental consent (PKCE, state, nonce), admin consent, check and unlink.

Thin views over listening/outlook/linking.py: validate the request, call one use case,
commit once, then redirect or render.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from authlib.integrations.base_client.errors import OAuthError
from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import SignatureExpired
from joserfc.errors import JoseError
from redis import RedisError
from requests import RequestException

from listening.core.models import Organization
from listening.notifications import queue as notify_queue
from listening.notifications import subscriptions
from listening.one_on_ones import announce
from listening.outlook import connection as states
from listening.outlook import identity, linking
from listening.sync import queue as sync_queue
from listening.web import deps, oauth
from listening.web.approval import (  # noqa: F401 - approval_token: the tests' way to make links
    ADMIN_LINK_MAX_AGE,
    admin_consent_url,
    approval_link_org,
    approval_token,
)
from listening.web.limits import by_address, by_person, limiter, setting
from listening.web.security import MANAGES, own_organization, requires
from listening.web.urls import external_url, safe_next

bp = Blueprint("outlook", __name__)
log = logging.getLogger(__name__)
ADMIN_STATE_KEY = "outlook_admin_consent"
ADMIN_STATE_SECONDS = 3600
ADMIN_LINK_INVALID = ("This approval link is not valid. Ask for a new one: whoever sent it to you "
                      "can copy a fresh one from the 1-on-1s page.")
ADMIN_LINK_EXPIRED = ("This approval link has expired; ask for a new one from the 1-on-1s page "
                      "(whoever sent it to you can copy a fresh one there).")


def _message(title: str, message: str, status: int = 200, link: str | None = None):
    return render_template("message.html", title=title, message=message, link=link), status


def _refused(exc: linking.LinkRefused, status: int = 403):
    deps.session().commit()  # the refusal's audit entry
    log.info("outlook link refused: %s", exc.reason)
    return _message("Outlook was not linked", exc.message, status)


@bp.post("/outlook/link")
@requires(MANAGES)
def link():
    """Start (or redo) the consent; the form's CSRF token is checked by CSRFProtect."""
    org = own_organization(deps.session())
    try:
        scope = identity.link_scopes(org.calendar_scope)
    except ValueError:
        abort(409, description="Your organization's calendar setting is not one Listening can use. "
                               "Ask your HR admin.")
    session["outlook_next"] = safe_next(request.form.get("next"))
    oauth.forget_pending(session, "outlook")  # the newest start replaces any earlier one
    hint = {"login_hint": g.person.email} if g.person.email else {}
    return oauth.client("outlook").authorize_redirect(
        external_url("outlook.callback"), scope=scope, **hint)


@bp.get("/outlook/callback")
@requires(MANAGES)
def callback():
    sess, person = deps.session(), g.person
    org = own_organization(sess)
    client = oauth.client("outlook")
    state = request.args.get("state") or ""
    # Checked before anything else, errors included: a forged redirect changes nothing.
    if not state or client.framework.get_state_data(session, state) is None:
        return _refused(linking.refuse(
            sess, person, "invalid state",
            "This answer from Microsoft does not belong to a link you started here, or it "
            "expired. Nothing was linked. Start again from the 1-on-1s page."), 400)
    if request.args.get("error"):
        client.framework.clear_state_data(session, state)
        return _redirect_error(sess, person, org)
    try:
        token = client.authorize_access_token(claims_options=identity.issuer_options(client))
    except (OAuthError, JoseError, ValueError, RequestException) as exc:
        return _refused(linking.refuse(
            sess, person, f"invalid response: {identity.what_failed(exc)}"[:64],
            "Microsoft's answer could not be used (expired, already used or tampered with). "
            "Nothing was linked. Start again from the 1-on-1s page."), 400)
    try:
        connection = linking.complete_link(deps.services(), sess, person, org, token)
    except linking.LinkRefused as exc:
        return _refused(exc)
    sess.commit()
    # After the commit, so the job sees the link: the first sync starts now, not at the next
    # scheduled minute, and the 1-on-1s page shows its progress.
    _subscribe(connection.id)
    flash(f"Outlook is linked as {connection.account_email or 'your Microsoft account'}. "
          + _first_sync(connection.id))
    return redirect(session.pop("outlook_next", None) or url_for("pages.one_on_ones"))


def _first_sync(connection_id: int) -> str:
    try:
        sync_queue.enqueue_sync(deps.services(), connection_id, trigger="link")
    except RedisError:
        log.warning("could not queue the first sync of connection %s: Redis unreachable", connection_id)
        return "Listening reads your calendar within a few minutes."
    # Still true once the sync has ended and static/live.js has updated the page under it.
    return "Listening started reading your calendar at once."


def _subscribe(connection_id: int) -> None:
    """Change notifications for the new link at once (Graph's handshake needs a worker, not this
    request); should Redis be down, the every-minute sweep creates the subscription."""
    services = deps.services()
    if not subscriptions.urls(services.settings):
        return
    try:
        notify_queue.keep_subscription(services, connection_id)
    except RedisError:
        log.warning("could not queue the subscription of connection %s: Redis unreachable", connection_id)


def _redirect_error(sess, person, org):
    error = identity.redirect_error(request.args.get("error"))
    description = request.args.get("error_description", "")
    consent_code = linking.admin_consent_code(error, description)
    if consent_code is not None:
        linking.note_admin_consent_needed(sess, person, consent_code)
        sess.commit()
        return render_template("outlook_admin_consent.html", code=consent_code, org=org,
                               admin_link=admin_consent_url(org)), 403
    # Only the subcode says the person pressed Cancel; a bare access_denied can be a policy
    # (e.g. AADSTS50105, not assigned to the app), which is not theirs to retry.
    if request.args.get("error_subcode") == "cancel":
        return _refused(linking.refuse(sess, person, "cancelled",
                                       "You cancelled linking Outlook; nothing was saved."), 400)
    return _refused(linking.refuse(sess, person, f"microsoft error: {error}",
                                   "Microsoft did not link your calendar. Try again later, or "
                                   "ask your HR admin.", code=states.aadsts_code(description)), 400)


# --- admin consent -----------------------------------------------------------------------------
@bp.get("/outlook/approve/<token>")
@limiter.limit(setting("rate_limit_approval"), key_func=by_address)
def admin_consent_start(token: str):
    try:
        org = approval_link_org(deps.session(), token)
    except SignatureExpired:
        return _message("Approval link expired", ADMIN_LINK_EXPIRED, 410)
    if org is None:
        log.info("admin consent link refused")  # never the token itself
        return _message("Approval link not valid", ADMIN_LINK_INVALID, 404)
    settings = deps.services().settings
    try:
        scope = identity.link_scopes(org.calendar_scope)
    except ValueError:
        abort(409, description="This organization's calendar setting is not one Listening can use.")
    state = secrets.token_urlsafe(24)
    try:
        _issue_admin_state(state, org.id)
    except RedisError:
        abort(503, description="The approval could not be started right now. Try the link again in a minute.")
    session[ADMIN_STATE_KEY] = {"state": state, "org_id": org.id, "exp": time.time() + ADMIN_STATE_SECONDS}
    graph = " ".join(s if s in ("openid", "profile", "offline_access") else "https://graph.microsoft.com/" + s
                     for s in scope.split())
    query = urlencode({"client_id": settings.ms_client_id, "scope": graph, "state": state,
                       "redirect_uri": external_url("outlook.admin_consent_callback")})
    # Admin consent must name the tenant (never /common, docs/microsoft-graph.md §8).
    return redirect(f"{settings.ms_authority}/{org.tenant_id}/v2.0/adminconsent?{query}")


def _admin_state_key(state: str) -> str:
    prefix = deps.services().settings.queue_prefix
    return f"{prefix}admin-consent:{hashlib.sha256(state.encode()).hexdigest()}"


def _issue_admin_state(state: str, org_id: int) -> None:
    """Kept server-side as well as in the browser's session: a copy of the session cookie
    replayed against the callback finds it already spent, whichever process answers."""
    deps.services().jobs.redis.set(_admin_state_key(state), str(org_id), ex=ADMIN_STATE_SECONDS, nx=True)


def _consume_admin_state(state: str) -> int | None:
    """The organization the state was issued for, once (GETDEL is atomic), else None."""
    found = deps.services().jobs.redis.getdel(_admin_state_key(state))
    return int(found) if found is not None else None


@bp.get("/outlook/adminconsent/callback")
@limiter.limit(setting("rate_limit_approval"), key_func=by_address)
def admin_consent_callback():
    expected = session.pop(ADMIN_STATE_KEY, None) or {}
    given = request.args.get("state") or ""
    refused = ("Approval not recorded", "This answer from Microsoft does not belong to an approval "
               "started here, it expired, or it was already used. Open the approval link again.", 400)
    if (not expected or expected.get("exp", 0) < time.time()
            or not hmac.compare_digest(str(expected.get("state")), given)):
        return _message(*refused)
    try:
        org_id = _consume_admin_state(given)
    except RedisError:
        abort(503, description="The approval could not be recorded right now. Open the approval link again "
                               "in a minute.")
    if org_id is None or org_id != expected.get("org_id"):
        return _message(*refused)
    sess = deps.session()
    org = sess.get(Organization, org_id)
    if org is None:
        abort(404)
    error = request.args.get("error")
    reported = request.args.get("admin_consent", "").lower() == "true" and not error
    # Every parameter of this redirect can be typed by whoever holds the link: recorded as
    # reported, confirmed only when a manager then links (linking._confirm_admin_consent).
    linking.record_admin_consent_return(sess, org, reported_granted=reported, error=error,
                                        reported_tenant=request.args.get("tenant"))
    sess.commit()
    if not reported:
        return _message("Approval not given", "Microsoft reports that the organization-wide "
                        "approval was not given. Nothing changed.", 400)
    # Not the organization's name: this page is for whoever holds the link and the session.
    return _message("Thank you", "Microsoft reports that Listening may now read calendars in your "
                    "organization. People who were waiting can now link Outlook from their "
                    "1-on-1s page; the first of them to link confirms the approval in the audit log.")


# --- check and unlink --------------------------------------------------------------------------
def _own_connection(sess, connection_id: int):
    connection = linking.owned_connection(sess, g.person, connection_id)
    if connection is None:
        abort(404, description="No such connection.")
    return connection


@bp.post("/outlook/connections/<int:connection_id>/check")
@requires(MANAGES)
@limiter.limit(setting("rate_limit_check"), key_func=by_person)
def check(connection_id: int):
    sess = deps.session()
    result = linking.check_connection(deps.services(), sess, _own_connection(sess, connection_id), g.person)
    sess.commit()
    flash(result.message)
    return redirect(url_for("pages.one_on_ones"))


# One rule for both methods: an id out of range is then a 404 for either, never a 405.
@bp.route("/outlook/connections/<int:connection_id>/unlink", methods=["GET", "POST"])
@requires(MANAGES)
def unlink(connection_id: int):
    """GET asks first, saying what unlinking deletes and what it leaves; POST unlinks."""
    sess = deps.session()
    connection = _own_connection(sess, connection_id)
    if request.method == "GET":
        return render_template("outlook_unlink.html", connection=connection,
                               preview=linking.unlink_preview(sess, connection))
    was_linked = connection.linked_at is not None
    try:
        # Locked before the subscription is read: one being made meanwhile is waited for.
        linking.hold(sess, connection)
        ending = subscriptions.prepare_end(deps.services(), sess, connection)
        result = linking.unlink(sess, connection, g.person)
    except linking.UnlinkBusy as busy:
        sess.rollback()
        flash(str(busy), "warn")
        return redirect(url_for("pages.one_on_ones"))
    subscriptions.end(deps.services(), sess, ending, g.person, "unlinked")
    announce.changed_ids(sess, announce.NEEDS_ATTENTION, g.person.org_id, list(result.newly_flagged),
                         datetime.now(UTC))
    sess.commit()
    if not was_linked:
        flash("Your request is withdrawn: you are no longer on the list of people waiting for "
              "your organization's approval. Nothing had been read from your calendar.")
        return redirect(url_for("pages.one_on_ones"))
    return render_template("outlook_unlinked.html", result=result)


def _signed_in_admin_consent_url() -> str:
    return admin_consent_url(own_organization(deps.session()))


@bp.app_context_processor
def _panel_helpers():
    return {"outlook_admin_consent_url": _signed_in_admin_consent_url,
            "admin_link_days": ADMIN_LINK_MAX_AGE.days}
