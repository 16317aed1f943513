"""Hypothesis strategies shared by the test suites."""

from __future__ import annotations

import ipaddress
import string

from hypothesis import strategies as st


def usernames() -> st.SearchStrategy[str]:
    return st.text(alphabet=string.ascii_letters + string.digits + "_-.", min_size=3, max_size=32)


def passwords() -> st.SearchStrategy[str]:
    return st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=8, max_size=128
    ).filter(lambda p: not p.isdigit())


def ip_networks() -> st.SearchStrategy[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Any IPv4 or IPv6 network (host bits dropped)."""
    v4 = st.builds(lambda a, p: ipaddress.ip_network(f"{a}/{p}", strict=False), st.ip_addresses(v=4),
                   st.integers(8, 32))
    v6 = st.builds(lambda a, p: ipaddress.ip_network(f"{a}/{p}", strict=False), st.ip_addresses(v=6),
                   st.integers(16, 128))
    return st.one_of(v4, v6)


def addresses_in(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> st.SearchStrategy[str]:
    """Addresses of ``network``, as text (no IPv4-mapped IPv6 ones, which stand for IPv4)."""
    return st.integers(0, network.num_addresses - 1).map(lambda i: network[i]).filter(_not_mapped).map(str)


def _not_mapped(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped)
