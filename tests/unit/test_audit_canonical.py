"""The hashed form of an entry: every meaningful column, one spelling per value."""
import ipaddress
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from listening import audit


def entry(**changes):
    base = dict(org_id=1, seq=5, occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                action="auth:sign_in", actor_id=7, subject_id=8, ip="10.1.2.3", user_agent="UA",
                details={"b": 1, "a": [1, 2]})
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
    first = audit.chain_hash(audit.GENESIS, entry())
    assert audit.chain_hash(first, entry()) != first
    assert audit.chain_hash(audit.GENESIS, entry()) == first  # deterministic
    assert audit.canonical(entry(details={"a": [1, 2], "b": 1})) == audit.canonical(entry())  # key order
