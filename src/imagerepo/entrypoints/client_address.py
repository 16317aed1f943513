"""Who the client is: the direct peer, or, when that peer is a trusted reverse proxy, the
right-most X-Forwarded-For address that no trusted proxy owns.

Proxies append the address they saw to the right of X-Forwarded-For (nginx's
``$proxy_add_x_forwarded_for``); everything further left was written by the client and proves
nothing. So the list is read from the right, skipping trusted proxies, and the first other
address is the client.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar import Request

log = logging.getLogger("imagerepo.http.client")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def parse_trusted_proxies(raw: str) -> tuple[Network, ...]:
    """``"127.0.0.1,10.0.0.0/8"`` -> networks; ValueError names the first entry that is neither
    an address nor a network."""
    networks = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address as proxies write it: ``1.2.3.4``, ``1.2.3.4:5678``, ``::1``, ``[::1]:80``."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == n.version and address in n for n in trusted)


def forwarded_client(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client of a request from ``peer`` carrying these X-Forwarded-For header values.

    An untrusted peer is the client, whatever it sends. From a trusted peer the entries are read
    right to left; trusted ones are hops, the first other one is the client. An entry no proxy
    would write (not an address) ends the walk at the last trusted hop.
    """
    hop = _address(peer)
    if hop is None or not _trusted(hop, trusted):
        return peer
    entries = [entry for value in forwarded_for for entry in value.split(",")]
    for entry in reversed(entries):
        address = _address(entry)
        if address is None:
            break
        hop = address
        if not _trusted(address, trusted):
            break
    return str(hop)


def forwarded_proto(values: Sequence[str]) -> str | None:
    """The scheme the nearest proxy reported (right-most X-Forwarded-Proto entry), if it is one."""
    entries = [entry.strip().lower() for value in values for entry in value.split(",")]
    return entries[-1] if entries and entries[-1] in ("http", "https") else None


def proxy_headers(trusted: Sequence[Network]) -> Callable[[Any], Any]:
    """ASGI middleware: when the peer is a trusted proxy, the request's client and scheme become
    the forwarded ones, so every reader of ``request.client`` and ``request.url`` sees them."""

    def factory(app: Any) -> Any:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            client = scope.get("client")
            if trusted and scope["type"] in ("http", "websocket") and client:
                peer = _address(client[0])
                if peer is not None and _trusted(peer, trusted):
                    headers = [(k.lower(), v.decode("latin-1")) for k, v in scope["headers"]]
                    xff = [v for k, v in headers if k == b"x-forwarded-for"]
                    if xff:
                        scope["client"] = (forwarded_client(client[0], xff, trusted), 0)
                        log.debug("client %s forwarded by %s", scope["client"][0], client[0])
                    proto = forwarded_proto([v for k, v in headers if k == b"x-forwarded-proto"])
                    if proto:
                        scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
            await app(scope, receive, send)

        return middleware

    return factory


def client_address(request: Request[Any, Any, Any]) -> str:
    """The client's address as the sign-in throttle counts it ("" when unknown)."""
    return request.client.host if request.client else ""
