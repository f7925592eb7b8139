"""HR admin pages for other systems: API keys and webhook endpoints (with their delivery log).

A new key or signing secret is shown once, on the page that answers the form: never in a
flash message (those ride in the session cookie) and never again. Everything is scoped to
the signed-in HR admin's organization; anything of another one is a 404.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, g, redirect, render_template, request, url_for

from listening.api import keys
from listening.api.schemas import EVENT_TYPES
from listening.audit import log as audit_log
from listening.web import deps, nav
from listening.web.admin import bp
from listening.webhooks import delivery, endpoints

nav.add_admin_page("API keys", "admin.api_keys_page")
nav.add_admin_page("Webhooks", "admin.webhooks_page", also=("admin.webhook_log",))


def _when(moment):
    return audit_log.shown_time(moment, audit_log.zone(g.person.time_zone)) if moment else None


def _keys_page(status: int = 200, new_key=None, problem: str | None = None, form=None):
    rows = keys.listing(deps.session(), g.person.org_id)
    return render_template("admin/api_keys.html", rows=rows, scopes=keys.SCOPES, new_key=new_key,
                           problem=problem, form=form or {}, when=_when), status


@bp.get("/api-keys")
def api_keys_page():
    return _keys_page()


@bp.post("/api-keys")
def api_key_create():
    sess = deps.session()
    try:
        made = keys.create(sess, g.person.org_id, request.form.get("name"), request.form.getlist("scopes"),
                           g.person, datetime.now(UTC))
    except keys.ApiKeyError as err:
        return _keys_page(400, problem=str(err), form=request.form)
    sess.commit()
    return _keys_page(201, new_key=made)


@bp.post("/api-keys/<int:key_id>/revoke")
def api_key_revoke(key_id: int):
    sess = deps.session()
    try:
        row = keys.revoke(sess, g.person.org_id, key_id, g.person, datetime.now(UTC))
    except keys.ApiKeyError as err:
        abort(404, description=str(err))
    sess.commit()
    flash(f"The key “{row.name}” is revoked; its next request is refused.")
    return redirect(url_for("admin.api_keys_page"), code=303)


# --- webhooks ------------------------------------------------------------------------------------
def _endpoints_page(status: int = 200, created=None, problem: str | None = None, form=None):
    rows = endpoints.listing(deps.session(), g.person.org_id)
    return render_template("admin/webhooks.html", rows=rows, events=EVENT_TYPES, created=created,
                           problem=problem, form=form or {}, when=_when), status


def _endpoint(endpoint_id: int):
    row = endpoints.of_org(deps.session(), g.person.org_id, endpoint_id)
    if row is None:
        abort(404, description="No such endpoint in your organization.")
    return row


@bp.get("/webhooks")
def webhooks_page():
    return _endpoints_page()


@bp.post("/webhooks")
def webhook_add():
    sess = deps.session()
    try:
        made = endpoints.add(sess, deps.services().keys, g.person.org_id, request.form.get("url"),
                             request.form.getlist("events"), g.person, datetime.now(UTC),
                             production=deps.services().settings.production)
    except endpoints.EndpointError as err:
        return _endpoints_page(400, problem=str(err), form=request.form)
    sess.commit()
    return _endpoints_page(201, created=made)


@bp.post("/webhooks/<int:endpoint_id>/remove")
def webhook_remove(endpoint_id: int):
    sess = deps.session()
    endpoints.remove(sess, _endpoint(endpoint_id), g.person)
    sess.commit()
    flash("The endpoint is removed; nothing more is sent to it.")
    return redirect(url_for("admin.webhooks_page"), code=303)


@bp.post("/webhooks/<int:endpoint_id>/enable")
def webhook_enable(endpoint_id: int):
    sess = deps.session()
    endpoints.enable(sess, _endpoint(endpoint_id), g.person)
    sess.commit()
    flash("The endpoint is enabled again: new events are sent to it.")
    return redirect(url_for("admin.webhooks_page"), code=303)


@bp.get("/webhooks/<int:endpoint_id>")
def webhook_log(endpoint_id: int):
    row = _endpoint(endpoint_id)
    return render_template("admin/webhook_log.html", endpoint=row, when=_when,
                           deliveries=endpoints.delivery_log(deps.session(), row))


@bp.post("/webhooks/deliveries/<int:delivery_id>/redeliver")
def webhook_redeliver(delivery_id: int):
    sess = deps.session()
    try:
        found = delivery.redeliver(sess, g.person.org_id, delivery_id, g.person, datetime.now(UTC))
    except endpoints.EndpointError as err:
        abort(409, description=str(err))
    if found is None:
        abort(404, description="No such delivery in your organization.")
    sess.commit()  # queued as it commits, with the same webhook-id
    flash("Sent again: the delivery is queued with the same webhook-id.")
    return redirect(url_for("admin.webhook_log", endpoint_id=found.endpoint_id), code=303)
