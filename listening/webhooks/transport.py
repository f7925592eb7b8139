"""The HTTP client deliveries go through: no redirects, no proxies from the environment, a
timeout on every post, and in production no connection to a private address.

The address is checked on the socket actually connected, before anything is sent on it, so
a name that resolved to a public address when the endpoint was added and to an internal one
later (DNS rebinding) is refused all the same.
"""
from __future__ import annotations

import ipaddress

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class PrivateAddressError(OSError):
    """The receiver's name led to an address that is not public."""


def _check_peer(sock) -> None:
    address = ipaddress.ip_address(sock.getpeername()[0].split("%", 1)[0])
    if not address.is_global:
        sock.close()
        raise PrivateAddressError(f"refused to connect to {address}: not a public address")


class _PublicHTTPConnection(HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _PublicHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnly(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def client(production: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc from the environment
    if production:
        session.mount("http://", _PublicOnly())
        session.mount("https://", _PublicOnly())
    return session
