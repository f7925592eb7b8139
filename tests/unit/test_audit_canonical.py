"""The hashed form of an entry: every meaningful column, one spelling per value."""
import ipaddress
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from listening import audit
from listening.core.crypto import KeyRing, new_key_spec

RING = KeyRing.parse(new_key_spec("k1") + "," + new_key_spec("k2"))


def entry(**changes):
    base = dict(org_id=1, seq=5, occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                action="auth:sign_in", actor_id=7, subject_id=8, ip="10.1.2.3", user_agent="UA",
                details={"b": 1, "a": [1, 2]}, key_id=None)
    return SimpleNamespace(**(base | changes))


@pytest.mark.parametrize("spellings", [
    ("2001:DB8::1", "2001:db8::1", ipaddress.ip_address("2001:db8::1"), "2001:0db8:0000::0001"),
    ("::ffff:1.2.3.4", "::FFFF:102:304", ipaddress.ip_address("::ffff:1.2.3.4")),
    ("10.1.2.3", ipaddress.ip_address("10.1.2.3"), ipaddress.ip_interface("10.1.2.3/32")),
])
def test_one_address_has_one_canonical_spelling(spellings):
    assert len({audit.canonical(entry(ip=s)) for s in spellings}) == 1


def test_the_same_instant_in_another_offset_hashes_the_same():
    moment = entry().occurred_at
    assert audit.canonical(entry(occurred_at=moment.astimezone(timezone(timedelta(hours=9))))) == \
        audit.canonical(entry())


@pytest.mark.parametrize("change", [
    {"org_id": 2}, {"seq": 6}, {"action": "auth:sign_out"}, {"actor_id": 9}, {"subject_id": None},
    {"ip": "10.1.2.4"}, {"user_agent": "UA2"}, {"details": {"b": 2, "a": [1, 2]}},
    {"occurred_at": datetime(2026, 1, 2, 3, 4, 5, 678902, tzinfo=UTC)},
])
def test_every_column_is_covered(change):
    assert audit.canonical(entry(**change)) != audit.canonical(entry())


def test_the_hash_chains_on_the_previous_hash():
    first = audit.chain_hash(RING, audit.GENESIS, entry())
    assert audit.chain_hash(RING, first, entry()) != first
    assert audit.chain_hash(RING, audit.GENESIS, entry()) == first  # deterministic
    assert audit.canonical(entry(details={"a": [1, 2], "b": 1})) == audit.canonical(entry())  # key order


def test_an_unkeyed_entry_keeps_its_plain_sha256_form():
    """Entries written before the chain was keyed still verify as they were written."""
    import hashlib

    assert audit.chain_hash(RING, audit.GENESIS, entry()) == \
        hashlib.sha256(audit.GENESIS + audit.canonical(entry())).digest()


def test_a_keyed_hash_is_an_hmac_that_needs_the_key_and_names_it():
    import hashlib
    import hmac

    keyed = entry(key_id="k1")
    mac = audit.chain_hash(RING, audit.GENESIS, keyed)
    assert mac != hashlib.sha256(audit.GENESIS + audit.canonical(keyed)).digest()  # not recomputable
    assert mac != audit.chain_hash(RING, audit.GENESIS, entry(key_id="k2"))
    assert mac != audit.chain_hash(KeyRing.parse(new_key_spec("k1")), audit.GENESIS, keyed)
    # The key is derived for the chain, never the encryption key itself.
    assert mac != hmac.new(RING.keys["k1"], audit.GENESIS + audit.canonical(keyed), hashlib.sha256).digest()
    assert b'"key_id":"k1"' in audit.canonical(keyed)
