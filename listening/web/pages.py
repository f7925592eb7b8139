"""The pages people land on: home (by role), the 1-on-1s page, signed out."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, g, redirect, render_template, url_for

from listening.core.models import Organization, Role
from listening.notifications import status as notification_status
from listening.one_on_ones import manager_page, my_manager
from listening.web import deps
from listening.web.security import requires

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    person = g.get("person")
    if person is None:
        return render_template("welcome.html")
    if person.role is Role.hr_admin:
        return redirect(url_for("admin.directory_page"))
    return redirect(url_for("pages.one_on_ones"))


@bp.get("/signed-out")
def signed_out():
    return render_template("message.html", title="Signed out", message="You are signed out.")


@bp.get("/one-on-ones")
@requires(Role.manager, Role.employee, Role.hr_admin)
def one_on_ones():
    """Managers: their reports' candidates, attached 1-on-1s and why-not rows; everyone with a
    manager: which series is their 1-on-1 (read-only)."""
    sess, now = deps.session(), datetime.now(UTC)
    keys = deps.services().keys
    page = manager_page(sess, keys, g.person, now) if g.person.role is Role.manager else None
    connection = page.connection if page else None
    freshness = connection and notification_status.freshness(
        sess, connection, sess.get(Organization, connection.org_id), now)
    return render_template("one_on_ones.html", page=page, mine=my_manager(sess, keys, g.person, now),
                           connection=connection, freshness=freshness)
