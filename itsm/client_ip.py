"""The client's address, for lockouts, throttles and logs — one rule for all of them.

Behind a reverse proxy every request comes from the proxy's address. The proxy names the real
client in `X-Forwarded-For` (or `X-Real-IP`), but any client can send those headers too, so
they are believed only when the direct peer (`REMOTE_ADDR`) is one of `TRUSTED_PROXIES`
(addresses or networks, e.g. `172.28.0.10,10.0.0.0/8`; empty, the default, trusts nobody).

`X-Forwarded-For` is read from the right: each trusted proxy appends the address it got the
request from, so the first address from the right that is not a trusted proxy is the client.
Anything to its left was sent by the client and proves nothing.
"""

from __future__ import annotations

import functools
import ipaddress
import logging

from django.conf import settings

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            log.error("TRUSTED_PROXIES: %r is not an address or network; ignored", entry)
    return tuple(networks)


def trusted_networks() -> tuple[Network, ...]:
    """The configured proxy networks (settings.TRUSTED_PROXIES)."""
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _parse(value: str) -> Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def is_trusted_proxy(address: Address | None) -> bool:
    """Whether `address` is one of the configured proxies."""
    return address is not None and any(address in net for net in trusted_networks())


def client_ip(request) -> str | None:
    """The client's address: `REMOTE_ADDR`, or the proxy's client header when the peer is a
    trusted proxy. Works with Django and DRF requests (django-axes calls it too)."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR") or None
    peer = _parse(remote) if remote else None
    if not is_trusted_proxy(peer):
        return remote
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break  # garbage from the client side of the chain: stop at the last good hop
        if not is_trusted_proxy(address):
            return str(address)
        peer = address
    if not hops:
        real = _parse(meta.get("HTTP_X_REAL_IP", ""))
        if real is not None:
            return str(real)
    return str(peer) if peer is not None else remote


def axes_client_ip(request, *args, **kwargs) -> str | None:
    """`AXES_CLIENT_IP_CALLABLE`: django-axes locks out the same address we throttle."""
    return client_ip(request)
