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


# IPv6 prefixes that carry an IPv4 address in their last 32 bits, which a NAT64 gateway or the
# kernel's automatic tunnel delivers to: Python calls them global whatever that address is.
_CARRY_IPV4 = (ipaddress.ip_network("64:ff9b::/96"),  # NAT64, well-known prefix
               ipaddress.ip_network("::/96"))          # IPv4-compatible (deprecated)
# NAT64 for local use (RFC 8215): never a public receiver.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def is_public(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A globally reachable address; for an IPv6 form that carries an IPv4 address (IPv4-mapped,
    6to4, NAT64, IPv4-compatible), that IPv4 address must be one too."""
    address = ipaddress.ip_address(str(address).split("%", 1)[0])
    if not address.is_global:
        return False
    if address.version == 4:
        return True
    if address in _LOCAL_NAT64:
        return False
    carried = [address.ipv4_mapped, address.sixtofour]
    carried += [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) for net in _CARRY_IPV4 if address in net]
    return all(is_public(inner) for inner in carried if inner is not None)


def _check_peer(sock) -> None:
    address = sock.getpeername()[0]
    if not is_public(address):
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
