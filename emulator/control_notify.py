"""Control calls for change notifications: subscriptions, the delivery log, lifecycle events on
demand and a bulk change for benchmarks. Bodies are documented in emulator/README.md."""
from __future__ import annotations

from flask import request

from .control import ControlError, body, bp, person, state
from .notifier import LIFECYCLE_EVENTS, MAX_CONCURRENCY


@bp.get("/subscriptions")
def subscriptions():
    return [sub.control_json() for sub in state().notifier.all()]


@bp.delete("/subscriptions")
def forget_subscriptions():
    """Forget every subscription silently (no lifecycle events), e.g. between tests."""
    notifier = state().notifier
    gone = [notifier.remove(sub.id).id for sub in notifier.all()]
    return {"removed": gone}


@bp.get("/notifications")
def notifications():
    """The delivery log (newest last, bounded) and running totals; ?since=SEQ for newer ones."""
    try:
        since = int(request.args.get("since", "0"))
    except ValueError:
        raise ControlError("since is a whole number (a log entry's seq)") from None
    notifier = state().notifier
    return {"summary": notifier.summary(), "deliveries": notifier.deliveries(since)}


@bp.post("/lifecycle")
def lifecycle():
    """Send a lifecycle event to one subscription or to every subscription on a mailbox."""
    data = body()
    event = data.get("event")
    if event not in LIFECYCLE_EVENTS:
        raise ControlError(f"event must be one of {list(LIFECYCLE_EVENTS)}")
    notifier = state().notifier
    if data.get("subscription_id"):
        sub = notifier.get(str(data["subscription_id"]))
        if sub is None:
            raise ControlError(f"no such subscription: {data['subscription_id']!r}")
        chosen = [sub]
    elif data.get("mailbox"):
        oid = person(data["mailbox"]).oid
        chosen = [s for s in notifier.all() if s.oid == oid]
    else:
        raise ControlError("give subscription_id or mailbox")
    sent, skipped = [], []
    for sub in chosen:
        if event == "subscriptionRemoved":  # Graph removes the subscription, then says so
            told = notifier.remove(sub.id, event) is not None and bool(sub.lifecycle_url)
        else:
            told = notifier.lifecycle(sub, event)
        (sent if told else skipped).append(sub.id)
    return {"event": event, "sent": sent, "skipped": skipped,
            "removed": [s.id for s in chosen] if event == "subscriptionRemoved" else []}


@bp.post("/notify")
def bulk_notify():
    """Change N items in each mailbox (new changeKeys) so that their subscriptions are notified;
    answers before delivery ends (follow it in GET /_emulator/notifications)."""
    data = body()
    count = data.get("changes_per_mailbox", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ControlError("changes_per_mailbox is a whole number >= 0")
    st = state()
    chosen = data.get("mailboxes", "all")
    if chosen == "all":
        emails = sorted(u.email for u in st.world.users.values())
    elif isinstance(chosen, list):
        emails = [person(e).email for e in chosen]
    else:
        raise ControlError('mailboxes is a list of addresses or "all"')
    if data.get("concurrency") is not None:
        limit = data["concurrency"]
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CONCURRENCY:
            raise ControlError(f"concurrency is a whole number from 1 to {MAX_CONCURRENCY}")
        st.notifier.set_concurrency(limit)
    before = st.notifier.summary()["queued"]
    changed = 0
    for email in emails:
        with st.lock:  # one mailbox at a time, so Graph calls interleave with a big bulk touch
            changed += len(st.world.touch_events(email, count))
    watched = {s.oid for s in st.notifier.all()}
    return {"mailboxes": len(emails), "changed": changed,
            "subscribed_mailboxes": sum(1 for e in emails
                                        if st.world.user_by_email(e).oid in watched),
            "notifications": st.notifier.summary()["queued"] - before,
            "concurrency": st.notifier.concurrency}
