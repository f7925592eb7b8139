"""Attach, replace and detach a 1-on-1 (managers only; CSRF-checked forms; one commit each)."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from markupsafe import Markup

from listening import audit
from listening.audit import Action
from listening.one_on_ones import Refused, attach, detach
from listening.web import deps
from listening.web.security import MANAGES, hats, requires

bp = Blueprint("one_on_ones", __name__, url_prefix="/one-on-ones")


def _back(report_id=None):
    anchor = f"report-{report_id}" if str(report_id or "").isdigit() else None
    return redirect(url_for("pages.one_on_ones", _anchor=anchor), code=303)


def _refused(refusal: Refused):
    deps.session().commit()  # the refusal's audit entry; nothing else was changed
    link = Markup('<a href="{}">Back to your 1-on-1s</a>').format(url_for("pages.one_on_ones"))
    return render_template("message.html", title="Not done", message=refusal.message,
                           link=link), refusal.status


@bp.post("/attach")
@requires(MANAGES)
def attach_series():
    return _attach(replace=False)


@bp.post("/replace")
@requires(MANAGES)
def replace_series():
    return _attach(replace=True)


def _attach(replace: bool):
    sess = deps.session()
    report_id = request.form.get("report_id")
    try:
        done = attach(sess, deps.services().keys, g.person, report_id, request.form.get("series_id"),
                      datetime.now(UTC), replace=replace)
    except Refused as refusal:
        return _refused(refusal)
    sess.commit()
    flash(done.message)
    return _back(report_id)


@bp.post("/detach")
@requires(MANAGES)
def detach_series():
    sess = deps.session()
    report_id = request.form.get("report_id")
    try:
        done = detach(sess, g.person, report_id)
    except Refused as refusal:
        return _refused(refusal)
    sess.commit()
    flash(done.message)
    return _back(report_id)


@bp.errorhandler(CSRFError)
def forged(error):
    """A form without a valid token: refused, and audited when a manager is signed in
    (security.py loads the person before CSRFProtect checks the form)."""
    sess, person = deps.session(), g.get("person")
    if person is not None and hats().manages:
        operation = (request.endpoint or "").rsplit(".", 1)[-1].removesuffix("_series")
        audit.record(sess, Action.attach_refused, person, None,
                     {"operation": operation, "reason": "csrf"})
        sess.commit()
    return render_template("message.html", title="Form expired",
                           message="This form was missing its security token or it expired. "
                                   "Go back, reload the page and try again."), 400
