"""HR admin pages: the audit log (view, filter, export, verify), organization settings,
and per-person export and erasure. Every view is for HR admins of the signed-in
person's organization only; anything of another organization is a 404.
"""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from redis import RedisError

from listening import audit
from listening.admin import privacy
from listening.admin import settings as org_settings
from listening.audit import Action
from listening.audit import log as audit_log
from listening.core import crypto, db, store
from listening.core.models import Person, Role
from listening.web.security import own_organization, requires

bp = Blueprint("hr", __name__, url_prefix="/admin")



def _person(sess, person_id: int) -> Person:
    person = store.person(sess, g.person.org_id, person_id)
    if person is None:
        abort(404, description="No such person in your organization.")
    return person


def _filters(sess) -> audit_log.Filters:
    """The request's filters: 400 when malformed, 404 for a person of another organization."""
    try:
        filters = audit_log.parse_filters(request.args)
    except audit_log.FilterError as err:
        abort(400, description=f"These filters cannot be used: {err}")
    for person_id in (filters.actor, filters.subject):
        if person_id is not None:
            _person(sess, person_id)
    return filters


def _tz():
    return audit_log.zone(g.person.time_zone)


@bp.get("/audit")
@requires(Role.hr_admin)
def audit_page():
    sess = db.session()
    filters = _filters(sess)
    tz = _tz()
    page = audit_log.page(sess, g.person.org_id, filters, tz)
    names = audit_log.labels(sess, g.person.org_id, page.entries)
    people = audit_log.choices(sess, g.person.org_id)
    rows = [(e, audit_log.shown_time(e.occurred_at, tz)) for e in page.entries]
    verified = audit_log.last_verdict(sess, g.person.org_id)
    verified_by = audit_log.labels(sess, g.person.org_id, [verified]) if verified else {}
    audit.record(sess, Action.audit_viewed, g.person, None, {"filters": filters.query_args()})
    sess.commit()
    return render_template("hr_audit.html", rows=rows, names=names, filters=filters, page=page,
                           people=people,
                           actions=audit_log.ACTIONS, tz=tz.key, verified=verified,
                           verified_by=verified_by, verified_when=verified and audit_log.shown_time(
                               verified.occurred_at, tz))


@bp.get("/audit/<int:entry_id>")
@requires(Role.hr_admin)
def audit_entry(entry_id: int):
    sess = db.session()
    entry = sess.scalar(audit_log.entry_query(g.person.org_id, entry_id))
    if entry is None:
        abort(404, description="No such audit entry in your organization.")
    names = audit_log.labels(sess, g.person.org_id, [entry])
    audit.record(sess, Action.audit_viewed, g.person, None, {"entry_seq": entry.seq})
    sess.commit()
    return render_template("hr_audit_entry.html", entry=entry, names=names,
                           when=audit_log.shown_time(entry.occurred_at, _tz()),
                           details=json.dumps(entry.details, indent=2, sort_keys=True, ensure_ascii=False))


@bp.post("/audit/verify")
@requires(Role.hr_admin)
def audit_verify():
    sess = db.session()
    org_id = g.person.org_id
    if audit_log.chain_length(sess, org_id) > audit_log.INLINE_VERIFY_LIMIT:
        try:
            started = audit_log.enqueue_verify(org_id, g.person.id)
        except RedisError:
            abort(503, description="The verification could not be started (the job queue is unreachable). "
                                   "Try again in a minute, or run 'flask audit verify'.")
        flash("Verifying the chain in the background; its verdict appears here when it is done."
              if started else "A verification of the chain is already running.")
        return redirect(url_for("hr.audit_page"))
    verdict = audit.verify(sess, org_id)
    broken = sess.scalar(audit_log.seq_query(org_id, verdict.broken_at_seq)) if verdict.broken_at_seq else None
    audit.record(sess, Action.audit_verified, g.person, None, audit_log.verdict_details(verdict))
    sess.commit()
    return render_template("hr_audit_verify.html", verdict=verdict, broken=broken)


@bp.get("/audit/export.csv")
@requires(Role.hr_admin)
def audit_export():
    sess = db.session()
    filters = _filters(sess)
    filters = replace(filters, before=None)  # the whole filtered set, not one page of it
    audit.record(sess, Action.audit_exported, g.person, None, {"filters": filters.query_args()})
    sess.commit()
    org_id, tz = g.person.org_id, _tz()

    def stream():
        # Its own session: the export outlives the request's, and may read a million rows.
        with db.sessionmaker_for()() as export_session:
            yield from audit_log.export_csv(export_session, org_id, filters, tz)

    name = f"audit-{datetime.now(tz):%Y%m%d-%H%M%S}.csv"
    return Response(stream_with_context(stream()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/settings")
@requires(Role.hr_admin)
def settings_page():
    org = own_organization(db.session())
    return render_template("hr_settings.html", org=org, values=org_settings.current(org),
                           problems={}, scopes=org_settings.SCOPES)


@bp.post("/settings")
@requires(Role.hr_admin)
def settings_save():
    sess = db.session()
    org = own_organization(sess)
    try:
        wanted = org_settings.parse(request.form)
    except org_settings.SettingsError as err:
        values = org_settings.current(org) | {k: v for k, v in request.form.items() if k in org_settings.FIELDS}
        values["sync_enabled"] = "sync_enabled" in request.form
        return render_template("hr_settings.html", org=org, values=values, problems=err.problems,
                               scopes=org_settings.SCOPES), 400
    changes = org_settings.apply(sess, org, g.person, wanted)
    sess.commit()
    flash(f"Saved: {', '.join(changes)}." if changes else "Nothing changed.")
    return redirect(url_for("hr.settings_page"))


@bp.get("/people")
@requires(Role.hr_admin)
def people_page():
    people = store.people(db.session(), g.person.org_id)
    return render_template("hr_people.html", people=people, person_label=audit_log.person_label)


@bp.get("/people/<int:person_id>")
@requires(Role.hr_admin)
def person_page(person_id: int):
    sess = db.session()
    person = _person(sess, person_id)
    return render_template("hr_person.html", person=person, held=privacy.held(sess, person),
                           label=audit_log.person_label(person, person.id))


@bp.post("/people/<int:person_id>/export")
@requires(Role.hr_admin)
def person_export(person_id: int):
    sess = db.session()
    person = _person(sess, person_id)
    audit.record(sess, Action.person_exported, g.person, person.id, {"format": "json"})
    document = privacy.export(sess, person, crypto.ring(), datetime.now(UTC))
    sess.commit()
    body = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="person-{person.id}.json"'})


@bp.post("/people/<int:person_id>/erase")
@requires(Role.hr_admin)
def person_erase(person_id: int):
    sess = db.session()
    person = _person(sess, person_id)
    if request.form.get("confirm") != "erase":
        abort(400, description="Type the word erase in the confirmation box to erase this person.")
    try:
        result = privacy.erase(sess, person, g.person, datetime.now(UTC))
    except privacy.ErasureError as err:
        abort(409, description=str(err))
    sess.commit()
    flash(f"person #{person.id} erased: connection {'removed' if result.connection_removed else 'none'}, "
          f"{result.calendar_items} calendar items and {result.one_on_ones} 1-on-1 attachments removed.")
    return redirect(url_for("hr.person_page", person_id=person.id))
