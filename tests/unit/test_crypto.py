"""The key ring: AES-256-GCM envelopes bound to purpose and row; every failure is loud."""
from __future__ import annotations

import base64
import os
import stat

import pytest

from listening.core.config import ConfigError, Settings
from listening.core.crypto import (
    CryptoError,
    KeyRing,
    aad_for,
    aad_maker,
    demo_key_spec,
    new_key_spec,
)

K1 = "k1:" + base64.b64encode(b"\x01" * 32).decode()
K2 = "k2:" + base64.b64encode(b"\x02" * 32).decode()
AAD = aad_for("token", 7, "refresh")


def test_round_trip_and_the_envelope_names_its_key():
    ring = KeyRing.parse(K1)
    blob = ring.encrypt(b"secret refresh token", AAD)
    assert ring.decrypt(blob, AAD) == b"secret refresh token"
    assert ring.key_id(blob) == "k1"
    assert b"secret" not in blob
    # A fresh nonce every time: the same plaintext never gives the same bytes.
    assert ring.encrypt(b"secret refresh token", AAD) != blob


def test_newest_key_is_the_last_one_and_older_keys_still_decrypt():
    old = KeyRing.parse(K1).encrypt(b"x", AAD)
    ring = KeyRing.parse(f"{K1}, {K2}")
    assert ring.current == "k2"
    assert ring.key_id(ring.encrypt(b"y", AAD)) == "k2"
    assert ring.decrypt(old, AAD) == b"x"
    assert ring.needs_rotation(old) and not ring.needs_rotation(ring.encrypt(b"y", AAD))
    rotated = ring.reencrypt(old, AAD)
    assert ring.key_id(rotated) == "k2" and ring.decrypt(rotated, AAD) == b"x"


def test_unknown_key_id_is_an_error_not_a_fallback():
    blob = KeyRing.parse(K2).encrypt(b"x", AAD)
    with pytest.raises(CryptoError, match="no key 'k2'"):
        KeyRing.parse(K1).decrypt(blob, AAD)


@pytest.mark.parametrize("where", [-1, -20, 5])
def test_any_flipped_byte_is_detected(where):
    ring = KeyRing.parse(K1)
    blob = bytearray(ring.encrypt(b"refresh token", AAD))
    blob[where] ^= 0x01
    with pytest.raises(CryptoError):
        ring.decrypt(bytes(blob), AAD)


def test_a_renamed_key_id_in_the_header_is_detected():
    """Same key under two names: the kid is authenticated too, so editing it fails."""
    key = base64.b64encode(b"\x01" * 32).decode()
    ring = KeyRing.parse(f"ka:{key},kb:{key}")
    blob = ring.encrypt(b"x", AAD)
    assert blob[2:4] == b"kb"
    forged = blob[:2] + b"ka" + blob[4:]
    with pytest.raises(CryptoError):
        ring.decrypt(forged, AAD)


@pytest.mark.parametrize("other", [
    aad_for("token", 8, "refresh"),      # another connection's row
    aad_for("token", 7, "access"),       # another column
    aad_for("event", 7, "refresh"),      # another purpose
])
def test_ciphertext_moved_to_another_row_or_purpose_fails(other):
    ring = KeyRing.parse(K1)
    with pytest.raises(CryptoError, match="authentication"):
        ring.decrypt(ring.encrypt(b"x", AAD), other)


def test_aad_parts_cannot_collide():
    assert aad_for("event", 1, "23") != aad_for("event", 12, "3")
    with pytest.raises(CryptoError):
        aad_for("bogus", 1, "x")
    with pytest.raises(CryptoError):
        aad_for("token", None, "x")  # an unflushed row has no id yet


def test_aad_bytes_never_change():
    # Every stored ciphertext was sealed with these exact bytes; a new layout would make them unreadable.
    assert aad_for("event", 12, "AAMk") == (b"listening/v1" + b"\x00\x00\x00\x05event" + b"\x00\x00\x00\x0212"
                                            + b"\x00\x00\x00\x04AAMk")
    make = aad_maker("event", 12)
    assert [make(x) for x in ("AAMk", "3")] == [aad_for("event", 12, "AAMk"), aad_for("event", 12, "3")]
    with pytest.raises(CryptoError):
        aad_maker("token", True)


def test_a_sealer_seals_like_encrypt_with_a_fresh_nonce_for_every_value():
    ring = KeyRing.parse(f"{K1}, {K2}")
    seal = ring.sealer(batch=3)
    blobs = [seal(f"value {i}".encode(), AAD) for i in range(10)]  # draws four batches of nonces
    assert [ring.decrypt(blob, AAD) for blob in blobs] == [f"value {i}".encode() for i in range(10)]
    assert {ring.key_id(blob) for blob in blobs} == {"k2"}
    header = 1 + 1 + len("k2")
    assert len({blob[header:header + 12] for blob in blobs}) == 10
    with pytest.raises(CryptoError, match="authentication"):
        ring.decrypt(seal(b"x", AAD), aad_for("token", 8, "refresh"))


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02\x02k1" + bytes(40), b"\x01\x02k1" + bytes(5),
                                  b"\x01\x02\xff\xfe" + bytes(40), "text"])
def test_malformed_blobs_raise(blob):
    with pytest.raises(CryptoError):
        KeyRing.parse(K1).decrypt(blob, AAD)


@pytest.mark.parametrize("spec, message", [
    ("", "empty"), ("k1", "kid:base64key"), ("k1:!!!", "base64"),
    ("k1:" + base64.b64encode(b"short").decode(), "32 bytes"), (f"{K1},{K1}", "twice"),
    ("bad id:" + base64.b64encode(bytes(32)).decode(), "kid:base64key"),
])
def test_bad_key_ring_specs_are_refused(spec, message):
    with pytest.raises(CryptoError, match=message):
        KeyRing.parse(spec)


def test_demo_key_is_generated_once_with_mode_0600(tmp_path):
    first = demo_key_spec(tmp_path)
    assert demo_key_spec(tmp_path) == first
    mode = stat.S_IMODE(os.stat(tmp_path / "keys").st_mode)
    assert mode == 0o600
    ring = KeyRing.from_settings(Settings(instance_path=tmp_path))
    assert ring.current == "demo1"
    assert ring.decrypt(ring.encrypt(b"x", AAD), AAD) == b"x"


def test_production_refuses_to_start_without_keys(tmp_path):
    settings = Settings(env="production", instance_path=tmp_path, secret_key="s",
                        database_url="postgresql://x/y", redis_url="redis://x",
                        ms_client_id="id", ms_client_secret="secret")
    with pytest.raises(ConfigError, match="LISTENING_KEYS"):
        settings.check()
    with pytest.raises(CryptoError):
        KeyRing.from_settings(settings)
    assert not (tmp_path / "keys").exists()


def test_create_app_stops_on_a_bad_key_ring(tmp_path):
    from listening import create_app

    with pytest.raises(ConfigError, match="LISTENING_KEYS"):
        create_app({"keys": "k1:nope", "instance_path": tmp_path, "database_url": "postgresql://x/y",
                    "redis_url": "redis://127.0.0.1:1/0"})


def test_new_key_spec_parses():
    ring = KeyRing.parse(new_key_spec("2026-01"))
    assert ring.current == "2026-01" and len(ring.keys["2026-01"]) == 32
