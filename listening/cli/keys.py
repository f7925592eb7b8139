"""``flask keys rotate``: re-encrypt every stored ciphertext under the newest key.

Rotation, step by step (README "Keys"): add the new key at the END of
LISTENING_KEYS and restart, run ``flask keys rotate``, then (when it reports
nothing left) remove the old key. Safe to re-run: rows already under the newest
key are skipped. Each batch is its own transaction, and each UPDATE only
applies if the row still holds the ciphertext that was read, so a sync or a
token refresh writing the same row at the same time is never overwritten.
"""
from __future__ import annotations

from collections import Counter

import click
from flask.cli import AppGroup
from sqlalchemy import bindparam, select, update

from listening import audit
from listening.audit import Action
from listening.cli import fail, services
from listening.core import crypto
from listening.core.models import CalendarDelta, CalendarItem, Connection, GraphSubscription, WebhookEndpoint

keys_cli = AppGroup("keys", help="Encryption keys (LISTENING_KEYS).")
BATCH = 500


@keys_cli.command("generate")
@click.argument("kid")
def generate(kid: str):
    """Print a new random key as KID:BASE64, to append to LISTENING_KEYS."""
    try:
        crypto.KeyRing.parse(spec := crypto.new_key_spec(kid))
    except crypto.CryptoError as err:
        fail(str(err))
    click.echo(spec)


@keys_cli.command("rotate")
@click.option("--batch-size", default=BATCH, show_default=True, type=click.IntRange(1, 10_000))
def rotate(batch_size: int):
    """Re-encrypt tokens, calendar items and webhook secrets under the newest key (idempotent). A
    connection's tokens are its OAuth tokens and its Graph secrets: the subscription's clientState
    and the delta link."""
    ring = services().keys
    counts: Counter = Counter()  # (org_id, kind) -> rows re-encrypted
    try:
        tokens_seen = _rotate_table(_token_batch, _write_tokens, ring, batch_size, counts, "tokens")
        tokens_seen += _rotate_table(_subscription_batch, _write_subscriptions, ring, batch_size, counts,
                                     "tokens", values=lambda row: [row.client_state])
        tokens_seen += _rotate_table(_delta_batch, _write_deltas, ring, batch_size, counts, "tokens",
                                     values=lambda row: [row.delta_link] if row.delta_link else [])
        items_seen = _rotate_table(_item_batch, _write_items, ring, batch_size, counts, "items")
        secrets_seen = _rotate_table(_secret_batch, _write_secrets, ring, batch_size, counts, "webhook_secrets")
    except crypto.CryptoError as err:
        fail(f"{err}; rows before it are done, fix the key ring and run again")
    _audit(counts, ring.current)
    done_tokens = sum(v for (_, k), v in counts.items() if k == "tokens")
    done_items = sum(v for (_, k), v in counts.items() if k == "items")
    done_secrets = sum(v for (_, k), v in counts.items() if k == "webhook_secrets")
    click.echo(f"newest key {ring.current}: {done_tokens} of {tokens_seen} connection tokens, "
               f"{done_items} of {items_seen} calendar items and {done_secrets} of {secrets_seen} webhook "
               "secrets re-encrypted; the rest were already current")


def _rotate_table(read_batch, write, ring, batch_size, counts, kind, values=None) -> int:
    """Walk a table by id in batches, one transaction each; return how many values were seen."""
    values = values or (lambda row: _values(row, kind))
    after, seen = 0, 0
    while True:
        with services().db.unit_of_work() as sess:
            rows = read_batch(sess, after, batch_size)
            if not rows:
                return seen
            after = rows[-1].id
            seen += sum(len(values(row)) for row in rows)
            for org_id, written in write(sess, rows, ring):
                counts[(org_id, kind)] += written


def _values(row, kind) -> list:
    if kind == "items":
        return [row.provider_data]
    if kind == "webhook_secrets":
        return [row.secret]
    return [v for v in (row.access_token, row.refresh_token) if v is not None]


def _token_batch(sess, after: int, limit: int):
    return sess.execute(
        select(Connection.id, Connection.org_id, Connection.access_token, Connection.refresh_token)
        .where(Connection.id > after).order_by(Connection.id).limit(limit)).all()


def _write_tokens(sess, rows, ring):
    table = Connection.__table__
    for field in ("access", "refresh"):
        column = table.c[f"{field}_token"]
        changes = [{"b_id": r.id, "b_old": blob,
                    "b_new": ring.reencrypt(blob, crypto.aad_for("token", r.id, field)), "org": r.org_id}
                   for r in rows if (blob := getattr(r, f"{field}_token")) is not None
                   and ring.needs_rotation(blob)]
        yield from _guarded_update(sess, table, column, changes)


def _subscription_batch(sess, after: int, limit: int):
    return sess.execute(
        select(GraphSubscription.id, GraphSubscription.org_id, GraphSubscription.connection_id,
               GraphSubscription.client_state)
        .where(GraphSubscription.id > after).order_by(GraphSubscription.id).limit(limit)).all()


def _write_subscriptions(sess, rows, ring):
    table = GraphSubscription.__table__
    changes = [{"b_id": r.id, "b_old": r.client_state, "org": r.org_id,
                "b_new": ring.reencrypt(r.client_state, crypto.aad_for("subscription", r.connection_id,
                                                                       "client_state"))}
               for r in rows if ring.needs_rotation(r.client_state)]
    yield from _guarded_update(sess, table, table.c.client_state, changes)


def _delta_batch(sess, after: int, limit: int):
    return sess.execute(
        select(CalendarDelta.connection_id.label("id"), CalendarDelta.org_id, CalendarDelta.delta_link)
        .where(CalendarDelta.connection_id > after).order_by(CalendarDelta.connection_id).limit(limit)).all()


def _write_deltas(sess, rows, ring):
    table = CalendarDelta.__table__
    changes = [{"b_id": r.id, "b_old": r.delta_link, "org": r.org_id,
                "b_new": ring.reencrypt(r.delta_link, crypto.aad_for("delta", r.id, "link"))}
               for r in rows if r.delta_link is not None and ring.needs_rotation(r.delta_link)]
    yield from _guarded_update(sess, table, table.c.delta_link, changes, key=table.c.connection_id)


def _item_batch(sess, after: int, limit: int):
    return sess.execute(
        select(CalendarItem.id, CalendarItem.org_id, CalendarItem.connection_id,
               CalendarItem.provider_event_id, CalendarItem.provider_data)
        .where(CalendarItem.id > after).order_by(CalendarItem.id).limit(limit)).all()


def _write_items(sess, rows, ring):
    table = CalendarItem.__table__
    changes = [{"b_id": r.id, "b_old": r.provider_data, "org": r.org_id,
                "b_new": ring.reencrypt(r.provider_data,
                                        crypto.aad_for("event", r.connection_id, r.provider_event_id))}
               for r in rows if ring.needs_rotation(r.provider_data)]
    yield from _guarded_update(sess, table, table.c.provider_data, changes)


def _secret_batch(sess, after: int, limit: int):
    return sess.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.org_id, WebhookEndpoint.secret)
        .where(WebhookEndpoint.id > after, WebhookEndpoint.secret.is_not(None))
        .order_by(WebhookEndpoint.id).limit(limit)).all()


def _write_secrets(sess, rows, ring):
    table = WebhookEndpoint.__table__
    changes = [{"b_id": r.id, "b_old": r.secret, "org": r.org_id,
                "b_new": ring.reencrypt(r.secret, crypto.aad_for("webhook", r.id, "secret"))}
               for r in rows if ring.needs_rotation(r.secret)]
    yield from _guarded_update(sess, table, table.c.secret, changes)


def _guarded_update(sess, table, column, changes, key=None):
    """UPDATE ... WHERE id = :id AND column = :old, one row at a time (so each count is known)."""
    key = table.c.id if key is None else key
    statement = (update(table).where(key == bindparam("b_id"), column == bindparam("b_old"))
                 .values({column.name: bindparam("b_new")}))
    for change in changes:
        params = {k: v for k, v in change.items() if k != "org"}
        if sess.execute(statement, params).rowcount:
            yield change["org"], 1


def _audit(counts: Counter, kid: str) -> None:
    by_org: dict[int, dict] = {}
    for (org_id, kind), n in counts.items():
        by_org.setdefault(org_id, {"key_id": kid, "tokens": 0, "items": 0, "webhook_secrets": 0})[kind] += n
    with services().db.unit_of_work() as sess:
        for org_id, details in sorted(by_org.items()):
            audit.record(sess, Action.keys_rotated, None, None, details, org_id=org_id)
