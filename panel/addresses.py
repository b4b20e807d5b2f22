"""The client's address, as every per-address limit counts it (login, signups, resets, the API)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address a request came from, as the rate limits count it.

    REMOTE_ADDR, unless TRUSTED_PROXY_COUNT says the panel sits behind that many proxies that each
    append the address they were reached from to X-Forwarded-For: then the client's is the N-th from
    the right. Addresses further left were written by the client and could be anything. An IPv6
    client counts as its /64, which one host usually holds whole.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    candidate = remote
    if hops > 0:
        # With fewer entries than proxies, the request did not come through them: REMOTE_ADDR.
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    address = _parse_address(candidate) or _parse_address(remote)
    if address is None:
        return remote[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
