""""Refresh now": a manager queues a sync of their own calendar at once."""
from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, g, redirect, url_for
from redis.exceptions import RedisError

from listening.core.models import Organization
from listening.core.when import zone_of
from listening.outlook import linking
from listening.sync import queue as sync_queue
from listening.web import deps
from listening.web.limits import by_person, limiter, setting
from listening.web.security import MANAGES, requires

bp = Blueprint("sync", __name__)
log = logging.getLogger(__name__)


@bp.post("/outlook/<int:connection_id>/refresh")
@requires(MANAGES)
@limiter.limit(setting("rate_limit_refresh"), key_func=by_person)
def refresh_now(connection_id: int):
    """CSRF is checked by CSRFProtect; another person's connection id is a 404. The page it
    lands on shows the sync's progress and updates itself when it ends."""
    sess = deps.session()
    connection = linking.owned_connection(sess, g.person, connection_id)
    if connection is None:
        abort(404)
    refusal = sync_queue.refusal_for_refresh(connection, sess.get(Organization, connection.org_id),
                                             zone_of(g.person.time_zone))
    if refusal:
        flash(refusal, "warn")
        return redirect(url_for("pages.one_on_ones"))
    sync_queue.prepare_refresh(sess, connection, g.person)
    sess.commit()
    # After the commit: the job must see the state this request saved.
    try:
        queued = sync_queue.enqueue_sync(deps.services(), connection.id, trigger="manual")
    except RedisError:
        log.warning("could not queue a manual sync of connection %s: Redis unreachable", connection.id)
        flash("The sync could not be queued right now; it will run at the next scheduled time.", "warn")
        return redirect(url_for("pages.one_on_ones"))
    if not queued:
        flash("Your calendar is already being read.", "info")
    return redirect(url_for("pages.one_on_ones"))
