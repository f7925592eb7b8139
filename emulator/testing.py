"""running_emulator(): the emulator on a free loopback port, for tests and benchmarks.

    with running_emulator(seed="demo") as emu:
        token = emu.mint_token("ana@contoso.example", ["User.Read", "Calendars.Read"])
        requests.get(emu.url + "/v1.0/me", headers={"Authorization": "Bearer " + token["access_token"]})

`tls=True` serves https with a throwaway self-signed certificate (MSAL only accepts https
authorities); pass `emu.ca_bundle` as `verify=` to clients (and set trust_env=False on a
requests.Session, or REQUESTS_CA_BUNDLE from the environment wins over it).
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
import threading
from contextlib import contextmanager

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_app


class QuietHandler(WSGIRequestHandler):
    """No per-request log lines in test output."""

    def log_request(self, *args, **kwargs):
        pass


class RunningEmulator:
    def __init__(self, app, url: str, ca_bundle: str | None):
        self.app, self.url, self.ca_bundle = app, url, ca_bundle
        self.http = requests.Session()
        self.http.verify = ca_bundle or True
        # Loopback only: no proxies, and REQUESTS_CA_BUNDLE must not override our certificate.
        self.http.trust_env = False

    @property
    def state(self):
        return self.app.extensions["emulator"]

    def _call(self, method: str, path: str, json=None) -> dict | list:
        response = self.http.request(method, self.url + "/_emulator" + path, json=json, timeout=30)
        response.raise_for_status()
        return response.json()

    def users(self) -> list[dict]:
        return self._call("GET", "/users")

    def mint_token(self, email: str, scopes=("User.Read", "Calendars.Read", "offline_access")) -> dict:
        return self._call("POST", "/tokens", {"user": email, "scopes": list(scopes)})

    def fault(self, **spec) -> dict:
        return self._call("POST", "/faults", spec)

    def clear_faults(self) -> dict:
        return self._call("DELETE", "/faults")

    def calendar(self, **action) -> dict:
        return self._call("POST", "/calendar", action)

    def advance_clock(self, seconds: float) -> dict:
        return self._call("POST", "/clock", {"advance_seconds": seconds})

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def reset(self, world: bool = False, tokens: bool = False) -> dict:
        return self._call("POST", "/reset", {"world": world, "tokens": tokens})

    # --- change notifications ----------------------------------------------------------------
    def subscriptions(self) -> list[dict]:
        return self._call("GET", "/subscriptions")

    def forget_subscriptions(self) -> dict:
        return self._call("DELETE", "/subscriptions")

    def lifecycle(self, event: str, subscription_id: str | None = None,
                  mailbox: str | None = None) -> dict:
        spec = {"event": event, "subscription_id": subscription_id, "mailbox": mailbox}
        return self._call("POST", "/lifecycle", {k: v for k, v in spec.items() if v is not None})

    def notify(self, mailboxes="all", changes_per_mailbox: int = 1,
               concurrency: int | None = None) -> dict:
        spec = {"mailboxes": mailboxes, "changes_per_mailbox": changes_per_mailbox}
        if concurrency is not None:
            spec["concurrency"] = concurrency
        return self._call("POST", "/notify", spec)

    def notifications(self, since: int = 0) -> dict:
        """{"summary": running totals, "deliveries": the log entries after `since`}."""
        return self._call("GET", f"/notifications?since={since}")

    def deliveries(self, since: int = 0) -> list[dict]:
        return self.notifications(since)["deliveries"]


def self_signed(directory: str) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and localhost, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def running_emulator(seed: str = "demo", tls: bool = False, **create_app_kwargs):
    """Yield a RunningEmulator (control API on) served by a threaded werkzeug server."""
    create_app_kwargs.setdefault("control", True)
    app = create_app(seed=seed, **create_app_kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        ssl_context = self_signed(tmp) if tls else None
        server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context,
                             request_handler=QuietHandler)
        scheme = "https" if tls else "http"
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True,
                                  name="emulator-server")
        thread.start()
        try:
            yield RunningEmulator(app, f"{scheme}://127.0.0.1:{server.server_port}",
                                  ssl_context[0] if tls else None)
        finally:
            server.shutdown()
            server.server_close()
            app.extensions["emulator"].notifier.close()
