"""The audit log: view, filter, export, verify. Anything of another organization is a 404."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from flask import (
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
from listening.audit import Action, checkpoint
from listening.audit import log as audit_log
from listening.audit.words import action_choices, action_words
from listening.core import store
from listening.core.models import Person
from listening.web import deps
from listening.web.admin import bp


def person_or_404(sess, person_id: int) -> Person:
    person = store.person(sess, g.person.org_id, person_id)
    if person is None:
        abort(404, description="No such person in your organization.")
    return person


def _filters(sess, args=None) -> audit_log.Filters:
    """The request's filters: 400 when malformed, 404 for a person of another organization."""
    try:
        filters = audit_log.parse_filters(request.args if args is None else args)
    except audit_log.FilterError as err:
        abort(400, description=f"These filters cannot be used: {err}")
    for person_id in (filters.actor, filters.subject):
        if person_id is not None:
            person_or_404(sess, person_id)
    return replace(filters, viewer=g.person.id)


def _tz():
    return audit_log.zone(g.person.time_zone)


_DATES = ("since", "until")


def _date_problem() -> str | None:
    """Why the typed dates cannot be used, when they are all that is wrong: the person typed
    them, so the page keeps its form and says why, rather than a bare 400."""
    try:
        audit_log.parse_filters(request.args)
    except audit_log.FilterError as err:
        try:
            audit_log.parse_filters({k: v for k, v in request.args.items() if k not in _DATES})
        except audit_log.FilterError:
            return None  # something else is wrong too: _filters answers 400
        return f"These dates cannot be used: {err} No entries are shown until they are changed."
    return None


@bp.get("/audit")
def audit_page():
    sess = deps.session()
    problem = _date_problem()
    tz = _tz()
    people = audit_log.choices(sess, g.person.org_id)
    verified = audit_log.last_verdict(sess, g.person.org_id)
    verified_by = audit_log.labels(sess, g.person.org_id, [verified]) if verified else {}
    verified_when = verified and audit_log.shown_time(verified.occurred_at, tz)
    if problem:
        filters = _filters(sess, {k: v for k, v in request.args.items() if k not in _DATES})
        return render_template("admin/audit.html", rows=[], names={}, filters=filters, page=None,
                               people=people, actions=action_choices(), tz=tz.key, verified=verified,
                               verified_by=verified_by, verified_when=verified_when, problem=problem,
                               typed={k: request.args.get(k, "") for k in _DATES}), 400
    filters = _filters(sess)
    page = audit_log.page(sess, g.person.org_id, filters, tz)
    names = audit_log.labels(sess, g.person.org_id, page.entries)
    rows = [(e, audit_log.shown_time(e.occurred_at, tz), action_words(e.action)) for e in page.entries]
    audit.record(sess, Action.audit_viewed, g.person, None, {"filters": filters.query_args()})
    sess.commit()
    return render_template("admin/audit.html", rows=rows, names=names, filters=filters, page=page,
                           people=people, actions=action_choices(), tz=tz.key, verified=verified,
                           verified_by=verified_by, verified_when=verified_when)


@bp.get("/audit/<bigint:entry_id>")
def audit_entry(entry_id: int):
    sess = deps.session()
    entry = sess.scalar(audit_log.entry_query(g.person.org_id, entry_id))
    if entry is None:
        abort(404, description="No such audit entry in your organization.")
    names = audit_log.labels(sess, g.person.org_id, [entry])
    audit.record(sess, Action.audit_viewed, g.person, None, {"entry_seq": entry.seq})
    sess.commit()
    return render_template("admin/audit_entry.html", entry=entry, names=names,
                           action=action_words(entry.action), tz=_tz().key,
                           when=audit_log.shown_time(entry.occurred_at, _tz()),
                           details=json.dumps(entry.details, indent=2, sort_keys=True, ensure_ascii=False))


def _checkpoint_to_compare(sess, org_id: int) -> tuple[dict | None, str | None]:
    """The receipt the HR admin gave, else the newest checkpoint file this host keeps, else the
    newest checkpoint recorded in the log; with where it came from."""
    keys = deps.services().keys
    upload = request.files.get("checkpoint")
    if upload is not None and upload.filename:
        try:
            return checkpoint.parse(keys, upload.read(checkpoint.MAX_BYTES + 1)), "the receipt you gave"
        except checkpoint.CheckpointError as err:
            abort(400, description=f"That file cannot be used as a receipt: {err}. Nothing was verified.")
    folder = deps.services().settings.checkpoint_dir
    doc = checkpoint.latest_file(keys, folder, org_id)
    if doc is not None:
        return doc, "the newest checkpoint file"
    recorded = checkpoint.latest_recorded(sess, org_id)
    if recorded is not None:
        try:
            return checkpoint.parse(keys, json.dumps(recorded)), "the newest checkpoint in the log"
        except checkpoint.CheckpointError:
            return None, None
    return None, None


@bp.post("/audit/verify")
def audit_verify():
    sess = deps.session()
    org_id = g.person.org_id
    doc, source = _checkpoint_to_compare(sess, org_id)
    compared = checkpoint.compare(sess, org_id, doc) if doc is not None else None
    if audit_log.chain_length(sess, org_id) > audit_log.INLINE_VERIFY_LIMIT:
        try:
            started = audit_log.enqueue_verify(deps.services(), org_id, g.person.id)
        except RedisError:
            abort(503, description="The verification could not be started (the job queue is unreachable). "
                                   "Try again in a minute, or run 'flask audit verify'.")
        flash("The chain is being verified in the background. Its verdict appears here when it is done."
              if started else "A verification of the chain is already running.")
        if compared is not None:
            flash(f"Checkpoint of entry #{compared.seq} ({source}): " +
                  (f"NOT MET: {compared.problem}." if compared.problem else "the log still holds it."),
                  "warn" if compared.problem else "info")
        return redirect(url_for("admin.audit_page"))
    verdict = audit.verify(sess, org_id)
    broken = sess.scalar(audit_log.seq_query(org_id, verdict.broken_at_seq)) if verdict.broken_at_seq else None
    details = audit_log.verdict_details(verdict)
    if compared is not None:
        details |= {"checkpoint_seq": compared.seq, "checkpoint_problem": compared.problem}
    audit.record(sess, Action.audit_verified, g.person, None, details)
    sess.commit()
    tz = _tz()
    return render_template("admin/audit_verify.html", verdict=verdict, broken=broken, compared=compared,
                           source=source, tz=tz.key, compared_when=compared and audit_log.shown_time(
                               datetime.fromisoformat(compared.at), tz))


@bp.get("/audit/receipt.json")
def audit_receipt():
    """The newest signed checkpoint of the organization's chain, to keep outside Listening."""
    sess = deps.session()
    doc = checkpoint.latest_recorded(sess, g.person.org_id)
    if doc is None:
        abort(404, description="There is no checkpoint yet: the daily job signs one each night.")
    audit.record(sess, Action.audit_exported, g.person, None, {"receipt_seq": doc["seq"]})
    sess.commit()
    return Response(json.dumps(doc, indent=2, sort_keys=True), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="audit-checkpoint-{doc["org_id"]}-{doc["seq"]}.json"'})


@bp.get("/audit/export.csv")
def audit_export():
    sess = deps.session()
    filters = _filters(sess)
    filters = replace(filters, before=None)  # the whole filtered set, not one page of it
    audit.record(sess, Action.audit_exported, g.person, None, {"filters": filters.query_args()})
    sess.commit()
    org_id, tz = g.person.org_id, _tz()

    def stream():
        # Its own session: the export outlives the request's, and may read a million rows.
        with deps.services().db.sessionmaker() as export_session:
            yield from audit_log.export_csv(export_session, org_id, filters, tz)

    name = f"audit-{datetime.now(tz):%Y%m%d-%H%M%S}.csv"
    return Response(stream_with_context(stream()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
