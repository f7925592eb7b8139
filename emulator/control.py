"""Control API under /_emulator (only with control=True, only from loopback). Its names are
public: tests, benchmarks and the demo call them, so they change only with all of those.

Bodies are documented in emulator/README.md.
"""
from __future__ import annotations

import ipaddress

from flask import Blueprint, abort, current_app, request

from . import scopes as sc
from .faults import RULE_TYPES, FaultSpecError

bp = Blueprint("control", __name__, url_prefix="/_emulator")
CALENDAR_ACTIONS = ("add_occurrence", "cancel_occurrence", "move_occurrence", "set_sensitivity",
                    "add_attendee", "copy_series", "delete_series", "create_meeting",
                    "set_response", "touch_events")


def state():
    return current_app.extensions["emulator"]


class ControlError(Exception):
    pass


@bp.errorhandler(ControlError)
def control_error(exc):
    return {"error": str(exc)}, 400


@bp.before_request
def loopback_only():
    try:
        if ipaddress.ip_address(request.remote_addr or "").is_loopback:
            return None
    except ValueError:
        pass
    abort(403)


def body() -> dict | list:
    data = request.get_json(silent=True)
    if data is None:
        raise ControlError("expected a JSON body")
    return data


def person(email: str | None):
    user = state().world.user_by_email(email or "")
    if user is None:
        raise ControlError(f"no such person: {email!r}")
    return user


def tenant_id(key: str | None) -> str:
    for tenant in state().world.tenants.values():
        if (key or "").lower() in (tenant.id.lower(), tenant.domain.lower()):
            return tenant.id
    raise ControlError(f"no such tenant: {key!r}")


@bp.get("/users")
def users():
    world = state().world
    out = []
    for user in sorted(world.users.values(), key=lambda u: u.email):
        boss = world.users.get(user.manager_oid or "")
        out.append({"email": user.email, "oid": user.oid, "tenant": user.tenant_id,
                    "name": user.name, "aliases": list(user.aliases), "jobTitle": user.job_title,
                    "department": user.department, "manager": boss.email if boss else None,
                    "directReports": [r.email for r in world.direct_reports(user.oid)],
                    "timeZone": user.time_zone})
    return out, 200


@bp.get("/tenants")
def tenants():
    return [{"id": t.id, "name": t.name, "domain": t.domain,
             "requiresAdminConsent": state().admin_consent_overrides.get(
                 t.id, t.requires_admin_consent)} for t in state().world.tenants.values()]


@bp.post("/tokens")
def mint():
    """Tokens without the browser dance; recorded as a consent like a real sign-in would be."""
    data = body()
    user = person(data.get("user"))
    try:
        wanted = sc.parse(" ".join(data.get("scopes") or ["User.Read", "Calendars.Read",
                                                          "offline_access"]))
    except sc.ScopeError as exc:
        raise ControlError(f"unknown scope {exc}") from None
    client_id = data.get("client_id") or next(iter(state().clients))
    st = state()
    st.tokens.add_consent(user.oid, client_id, wanted)
    issued = st.tokens.issue(user.oid, user.tenant_id, client_id, wanted)
    return {"access_token": issued["access_token"], "refresh_token": issued.get("refresh_token"),
            "expires_in": issued["expires_in"], "scope": sc.response_string(wanted),
            "token_type": "Bearer", "client_id": client_id}


@bp.get("/grants")
def grants():
    return state().tokens.grants()


@bp.get("/faults")
def list_faults():
    return state().faults.public()


@bp.post("/faults")
@bp.delete("/faults")
def faults():
    if request.method == "DELETE":
        state().faults.clear()
        return state().faults.public()
    data = body()
    specs = data if isinstance(data, list) else data.get("faults", [data])
    applied = [apply_fault(spec) for spec in specs]
    return {"applied": applied, **state().faults.public()}


def apply_fault(spec: dict) -> dict:
    st = state()
    kind = spec.get("type")
    try:
        if kind in RULE_TYPES:
            return st.faults.add_rule(spec).public()
    except (FaultSpecError, ValueError, TypeError) as exc:
        raise ControlError(str(exc)) from None
    if kind == "clear":
        st.faults.clear()
    elif kind == "concurrency":
        st.mailbox_concurrency = spec.get("limit")
    elif kind == "mailbox_not_enabled":
        email = person(spec.get("mailbox")).email.lower()
        (st.faults.no_rest.add if spec.get("enabled", True) else st.faults.no_rest.discard)(email)
    elif kind == "revoke_grant":
        oid = person(spec.get("user")).oid
        st.tokens.revoke_user(oid)
        removed = st.notifier.remove_user(oid, "subscriptionRemoved")
        return {**spec, "subscriptions_removed": removed}
    elif kind == "expire_tokens":
        oid = person(spec["user"]).oid if spec.get("user") else None
        expired = st.tokens.expire_access_tokens(oid)
        st.notifier.wake(resweep=True)  # subscriptions resting on those tokens lapse now
        return {"type": kind, "expired": expired}
    elif kind == "admin_consent_required":
        tid = tenant_id(spec.get("tenant"))
        st.admin_consent_overrides[tid] = bool(spec.get("required", True))
        if spec.get("required", True):
            forget_tenant_consents(tid)
    elif kind == "delta_reset":
        mode = str(spec.get("mode", "410"))
        if mode not in ("410", "syncStateNotFound"):
            raise ControlError("delta_reset mode is '410' or 'syncStateNotFound'")
        st.faults.delta_resets[person(spec.get("mailbox")).email.lower()] = mode
    elif kind == "delta_forbidden":
        email = person(spec.get("mailbox")).email.lower()
        chosen = st.faults.delta_forbidden
        (chosen.add if spec.get("forbidden", True) else chosen.discard)(email)
    elif kind == "delta_replay":
        extra = spec.get("events", 5)
        if isinstance(extra, bool) or not isinstance(extra, int) or extra < 0:
            raise ControlError("delta_replay events is a whole number >= 0")
        st.faults.delta_replays[person(spec.get("mailbox")).email.lower()] = extra
    elif kind == "notifications_down":
        prefix = spec.get("url_prefix") or ""
        if not isinstance(prefix, str):
            raise ControlError("notifications_down url_prefix is a string")
        st.faults.set_notifications_down(prefix, bool(spec.get("down", True)))
    else:
        raise ControlError(f"unknown fault type {kind!r}")
    return dict(spec)


def forget_tenant_consents(tid: str) -> None:
    """admin_consent_required starts from a tenant that never consented: the next sign-in
    meets AADSTS90094 even for people who consented before."""
    st = state()
    with st.tokens.lock:
        st.tokens.admin_consents.pop(tid, None)
        for oid, client in list(st.tokens.consents):
            user = st.world.users.get(oid)
            if user is not None and user.tenant_id == tid:
                del st.tokens.consents[(oid, client)]


@bp.post("/clock")
def clock():
    """Move the emulator clock forward: code and token expiry, refresh inactivity, and the
    notification schedule (retries, subscription expiry, reauthorization challenges)."""
    data = body()
    try:
        seconds = float(data.get("advance_seconds", 0))
    except (TypeError, ValueError):
        raise ControlError("advance_seconds is a number") from None
    if not seconds >= 0:
        raise ControlError("advance_seconds must be >= 0 (the clock only moves forward)")
    state().clock.offset += seconds
    state().notifier.wake()  # retries, expiries and challenges that just came due
    return {"offset_seconds": state().clock.offset, "now": state().clock.now()}


@bp.get("/stats")
def stats():
    notifications = state().notifier.summary()
    return {**state().stats.snapshot(), "subscriptions": notifications["subscriptions"],
            "notifications": notifications}


@bp.post("/reset")
def reset():
    """Clears faults, stats and queued notifications; {"world": true} rebuilds the seed,
    {"tokens": true} drops tokens; either also forgets every subscription."""
    data = request.get_json(silent=True) or {}
    st = state()
    st.faults.clear()
    st.stats.reset()
    st.mailbox_concurrency = st.default_concurrency
    st.admin_consent_overrides.clear()
    st.clock.offset = 0.0
    st.notifier.reset(forget=bool(data.get("world") or data.get("tokens")))
    if data.get("world"):
        st.rebuild_world()
    if data.get("tokens"):
        with st.tokens.lock:
            for table in (st.tokens.codes, st.tokens.access, st.tokens.refresh,
                          st.tokens.consents, st.tokens.admin_consents, st.tokens.epochs):
                table.clear()
        st.sessions.clear()
    return {"reset": True, "world": bool(data.get("world")), "tokens": bool(data.get("tokens"))}


from . import control_calendar, control_notify  # noqa: E402,F401  (their routes join bp)
