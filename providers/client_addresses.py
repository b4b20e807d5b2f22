"""Which addresses the upstream client may reach: public ones only, unless PROVIDER_URLS_ALLOW_PRIVATE is on.

A provider's URL receives our API key, so it must not point the panel at its own network (a metadata
service, a database, an admin port). `url_refusal` is asked when a URL is saved; `address_refusal` is
asked again by providers.client for the address of every connection it opens, because what a name
resolves to can change after it was saved (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

SCHEMES = ("http", "https")

_NetworkKinds = tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]


def _networks(*rows: tuple[str, str]) -> _NetworkKinds:
    return tuple((ipaddress.ip_network(network), kind) for network, kind in rows)


# Listed by hand rather than left to `is_global` alone, whose answers changed between Python patch
# releases; `is_global` still runs after these as a catch-all.
_IPV4_NOT_PUBLIC = _networks(
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved (benchmarking)"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_IPV6_NOT_PUBLIC = _networks(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("::/96", "IPv4-compatible"),
    ("64:ff9b:1::/48", "reserved (local NAT64)"),
    ("100::/64", "discard-only"),
    ("2001::/23", "reserved"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "reserved"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: the last 32 bits are an IPv4 address


def private_addresses_allowed() -> bool:
    return bool(settings.PROVIDER_URLS_ALLOW_PRIVATE)


def _non_public_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    for network, kind in _IPV4_NOT_PUBLIC if ip.version == 4 else _IPV6_NOT_PUBLIC:
        if ip in network:
            return kind
    if ip.version == 6 and ip in _NAT64:
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        kind = _non_public_kind(embedded)
        if kind:
            return f"NAT64 of {embedded}, {kind}"
    if not ip.is_global or ip.is_multicast:
        return "not global"
    return None


def address_refusal(address: str, *, host: str | None = None) -> str | None:
    """Why the client must not connect to `address` (an IP literal, which `host` resolved to), or None for a
    public address. Answers regardless of PROVIDER_URLS_ALLOW_PRIVATE; callers ask
    `private_addresses_allowed` first."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("%eth0") is not part of it
    except ValueError:
        return f"{address!r} is not an IP address"
    kind = _non_public_kind(ip)
    if kind is None:
        return None
    subject = f"{host} resolves to {ip}, which is" if host and host.strip("[]") != address else f"{ip} is"
    return f"{subject} not a public address ({kind})"


def url_refusal(url: str) -> str | None:
    """Why a provider may not have `url` as its API address, or None when it may.

    Only http(s). Unless PROVIDER_URLS_ALLOW_PRIVATE is on, the host must be public: an IP literal is
    judged as written, a name by every address it resolves to now. A name that does not resolve at all
    passes (it may be set up later); it cannot be used until it resolves to public addresses only, as every
    connection is checked again."""
    try:
        parts = urlsplit((url or "").strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in SCHEMES or not host:
        return "only http:// and https:// URLs with a host name are allowed"
    if private_addresses_allowed():
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} names this machine (loopback)"
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:
        return address_refusal(host)
    try:
        resolved = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    for *_, sockaddr in resolved:
        refusal = address_refusal(str(sockaddr[0]), host=host)
        if refusal:
            return refusal
    return None
