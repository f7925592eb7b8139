"""The pages people land on: home (by hat), the 1-on-1s page and its live status, signed out."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, g, jsonify, redirect, render_template, url_for

from listening.core.models import Organization
from listening.notifications import status as notification_status
from listening.one_on_ones import manager_page, my_manager
from listening.outlook import linking, status
from listening.sync import progress
from listening.web import deps
from listening.web.security import hats, requires

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    person = g.get("person")
    if person is None:
        return render_template("welcome.html")
    if hats().administers and not hats().manages:
        return redirect(url_for("admin.directory_page"))
    return redirect(url_for("pages.one_on_ones"))


@bp.get("/signed-out")
def signed_out():
    return render_template("message.html", title="Signed out", message="You are signed out.")


def _activity(connection) -> progress.Activity:
    if connection is None or connection.linked_at is None:
        return progress.IDLE
    return progress.activity(deps.services().jobs, connection.id)


@bp.get("/one-on-ones")
@requires()
def one_on_ones():
    """Everyone with reports: their candidates, attached 1-on-1s and why-not rows; everyone
    with a manager: which series is their 1-on-1 (read-only)."""
    sess, now = deps.session(), datetime.now(UTC)
    keys = deps.services().keys
    page = manager_page(sess, keys, g.person, now) if hats().manages else None
    connection = page.connection if page else None
    freshness = connection and notification_status.freshness(
        sess, connection, sess.get(Organization, connection.org_id), now)
    return render_template("one_on_ones.html", page=page, mine=my_manager(sess, keys, g.person, now),
                           connection=connection, activity=_activity(connection), freshness=freshness,
                           panel=page and status.status(connection, now, page.zone_info,
                                                        linking.approval_reported_since(sess, connection)))


@bp.get("/one-on-ones/status")
@requires()
def sync_status():
    """Is the person's calendar being read right now, in words (polled by static/live.js)."""
    connection = linking.connection_of(deps.session(), g.person) if hats().manages else None
    activity = _activity(connection)
    return jsonify(running=activity.running, words=activity.words, events=activity.events)
